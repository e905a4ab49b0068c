r"""MADE: a masked autoencoder for distribution estimation, with a context input.

A MADE (Germain, Gregor, Murray & Larochelle 2015) is a dense network whose
weights are masked so that output i depends only on the inputs before i in a
chosen order: its Jacobian d out / d in is strictly triangular. Each unit has
a degree; input i has degree its rank in the order (1..D), a hidden unit a
degree in [1, D - 1], and a connection from a unit of degree a to a hidden unit
of degree b exists iff b >= a, to an output of degree c iff c > a.

The inverse autoregressive flow (Kingma et al. 2016) needs the encoder's
context h in every step: h enters every layer, hidden and output, through an
unmasked dense kernel (as TFP's `conditional_input_layers="all_layers"`), so
every output depends on all of h and on its predecessors; the first output,
which has no predecessor, on h alone.
The layer returns two heads per input, m and s ([m_t, s_t] = MADE(z, h) of
the paper's Algorithm 1).

TFP's `tfb.AutoregressiveNetwork` is the same network with a
`conditional_input`, but it is a `tf_keras` layer whose weights a Keras 3
model does not track; this one is Keras 3.

References:
    Germain et al. (2015), MADE: Masked Autoencoder for Distribution
        Estimation, ICML (arXiv 1502.03509).
    Kingma et al. (2016), Improving Variational Inference with Inverse
        Autoregressive Flow, NeurIPS, Algorithm 1 (arXiv 1606.04934).
"""

import keras
import numpy as np
import tensorflow as tf

from zoo import checks

__all__ = ["MADE", "made_masks"]


def made_masks(event_size, hidden_units, reverse=False):
    """The 0/1 masks of a MADE's kernels, input first, as numpy [fan_in, fan_out] arrays.

    Args:
        event_size: D, the size of the input (and of each output head).
        hidden_units: widths of the hidden layers.
        reverse: take the inputs in the order D, D - 1, ..., 1 instead of 1..D.

    Returns:
        (masks, input_degrees): one mask per kernel, the last one for the
        output layer of one head ([fan_in, D]); and the inputs' degrees.
    """
    degrees = np.arange(1, event_size + 1)
    if reverse:
        degrees = degrees[::-1]
    masks, previous = [], degrees
    for width in hidden_units:
        # Degrees 1..D-1, cycled; with D = 1 no hidden unit sees the input (degree 0).
        hidden = (np.arange(width) % max(event_size - 1, 1)) + min(1, event_size - 1)
        masks.append((hidden[None, :] >= previous[:, None]).astype("float32"))
        previous = hidden
    masks.append((degrees[None, :] > previous[:, None]).astype("float32"))
    return masks, degrees


@keras.saving.register_keras_serializable(package="zoo")
class MADE(keras.layers.Layer):
    """An autoregressive dense network with two output heads and an optional context.

    Args:
        event_size: D.
        hidden_units: widths of the hidden layers (at least one).
        context_dim: size of the context input h (0: none).
        reverse: the autoregressive order is D..1 instead of 1..D.
        activation: of the hidden layers.
        scale_bias: initial bias of the second head s. The output kernels
            start at zero, so s = scale_bias everywhere at first: the IAF's
            sigma = sigmoid(s) starts near 1 (the paper's "forget gate bias").
        **kwargs: passed to `keras.layers.Layer`.

    Call:
        `layer(inputs, context=None)`, inputs [..., D] and context [..., C]
        (broadcast against the inputs' leading axes), gives (m, s), each
        [..., D], in the layer's compute dtype.
    """

    def __init__(self, event_size, hidden_units=(64, 64), context_dim=0, reverse=False,
                 activation="elu", scale_bias=2.0, **kwargs):
        super().__init__(**kwargs)
        self.event_size = checks.positive_int("event_size", event_size)
        hidden_units = (hidden_units,) if isinstance(hidden_units, int) else hidden_units
        self.hidden_units = tuple(checks.positive_int("hidden_units", units)
                                  for units in hidden_units)
        if not self.hidden_units:
            raise ValueError("hidden_units must name at least one hidden layer.")
        self.context_dim = checks.non_negative_int("context_dim", context_dim)
        self.reverse = bool(reverse)
        self.activation = keras.activations.get(activation)
        self._activation_name = activation
        self.scale_bias = checks.finite_number("scale_bias", scale_bias)
        masks, _ = made_masks(self.event_size, self.hidden_units, self.reverse)
        self._masks = masks[:-1] + [np.concatenate([masks[-1], masks[-1]], axis=1)]
        widths = (self.event_size, *self.hidden_units, 2 * self.event_size)
        self.kernels, self.biases = [], []
        for index, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
            last = index == len(widths) - 2
            self.kernels.append(self.add_weight(
                shape=(fan_in, fan_out), name=f"kernel_{index}",
                initializer="zeros" if last else "glorot_uniform"))
            bias = (np.r_[np.zeros(self.event_size), np.full(self.event_size, self.scale_bias)]
                    if last else np.zeros(fan_out))
            self.biases.append(self.add_weight(
                shape=(fan_out,), name=f"bias_{index}",
                initializer=keras.initializers.Constant(bias.astype("float32"))))
        self.context_kernels = []
        for index, fan_out in enumerate(widths[1:] if self.context_dim else ()):
            last = index == len(widths) - 2
            self.context_kernels.append(self.add_weight(
                shape=(self.context_dim, fan_out), name=f"context_kernel_{index}",
                initializer="zeros" if last else "glorot_uniform"))
        self.built = True

    def call(self, inputs, context=None):
        dtype = self.compute_dtype
        if self.context_dim and context is None:
            raise ValueError(f"{self.name} needs a context of size {self.context_dim}.")
        hidden = tf.cast(inputs, dtype)
        for index, (kernel, bias, mask) in enumerate(zip(self.kernels, self.biases,
                                                         self._masks)):
            weights = tf.cast(kernel, dtype) * tf.constant(mask, dtype)
            hidden = tf.matmul(hidden, weights) + tf.cast(bias, dtype)
            if self.context_kernels:
                hidden = hidden + tf.matmul(tf.cast(context, dtype),
                                            tf.cast(self.context_kernels[index], dtype))
            if index < len(self.kernels) - 1:
                hidden = self.activation(hidden)
        shift, scale = tf.split(hidden, 2, axis=-1)
        return shift, scale

    def get_config(self):
        return {**super().get_config(), "event_size": self.event_size,
                "hidden_units": list(self.hidden_units), "context_dim": self.context_dim,
                "reverse": self.reverse, "activation": self._activation_name,
                "scale_bias": self.scale_bias}
