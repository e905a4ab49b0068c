r"""Training throughput of the VAE step, in images/s, side by side in one run.

    python benchmarks/vae_throughput.py [--image_size=28] [--batch_size=128]

Compares, on the same encoder/decoder and synthetic binary images:
  * zoo.VAE (TFP distributions, our train_step), jit_compile off and on;
  * a plain Keras model with the loss written by hand (sigmoid cross-entropy
    plus the closed-form Gaussian KL), the keras-io style, jit off and on.
Each configuration is warmed up, then timed over --steps steps (median of
--repeats timings).
"""

import statistics
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

from zoo import networks
from zoo.models.vae import VAE

flags.DEFINE_integer("image_size", 28, "Square image side.")
flags.DEFINE_integer("channels", 1, "Image channels.")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer("latent_dim", 16, "Size of z.")
flags.DEFINE_integer("steps", 60, "Timed steps per repeat.")
flags.DEFINE_integer("repeats", 3, "Timed repeats (the median is printed).")
FLAGS = flags.FLAGS


class PlainVAE(keras.Model):
    """The same networks with a hand-written Bernoulli ELBO (no TFP)."""

    def __init__(self, image_shape, latent_dim):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = networks.conv_encoder(image_shape, 2 * latent_dim)
        self.decoder = networks.conv_decoder(latent_dim, image_shape, image_shape[-1])
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, images):
        with tf.GradientTape() as tape:
            mean, raw = tf.split(self.encoder(images), 2, axis=-1)
            scale = 1e-3 + tf.nn.softplus(raw)
            z = mean + scale * tf.random.normal(tf.shape(mean))
            logits = self.decoder(z)
            distortion = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(
                labels=images, logits=logits), axis=[1, 2, 3])
            rate = 0.5 * tf.reduce_sum(mean ** 2 + scale ** 2 - 1 - 2 * tf.math.log(scale), -1)
            loss = tf.reduce_mean(distortion + rate)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def _throughput(model, jit_compile, data):
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
    model.fit(data, epochs=1, steps_per_epoch=10, verbose=0)  # Warm-up and tracing.
    timings = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        model.fit(data, epochs=1, steps_per_epoch=FLAGS.steps, verbose=0)
        timings.append(time.perf_counter() - start)
    return FLAGS.steps * FLAGS.batch_size / statistics.median(timings)


def main(argv):
    del argv  # Unused.
    shape = (FLAGS.image_size, FLAGS.image_size, FLAGS.channels)
    rng = np.random.default_rng(0)
    images = (rng.uniform(size=(4096, *shape)) > 0.5).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices(images).repeat().batch(
        FLAGS.batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
    rows = []
    for name, build in (("zoo.VAE (TFP)", lambda: VAE(shape, FLAGS.latent_dim)),
                        ("plain Keras, hand-written loss",
                         lambda: PlainVAE(shape, FLAGS.latent_dim))):
        for jit in (False, True):
            keras.utils.set_random_seed(0)
            rows.append((name, jit, _throughput(build(), jit, data)))
    print(f"\nVAE training throughput, {shape} images, batch {FLAGS.batch_size}, "
          f"{tf.config.threading.get_inter_op_parallelism_threads() or 'default'} "
          "inter-op threads, "
          f"devices: {[d.device_type for d in tf.config.list_logical_devices()]}")
    print(f"{'model':34s} {'jit_compile':>11s} {'images/s':>10s}")
    for name, jit, speed in rows:
        print(f"{name:34s} {str(jit):>11s} {speed:10.0f}")


if __name__ == "__main__":
    app.run(main)
