r"""Sampling speed of the gated PixelCNN prior, in code grids (images) per second.

    python benchmarks/pixelcnn_sampling.py [--batch_size=64] [--grid=7] [--num_codes=64]

Compares, on one PixelCNNPrior (VQ-VAE-sized prior: 7x7 grid, K=64, 64 filters,
6 layers) and the same noise:
  * `PixelCNNPrior.sample`: the whole raster fill in one graph (a
    tf.while_loop over the h * w positions), after a warm-up call;
  * a naive Python loop that re-runs the whole network eagerly per position
    and writes the drawn code into the grid.
Both run the network h * w times; the difference is the per-op dispatch of
eager execution. Timings are the median of --repeats calls.
"""

import statistics
import time

import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

from zoo import random as zoo_random
from zoo.models.pixelcnn import PixelCNNPrior

flags.DEFINE_integer("batch_size", 64, "Code grids per call.")
flags.DEFINE_integer("grid", 7, "Side of the square code grid.")
flags.DEFINE_integer("num_codes", 64, "K, the codebook size.")
flags.DEFINE_integer("filters", 64, "Channels of the gated blocks.")
flags.DEFINE_integer("num_layers", 6, "Gated blocks.")
flags.DEFINE_integer("repeats", 3, "Timed calls (the median is printed).")
FLAGS = flags.FLAGS


def naive_sample(model, noise):
    """The raster fill as a Python loop, the network run eagerly once per position."""
    noise = noise.numpy()
    codes = np.zeros(noise.shape, np.int32)
    for row in range(model.grid_shape[0]):
        for column in range(model.grid_shape[1]):
            logits = model(tf.constant(codes)).numpy()[:, row, column]
            probabilities = np.exp(logits - logits.max(-1, keepdims=True))
            cdf = np.cumsum(probabilities / probabilities.sum(-1, keepdims=True), -1)
            codes[:, row, column] = np.minimum(
                (cdf <= noise[:, row, column, None]).sum(-1), model.num_codes - 1)
    return codes


def _per_second(function):
    function()  # Warm-up (tracing, first kernels).
    timings = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return FLAGS.batch_size / statistics.median(timings)


def main(argv):
    del argv  # Unused.
    grid = (FLAGS.grid, FLAGS.grid)
    model = PixelCNNPrior(grid, FLAGS.num_codes, filters=FLAGS.filters,
                          num_layers=FLAGS.num_layers)
    noise = tf.random.stateless_uniform([FLAGS.batch_size, *grid], zoo_random.step_seed(0, 0))
    graph_codes = model.sample_from_noise(noise).numpy()
    naive_codes = naive_sample(model, noise)
    rows = [("PixelCNNPrior.sample (one graph)",
             _per_second(lambda: model.sample(FLAGS.batch_size).numpy())),
            ("naive eager loop per position", _per_second(lambda: naive_sample(model, noise)))]
    print(f"\nPixelCNN prior sampling, grid {grid}, K={FLAGS.num_codes}, "
          f"{FLAGS.filters} filters, {FLAGS.num_layers} layers, batch {FLAGS.batch_size}, "
          f"devices: {[d.device_type for d in tf.config.list_logical_devices()]}")
    print(f"same codes from the same noise: {np.mean(graph_codes == naive_codes):.4f} agree")
    print(f"{'sampler':34s} {'images/s':>10s}")
    for name, speed in rows:
        print(f"{name:34s} {speed:10.1f}")
    print(f"speed-up of the graph: {rows[0][1] / rows[1][1]:.2f}x")


if __name__ == "__main__":
    app.run(main)
