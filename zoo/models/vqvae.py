r"""The vector-quantised VAE (van den Oord, Vinyals & Kavukcuoglu 2017, arXiv 1711.00937).

The encoder maps an image to a grid of D-dimensional vectors z_e; each is
replaced by the nearest of K codebook vectors (`zoo.layers.quantizer`), and
the decoder maps the grid of codes z_q to the parameters of the same TFP
likelihoods as the VAE's (`zoo.distributions`). The loss per example, in nats
and summed over positions (the paper's Eq. 3, beta = 0.25):

    -log p(x | z_q(x)) + ||sg[z_e(x)] - e||^2 + beta ||z_e(x) - sg[e]||^2,

with the straight-through gradient: the decoder's gradient with respect to
z_q is passed to z_e unchanged. With `ema=True` the codebook follows moving
averages of its encodings instead (Appendix A.1) and the loss drops the
codebook term.

The posterior is one-hot and deterministic, so with a uniform prior over the
K^(h w) grids the paper's KL is the constant h w log K; with a learned prior
(`zoo.models.vqvae_prior.VQVAEWithPrior`) the bound on log p(x) is
log p(x | z_q) + log p_prior(z_q).

Metrics of `fit`: `loss`, `reconstruction` (log p(x | z_q) in nats of the
images as encoded), `commitment` ||z_e - sg[e]||^2, and, of each batch's
codes, `perplexity` (exp of the entropy of the code frequencies: K at best)
and `codes_used` (the share of the K codes that occur).
"""

import math

import keras
import tensorflow as tf

from zoo import checks
from zoo import distributions
from zoo import grid_networks
from zoo import images as zoo_images
from zoo.layers import quantizer as zoo_quantizer
from zoo.models import means

__all__ = ["VQVAE"]

_METRICS = ("loss", "reconstruction", "commitment", "perplexity", "codes_used")


