"""A zoo of deep generative models on TensorFlow 2, Keras 3 and TFP."""
