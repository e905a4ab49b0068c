r"""A trained VQ-VAE and the PixelCNN prior over its codes: the generative model of the paper.

Stage 2 of van den Oord, Vinyals & Kavukcuoglu (2017): the VQ-VAE is frozen
and an autoregressive prior p(z) over its K-way code grids is fitted to the
codes of the training images; images are sampled by drawing a grid from the
prior and decoding it. The posterior q(z | x) is one-hot on z_q(x), so its
entropy is zero, KL(q || p) = -log p(z_q(x)) and the ELBO is

    log p(x) >= log p(x | z_q(x)) + log p_prior(z_q(x)),

per example in nats. `elbo_terms` gives it in the VAE's form, so
`zoo.metrics.likelihood.evaluate_likelihood` reports it with the same data
encodings and dequantization as the VAE's bounds: both bound log P(x) of the
same 8-bit (or binarized) data.

Training (`fit`) updates the prior only; its metrics are `loss` (-log
p_prior(z_q) in nats per image), `elbo` and `bits_per_dim` (the bound above on
the images as encoded, and on the quantized data).
"""

import keras
import tensorflow as tf

from zoo import checks
from zoo import random as zoo_random
from zoo.models import means

__all__ = ["VQVAEWithPrior"]


@keras.saving.register_keras_serializable(package="zoo")
class VQVAEWithPrior(means.MeanMetrics, keras.Model):
    """A frozen `zoo.models.vqvae.VQVAE` with a `zoo.models.pixelcnn.PixelCNNPrior`.

    Args:
        vqvae: the trained VQ-VAE (frozen here: `fit` trains the prior only).
        prior: a PixelCNN prior with the VQ-VAE's grid shape and K.
        conditional: condition the prior on the batches' "attributes" (float
            [B, A]: one-hot digit classes, shapes' or CelebA's attributes); the
            prior's `num_conditions` is A.
    """

    def __init__(self, vqvae, prior, conditional=False, **kwargs):
        super().__init__(**kwargs)
        if tuple(prior.grid_shape) != tuple(vqvae.grid_shape) or (
                prior.num_codes != vqvae.num_codes):
            raise ValueError(f"the prior models {prior.num_codes} codes on a "
                             f"{tuple(prior.grid_shape)} grid; the VQ-VAE has "
                             f"{vqvae.num_codes} on {tuple(vqvae.grid_shape)}.")
        self.conditional = bool(conditional)
        if self.conditional != bool(prior.num_conditions):
            raise ValueError(f"conditional={self.conditional} needs a prior with "
                             f"{'A > 0' if self.conditional else 'no'} conditions; this "
                             f"prior has num_conditions={prior.num_conditions}.")
        self.vqvae = vqvae
        self.vqvae.trainable = False
        self.prior = prior
        self.track_means("loss", "elbo", "bits_per_dim")
        self.built = True

    @property
    def image_shape(self):
        return self.vqvae.image_shape

    @property
    def likelihood(self):
        return self.vqvae.likelihood

    @property
    def num_dims(self):
        return self.vqvae.num_dims

    def unpack(self, data):
        """{"images"} and, for a conditional prior, {"conditions"}: the attributes."""
        inputs = self.vqvae.unpack(data)
        if self.conditional:
            if not isinstance(data, dict) or "attributes" not in data:
                raise ValueError("VQVAEWithPrior(conditional=True) needs batches with an "
                                 "'attributes' entry.")
            inputs["conditions"] = self.conditions(data["attributes"])
        return inputs

    def conditions(self, attributes):
        """Attributes as float32 [B, A] conditions, or None for an unconditional prior."""
        if not self.conditional:
            return None
        return tf.cast(attributes, tf.float32)

    # -- The bound -------------------------------------------------------------------

    def elbo_terms(self, inputs, seed=None, training=False):
        """Per-example reconstruction log p(x | z_q), kl = -log p(z_q) and elbo, in nats."""
        del seed, training  # Deterministic; the frozen VQ-VAE never updates its codebook.
        terms = self.vqvae.terms(inputs)
        reconstruction, indices = terms["reconstruction"], terms["indices"]
        prior_log_prob = self.prior.log_prob(indices, inputs.get("conditions"))
        return {"reconstruction": reconstruction, "kl": -prior_log_prob,
                "elbo": reconstruction + prior_log_prob, "indices": indices}

    def _update_metrics(self, terms):
        values = {"loss": terms["kl"], "elbo": terms["elbo"],
                  "bits_per_dim": self.likelihood.bits_per_dim(terms["elbo"], self.num_dims)}
        return self.update_means(values)

    def train_step(self, data):
        inputs = self.unpack(data)
        with tf.GradientTape() as tape:
            terms = self.elbo_terms(inputs, training=True)
            loss = tf.nn.compute_average_loss(terms["kl"])
            scaled_loss = self.optimizer.scale_loss(loss)
        variables = self.prior.trainable_variables
        gradients = tape.gradient(scaled_loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self._update_metrics(terms)

    def test_step(self, data):
        return self._update_metrics(self.elbo_terms(self.unpack(data)))

    # -- What users call ---------------------------------------------------------------

    def encode(self, images):
        """The code grid of each image, int32 [B, h, w]."""
        return self.vqvae.encode_indices(images)

    def decode(self, indices):
        """Images in [0, 1] of code grids [B, h, w]."""
        return self.vqvae.decode_indices(indices)

    def reconstruct(self, data):
        return self.vqvae.reconstruct(data)

    def call(self, inputs, training=False):
        del training
        return self.reconstruct(inputs)

    def sample_from_noise(self, noise, attributes=None):
        """Images decoded from the prior's grids for uniform noise [N, h, w] in [0, 1)."""
        return self.decode(self.prior.sample_from_noise(noise, self.conditions(attributes)))

    def sample(self, num_samples, seed=0, attributes=None):
        """`num_samples` images from the prior (for a conditional prior, of `attributes`)."""
        num_samples = checks.positive_int("num_samples", num_samples)
        noise = tf.random.stateless_uniform([num_samples, *self.vqvae.grid_shape],
                                            zoo_random.step_seed(seed, 0))
        return self.sample_from_noise(noise, attributes)

    def summary_images(self, batch, num_images=32, seed=0):
        """Reconstructions and prior samples (of the batch's attributes, if conditional)."""
        attributes = batch["attributes"][:num_images] if self.conditional else None
        count = num_images if attributes is None else int(attributes.shape[0])
        return {**self.vqvae.summary_images(batch, num_images),
                "prior_samples": self.sample(count, seed, attributes)}

    def serving_endpoints(self):
        """The VQ-VAE's `reconstruct`, `encode`, `decode`, and `sample` from uniform noise.

        `sample` runs the prior's autoregressive loop inside the graph.
        """
        endpoints = self.vqvae.serving_endpoints()
        noise = tf.TensorSpec([None, *self.vqvae.grid_shape], tf.float32, name="noise")
        if self.conditional:
            attributes = tf.TensorSpec([None, self.prior.num_conditions], tf.float32,
                                       name="attributes")

            def sample(noise, attributes):
                return {"images": self.sample_from_noise(_unit_noise(noise), attributes)}

            endpoints["sample"] = (sample, [noise, attributes])
        else:
            def sample(noise):  # pylint: disable=function-redefined
                return {"images": self.sample_from_noise(_unit_noise(noise))}

            endpoints["sample"] = (sample, [noise])
        return endpoints

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {"name": self.name, "vqvae": serialize(self.vqvae),
                "prior": serialize(self.prior),
                "conditional": self.conditional}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("vqvae", "prior"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def _unit_noise(noise):
    """`noise` after a runtime check that it lies in [0, 1]."""
    in_range = tf.debugging.Assert(
        tf.reduce_all((noise >= 0.0) & (noise <= 1.0)),
        ["sample: input noise must be uniform noise in [0, 1); got min and max",
         tf.reduce_min(noise), tf.reduce_max(noise)])
    with tf.control_dependencies([in_range]):
        return tf.identity(noise)
