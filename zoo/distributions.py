"""TFP distributions for latent-variable models: priors, posteriors, likelihoods.

Networks output unconstrained parameters; the objects here turn them into
`tfd.Distribution`s whose `log_prob` and `kl_divergence` the models use. All
log-probabilities are per example, summed over dimensions, in nats.

Images enter every model in [0, 1]. Each likelihood says how the data pipeline
should place 8-bit pixels there (`data_encoding`):
  * "binary": {0, 1} values, drawn as Bernoulli(pixel / 255) (dynamic
    binarization), a discrete distribution;
  * "dequantized": (pixel + u) / 256 with u ~ U[0, 1), for densities;
  * "discrete": pixel / 255 exactly, for distributions over the 256 levels.
`discrete_log_likelihood` turns a log-likelihood into log P(x) of the
quantized data (8-bit, or binarized for "binary"), subtracting the D log 256
bin width for densities on dequantized data; `bits_per_dim` gives the same
quantity in bits per dimension.

References:
    Kingma & Welling (2014), Auto-Encoding Variational Bayes.
    Salimans et al. (2017), PixelCNN++ (discretized logistic likelihood).
    Loaiza-Ganem & Cunningham (2019), The continuous Bernoulli.
    Theis, van den Oord & Bethge (2016), A note on the evaluation of generative
        models (dequantization bound).
"""

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from zoo import checks

tfd = tfp.distributions

__all__ = [
    "Likelihood", "Bernoulli", "Gaussian", "FixedVarianceGaussian",
    "DiscretizedLogistic", "ContinuousBernoulli", "get_likelihood",
    "LIKELIHOODS", "StandardNormalPrior", "LearnedGaussianPrior", "get_prior",
    "PRIORS", "diagonal_gaussian", "kl_divergence",
]

LIKELIHOODS = {}
PRIORS = {}
_MIN_SCALE = 1e-3


def _register(registry, name):
    def decorate(cls):
        cls.name = name
        registry[name] = cls
        return keras.saving.register_keras_serializable(package="zoo")(cls)
    return decorate


def _lookup(registry, kind, value, **kwargs):
    if not isinstance(value, str):
        return value
    if value not in registry:
        raise ValueError(
            f"Unknown {kind} {value!r}; expected one of {sorted(registry)}.")
    return registry[value](**kwargs)


def diagonal_gaussian(params):
    """A diagonal Gaussian over the last axis from [..., 2 * D] raw parameters.

    The first half is the mean; the second half goes through a softplus (plus a
    small floor) to give the standard deviation, which is better conditioned
    than exp(log sigma) early in training.
    """
    params = tf.cast(params, tf.float32)
    loc, raw_scale = tf.split(params, 2, axis=-1)
    scale = _MIN_SCALE + tf.nn.softplus(raw_scale)
    return tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)


def kl_divergence(posterior, prior, latents=None):
    """KL(q || p) per example: closed form where TFP has one, else Monte Carlo.

    Args:
        posterior: q(z | x), batch shape [B].
        prior: p(z).
        latents: a sample z ~ q used for the one-sample estimate
            log q(z) - log p(z) when no closed form is registered.
    """
    try:
        return tfd.kl_divergence(posterior, prior)
    except NotImplementedError:
        if latents is None:
            raise
        return posterior.log_prob(latents) - prior.log_prob(latents)


