"""The variational autoencoder, with TFP prior, posterior and likelihood.

    ELBO(x) = E_q(z|x)[log p(x|z)] - KL(q(z|x) || p(z))  <=  log p(x)

Per example, summed over dimensions, in nats. Training minimises
-E_q[log p(x|z)] + beta_t * KL, with beta_t = beta * min(1, step / warm-up).
The expectation takes one reparameterised sample z = mu + sigma * eps,
eps ~ N(0, I).

The posterior q(z | x) is a diagonal Gaussian (`posterior="diagonal"`), whose
KL has a closed form, or (`posterior="iaf"`) that Gaussian's sample pushed
through K steps of an inverse autoregressive flow conditioned on a context h
the encoder also outputs (Kingma et al. 2016; `zoo.layers.iaf`): a
`tfd.TransformedDistribution`, whose KL is the one-sample Monte Carlo value
log q(z | x) - log p(z) at the sample. Either way the KL is kept per latent
dimension (`kl_dims`), which free bits needs: with `free_bits` = lambda > 0
the objective's KL is sum_j max(lambda, mean over the batch of KL_j) over the
latent groups j (Kingma et al. 2016, Appendix C.8; `zoo.losses.free_bits`);
the ELBO reported is always the true one.
Evaluation adds the importance-weighted bound of Burda et al. (2016):

    log p(x) >= log (1/K) sum_k p(x, z_k) / q(z_k | x),  z_k ~ q(z | x),

which tightens as K grows. `zoo.metrics.likelihood.evaluate_likelihood`
reports both bounds as log P(x) of the 8-bit (or binarized) data, in nats and
bits/dim, dequantizing densities with uniform noise. The metrics of `fit` are
on the images as encoded (`loss`, `elbo`, `reconstruction` in nats of the
density on [0, 1] for densities) except `bits_per_dim`, which is of the
8-bit data. `fit` warns once if a Bernoulli likelihood is given grey pixels.

Variants override one hook instead of the training step: `unpack` (what a
batch holds), `encoder_inputs` / `decoder_inputs` (conditioning),
`posterior_params` (e.g. DC-IGN's clamping), `draw_latents`, `regularizer`
(beta, free bits), `free_bits_groups` (DC-IGN's named groups) and
`importance_proposal` (the bound's proposal, e.g. disCVAE's hierarchical one).

References:
    Kingma & Welling (2014), Auto-Encoding Variational Bayes, Eq. 10.
    Rezende, Mohamed & Wierstra (2014), Stochastic Backpropagation.
    Burda, Grosse & Salakhutdinov (2016), Importance Weighted Autoencoders, Eq. 8.
    Higgins et al. (2017), beta-VAE.
    Kingma et al. (2016), Improving Variational Inference with Inverse
        Autoregressive Flow, Algorithm 1 and Appendix C.8 (arXiv 1606.04934).
"""

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp
from absl import logging

from zoo import checks
from zoo import distributions
from zoo import images as zoo_images
from zoo import networks
from zoo import random as zoo_random
from zoo.layers import iaf
from zoo.losses import free_bits as zoo_free_bits
from zoo.models import latent_tools
from zoo.models import means

tfd = tfp.distributions

__all__ = ["VAE", "POSTERIORS"]

POSTERIORS = ("diagonal", "iaf")


