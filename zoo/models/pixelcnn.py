"""The gated PixelCNN prior over the code grids of a VQ-VAE.

    log p(c) = sum_{(i, j) in raster order} log p(c_ij | c_<ij [, h])

over a grid of discrete codes c in {0, ..., K-1}^(h x w), each factor a softmax
of the network's logits at (i, j); h an optional conditioning vector. The loss
is -log p(c) in nats per grid; `bits_per_code` divides it by h * w * ln 2. The
network is an Embedding(K, filters), `num_layers` gated blocks without blind
spot (`zoo.layers.pixelcnn`), and 1x1 convolutions to K logits per position.

Sampling fills the grid in raster order in one graph: a `tf.while_loop` over
the h * w positions runs the network on the grid so far and draws the code at
the next position by inverting its CDF at a given uniform u (the code is the
number of cumulative probabilities <= u), so the samples are a deterministic
function of the noise, which a SavedModel signature can take.

References:
    van den Oord et al. (2016), Conditional Image Generation with PixelCNN
        Decoders, arXiv 1606.05328.
    van den Oord, Vinyals & Kavukcuoglu (2017), Neural Discrete Representation
        Learning (VQ-VAE), arXiv 1711.00937, Sec. 3.2 and 4.
"""

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from zoo import checks
from zoo import random as zoo_random
from zoo.layers import pixelcnn
from zoo.models import means

