r"""The inverse autoregressive flow of Kingma et al. (2016), on TFP bijectors.

From a base sample z_0 = mu + sigma * eps of the encoder's diagonal Gaussian,
K steps (Algorithm 1, the numerically stable form)

    [m_t, s_t] = MADE_t(z_{t-1}, h),   sigma_t = sigmoid(s_t),
    z_t = sigma_t * z_{t-1} + (1 - sigma_t) * m_t,

with h the encoder's context, give z = z_K and, as each step's Jacobian is
triangular with diagonal sigma_t,

    log q(z_K | x) = log N(z_0; mu, sigma^2) - sum_t sum_i log sigma_t,i.

The steps alternate their MADE's order (1..D, then D..1, ...), which is the
paper's "reverse the order of the latents between steps" without moving the
vector, so each dimension of z keeps its place and the log-density splits
into per-dimension terms (what free bits needs).

`forward` computes the steps directly (one MADE pass each) and returns the
per-dimension log sigma. `bijector` gives the same map as a TFP bijector,
`tfb.Chain` of `tfb.Invert(tfb.MaskedAutoregressiveFlow(bijector_fn=...))`,
for `tfd.TransformedDistribution`: its forward is one MADE pass per step, its
inverse (log_prob of a z not drawn from it) D passes per step.

The log sigma are float32 whatever the compute dtype.
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from zoo import checks
from zoo.layers import made

tfb = tfp.bijectors

__all__ = ["InverseAutoregressiveFlow"]


def _step_bijector(shift, log_scale):
    """The bijector whose inverse is u -> sigma * u + (1 - sigma) * m.

    (`tfb.Invert(MaskedAutoregressiveFlow)` applies `bijector_fn(u).inverse(u)`.)
    Forward: x -> (x - (1 - sigma) m) / sigma; its inverse's log-det is sum log sigma.
    """
    return tfb.Chain([tfb.Scale(log_scale=-log_scale), tfb.Shift(-shift)])


@keras.saving.register_keras_serializable(package="zoo")
class InverseAutoregressiveFlow(keras.layers.Layer):
    """K IAF steps on [..., D] latents, conditioned on a context h.

    Args:
        event_size: D, the latent size.
        num_steps: K, at least 1.
        hidden_units: widths of each MADE's hidden layers.
        context_dim: size of the context h (0: none).
        scale_bias: initial s of every step (`zoo.layers.made.MADE`).
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(self, event_size, num_steps=2, hidden_units=(64, 64), context_dim=0,
                 scale_bias=2.0, **kwargs):
        super().__init__(**kwargs)
        self.event_size = checks.positive_int("event_size", event_size)
        self.num_steps = checks.positive_int("flow_steps", num_steps)
        hidden_units = (hidden_units,) if isinstance(hidden_units, int) else hidden_units
        self.hidden_units = tuple(hidden_units)
        self.context_dim = checks.non_negative_int("context_dim", context_dim)
        self.scale_bias = scale_bias
        self.steps = [made.MADE(self.event_size, self.hidden_units, self.context_dim,
                                reverse=bool(step % 2), scale_bias=scale_bias,
                                name=f"made_{step}")
                      for step in range(self.num_steps)]
        self.built = True

    def step(self, index, latents, context=None):
        """(m_t, log sigma_t), float32 [..., D], of step `index` at z_{t-1} = latents."""
        shift, scale = self.steps[index](latents, context)
        return tf.cast(shift, tf.float32), tf.math.log_sigmoid(tf.cast(scale, tf.float32))

    def forward(self, latents, context=None):
        """(z_K, sum_t log sigma_t [..., D]) from z_0 = latents [..., D]."""
        latents = tf.cast(latents, tf.float32)
        log_det = tf.zeros_like(latents)
        for index in range(self.num_steps):
            shift, log_scale = self.step(index, latents, context)
            scale = tf.exp(log_scale)
            latents = scale * latents + (1.0 - scale) * shift
            log_det = log_det + log_scale
        return latents, log_det

    def bijector(self, context=None):
        """The flow z_0 -> z_K as a TFP bijector (event_ndims 1), for this context."""

        def step_fn(index):
            def bijector_fn(inputs, **unused):
                shift, log_scale = self.step(index, inputs, context)
                return _step_bijector((1.0 - tf.exp(log_scale)) * shift, log_scale)
            return bijector_fn

        steps = [tfb.Invert(tfb.MaskedAutoregressiveFlow(bijector_fn=step_fn(index),
                                                         name=f"iaf_{index}"))
                 for index in range(self.num_steps)]
        return tfb.Chain(steps[::-1], name="inverse_autoregressive_flow")

    def call(self, latents, context=None):
        return self.forward(latents, context)[0]

    def get_config(self):
        return {**super().get_config(), "event_size": self.event_size,
                "num_steps": self.num_steps, "hidden_units": list(self.hidden_units),
                "context_dim": self.context_dim, "scale_bias": self.scale_bias}