@keras.saving.register_keras_serializable(package="zoo")
class VAE(means.MeanMetrics, latent_tools.LatentTools, keras.Model):
    """A VAE whose prior, posterior and likelihood are TFP distributions.

    Args:
        image_shape: (height, width, channels) of the images.
        latent_dim: size of z.
        likelihood: name in `zoo.distributions.LIKELIHOODS` ("bernoulli",
            "gaussian" with learned per-pixel variance, "gaussian_fixed",
            "discretized_logistic", "continuous_bernoulli") or a `Likelihood`.
        network: "conv", "coord" (coordinate channels in the decoder) or "mlp",
            used where `encoder`/`decoder` are not given.
        base_filters: width of the first convolution (doubles per halving).
        prior: "standard_normal", "learned_gaussian" or a prior layer.
        beta: weight of the KL term (1 gives the ELBO; beta-VAE otherwise).
        kl_warmup_steps: steps over which the KL weight ramps from 0 to beta.
        seed: integer seed of every random draw the model makes.
        posterior: "diagonal" (a diagonal Gaussian) or "iaf" (that Gaussian
            through an inverse autoregressive flow, `zoo.layers.iaf`).
        flow_steps: K, the number of IAF steps (posterior="iaf").
        flow_hidden: widths of each step's MADE hidden layers; the encoder's
            context h has latent_dim entries.
        free_bits: lambda >= 0, the floor in nats of each latent group's
            batch-average KL in the objective (0: off); the groups are the
            latent dimensions (`free_bits_groups`).
        encoder: optional Keras model, images -> [B, posterior_width]
            (mean, raw scale and, for the IAF, the context h).
        decoder: optional Keras model, [B, latent_dim] -> [B, H, W, C * p],
            p the likelihood's `params_per_channel`.
        **kwargs: passed to `keras.Model`.

    Raises:
        TypeError: a size, step count or seed that is not an int (2.5 and
            True are refused, not rounded), or a beta that is not a number.
        ValueError: a size below 1, a beta or free_bits that is negative,
            nan or inf, a negative kl_warmup_steps, an unknown posterior, or
            a shape the networks cannot build
            (the convolutional ones need square images; see `zoo.checks`).
    """

    def __init__(self, image_shape, latent_dim=16, likelihood="bernoulli",
                 network="conv", base_filters=32, prior="standard_normal",
                 beta=1.0, kl_warmup_steps=0, seed=0, posterior="diagonal",
                 flow_steps=2, flow_hidden=(64, 64), free_bits=0.0, encoder=None,
                 decoder=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = checks.image_shape(image_shape)
        self.latent_dim = checks.positive_int("latent_dim", latent_dim)
        self.likelihood = distributions.get_likelihood(likelihood)
        self.network = network
        self.base_filters = checks.positive_int("base_filters", base_filters)
        self.prior = distributions.get_prior(prior, self.latent_dim)
        self.beta = checks.finite_non_negative("beta", beta)
        self.kl_warmup_steps = checks.non_negative_int("kl_warmup_steps", kl_warmup_steps)
        self.seed = checks.integer("seed", seed)
        if posterior not in POSTERIORS:
            raise ValueError(f"posterior={posterior!r} is not allowed; expected one of "
                             f"{', '.join(POSTERIORS)}.")
        self.posterior_kind = posterior
        self.flow_steps = checks.positive_int("flow_steps", flow_steps)
        flow_hidden = (flow_hidden,) if isinstance(flow_hidden, int) else flow_hidden
        self.flow_hidden = tuple(checks.positive_int("flow_hidden", units)
                                 for units in flow_hidden)
        self.free_bits = checks.finite_non_negative("free_bits", free_bits)
        self.flow = None
        if posterior == "iaf":
            self.flow = iaf.InverseAutoregressiveFlow(
                self.latent_dim, self.flow_steps, self.flow_hidden,
                context_dim=self.context_dim, name="flow")
        self.encoder = encoder if encoder is not None else self.build_encoder()
        self.decoder = decoder if decoder is not None else self.build_decoder()
        self.track_means("loss", "elbo", "reconstruction", "kl", "bits_per_dim")
        self._checked_binary = False
        self.built = True

    # -- Parts -----------------------------------------------------------------

    @property
    def output_channels(self):
        return self.image_shape[-1] * self.likelihood.params_per_channel

    @property
    def context_dim(self):
        """Size of the encoder's context h: latent_dim for the IAF, else 0."""
        return self.latent_dim if self.posterior_kind == "iaf" else 0

    @property
    def posterior_width(self):
        """Width of the encoder's output: mean, raw scale, context h."""
        return 2 * self.latent_dim + self.context_dim

    def network_kwargs(self):
        return {"base_filters": self.base_filters} if self.network != "mlp" else {}

    def build_encoder(self):
        return networks.make_encoder(self.network, self.image_shape,
                                     self.posterior_width, **self.network_kwargs())

    def build_decoder(self):
        return networks.make_decoder(self.network, self.latent_dim,
                                     self.image_shape, self.output_channels,
                                     **self.network_kwargs())

    # -- Hooks for variants ----------------------------------------------------

    def unpack(self, data):
        """A batch as a dict of model inputs; here {"images": [B, H, W, C]}."""
        return {"images": self.check_images(zoo_images.unpack_images(data))}

    def encoder_inputs(self, inputs):
        return inputs["images"]

    def decoder_inputs(self, latents, inputs):
        del inputs  # Unconditional.
        return latents

    def draw_latents(self, params, inputs, seed):
        """One reparameterised sample per example and its log q per dimension.

        Args:
            params: `posterior_params`, [B, posterior_width].
            inputs: the model inputs (used by variants).
            seed: the step's seed; the noise is drawn per example of the
                global batch (`zoo.random.global_batch_normal`).

        Returns:
            (z [B, D], log q(z | x) per dimension [B, D]) (`latents_from_noise`).
        """
        del inputs  # Used by variants.
        noise = zoo_random.global_batch_normal(
            tf.stack([tf.shape(params)[0], self.latent_dim]), seed)
        return self.latents_from_noise(params, noise)

    def free_bits_groups(self):
        """Sizes of the latent groups whose KL free bits floors: each dimension."""
        return [1] * self.latent_dim

    def regularizer(self, kl, terms, training):
        """The per-example weight on the KL: beta (ramped while warming up).

        With free bits, each latent group's KL is floored at `free_bits`
        nats on the batch average (`zoo.losses.free_bits.floored_kl`).
        """
        if self.free_bits > 0:
            kl = zoo_free_bits.floored_kl(terms["kl_dims"], self.free_bits_groups(),
                                          self.free_bits)
        return self.kl_weight(training) * kl

    # -- Distributions -----------------------------------------------------------

    def check_images(self, images):
        """Images as float32 in [0, 1] (`zoo.images.check_images`)."""
        return zoo_images.check_images(images, self.image_shape, type(self).__name__)

    def posterior_params(self, inputs, training=False):
        """The encoder's output [B, posterior_width] in float32 (DC-IGN clamps it)."""
        return tf.cast(self.encoder(self.encoder_inputs(inputs), training=training),
                       tf.float32)

    def split_posterior_params(self, params):
        """(q_0, h): the base diagonal Gaussian, and the flow's context (None without one)."""
        width = 2 * self.latent_dim
        base = distributions.diagonal_gaussian(params[..., :width])
        return base, (params[..., width:] if self.flow is not None else None)

    def posterior_from_params(self, params):
        """q(z | x): q_0 itself, or q_0 pushed through the flow (`tfd.TransformedDistribution`)."""
        base, context = self.split_posterior_params(params)
        if self.flow is None:
            return base
        return tfd.TransformedDistribution(base, self.flow.bijector(context))

    def posterior(self, inputs, training=False):
        """q(z | x), a TFP distribution with batch shape [B] and event shape [D]."""
        return self.posterior_from_params(self.posterior_params(inputs, training))

    def base_posterior(self, inputs, training=False):
        """q_0(z_0 | x), the diagonal Gaussian before any flow (`encode` gives its mean, scale)."""
        return self.split_posterior_params(self.posterior_params(inputs, training))[0]

    def latents_from_noise(self, params, noise):
        """z and log q(z | x) per dimension from standard-normal noise.

        z_0 = mu + sigma * noise; with a flow z = flow(z_0, h) and
        log q(z | x) = log q_0(z_0 | x) - sum_t log sigma_t, per dimension.

        Args:
            params: [B, posterior_width].
            noise: [..., B, D] (leading axes broadcast, e.g. importance samples).

        Returns:
            (z, log q per dimension), each shaped like `noise`, float32.
        """
        base, context = self.split_posterior_params(params)
        loc, scale = base.mean(), base.stddev()
        latents = loc + scale * tf.cast(noise, tf.float32)
        log_density = tfd.Normal(loc, scale).log_prob(latents)
        if self.flow is not None:
            latents, log_det = self.flow.forward(latents, context)
            log_density = log_density - log_det
        return latents, log_density

    def kl_per_dimension(self, params, latents, log_density):
        """The KL per example and latent dimension [B, D], in nats.

        Diagonal posterior: the closed form of each dimension's Gaussian KL.
        Flow: the one-sample value log q(z_j | ...) - log p(z_j) of each
        dimension's share of log q(z | x) (it sums to the joint value). The
        prior is a diagonal Gaussian.
        """
        prior = self.prior.distribution()
        marginal = tfd.Normal(prior.mean(), prior.stddev())
        if self.flow is None:
            base, _ = self.split_posterior_params(params)
            return tfd.kl_divergence(tfd.Normal(base.mean(), base.stddev()), marginal)
        return log_density - marginal.log_prob(latents)

    def posterior_code(self, inputs):
        """The deterministic code of each input [B, D]: z at zero noise.

        The posterior mean for the diagonal Gaussian; flow(mu, h) for the IAF.
        Reconstructions and the latent-space tools use it.
        """
        params = self.posterior_params(inputs)
        return self.latents_from_noise(params, tf.zeros_like(params[..., :self.latent_dim]))[0]

    def decode_params(self, latents, inputs=None, training=False):
        """Raw likelihood parameters [B, H, W, C * p] for latents [B, D]."""
        return tf.cast(self.decoder(self.decoder_inputs(latents, inputs),
                                    training=training), tf.float32)

    def kl_weight(self, training=True):
        if not training or self.kl_warmup_steps <= 0 or self.optimizer is None:
            return tf.constant(self.beta)
        step = tf.cast(self.optimizer.iterations + 1, tf.float32)
        return self.beta * tf.minimum(1.0, step / self.kl_warmup_steps)

    # -- The objective -----------------------------------------------------------

    def elbo_terms(self, inputs, seed, training=False):
        """Per-example terms of the ELBO, in nats: reconstruction, kl, elbo.

        Also `kl_dims` [B, D] (`kl_per_dimension`), `latents`, `posterior`
        (q(z | x), the TFP distribution they were drawn from) and `params`
        (the likelihood's).
        """
        posterior_params = self.posterior_params(inputs, training=training)
        latents, log_density = self.draw_latents(posterior_params, inputs, seed)
        params = self.decode_params(latents, inputs, training=training)
        reconstruction = self.likelihood.log_prob(params, inputs["images"])
        kl_dims = self.kl_per_dimension(posterior_params, latents, log_density)
        kl = tf.reduce_sum(kl_dims, axis=-1)
        return {"reconstruction": reconstruction, "kl": kl, "kl_dims": kl_dims,
                "elbo": reconstruction - kl, "latents": latents, "params": params,
                "posterior": self.posterior_from_params(posterior_params)}

    def per_example_loss(self, terms, training=True):
        return -terms["reconstruction"] + self.regularizer(terms["kl"], terms, training)

    @property
    def num_dims(self):
        return math.prod(self.image_shape)

    def _update_metrics(self, terms, loss):
        values = {"loss": loss, "elbo": terms["elbo"],
                  "reconstruction": terms["reconstruction"], "kl": terms["kl"],
                  "bits_per_dim": self.likelihood.bits_per_dim(
                      terms["elbo"], self.num_dims)}
        return self.update_means(values)

    def train_step(self, data):
        inputs = self.unpack(data)
        seed = zoo_random.step_seed(self.seed, self.optimizer.iterations)
        with tf.GradientTape() as tape:
            terms = self.elbo_terms(inputs, seed, training=True)
            per_example = self.per_example_loss(terms, training=True)
            loss = tf.nn.compute_average_loss(per_example)
            scaled_loss = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        gradients = tape.gradient(scaled_loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self._update_metrics(terms, per_example)

    def test_step(self, data):
        inputs = self.unpack(data)
        seed = zoo_random.step_seed(self.seed, -1)
        terms = self.elbo_terms(inputs, seed, training=False)
        return self._update_metrics(terms, self.per_example_loss(terms, training=False))

    def log_likelihood(self, data, num_samples=100, chunk_size=50, seed=0):
        """Importance-weighted estimate of log p(x) per example, in nats.

        Args:
            data: a batch (tensor, tuple or dict) as `fit` takes it.
            num_samples: K, the number of importance samples.
            chunk_size: samples decoded at once (bounds memory).
            seed: seed of the importance samples.

        Returns:
            [B] float32: log (1/K) sum_k p(x, z_k) / q(z_k | x).

        Raises:
            ValueError: if num_samples or chunk_size is not a positive int.
        """
        num_samples = checks.positive_int("num_samples", num_samples)
        chunk_size = checks.positive_int("chunk_size", chunk_size)
        inputs = self.unpack(data)
        batch = tf.shape(inputs["images"])[0]
        chunk_size = min(chunk_size, num_samples)
        num_chunks = -(-num_samples // chunk_size)

        def tiled(tensor):  # chunk_size copies of the batch: row s * B + b is example b.
            return tf.tile(tensor, [chunk_size] + [1] * (tensor.shape.rank - 1))

        repeated = tf.nest.map_structure(tiled, inputs)
        propose = self.importance_proposal(inputs, repeated)
        prior = self.prior.distribution()
        base_seed = zoo_random.step_seed(seed, num_samples)

        def chunk_log_weights(index):
            noise = tf.random.stateless_normal(
                [chunk_size * batch, self.latent_dim],
                tf.random.experimental.stateless_fold_in(base_seed, index))
            latents, log_proposal = propose(noise)
            log_px = self.likelihood.log_prob(self.decode_params(latents, repeated),
                                              repeated["images"])
            return tf.reshape(log_px + prior.log_prob(latents) - log_proposal,
                              [chunk_size, batch])

        log_weights = tf.map_fn(chunk_log_weights, tf.range(num_chunks),
                                fn_output_signature=tf.float32)
        log_weights = tf.reshape(log_weights, [-1, batch])[:num_samples]
        return tf.reduce_logsumexp(log_weights, axis=0) - math.log(num_samples)

    def importance_proposal(self, inputs, repeated):
        """The proposal of `log_likelihood`: noise -> (z_k, log q(z_k | x)).

        Args:
            inputs: the batch's model inputs (`unpack`), B examples.
            repeated: the same inputs tiled S times (row s * B + b is example b).

        Returns:
            A function of standard normal noise [S * B, latent_dim] giving the
            samples z [S * B, latent_dim] (`latents_from_noise`: mu + sigma *
            noise, then the flow if any) and their log density under the
            proposal [S * B]. Here q(z | x), encoded once for the B examples;
            a hierarchical posterior (disCVAE) overrides it.
        """
        del repeated  # q(z | x) is encoded once, not per sample.
        params = self.posterior_params(inputs)

        def propose(noise):
            latents, log_density = self.latents_from_noise(
                params, tf.reshape(noise, [-1, tf.shape(params)[0], self.latent_dim]))
            return (tf.reshape(latents, [-1, self.latent_dim]),
                    tf.reshape(tf.reduce_sum(log_density, axis=-1), [-1]))

        return propose

    # -- What users call ---------------------------------------------------------

    def fit(self, x=None, *args, **kwargs):
        """`keras.Model.fit`, after checking the data.

        Empty data is refused, a batch larger than the data warned about
        (`zoo.checks.check_fit_data`), the first batch checked eagerly for the
        range of float images (so that it fails in one line, also under
        `jit_compile`) and, once per model, Bernoulli data for grey pixels.
        """
        checks.check_fit_data(type(self).__name__, x,
                              kwargs.get("batch_size", args[1] if len(args) > 1 else None))
        images = zoo_images.first_images(x)
        if images is not None:
            checks.unit_float_images(images, type(self).__name__)
            self._warn_if_grey(images)
        return super().fit(x, *args, **kwargs)

    def _warn_if_grey(self, images):
        """Warns (once per model) if a binary likelihood is given grey pixels.

        The Bernoulli log p(x|z) of x in (0, 1) is a cross-entropy, not a
        log-likelihood (it is not normalised over grey values; Loaiza-Ganem &
        Cunningham 2019), so the ELBO and bits/dim it gives bound nothing.
        `fit` passes the first images of its data (numpy), read eagerly before
        training, so the train step is unchanged; later calls return at once.
        """
        if self._checked_binary or self.likelihood.data_encoding != "binary":
            return
        self._checked_binary = True
        grey = images[(images != 0) & (images != 1)]
        if grey.size:
            logging.warning(
                "%s: likelihood=%r expects binary pixels but got values such as %.3g, so its "
                "ELBO is a cross-entropy, not a log-likelihood; binarize the images "
                "(x > 0.5, or dynamically: uniform noise < x) or use "
                "likelihood='continuous_bernoulli'.",
                type(self).__name__, self.likelihood.name, float(grey.flat[0]))

    def encode(self, images):
        """Mean and standard deviation of q_0, each [B, latent_dim].

        The posterior's own for the diagonal Gaussian; the flow's base
        Gaussian for the IAF (whose code is `posterior_code`).
        """
        base = self.base_posterior(self.unpack(images))
        return base.mean(), base.stddev()

    def encoding_outputs(self, inputs):
        """The export's `encode`: q_0's mean and scale and, with a flow, a posterior sample.

        `posterior_sample` is z = flow(mu + sigma * eps, h) with eps seeded by
        each image's fingerprint (`zoo.random.fingerprint_normal`): a draw from
        q(z | x) that a served model repeats for the same image, so an export
        is a pure function of its inputs.
        """
        if self.flow is None:
            base = self.base_posterior(inputs)  # disCVAE's is its layered posterior.
            return {"posterior_mean": base.mean(), "posterior_scale": base.stddev()}
        params = self.posterior_params(inputs)
        base, _ = self.split_posterior_params(params)
        noise = zoo_random.fingerprint_normal(inputs["images"], self.latent_dim)
        return {"posterior_mean": base.mean(), "posterior_scale": base.stddev(),
                "posterior_sample": self.latents_from_noise(params, noise)[0]}

    def decode(self, latents, inputs=None):
        """The expected image in [0, 1] for latents [B, latent_dim]."""
        latents = tf.cast(latents, tf.float32)
        return self.likelihood.mean_image(self.decode_params(latents, inputs))

    def reconstruct(self, data):
        """Decodes each image's `posterior_code`: a deterministic reconstruction."""
        inputs = self.unpack(data)
        return self.decode(self.posterior_code(inputs), inputs)

    def sample(self, num_samples, seed=0, inputs=None):
        """`num_samples` images decoded from prior samples (num_samples a positive int)."""
        num_samples = checks.positive_int("num_samples", num_samples)
        noise = tf.random.stateless_normal([num_samples, self.latent_dim],
                                           zoo_random.step_seed(seed, 0))
        return self.decode(self.prior.latents_from_noise(noise), inputs)

    def call(self, inputs, training=False):
        del training  # Reconstructions are deterministic.
        return self.reconstruct(inputs)

    def summary_images(self, batch, num_images=32, seed=0):
        """Named image batches for sample grids and TensorBoard."""
        images = zoo_images.unpack_images(batch)[:num_images]
        reconstructions = self.reconstruct(images)
        pairs = tf.reshape(tf.stack([self.check_images(images), reconstructions], 1),
                           [-1, *self.image_shape])
        return {"reconstructions": pairs,
                "prior_samples": self.sample(num_images, seed=seed)}

    def serving_endpoints(self):
        """{name: (function, input signature)} for the SavedModel export."""
        images = tf.TensorSpec([None, *self.image_shape], tf.float32, name="images")
        latents = tf.TensorSpec([None, self.latent_dim], tf.float32, name="latents")
        noise = tf.TensorSpec([None, self.latent_dim], tf.float32, name="noise")

        def reconstruct(images):
            return {"reconstructions": self.reconstruct(images)}

        def encode(images):
            return self.encoding_outputs(self.unpack(images))

        def decode(latents):
            return {"images": self.decode(latents)}

        def sample(noise):
            return {"images": self.decode(self.prior.latents_from_noise(noise))}

        return {"reconstruct": (reconstruct, [images]),
                "encode": (encode, [images]),
                "decode": (decode, [latents]),
                "sample": (sample, [noise])}

    # -- Serialization -----------------------------------------------------------

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {"name": self.name, "trainable": self.trainable,
                "image_shape": list(self.image_shape), "latent_dim": self.latent_dim,
                "likelihood": serialize(self.likelihood), "network": self.network,
                "base_filters": self.base_filters, "prior": serialize(self.prior),
                "beta": self.beta, "kl_warmup_steps": self.kl_warmup_steps,
                "seed": self.seed, "posterior": self.posterior_kind,
                "flow_steps": self.flow_steps, "flow_hidden": list(self.flow_hidden),
                "free_bits": self.free_bits, "encoder": serialize(self.encoder),
                "decoder": serialize(self.decoder)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("likelihood", "prior", "encoder", "decoder"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