class Likelihood:
    """p(x | z) as a distribution over images from a decoder's raw output.

    Subclasses set `params_per_channel` (how many decoder output channels each
    image channel needs), `data_encoding` and `is_discrete`, and implement
    `distribution(params)` (event shape [H, W, C]) and `mean_image(params)`.
    """
    name = "likelihood"
    params_per_channel = 1
    data_encoding = "dequantized"
    is_discrete = False

    def distribution(self, params):
        raise NotImplementedError

    def to_event(self, images):
        """Images in [0, 1] as values of `distribution(...)` (identity here)."""
        return tf.cast(images, tf.float32)

    def log_prob(self, params, images):
        """log p(images | params) per example, in nats."""
        return self.distribution(params).log_prob(self.to_event(images))

    def mean_image(self, params):
        """The expected image in [0, 1], for display and reconstructions."""
        raise NotImplementedError

    # Probabilities are kept in [p, 1 - p] before a logit, so logits stay finite.
    _min_probability = 1e-6

    def location(self, params):
        """Each pixel's location in image units, [..., H, W, C], after the parameter's link.

        This is the quantity disCVAE composites by its gate (`zoo.models.discvae`): the
        mean of p(x | params) for every likelihood but the discretized
        logistic, whose location is the logistic's loc / 255. `mean_image` is
        this location clipped to [0, 1]; the clip acts only for the Gaussians,
        whose location is unconstrained.
        """
        raise NotImplementedError

    def params_from_location(self, location, params):
        """Raw parameters whose `location` is `location`: the link's inverse.

        Args:
            location: [..., H, W, C] in image units, as `location` returns.
            params: [..., H, W, C * params_per_channel] raw parameters; their
                other channels (the scales of two-parameter likelihoods) are
                kept unchanged.
        """
        raise NotImplementedError

    def _logit(self, probabilities):
        """log p - log(1 - p) of p clipped to [_min_probability, 1 - _min_probability]."""
        probabilities = tf.clip_by_value(tf.cast(probabilities, tf.float32),
                                         self._min_probability, 1.0 - self._min_probability)
        return tf.math.log(probabilities) - tf.math.log1p(-probabilities)

    def discrete_log_likelihood(self, log_likelihood, num_dims):
        """log P(x) of the quantized data, in nats, from a log-likelihood of its encoding.

        A discrete likelihood's log-probability already is one. A density's is
        of the dequantized images y = (x + u) / 256 on [0, 1]; subtracting
        D log 256 turns it into the probability mass of the bins of width
        1/256, and with u ~ U[0, 1) its expectation is a lower bound on
        log P(x) of the 8-bit data (Theis et al. 2016).
        """
        bin_width = 0.0 if self.is_discrete else num_dims * math.log(256.0)
        return log_likelihood - bin_width

    def bits_per_dim(self, log_likelihood, num_dims):
        """Bits per dimension of the quantized data from a log-likelihood in nats.

        The same quantity as `discrete_log_likelihood`, in other units.
        """
        return -self.discrete_log_likelihood(log_likelihood, num_dims) / (
            num_dims * math.log(2.0))

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({self.get_config()})"


def _image_event(distribution):
    return tfd.Independent(distribution, reinterpreted_batch_ndims=3)


@_register(LIKELIHOODS, "bernoulli")
class Bernoulli(Likelihood):
    """Independent Bernoulli pixels, for binary (or binarized) images."""
    data_encoding = "binary"
    is_discrete = True

    def distribution(self, params):
        return _image_event(tfd.Bernoulli(logits=tf.cast(params, tf.float32),
                                          dtype=tf.float32))

    def mean_image(self, params):
        return tf.sigmoid(tf.cast(params, tf.float32))

    def location(self, params):
        """The probability sigmoid(logits), the pixel's mean."""
        return self.mean_image(params)

    def params_from_location(self, location, params=None):
        """The logits of the probability `location` (clipped to [1e-6, 1 - 1e-6])."""
        return self._logit(location)


@_register(LIKELIHOODS, "gaussian")
class Gaussian(Likelihood):
    """Gaussian pixels with a learned per-pixel variance.

    -log p(x | z) = sum_j 1/2 log(2 pi sigma_j^2) + (x_j - mu_j)^2 / (2 sigma_j^2),
    the lecture's "Cost: Reproduction". The decoder outputs mu and a raw scale
    per pixel; sigma = min_scale + softplus(raw).
    """
    params_per_channel = 2

    def __init__(self, min_scale=_MIN_SCALE):
        self.min_scale = checks.finite_non_negative("min_scale", min_scale)

    def _split(self, params):
        loc, raw_scale = tf.split(tf.cast(params, tf.float32), 2, axis=-1)
        return loc, self.min_scale + tf.nn.softplus(raw_scale)

    def distribution(self, params):
        loc, scale = self._split(params)
        return _image_event(tfd.Normal(loc=loc, scale=scale))

    def mean_image(self, params):
        return tf.clip_by_value(self._split(params)[0], 0.0, 1.0)

    def location(self, params):
        """mu, the mean itself (not clipped)."""
        return self._split(params)[0]

    def params_from_location(self, location, params):
        """[location, the raw scale of `params`]."""
        raw_scale = tf.split(tf.cast(params, tf.float32), 2, axis=-1)[1]
        return tf.concat([tf.cast(location, tf.float32), raw_scale], axis=-1)

    def get_config(self):
        return {"min_scale": self.min_scale}


