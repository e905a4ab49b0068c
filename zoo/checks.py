"""Argument and input checks shared by the models: one clear line per bad value.

A model that accepts a bad value trains on it: `latent_dim=2.5` silently
became 2, `beta=nan` or a likelihood scale of inf gave NaN losses that were
then reported as a divergence blaming the learning rate, and floats in
[0, 255] trained to "ELBOs" of +39,036 nats (a density on [0, 1] evaluated
far outside it). The functions here refuse such values where they enter: a
`TypeError` for a value of the wrong kind (a float or a bool where a count
belongs), a `ValueError` for one out of range, each naming the argument, the
value and what is allowed.

`unit_float_images` checks image batches inside the training step, which runs
in graph mode: there it adds a `tf.debugging.Assert` on a reduce-all and a
reduce-min/max of the batch (no measurable cost next to the networks), which
raises `InvalidArgumentError` when the step runs. Under `jit_compile=True`
XLA drops assertions; `VAE.fit` and `DCGAN.fit` still check the first batch
eagerly, a `ValueError` before any step.
"""

import math
import numbers

import numpy as np
import tensorflow as tf
from absl import logging

__all__ = ["image_shape", "integer", "positive_int", "non_negative_int", "finite_number",
           "finite_non_negative", "finite_positive", "unit_float_images",
           "check_fit_data"]


def integer(name, value):
    """`value` as an int; TypeError unless it is an integer (bools are not)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {value!r} ({type(value).__name__}).")
    return int(value)


def positive_int(name, value):
    """`value` as an int >= 1; TypeError for a non-integer, ValueError below 1."""
    value = integer(name, value)
    if value < 1:
        raise ValueError(f"{name} must be a positive int; got {value}.")
    return value


def non_negative_int(name, value):
    """`value` as an int >= 0; TypeError for a non-integer, ValueError below 0."""
    value = integer(name, value)
    if value < 0:
        raise ValueError(f"{name} must be an int >= 0; got {value}.")
    return value


def image_shape(value):
    """(height, width, channels) as a tuple of positive ints, or ValueError."""
    shape = tuple(value)
    if len(shape) != 3 or not all(
            isinstance(d, numbers.Integral) and not isinstance(d, (bool, np.bool_)) and d >= 1
            for d in shape):
        raise ValueError(f"image_shape must be (height, width, channels) of positive ints; "
                         f"got {shape}.")
    return tuple(int(d) for d in shape)


def _number(name, value):
    """`value` as a float; TypeError unless it is a real number (bools are not)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number; got {value!r} ({type(value).__name__}).")
    return float(value)


def finite_number(name, value):
    """`value` as a finite float; TypeError for a non-number, ValueError for nan or inf."""
    value = _number(name, value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value}.")
    return value


def finite_non_negative(name, value):
    """`value` as a finite float >= 0; TypeError for a non-number, ValueError otherwise."""
    value = _number(name, value)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0; got {value}.")
    return value


def finite_positive(name, value):
    """`value` as a finite float > 0; TypeError for a non-number, ValueError otherwise."""
    value = _number(name, value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0; got {value}.")
    return value


def unit_float_images(images, who):
    """Images as float32 in [0, 1]: uint8 is scaled by 1/255, floats are checked.

    Float images must be finite and in [0, 1], the range every likelihood and
    the DCGAN's tanh are written for. Eagerly a bad batch is a `ValueError`;
    in a `tf.function` (the training step) a `tf.debugging.Assert` on the
    batch raises `InvalidArgumentError` when it runs, whose message is the
    line "assertion failed: [<who>: float images must ...] [min] [max]".

    Args:
        images: a [B, ...] tensor of uint8 or floating dtype.
        who: the model's name, for the messages.

    Raises:
        TypeError: for a dtype other than uint8 and floats.
        ValueError: (eagerly) for values that are not finite or outside [0, 1].
    """
    images = tf.convert_to_tensor(images)
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 255.0
    if not images.dtype.is_floating:
        raise TypeError(f"Images must be float in [0, 1] or uint8; got {images.dtype.name}.")
    images = tf.cast(images, tf.float32)
    # False for NaN and +-inf too, which a min and max alone may not show.
    valid = tf.reduce_all((images >= 0.0) & (images <= 1.0))
    message = (f"{who}: float images must be finite and in [0, 1] (divide 8-bit values "
               f"by 255, or pass uint8 images); their min and max are")
    low, high = tf.reduce_min(images), tf.reduce_max(images)
    if tf.executing_eagerly():
        if not bool(valid):
            raise ValueError(f"{message} {float(low):.6g} and {float(high):.6g}.")
        return images
    check = tf.debugging.Assert(valid, [message, low, high])
    with tf.control_dependencies([check]):
        return tf.identity(images)


def _num_examples(data):
    """Rows of in-memory `fit` data (array, tensor, or tuple/dict of them); None if unknown."""
    if isinstance(data, tf.data.Dataset):
        cardinality = int(data.cardinality())
        return cardinality if cardinality >= 0 else None
    leaves = tf.nest.flatten(data) if isinstance(data, (dict, tuple, list)) else [data]
    if not leaves or not isinstance(leaves[0], (np.ndarray, tf.Tensor)):
        return None
    shape = leaves[0].shape
    return int(shape[0]) if len(shape) and shape[0] is not None else None


def check_fit_data(who, x, batch_size=None):
    """Refuses empty `fit` data; warns if a batch is larger than the data.

    Keras' `fit` on an empty array runs no step and returns {} (an empty
    history) without a word. A `tf.data.Dataset` counts by its (known)
    cardinality, i.e. in batches; arrays count in examples, and a
    `batch_size` (Keras' default: 32) larger than them gives one smaller batch
    per epoch, which is allowed but rarely meant.

    Raises:
        ValueError: if `x` holds no examples (or a dataset no batches).
    """
    count = _num_examples(x)
    if count is None:
        return
    if count == 0:
        what = "batches" if isinstance(x, tf.data.Dataset) else "examples"
        raise ValueError(f"{who}.fit got no training data: x has 0 {what}.")
    if isinstance(x, tf.data.Dataset):
        return
    size = 32 if batch_size is None else batch_size
    if size > count:
        logging.warning("%s.fit: batch_size=%d%s is larger than the %d examples of x, so every "
                        "epoch is one batch of %d.", who, size,
                        " (Keras' default)" if batch_size is None else "", count, count)
