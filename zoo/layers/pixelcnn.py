"""The gated PixelCNN layer of van den Oord et al. (2016), with no blind spot.

A PixelCNN models p(x) = prod_p p(x_p | x_<p) over a grid in raster order, so
the features at position p = (i, j) may depend only on inputs at earlier
positions: rows above i, and row i left of j. The paper's gated layer keeps two
stacks: a vertical one that sees every row above (so nothing above is missed,
unlike a single masked stack, whose receptive field leaves out a triangle up
and to the right: the blind spot), and a horizontal one that sees row i left
of j and takes in the vertical stack through a 1x1 convolution.

Here the masks are not stored. The network's input embedding x enters the
vertical stack shifted down one row (`shift_down`) and the horizontal stack
shifted right one column (`shift_right`), so their position (i, j) holds
x[i-1, j] and x[i, j-1]. From there each vertical convolution has the kernel's
top half-plus-centre row only, (k//2 + 1, k), padded k//2 above and k//2 on
each side, so its output row i sees its input rows i-k//2..i; each horizontal
convolution has the left half-plus-centre column, (1, k//2 + 1), padded k//2 on
the left, so it sees columns j-k//2..j. That is the paper's masked kernel with
its zeroed half cut away (same outputs, fewer weights, no mask multiply).

Why it is causal: by induction over the blocks, the vertical stack at row i
depends only on input rows < i (the shift puts row i-1 at row i, and the
convolutions look at rows <= i only), and the horizontal stack at (i, j) only
on rows < i (through the 1x1 link, taken at the same position) and on row i at
columns < j (the shift, then convolutions looking at columns <= j only). The
1x1 convolutions and gates act per position, so they keep both properties.

Each block computes, with f = filters and h an optional conditioning vector
(Eq. 2 and 4 of the paper):

    v' = conv_v(v) + V_v h                        (2f channels)
    v_out = tanh(v'[:f]) * sigmoid(v'[f:])
    h' = conv_h(h_in) + V_h h + link_1x1(v')      (2f channels)
    h_out = h_in + residual_1x1(tanh(h'[:f]) * sigmoid(h'[f:]))

References:
    van den Oord et al. (2016), Conditional Image Generation with PixelCNN
        Decoders, arXiv 1606.05328, Sec. 2 and Fig. 2.
    Salimans et al. (2017), PixelCNN++, arXiv 1701.05517 (the shifted form).
"""

import keras
import tensorflow as tf

__all__ = ["GatedPixelCNNBlock", "shift_down", "shift_right"]


def shift_down(x):
    """[B, H, W, C] moved down one row: row 0 is zeros, row i holds row i-1."""
    return tf.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


def shift_right(x):
    """[B, H, W, C] moved right one column: column 0 is zeros, column j holds j-1."""
    return tf.pad(x, [[0, 0], [0, 0], [1, 0], [0, 0]])[:, :, :-1]


def _gate(x):
    """tanh(a) * sigmoid(b) for the halves a, b of the channels (paper Eq. 2)."""
    a, b = tf.split(x, 2, axis=-1)
    return tf.tanh(a) * tf.sigmoid(b)


@keras.saving.register_keras_serializable(package="zoo")
class GatedPixelCNNBlock(keras.layers.Layer):
    """One gated layer: (vertical, horizontal[, conditions]) -> (vertical, horizontal).

    Args:
        filters: channels of both stacks (inputs and outputs).
        kernel_size: odd k >= 3 of the paper's k x k masked convolution.
        num_conditions: size of the conditioning vector h (0: unconditional).
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(self, filters, kernel_size=3, num_conditions=0, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.num_conditions = int(num_conditions)
        half = self.kernel_size // 2
        self.vertical_conv = keras.layers.Conv2D(2 * filters, (half + 1, self.kernel_size),
                                                 name="vertical_conv")
        self.horizontal_conv = keras.layers.Conv2D(2 * filters, (1, half + 1),
                                                   name="horizontal_conv")
        self.link = keras.layers.Conv2D(2 * filters, 1, name="vertical_to_horizontal")
        self.residual = keras.layers.Conv2D(filters, 1, name="residual")
        self.vertical_condition = self.horizontal_condition = None
        if self.num_conditions:
            self.vertical_condition = keras.layers.Dense(2 * filters, name="vertical_condition")
            self.horizontal_condition = keras.layers.Dense(2 * filters,
                                                           name="horizontal_condition")

    def build(self, input_shape):
        shape = (None, None, None, self.filters)
        for layer in (self.vertical_conv, self.horizontal_conv):
            layer.build(shape)
        self.link.build((None, None, None, 2 * self.filters))
        self.residual.build(shape)
        if self.num_conditions:
            for layer in (self.vertical_condition, self.horizontal_condition):
                layer.build((None, self.num_conditions))

    def call(self, vertical, horizontal, conditions=None):
        half = self.kernel_size // 2
        vertical_pre = self.vertical_conv(
            tf.pad(vertical, [[0, 0], [half, 0], [half, half], [0, 0]]))
        horizontal_pre = self.horizontal_conv(
            tf.pad(horizontal, [[0, 0], [0, 0], [half, 0], [0, 0]]))
        if self.num_conditions:
            if conditions is None:
                raise ValueError(f"{self.name}: num_conditions={self.num_conditions} needs "
                                 "conditions [B, num_conditions].")
            conditions = tf.cast(conditions, self.compute_dtype)
            vertical_pre += self.vertical_condition(conditions)[:, None, None, :]
            horizontal_pre += self.horizontal_condition(conditions)[:, None, None, :]
        horizontal_pre += self.link(vertical_pre)
        return _gate(vertical_pre), horizontal + self.residual(_gate(horizontal_pre))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "num_conditions": self.num_conditions}