@_register(LIKELIHOODS, "gaussian_fixed")
class FixedVarianceGaussian(Likelihood):
    """Gaussian pixels with one fixed standard deviation: least squares.

    -log p(x | z) = ||x - mu||^2 / (2 scale^2) + D log(scale sqrt(2 pi)); the
    scale sets how much reconstruction weighs against the KL.
    """

    def __init__(self, scale=0.1):
        self.scale = checks.finite_positive("scale", scale)

    def distribution(self, params):
        return _image_event(tfd.Normal(loc=tf.cast(params, tf.float32),
                                       scale=self.scale))

    def mean_image(self, params):
        return tf.clip_by_value(tf.cast(params, tf.float32), 0.0, 1.0)

    def location(self, params):
        """mu, the parameter and the mean itself (not clipped)."""
        return tf.cast(params, tf.float32)

    def params_from_location(self, location, params=None):
        """The location is the parameter."""
        return tf.cast(location, tf.float32)

    def get_config(self):
        return {"scale": self.scale}


@_register(LIKELIHOODS, "discretized_logistic")
class DiscretizedLogistic(Likelihood):
    """A logistic over pixel values quantized to the 256 levels of 8-bit data.

    P(k) = CDF(k + 1/2) - CDF(k - 1/2) for 0 < k < 255, with the edge levels
    taking the tails (Salimans et al. 2017, Eq. 2), via TFP's
    QuantizedDistribution. Location and scale are in pixel units, and the
    distribution is over levels: `to_event` maps [0, 1] images onto them.
    """
    params_per_channel = 2
    data_encoding = "discrete"
    is_discrete = True

    def _split(self, params):
        raw_loc, raw_scale = tf.split(tf.cast(params, tf.float32), 2, axis=-1)
        loc = 255.0 * tf.sigmoid(raw_loc)
        scale = 0.05 + 16.0 * tf.nn.softplus(raw_scale)
        return loc, scale

    def distribution(self, params):
        loc, scale = self._split(params)
        # QuantizedDistribution puts X in (k - 1, k] on level k: shifting the
        # logistic by -1/2 centres level k's bin on k.
        return _image_event(tfd.QuantizedDistribution(
            tfd.Logistic(loc=loc - 0.5, scale=scale), low=0.0, high=255.0))

    def to_event(self, images):
        """Pixel levels 0..255, the values this distribution is over."""
        return tf.round(tf.cast(images, tf.float32) * 255.0)

    def mean_image(self, params):
        return self._split(params)[0] / 255.0

    def location(self, params):
        """loc / 255 = sigmoid(raw location), in [0, 1]."""
        return self.mean_image(params)

    def params_from_location(self, location, params):
        """[logit(location) (clipped to [1e-6, 1 - 1e-6]), the raw scale of `params`]."""
        raw_scale = tf.split(tf.cast(params, tf.float32), 2, axis=-1)[1]
        return tf.concat([self._logit(location), raw_scale], axis=-1)