@keras.saving.register_keras_serializable(package="zoo")
class VQVAE(means.MeanMetrics, keras.Model):
    """Encoder -> nearest codes -> decoder -> a TFP likelihood.

    Args:
        image_shape: (height, width, channels); square, divisible by 2^downsamples.
        num_codes: K, the codebook size.
        embedding_dim: D, the size of each code.
        likelihood: a name in `zoo.distributions.LIKELIHOODS` or a `Likelihood`.
        filters: width of the encoder and decoder.
        downsamples: halvings from the image to the code grid (2: 28 -> 7).
        residual_blocks: residual blocks in the encoder and in the decoder.
        beta: weight of the commitment term (the paper's 0.25).
        ema: learn the codebook by moving averages instead of its loss term.
        decay: gamma of the moving averages.
        restart_threshold: with `ema`, restart codes whose running count falls
            below this from encoder outputs (0: never).
        seed: seed of the restarts.
        encoder, decoder, quantizer: optional parts built elsewhere.
    """

    def __init__(self, image_shape, num_codes=64, embedding_dim=16, likelihood="bernoulli",
                 filters=64, downsamples=2, residual_blocks=2, beta=0.25, ema=True,
                 decay=0.99, restart_threshold=1.0, seed=0, encoder=None, decoder=None,
                 quantizer=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = checks.image_shape(image_shape)
        self.num_codes = checks.positive_int("num_codes", num_codes)
        self.embedding_dim = checks.positive_int("embedding_dim", embedding_dim)
        self.likelihood = distributions.get_likelihood(likelihood)
        self.filters = checks.positive_int("filters", filters)
        self.downsamples = checks.positive_int("downsamples", downsamples)
        self.residual_blocks = checks.non_negative_int("residual_blocks", residual_blocks)
        self.beta = checks.finite_non_negative("beta", beta)
        self.seed = checks.integer("seed", seed)
        side = grid_networks.grid_side(self.image_shape[0], self.downsamples)
        if self.image_shape[0] != self.image_shape[1]:
            raise ValueError(f"VQVAE needs square images; got {self.image_shape}.")
        self.grid_shape = (side, side)
        self.encoder = encoder or grid_networks.grid_encoder(
            self.image_shape, self.embedding_dim, self.filters, self.downsamples,
            self.residual_blocks)
        self.decoder = decoder or grid_networks.grid_decoder(
            (side, side, self.embedding_dim),
            self.image_shape[-1] * self.likelihood.params_per_channel, self.filters,
            self.downsamples, self.residual_blocks)
        self.quantizer = quantizer or zoo_quantizer.VectorQuantizer(
            self.num_codes, self.embedding_dim, ema=ema, decay=decay,
            restart_threshold=restart_threshold, seed=self.seed, name="quantizer")
        if not self.quantizer.built:  # A deserialized one comes built.
            self.quantizer.build((None, side, side, self.embedding_dim))
        self.track_means(*_METRICS)
        self.built = True

    # -- The parts, one by one ---------------------------------------------------

    def check_images(self, images):
        """Images as float32 in [0, 1] (`zoo.images.check_images`)."""
        return zoo_images.check_images(images, self.image_shape, type(self).__name__)

    def unpack(self, data):
        """A batch as a dict of model inputs; here {"images": [B, H, W, C]}."""
        return {"images": self.check_images(zoo_images.unpack_images(data))}

    def encode_indices(self, images, training=False):
        """The code grid of each image: int32 [B, h, w] in [0, K)."""
        return self.quantizer.indices(self.encoder(self.check_images(images),
                                                   training=training))

    def check_indices(self, indices):
        """Code grids as int32 [B, h, w], with a runtime check that each is in [0, K)."""
        indices = tf.cast(indices, tf.int32)
        in_range = tf.debugging.Assert(
            tf.reduce_all((indices >= 0) & (indices < self.num_codes)),
            [f"{type(self).__name__}: code indices must be in [0, {self.num_codes}); got "
             "min and max", tf.reduce_min(indices), tf.reduce_max(indices)])
        with tf.control_dependencies([in_range]):
            return tf.identity(indices)

    def decode_params(self, codes, training=False):
        """Raw likelihood parameters [B, H, W, C * p] of code vectors [B, h, w, D]."""
        return tf.cast(self.decoder(codes, training=training), tf.float32)

    def decode_indices(self, indices):
        """The expected image in [0, 1] of code grids [B, h, w]."""
        codes = self.quantizer.lookup(self.check_indices(indices))
        return self.likelihood.mean_image(self.decode_params(codes))

    def reconstruct(self, data):
        """Each image through its nearest codes: [B, H, W, C] in [0, 1]."""
        images = self.unpack(data)["images"]
        return self.decode_indices(self.encode_indices(images))

    def call(self, inputs, training=False):
        del training  # Deterministic.
        return self.reconstruct(inputs)

    # -- The objective -------------------------------------------------------------

    def terms(self, inputs, training=False):
        """Per-example terms [B]: reconstruction (nats), codebook, commitment; and the codes."""
        encodings = self.encoder(inputs["images"], training=training)
        quantized = self.quantizer(encodings, training=training)
        params = self.decode_params(quantized["quantized"], training=training)
        reconstruction = self.likelihood.log_prob(params, inputs["images"])
        return {**quantized, "reconstruction": reconstruction, "params": params}

    @property
    def num_dims(self):
        return math.prod(self.image_shape)

    def elbo_terms(self, inputs, seed=None, training=False):
        """The paper's bound with a uniform prior: log p(x | z_q) - h w log K, per example.

        In the VAE's form (`reconstruction`, `kl`, `elbo`, nats), for
        `zoo.metrics.likelihood.evaluate_likelihood`.
        """
        del seed  # Deterministic.
        terms = self.terms(inputs, training=training)
        kl = tf.fill(tf.shape(terms["reconstruction"]),
                     math.prod(self.grid_shape) * math.log(self.num_codes))
        return {"reconstruction": terms["reconstruction"], "kl": kl,
                "elbo": terms["reconstruction"] - kl}

    def per_example_loss(self, terms):
        """-log p(x | z_q) + codebook term (unless EMA) + beta * commitment, per example."""
        loss = -terms["reconstruction"] + self.beta * terms["commitment"]
        if not self.quantizer.ema:
            loss += terms["codebook"]
        return loss

    def _update_metrics(self, terms, loss):
        perplexity, used = zoo_quantizer.VectorQuantizer.usage(terms["indices"],
                                                               self.num_codes)
        values = {"loss": loss, "reconstruction": terms["reconstruction"],
                  "commitment": terms["commitment"], "perplexity": perplexity,
                  "codes_used": used}
        return self.update_means(values)

    def train_step(self, data):
        inputs = self.unpack(data)
        with tf.GradientTape() as tape:
            terms = self.terms(inputs, training=True)
            per_example = self.per_example_loss(terms)
            loss = tf.nn.compute_average_loss(per_example)
            scaled_loss = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        gradients = tape.gradient(scaled_loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self._update_metrics(terms, per_example)

    def test_step(self, data):
        terms = self.terms(self.unpack(data), training=False)
        return self._update_metrics(terms, self.per_example_loss(terms))

    # -- What users call -------------------------------------------------------------

    def fit(self, x=None, *args, **kwargs):
        """`keras.Model.fit`, after refusing empty data and checking the first images."""
        checks.check_fit_data(type(self).__name__, x,
                              kwargs.get("batch_size", args[1] if len(args) > 1 else None))
        images = zoo_images.first_images(x)
        if images is not None:
            checks.unit_float_images(images, type(self).__name__)
        return super().fit(x, *args, **kwargs)

    def summary_images(self, batch, num_images=32, seed=0):
        """Named image batches for sample grids and TensorBoard: image/reconstruction pairs."""
        del seed  # Deterministic.
        images = self.check_images(zoo_images.unpack_images(batch)[:num_images])
        pairs = tf.reshape(tf.stack([images, self.reconstruct(images)], 1),
                           [-1, *self.image_shape])
        return {"reconstructions": pairs}

    def serving_endpoints(self):
        """{name: (function, input signature)} for the SavedModel export."""
        images = tf.TensorSpec([None, *self.image_shape], tf.float32, name="images")
        indices = tf.TensorSpec([None, *self.grid_shape], tf.int32, name="indices")

        def reconstruct(images):
            return {"reconstructions": self.reconstruct(images)}

        def encode(images):
            return {"indices": self.encode_indices(images)}

        def decode(indices):
            return {"images": self.decode_indices(indices)}

        return {"reconstruct": (reconstruct, [images]), "encode": (encode, [images]),
                "decode": (decode, [indices])}

    # -- Serialization -------------------------------------------------------------

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {"name": self.name, "trainable": self.trainable,
                "image_shape": list(self.image_shape), "num_codes": self.num_codes,
                "embedding_dim": self.embedding_dim,
                "likelihood": serialize(self.likelihood), "filters": self.filters,
                "downsamples": self.downsamples, "residual_blocks": self.residual_blocks,
                "beta": self.beta, "seed": self.seed, "encoder": serialize(self.encoder),
                "decoder": serialize(self.decoder), "quantizer": serialize(self.quantizer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("likelihood", "encoder", "decoder", "quantizer"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
