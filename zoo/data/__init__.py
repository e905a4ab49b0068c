"""Datasets: built-in offline sources, TFDS, folders, and tf.data pipelines."""