@_register(LIKELIHOODS, "continuous_bernoulli")
class ContinuousBernoulli(Likelihood):
    """The continuous Bernoulli: a proper density on [0, 1] for grey pixels."""

    def distribution(self, params):
        return _image_event(tfd.ContinuousBernoulli(
            logits=tf.cast(params, tf.float32)))

    def mean_image(self, params):
        return tfd.ContinuousBernoulli(
            logits=tf.cast(params, tf.float32)).mean()

    def location(self, params):
        """The mean m(eta) = 1 / (1 - exp(-eta)) - 1 / eta, not lambda = sigmoid(eta).

        Our choice: disCVAE composites means, so that `mean_image` of its
        composite is x_F * g + x_B * (1 - g) of the layers' mean images. The
        mean is a nonlinear function of lambda (Loaiza-Ganem & Cunningham
        2019), so compositing lambda would show layers whose composite is not
        the image.
        """
        return self.mean_image(params)

    def params_from_location(self, location, params=None):
        """The logits eta whose mean m(eta) is `location` (clipped to [1e-6, 1 - 1e-6]).

        m has no closed-form inverse. m is increasing, with slope
        m'(eta) = 1 / eta^2 - exp(-|eta|) / (1 - exp(-|eta|))^2 in (0, 1/12].
        Newton's method starts from eta_0 = 1 / (1 - m) - 1 / m, which has
        the root's sign and its asymptotes as m -> 0 or 1. Five steps reach
        TFP's mean to its own float32 precision (about 1e-6) over the whole
        clipped range. The steps are not differentiated: one more step from
        the stopped solution carries the inverse's gradient, d eta / d m =
        1 / m'(eta).
        """
        target = tf.clip_by_value(tf.cast(location, tf.float32), self._min_probability,
                                  1.0 - self._min_probability)
        logits = tf.stop_gradient(1.0 / (1.0 - target) - 1.0 / target)
        for _ in range(5):
            logits = tf.stop_gradient(
                logits - (self.mean_image(logits) - target) / self._slope(logits))
        return logits - (self.mean_image(logits) - target) / self._slope(logits)

    @staticmethod
    def _slope(logits):
        """m'(eta), by its Taylor series 1/12 - eta^2/240 + ... for |eta| < 1."""
        size = tf.abs(logits)
        square = tf.square(size)
        series = 1 / 12 - square / 240 + square ** 2 / 6048 - square ** 3 / 172800
        safe = tf.maximum(size, 1.0)
        direct = 1.0 / tf.square(safe) - tf.exp(-safe) / tf.square(tf.math.expm1(-safe))
        return tf.where(size < 1.0, series, direct)


def get_likelihood(likelihood, **kwargs):
    """A `Likelihood` from its registered name, or the object itself."""
    return _lookup(LIKELIHOODS, "likelihood", likelihood, **kwargs)


@_register(PRIORS, "standard_normal")
class StandardNormalPrior(keras.layers.Layer):
    """p(z) = N(0, I)."""

    def __init__(self, latent_dim, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.built = True

    def distribution(self):
        return tfd.MultivariateNormalDiag(loc=tf.zeros([self.latent_dim]))

    def latents_from_noise(self, noise):
        """Maps standard-normal noise to a prior sample (the identity here)."""
        return tf.cast(noise, tf.float32)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim}


@_register(PRIORS, "learned_gaussian")
class LearnedGaussianPrior(StandardNormalPrior):
    """p(z) = N(m, diag(s^2)) with m and s learned along with the model.

    s = min_scale + softplus(raw_scale), the parametrisation of the posterior's
    scale. raw_scale starts at softplus^{-1}(1 - min_scale) = log(e^(1 - min_scale) - 1),
    so a fresh prior is exactly N(0, I) (within float32) and the model starts
    from the standard-normal objective of Kingma & Welling (2014).
    """

    def __init__(self, latent_dim, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.loc = self.add_weight(shape=(self.latent_dim,), initializer="zeros",
                                   name="loc")
        self.raw_scale = self.add_weight(
            shape=(self.latent_dim,),
            initializer=keras.initializers.Constant(math.log(math.expm1(1.0 - _MIN_SCALE))),
            name="raw_scale")

    def _scale(self):
        return _MIN_SCALE + tf.nn.softplus(self.raw_scale)

    def distribution(self):
        return tfd.MultivariateNormalDiag(loc=self.loc, scale_diag=self._scale())

    def latents_from_noise(self, noise):
        return self.loc + self._scale() * tf.cast(noise, tf.float32)


def get_prior(prior, latent_dim):
    """A prior layer from its registered name, or the layer itself."""
    return _lookup(PRIORS, "prior", prior, latent_dim=latent_dim)
