"""disCVAE: Attribute2Image's layered model, a gated foreground over a background.

The image is a composite of two layers (Yan et al. 2016, disCVAE):

    x_F, g = f_F(y, z_F)        foreground layer and gate, from attributes and z_F
    x_B    = f_B(z_B)           background layer, from z_B alone
    x      = x_F * g + x_B * (1 - g)                                  (elementwise)

with z = [z_F, z_B] ~ p(z) = N(0, I) (or a learned Gaussian), and the
recognition model factorised as in the paper,

    q(z_F, z_B | x, y) = q(z_F | x, y) q(z_B | x, y, z_F),

the background encoder seeing the sampled z_F. The ELBO is

    E_q[log p(x | y, z_F, z_B)] - KL(q(z_F | x, y) || p(z_F))
                                - E_q(z_F)[KL(q(z_B | x, y, z_F) || p(z_B))],

estimated with one reparameterised sample z_F ~ q(z_F | x, y), then z_B ~
q(z_B | x, y, z_F), and the two KLs in closed form (the second at the sampled
z_F). Because q(z_F) and q(z_B | z_F) are diagonal Gaussians, their product
at the sampled z_F is the diagonal Gaussian N([mu_F, mu_B(z_F)],
diag[sigma_F, sigma_B(z_F)]^2): `posterior(inputs, foreground_latents=z_F)`
returns it, and its KL to the diagonal prior over [z_F, z_B] is exactly the
sum of the two KLs above.

How the likelihood composites (our choice, stated here): the foreground
decoder outputs the likelihood's raw parameters theta_F and one gate logit
per pixel, the background decoder raw parameters theta_B, and the paper's
composite holds in image space, for every likelihood:

    x = x_F * g + x_B * (1 - g),   g = sigmoid(gate logit),
    x_F = location(theta_F),  x_B = location(theta_B),
    p(x | y, z) = Likelihood(params_from_location(x, g * theta_F + (1 - g) * theta_B)),

one gate per pixel shared by all channels. `location` is the layer's
location after the parameter's link (`zoo.distributions.Likelihood`): the
probability sigmoid(logits) for the Bernoulli, the mean mu for the
Gaussians, loc / 255 = sigmoid(raw) for the discretized logistic and the
mean (not lambda) for the continuous Bernoulli. `params_from_location`
inverts the link (logits of probabilities clipped to [1e-6, 1 - 1e-6];
Newton's method for the continuous Bernoulli). The scale channels of the
two-parameter likelihoods are mixed by the gate in their raw
(pre-softplus) space, the g * theta_F + (1 - g) * theta_B above. So the
composite's `mean_image` is x_F * g + x_B * (1 - g) of the layers that
`image_layers` reports (clipped to [0, 1]; only the Gaussians' locations
can leave it).

Gate supervision (optional, as the paper trains with foreground masks):
with `gate_supervision_weight` w > 0 and a batch that carries masks m (1 on
the foreground), the training loss adds, per example,

    w * BCE(g, m) = -w * sum_pixels [m log g + (1 - m) log(1 - g)]    (nats),

summed over pixels like the ELBO's terms (`gate_cross_entropy`). The paper's
own code supervises the *background* gate with weight 0.3 (its composite is
x_F + g_B * x_B); here g is the foreground gate of the paper's notation, so
its target is the foreground mask. The weight is relative to our units (the
likelihood summed over every pixel value, in nats), so the recipe's default
of 10 was chosen by measurement on the 32x32 `shapes` (docs/discvae.md).
Without masks (or with w = 0) the gate is learned
from the likelihood alone, and the model still trains. The ELBO and its
metrics never include the gate term; only `loss` does.

References:
    Yan, X., Yang, J., Sohn, K. and Lee, H. (2016). Attribute2Image:
    Conditional Image Generation from Visual Attributes. ECCV (disCVAE).
    Kingma, D. P. and Welling, M. (2014). Auto-Encoding Variational Bayes.
    Burda, Y., Grosse, R. and Salakhutdinov, R. (2016). Importance Weighted
    Autoencoders, Eq. 8 (the bound `log_likelihood` estimates).
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from zoo import checks
from zoo.models import cvae as zoo_cvae
from zoo import distributions
from zoo import networks
from zoo import random as zoo_random

tfd = tfp.distributions

__all__ = ["DisCVAE", "composite", "gate_cross_entropy"]


def composite(foreground, background, gate):
    """x = foreground * gate + background * (1 - gate) (Yan et al. 2016, disCVAE).

    Args:
        foreground: [..., H, W, K] foreground layer (images, locations or
            raw parameters).
        background: [..., H, W, K] background layer.
        gate: [..., H, W, 1] or [..., H, W, K], in [0, 1].
    """
    return foreground * gate + background * (1.0 - gate)


def gate_cross_entropy(gate_logits, masks):
    """Per-example binary cross-entropy of the gate against a foreground mask, in nats.

    BCE = -sum_pixels [m log g + (1 - m) log(1 - g)], g = sigmoid(gate_logits),
    computed from the logits for stability.

    Args:
        gate_logits: [B, H, W, 1].
        masks: [B, H, W, 1], 1 on the foreground.

    Returns:
        [B] float32.
    """
    losses = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.cast(masks, tf.float32), logits=tf.cast(gate_logits, tf.float32))
    return tf.reduce_sum(losses, axis=[1, 2, 3])


@keras.saving.register_keras_serializable(package="zoo")
class DisCVAE(zoo_cvae.CVAE):
    """The layered conditional VAE p(x, x_F, g | y, z_F, z_B) (Yan et al. 2016).

    z = [z_F, z_B] has `foreground_dim + background_dim` entries (that is
    `latent_dim`). `encoder` and `decoder` are the foreground stream's:
    q(z_F | x, y) and (y, z_F) -> (theta_F, gate logit); the background
    stream's are `background_encoder`, q(z_B | x, y, z_F), and
    `background_decoder`, z_B -> theta_B.

    Args:
        image_shape: (height, width, channels).
        attribute_dim: A, the size of y.
        foreground_dim: size of z_F.
        background_dim: size of z_B.
        gate_supervision_weight: w >= 0 of the gate's cross-entropy against
            the batch's foreground masks (0: unsupervised gate).
        background_encoder: optional Keras model [images, attributes,
            foreground_latents] -> [B, 2 * background_dim].
        background_decoder: optional Keras model [B, background_dim] ->
            [B, H, W, C * p].
        latent_dim: must be foreground_dim + background_dim if given.
        **kwargs: every other `zoo.CVAE` argument. `free_bits` floors each
            latent dimension's KL (the foreground's closed form and the
            background's at the sampled z_F). `posterior` must be
            "diagonal": the layered posterior q(z_F | x, y) q(z_B | x, y, z_F)
            is already hierarchical, and its two encoders give no single
            base Gaussian and context for one flow.

    Raises:
        ValueError: non-positive sizes, a negative weight, a latent_dim
            that differs from foreground_dim + background_dim, or
            posterior="iaf".
    """

    def __init__(self, image_shape, attribute_dim, foreground_dim=12, background_dim=4,
                 gate_supervision_weight=0.0, background_encoder=None,
                 background_decoder=None, latent_dim=None, **kwargs):
        if kwargs.get("posterior", "diagonal") != "diagonal":
            raise ValueError(
                f"DisCVAE: posterior={kwargs['posterior']!r} is not allowed; expected "
                "'diagonal' (its posterior is the layered q(z_F | x, y) q(z_B | x, y, z_F)).")
        foreground_dim = checks.positive_int("foreground_dim", foreground_dim)
        background_dim = checks.positive_int("background_dim", background_dim)
        gate_supervision_weight = checks.finite_non_negative(
            "gate_supervision_weight", gate_supervision_weight)
        total = foreground_dim + background_dim
        if latent_dim is not None and checks.integer("latent_dim", latent_dim) != total:
            raise ValueError(f"latent_dim {latent_dim} differs from foreground_dim + "
                             f"background_dim = {total}; leave it out.")
        # Set before the networks are built, which read them.
        self.foreground_dim = foreground_dim
        self.background_dim = background_dim
        self.gate_supervision_weight = gate_supervision_weight
        super().__init__(image_shape, attribute_dim, latent_dim=total, **kwargs)
        self.background_encoder = (background_encoder if background_encoder is not None
                                   else self.build_background_encoder())
        self.background_decoder = (background_decoder if background_decoder is not None
                                   else self.build_background_decoder())

    # -- Parts -----------------------------------------------------------------

    @property
    def layer_channels(self):
        """Raw likelihood parameters per pixel of one layer (C * p)."""
        return self.output_channels

    def build_encoder(self):
        """q(z_F | x, y): [images, attributes] -> [B, 2 * foreground_dim]."""
        return zoo_cvae.conditional_encoder(
            self.network, self.image_shape, [("attributes", self.attribute_dim)],
            self.foreground_dim, base_filters=self.base_filters, hidden=self.encoder_hidden,
            name="encoder")

    def build_background_encoder(self):
        """q(z_B | x, y, z_F): [images, attributes, z_F] -> [B, 2 * background_dim]."""
        return zoo_cvae.conditional_encoder(
            self.network, self.image_shape,
            [("attributes", self.attribute_dim), ("foreground_latents", self.foreground_dim)],
            self.background_dim, base_filters=self.base_filters, hidden=self.encoder_hidden,
            name="background_encoder")

    def build_decoder(self):
        """[z_F, y] -> [B, H, W, C * p + 1]: theta_F, then the gate logit."""
        return zoo_cvae.conditional_decoder(
            self.network, self.foreground_dim, self.attribute_dim, self.image_shape,
            self.layer_channels + 1, base_filters=self.base_filters)

    def build_background_decoder(self):
        """z_B -> [B, H, W, C * p]: theta_B."""
        return networks.make_decoder(self.network, self.background_dim, self.image_shape,
                                     self.layer_channels, name="background_decoder",
                                     **self.network_kwargs())

    def split_latents(self, latents):
        """(z_F [B, foreground_dim], z_B [B, background_dim])."""
        latents = tf.cast(latents, tf.float32)
        return latents[..., :self.foreground_dim], latents[..., self.foreground_dim:]

    # -- Hooks -------------------------------------------------------------------

    def decoder_inputs(self, latents, inputs):
        foreground_latents, _ = self.split_latents(latents)
        return tf.concat([foreground_latents, self._attributes_of(inputs)], axis=-1)

    def foreground_posterior(self, inputs, training=False):
        """q(z_F | x, y), a diagonal Gaussian with batch shape [B]."""
        return distributions.diagonal_gaussian(
            self.encoder(self.encoder_inputs(inputs), training=training))

    def background_posterior(self, inputs, foreground_latents, training=False):
        """q(z_B | x, y, z_F), a diagonal Gaussian with batch shape [B]."""
        return distributions.diagonal_gaussian(self.background_encoder(
            [inputs["images"], inputs["attributes"], tf.cast(foreground_latents, tf.float32)],
            training=training))

    def posterior(self, inputs, training=False, foreground_latents=None):
        """q(z_F | x, y) q(z_B | x, y, z_F) at a given z_F, as one diagonal Gaussian.

        Args:
            inputs: model inputs (`unpack`).
            training: passed to the networks.
            foreground_latents: the z_F the background posterior is
                conditioned on; None takes the mean of q(z_F | x, y).

        Returns:
            N([mu_F, mu_B(z_F)], diag[sigma_F, sigma_B(z_F)]^2) over [B, latent_dim].
        """
        foreground = self.foreground_posterior(inputs, training)
        if foreground_latents is None:
            foreground_latents = foreground.mean()
        background = self.background_posterior(inputs, foreground_latents, training)
        return tfd.MultivariateNormalDiag(
            loc=tf.concat([foreground.mean(), background.mean()], axis=-1),
            scale_diag=tf.concat([foreground.stddev(), background.stddev()], axis=-1))

    def base_posterior(self, inputs, training=False):
        """The layered posterior at the mean of q(z_F | x, y) (`posterior`)."""
        return self.posterior(inputs, training)

    def posterior_code(self, inputs):
        """[mu_F, mu_B(mu_F)]: the layered posterior's mean at the mean z_F."""
        return self.posterior(inputs).mean()

    def decode_layers(self, latents, inputs=None, training=False):
        """The two layers' raw parameters, the gate logits and their composite.

        Returns:
            dict: `foreground_params`, `background_params` [B, H, W, C * p],
            `gate_logits` [B, H, W, 1], `gate` = sigmoid(gate_logits) and
            `params`, the composite's raw parameters: their location is
            composite(x_F, x_B, gate) of the layers' locations, their scales
            (if any) composite(foreground_params, background_params, gate).
        """
        _, background_latents = self.split_latents(latents)
        foreground = tf.cast(self.decoder(self.decoder_inputs(latents, inputs),
                                          training=training), tf.float32)
        background = tf.cast(self.background_decoder(background_latents, training=training),
                             tf.float32)
        foreground_params = foreground[..., :self.layer_channels]
        gate_logits = foreground[..., self.layer_channels:]
        gate = tf.sigmoid(gate_logits)
        location = composite(self.likelihood.location(foreground_params),
                             self.likelihood.location(background), gate)
        params = self.likelihood.params_from_location(
            location, composite(foreground_params, background, gate))
        return {"foreground_params": foreground_params, "background_params": background,
                "gate_logits": gate_logits, "gate": gate, "params": params}

    def decode_params(self, latents, inputs=None, training=False):
        """The composite likelihood parameters [B, H, W, C * p]."""
        return self.decode_layers(latents, inputs, training)["params"]

    # -- The objective -----------------------------------------------------------

    def kl_parts(self, posterior):
        """Per-example KL of the z_F and z_B parts to the prior, in nats.

        Returns:
            (kl_foreground [B], kl_background [B], per dimension [B, D]),
            closed form per dimension.
        """
        prior = self.prior.distribution()
        per_dim = tfd.kl_divergence(
            tfd.Normal(posterior.mean(), posterior.stddev()),
            tfd.Normal(prior.mean(), prior.stddev()))
        return (tf.reduce_sum(per_dim[:, :self.foreground_dim], -1),
                tf.reduce_sum(per_dim[:, self.foreground_dim:], -1), per_dim)

    def elbo_terms(self, inputs, seed, training=False):
        """Per-example ELBO terms, in nats, from one sample z_F, then z_B | z_F.

        Returns:
            dict: `reconstruction` log p(x | y, z), `kl` (both parts),
            `kl_foreground`, `kl_background`, `elbo`, `latents`, `posterior`
            (the diagonal Gaussian at the sampled z_F), `params`, `gate`,
            `gate_logits` and, where the inputs carry masks,
            `gate_cross_entropy`.
        """
        foreground = self.foreground_posterior(inputs, training)
        noise = zoo_random.global_batch_normal(
            tf.stack([tf.shape(inputs["images"])[0], self.latent_dim]), seed)
        foreground_latents = (foreground.mean()
                              + foreground.stddev() * noise[:, :self.foreground_dim])
        posterior = self.posterior(inputs, training, foreground_latents=foreground_latents)
        latents = posterior.mean() + posterior.stddev() * noise
        decoded = self.decode_layers(latents, inputs, training=training)
        reconstruction = self.likelihood.log_prob(decoded["params"], inputs["images"])
        kl = distributions.kl_divergence(posterior, self.prior.distribution(), latents)
        kl_foreground, kl_background, kl_dims = self.kl_parts(posterior)
        terms = {"reconstruction": reconstruction, "kl": kl, "elbo": reconstruction - kl,
                 "kl_foreground": kl_foreground, "kl_background": kl_background,
                 "kl_dims": kl_dims,
                 "latents": latents, "posterior": posterior, "params": decoded["params"],
                 "gate": decoded["gate"], "gate_logits": decoded["gate_logits"]}
        if "masks" in inputs:
            terms["gate_cross_entropy"] = gate_cross_entropy(decoded["gate_logits"],
                                                             inputs["masks"])
        return terms

    def per_example_loss(self, terms, training=True):
        """-E_q log p(x | y, z) + beta_t KL (+ w * gate BCE where masks are given)."""
        loss = super().per_example_loss(terms, training)
        if self.gate_supervision_weight > 0 and "gate_cross_entropy" in terms:
            loss = loss + self.gate_supervision_weight * terms["gate_cross_entropy"]
        return loss

    def importance_proposal(self, inputs, repeated):
        """The hierarchical proposal of `log_likelihood` (Burda et al. 2016, Eq. 8).

        z_F,k ~ q(z_F | x, y), then z_B,k ~ q(z_B | x, y, z_F,k), with log density
        log q(z_F,k | x, y) + log q(z_B,k | x, y, z_F,k): the background
        posterior is encoded per sample, on the `repeated` inputs.
        """
        foreground = self.foreground_posterior(inputs)
        copies = tf.shape(repeated["images"])[0] // tf.shape(inputs["images"])[0]
        loc = tf.tile(foreground.mean(), [copies, 1])
        scale = tf.tile(foreground.stddev(), [copies, 1])

        def propose(noise):
            foreground_latents = loc + scale * noise[:, :self.foreground_dim]
            posterior = self.posterior(repeated, foreground_latents=foreground_latents)
            latents = posterior.mean() + posterior.stddev() * noise
            return latents, posterior.log_prob(latents)

        return propose

    # -- What users call ---------------------------------------------------------

    def image_layers(self, attributes, latents):
        """The layers of the images for (y, z): x_F, g, x_B and the composite x.

        (Not `layers`, which is Keras's list of sublayers.)

        Args:
            attributes: y [B, A].
            latents: z = [z_F, z_B], [B, latent_dim].

        Returns:
            dict of [B, H, W, C] images: `foreground` (x_F, the foreground
            layer's `location`), `background` (x_B), `gate` g [B, H, W, 1]
            and `image`, the composite's mean image, which is
            clip(x_F * g + x_B * (1 - g), 0, 1). All lie in [0, 1] except the
            Gaussians' layers, whose locations are not clipped, so that the
            identity holds.
        """
        attributes = self.check_attributes(attributes)
        decoded = self.decode_layers(tf.cast(latents, tf.float32), attributes)
        return {"foreground": self.likelihood.location(decoded["foreground_params"]),
                "gate": decoded["gate"],
                "background": self.likelihood.location(decoded["background_params"]),
                "image": self.likelihood.mean_image(decoded["params"])}

    def reconstruct_layers(self, images, attributes=None):
        """`image_layers` at the posterior mean of (images, attributes)."""
        inputs = self._pack(images, attributes)
        return self.image_layers(inputs["attributes"], self.posterior(inputs).mean())

    def summary_images(self, batch, num_images=32, seed=0):
        """The CVAE's grids and `layers`: x_F, g, x_B, x of reconstructions, side by side.

        The `layers` grid (`reconstruct_layers`) shows up to 16 examples, two
        per row of 8 images.
        """
        grids = super().summary_images(batch, num_images, seed)
        inputs, _ = self._grid_inputs(batch, 16)
        layers = self.reconstruct_layers(inputs)
        channels = self.image_shape[-1]
        gate = tf.tile(layers["gate"], [1, 1, 1, channels])
        grids["layers"] = tf.reshape(
            tf.stack([layers["foreground"], gate, layers["background"], layers["image"]], 1),
            [-1, *self.image_shape])
        return grids

    def serving_endpoints(self):
        """`generate` (images and layers; also serving_default), `encode`, `reconstruct`.

        `encode` gives the mean and scale of q(z_F | x, y) and of
        q(z_B | x, y, z_F) at z_F = its posterior mean.
        """
        endpoints = super().serving_endpoints()
        specs = self._serving_specs()

        def generate(attributes, latents):
            layers = self.image_layers(attributes, latents)
            return {"images": layers["image"], "foreground": layers["foreground"],
                    "gate": layers["gate"], "background": layers["background"]}

        endpoints["generate"] = (generate, [specs["attributes"], specs["latents"]])
        return endpoints

    # -- Serialization -----------------------------------------------------------

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        config = super().get_config()
        del config["latent_dim"]
        config.update(foreground_dim=self.foreground_dim, background_dim=self.background_dim,
                      gate_supervision_weight=self.gate_supervision_weight,
                      background_encoder=serialize(self.background_encoder),
                      background_decoder=serialize(self.background_decoder))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("background_encoder", "background_decoder"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return super().from_config(config)