__all__ = ["PixelCNNPrior"]

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="zoo")
class PixelCNNPrior(means.MeanMetrics, keras.Model):
    """An autoregressive prior p(codes [| conditions]) over [h, w] grids of K codes.

    Args:
        grid_shape: (h, w) of the code grids.
        num_codes: K, the size of the codebook.
        filters: channels of the embedding and of every gated block.
        num_layers: number of gated blocks.
        kernel_size: odd k >= 3 of the blocks' (masked) k x k convolutions.
        num_conditions: size of the conditioning vector (0: unconditional).
        seed: integer seed, kept in the config (training draws no noise;
            `sample` takes its own).
        **kwargs: passed to `keras.Model`.

    Raises:
        TypeError: a size or seed that is not an int.
        ValueError: a size below 1, a grid_shape not of two sizes, or an even
            or too small kernel_size.
    """

    def __init__(self, grid_shape, num_codes, filters=64, num_layers=6, kernel_size=3,
                 num_conditions=0, seed=0, **kwargs):
        super().__init__(**kwargs)
        grid_shape = tuple(grid_shape)
        if len(grid_shape) != 2:
            raise ValueError(f"grid_shape must be (height, width); got {grid_shape}.")
        self.grid_shape = tuple(checks.positive_int("grid_shape", d) for d in grid_shape)
        self.num_codes = checks.positive_int("num_codes", num_codes)
        self.filters = checks.positive_int("filters", filters)
        self.num_layers = checks.positive_int("num_layers", num_layers)
        self.kernel_size = checks.positive_int("kernel_size", kernel_size)
        if self.kernel_size < 3 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 3; got {kernel_size}.")
        self.num_conditions = checks.non_negative_int("num_conditions", num_conditions)
        self.seed = checks.integer("seed", seed)
        self.embedding = keras.layers.Embedding(self.num_codes, self.filters, name="embedding")
        self.blocks = [pixelcnn.GatedPixelCNNBlock(self.filters, self.kernel_size,
                                                   self.num_conditions, name=f"gated_{n}")
                       for n in range(self.num_layers)]
        self.hidden = keras.layers.Conv2D(self.filters, 1, activation="relu", name="hidden")
        self.to_logits = keras.layers.Conv2D(self.num_codes, 1, name="logits")
        self.embedding.build((None, *self.grid_shape))
        for layer in [*self.blocks, self.hidden, self.to_logits]:
            layer.build((None, *self.grid_shape, self.filters))
        self.track_means("loss", "bits_per_code")
        self.built = True

    # -- The network -------------------------------------------------------------

    def logits_from_embedded(self, embedded, conditions=None):
        """Logits [B, h, w, K] (float32) of embedded codes [B, h, w, filters]."""
        self._check_conditions(conditions)
        vertical, horizontal = pixelcnn.shift_down(embedded), pixelcnn.shift_right(embedded)
        for block in self.blocks:
            vertical, horizontal = block(vertical, horizontal, conditions)
        return tf.cast(self.to_logits(self.hidden(tf.nn.relu(horizontal))), tf.float32)

    def call(self, codes, conditions=None, training=False):
        del training  # No dropout or normalisation.
        return self.logits_from_embedded(self.embedding(tf.cast(codes, tf.int32)), conditions)

    def _check_conditions(self, conditions):
        if self.num_conditions and conditions is None:
            raise ValueError(f"{type(self).__name__}: num_conditions={self.num_conditions} "
                             "needs conditions [B, num_conditions].")
        if not self.num_conditions and conditions is not None:
            raise ValueError(f"{type(self).__name__} is unconditional (num_conditions=0) "
                             "but was given conditions.")

    def distribution(self, codes, conditions=None):
        """p(. | codes_<p at every p): a distribution over [B] grids of event shape [h, w]."""
        return tfd.Independent(tfd.Categorical(logits=self(codes, conditions)),
                               reinterpreted_batch_ndims=2)

    def log_prob(self, codes, conditions=None):
        """log p(codes [| conditions]) per grid [B], in nats."""
        return self.distribution(codes, conditions).log_prob(tf.cast(codes, tf.int32))

    # -- Training ----------------------------------------------------------------

    @staticmethod
    def unpack(data):
        """(codes, conditions or None) of codes, {"codes": c, "conditions": h} or (c[, h])."""
        if isinstance(data, dict):
            return data["codes"], data.get("conditions")
        if isinstance(data, (tuple, list)):
            return data[0], (data[1] if len(data) > 1 else None)
        return data, None

    def _update_metrics(self, per_example):
        return self.update_means({
            "loss": per_example,
            "bits_per_code": per_example / (math.prod(self.grid_shape) * math.log(2.0))})

    def train_step(self, data):
        codes, conditions = self.unpack(data)
        with tf.GradientTape() as tape:
            per_example = -self.log_prob(codes, conditions)
            loss = tf.nn.compute_average_loss(per_example)
            scaled_loss = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled_loss, variables), variables))
        return self._update_metrics(per_example)

    def test_step(self, data):
        return self._update_metrics(-self.log_prob(*self.unpack(data)))

    # -- Sampling ----------------------------------------------------------------

    @tf.function(reduce_retracing=True)
    def sample_from_noise(self, noise, conditions=None):
        """Codes int32 [B, h, w] filled in raster order from uniform noise [B, h, w] in [0, 1).

        Position p = (i, j) gets the code k = #{k' : CDF_k' <= noise[:, i, j]}
        (clipped to K-1) of the softmax of the logits at p, the network run on
        the grid filled up to p. One `tf.while_loop` of h * w steps, in one graph.
        """
        height, width = self.grid_shape
        noise = tf.cast(noise, tf.float32)

        def fill(position, grid):
            row, column = position // width, position % width
            cdf = tf.cumsum(tf.nn.softmax(self(grid, conditions)[:, row, column]), axis=-1)
            code = tf.reduce_sum(tf.cast(cdf <= noise[:, row, column, None], tf.int32), -1)
            code = tf.minimum(code, self.num_codes - 1)
            here = tf.reshape(tf.one_hot(position, height * width, dtype=tf.int32),
                              [1, height, width])
            return position + 1, grid * (1 - here) + code[:, None, None] * here

        grid = tf.zeros(tf.shape(noise), tf.int32)
        _, grid = tf.while_loop(lambda position, _: position < height * width, fill,
                                (tf.constant(0), grid))
        return grid

    def sample(self, num_samples, seed=0, conditions=None):
        """`num_samples` code grids, int32 [num_samples, h, w], from noise of `seed`."""
        num_samples = checks.positive_int("num_samples", num_samples)
        noise = tf.random.stateless_uniform([num_samples, *self.grid_shape],
                                            zoo_random.step_seed(seed, 0))
        return self.sample_from_noise(noise, conditions)

    def serving_endpoints(self):
        """{"sample": noise [N, h, w] (and conditions) -> codes} for `zoo.export`."""
        specs = [tf.TensorSpec([None, *self.grid_shape], tf.float32, name="noise")]
        if self.num_conditions:
            specs.append(tf.TensorSpec([None, self.num_conditions], tf.float32,
                                       name="conditions"))

        def sample(noise, conditions=None):
            return {"codes": self.sample_from_noise(noise, conditions)}

        return {"sample": (sample, specs)}

    # -- Serialization -----------------------------------------------------------

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable,
                "grid_shape": list(self.grid_shape), "num_codes": self.num_codes,
                "filters": self.filters, "num_layers": self.num_layers,
                "kernel_size": self.kernel_size, "num_conditions": self.num_conditions,
                "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
