"""SavedModel export with named serving signatures, for TF Serving.

Every zoo model lists its endpoints in `serving_endpoints()` as
{name: (function, [TensorSpec, ...])}. Inputs have explicit names, dtypes and
shapes, and outputs are dicts of named tensors. The first endpoint is also
`serving_default`.

The signature's shapes are not enforced when it is called: a loaded
`signatures[name]` and TF Serving's C++ session feed any shape to the graph,
where a wrong size can come back as a silently wrong result (25x25 images
through stride-2 convolutions reach the same 7x7 features as 28x28 ones) and a
wrong rank aborts the process in a oneDNN convolution. So every endpoint is
wrapped to check each input's runtime shape (and that it is finite) against its
TensorSpec before the model runs, and fails with an InvalidArgumentError naming
the endpoint, the input and the expected shape.

Models are written to numbered version folders, as TF Serving expects
(`export_dir/1`, `export_dir/2`, ...). A version is written to a temporary
folder in `export_dir` whose name is not all digits (TF Serving and
`next_version` ignore it) and then renamed into place, so a half-written
version never appears, even if the export is killed.
"""

import functools
import inspect
import numbers
import os
import shutil

import keras
import tensorflow as tf

__all__ = ["export_saved_model", "next_version"]

_TEMPORARY_PREFIX = ".tmp-"


def next_version(export_dir):
    """1 + the largest numbered version folder in `export_dir` (1 if none).

    Only all-digit names are versions, as for TF Serving: temporary folders
    left by a killed export are not.
    """
    if not os.path.isdir(export_dir):
        return 1
    versions = [int(name) for name in os.listdir(export_dir) if name.isdigit()]
    return max(versions, default=0) + 1


def _shape_text(shape):
    """[None, 28, 28, 1] -> '[N, 28, 28, 1]'."""
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


def _checked_input(endpoint, name, value, spec):
    """`value` once its runtime shape matches `spec` and its values are finite.

    The check compares tf.shape(value), as text, with a pattern built from the
    spec (a None dimension, the batch, takes any size >= 1). Inside the traced
    endpoint the static shape is the spec's own, so tf.debugging.assert_rank
    and the like would be decided, and dropped, at trace time; the text compare
    runs on every call and also catches a wrong rank. The model's input is an
    identity of `value` that waits for both asserts, so no op sees a bad input.
    """
    dims = spec.shape.as_list()
    pattern = ", ".join(r"[1-9]\d*" if d is None else str(d) for d in dims)
    actual = tf.strings.reduce_join(tf.strings.as_string(tf.shape(value)), separator=", ")
    right_shape = tf.debugging.Assert(
        tf.strings.regex_full_match(actual, pattern),
        [tf.strings.join([f"{endpoint}: input {name} must have shape {_shape_text(dims)} "
                          f"with N >= 1 ({spec.dtype.name}); got [", actual, "]"])])
    if not spec.dtype.is_floating:  # Integers are finite; the model checks their range.
        with tf.control_dependencies([right_shape]):
            return tf.identity(value)
    with tf.control_dependencies([right_shape]):
        finite = tf.debugging.Assert(
            tf.reduce_all(tf.math.is_finite(value)),
            [f"{endpoint}: input {name} has NaN or Inf values; only finite values are "
             "allowed"], summarize=1)
    with tf.control_dependencies([right_shape, finite]):
        return tf.identity(value)


def _checked_endpoint(endpoint, function, signature):
    """`function` with each input checked against its TensorSpec in `signature` first.

    The inputs are matched to `signature` in the order of `function`'s
    parameters (as tf.function's input_signature matches them); the wrapper
    keeps `function`'s signature, so the SavedModel's input names stay.
    """
    parameters = inspect.signature(function)

    @functools.wraps(function)
    def checked(*args, **kwargs):
        bound = parameters.bind(*args, **kwargs)
        for (name, value), spec in zip(list(bound.arguments.items()), signature):
            bound.arguments[name] = _checked_input(endpoint, spec.name or name, value, spec)
        return function(*bound.args, **bound.kwargs)

    return checked


def export_saved_model(model, export_dir, version=None):
    """Writes `model`'s serving signatures to `export_dir/<version>`.

    Args:
        model: a zoo model with `serving_endpoints()`.
        export_dir: the model's base export folder.
        version: positive integer version; None takes the next free one. An
            existing version folder is never overwritten.

    Returns:
        The path of the written SavedModel.

    Raises:
        ValueError: `version` is not a positive integer, or `export_dir/<version>`
            exists already.
    """
    if version is None:
        version = next_version(export_dir)
    elif isinstance(version, bool) or not isinstance(version, numbers.Integral) or version < 1:
        raise ValueError(f"version={version!r}: must be a positive integer (or None for the "
                         "next free one)")
    version = int(version)
    path = os.path.join(export_dir, str(version))
    if os.path.exists(path):
        raise ValueError(f"version {version} exists already at {path}: export to another "
                         "version (or None for the next free one) or remove it")
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (function, signature) in model.serving_endpoints().items():
        archive.add_endpoint(name, _checked_endpoint(name, function, signature),
                             input_signature=signature)
    os.makedirs(export_dir, exist_ok=True)
    temporary = os.path.join(export_dir, f"{_TEMPORARY_PREFIX}{version}-{os.getpid()}")
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        archive.write_out(temporary, verbose=False)
        os.rename(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return path
