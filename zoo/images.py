"""Images in batches, as the models check them, and as PNG grids and curve plots.

A batch holds its images as a tensor, as the first entry of a tuple, or under
"image" (or "images") in a dict: `unpack_images` finds them for every model,
`replace_images` swaps them (e.g. for freshly dequantized ones) and
`check_images` gives them to a model as float32 in [0, 1]. The rest writes
image grids as PNG files, training curves and 2-D point clouds as plots.
"""

import csv
import math
import os

import numpy as np
import tensorflow as tf

from zoo import checks

__all__ = ["unpack_images", "replace_images", "first_images", "check_images",
           "image_grid", "save_png", "plot_code_usage", "plot_history", "plot_points"]

_IMAGE_KEYS = ("image", "images")
_CHECKED_EXAMPLES = 1024  # Rows of in-memory arrays that `first_images` returns.


def _image_key(data):
    """The key of the images in a batch dict."""
    for key in _IMAGE_KEYS:
        if key in data:
            return key
    raise ValueError(f"A batch dict needs an 'image' entry; got keys {sorted(data)}.")


def unpack_images(data):
    """The image tensor of a batch given as a tensor, a tuple or a dict."""
    if isinstance(data, dict):
        return data[_image_key(data)]
    if isinstance(data, (tuple, list)):
        return unpack_images(data[0])
    return data


def replace_images(data, function):
    """The batch with the images `unpack_images` finds replaced by function(images)."""
    if isinstance(data, dict):
        key = _image_key(data)
        return {**data, key: replace_images(data[key], function)}
    if isinstance(data, (tuple, list)):
        return type(data)([replace_images(data[0], function), *data[1:]])
    return function(data)


def first_images(data):
    """The images of the first batch (or rows) of `fit`'s `x`, as numpy; None if unknown.

    A `tf.data.Dataset` gives its first element (one extra read of the
    pipeline's start); arrays, tensors, tuples and dicts give their first
    rows; generators and other iterables are not read.
    """
    if isinstance(data, tf.data.Dataset):
        data = next(iter(data.take(1)), None)
    elif not isinstance(data, (dict, tuple, list, np.ndarray, tf.Tensor)):
        return None
    if data is None:
        return None
    images = np.asarray(unpack_images(data)[:_CHECKED_EXAMPLES])
    return images / 255.0 if images.dtype == np.uint8 else images


def check_images(images, image_shape, model_name):
    """Images as float32 in [0, 1], with a clear error for a wrong shape or range.

    uint8 images are scaled by 1/255; float images must already be in
    [0, 1] and finite (see `zoo.checks.unit_float_images`).

    Args:
        images: [B, *image_shape] images.
        image_shape: the (height, width, channels) the model takes.
        model_name: named in the error messages.
    """
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4 or tuple(images.shape[1:]) != tuple(image_shape):
        raise ValueError(
            f"{model_name} expects images of shape "
            f"[batch, {', '.join(map(str, image_shape))}]; got {list(images.shape)}.")
    return checks.unit_float_images(images, model_name)


def image_grid(images, columns=None, padding=1):
    """Tiles [N, H, W, C] images in [0, 1] into one uint8 [H', W', C] array."""
    images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
    if images.ndim != 4:
        raise ValueError(f"image_grid expects [N, H, W, C] images; got shape {images.shape}.")
    count, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.ones((rows * (height + padding) + padding,
                    columns * (width + padding) + padding, channels), np.float32)
    for index, image in enumerate(images):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top:top + height, left:left + width] = image
    return (grid * 255.0 + 0.5).astype(np.uint8)


def save_png(path, grid):
    """Writes a uint8 [H, W, C] array as a PNG, creating the folder."""
    from PIL import Image  # pylint: disable=import-outside-toplevel
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    array = grid[..., 0] if grid.shape[-1] == 1 else grid
    Image.fromarray(array).save(path)


def plot_history(csv_path, png_path):
    """Plots every column of a Keras CSVLogger file against the epoch."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    from matplotlib import pyplot  # pylint: disable=import-outside-toplevel
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return None
    names = [name for name in rows[0] if name != "epoch"]
    bases = sorted({name.removeprefix("val_") for name in names})
    figure, axes = pyplot.subplots(len(bases), 1, figsize=(7, 2.2 * len(bases)),
                                   sharex=True, squeeze=False)
    epochs = [int(row["epoch"]) + 1 for row in rows]
    for axis, base in zip(axes[:, 0], bases):
        for name, label in ((base, "train"), ("val_" + base, "test")):
            if name in names:
                values = [float(row[name]) if row[name] not in ("", "nan") else np.nan
                          for row in rows]
                axis.plot(epochs, values, label=label)
        axis.set_ylabel(base)
        axis.legend(loc="best", fontsize="small")
        axis.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("epoch")
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    pyplot.close(figure)
    return png_path


def plot_points(path, panels, centres, radius):
    """Scatter plots of 2-D points, one panel per entry, over discs around `centres`.

    Args:
        path: the PNG to write (its folder is created).
        panels: {title: [N, 2] points}, at most four panels a row.
        centres: [K, 2] centres of the discs (e.g. a mixture's modes).
        radius: the discs' radius (e.g. 3 sigma).
    """
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    from matplotlib import pyplot  # pylint: disable=import-outside-toplevel
    columns = min(4, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure, axes = pyplot.subplots(rows, columns, figsize=(3.2 * columns, 3.2 * rows),
                                   squeeze=False)
    extent = np.abs(centres).max() + 0.75
    for axis in axes.ravel():
        axis.axis("off")
    for axis, (title, points) in zip(axes.ravel(), panels.items()):
        axis.axis("on")
        for centre in centres:
            axis.add_patch(pyplot.Circle(centre, radius, color="tab:orange", alpha=0.35,
                                         linewidth=0))
        axis.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, color="tab:blue")
        axis.set_title(title, fontsize=9)
        axis.set_xlim(-extent, extent)
        axis.set_ylim(-extent, extent)
        axis.set_aspect("equal")
        axis.set_xticks([])
        axis.set_yticks([])
    figure.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


def plot_code_usage(path, counts, title="code usage"):
    """A bar chart of how often each code is used, codes sorted by count (most used first)."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    from matplotlib import pyplot  # pylint: disable=import-outside-toplevel
    ordered = np.sort(np.asarray(counts))[::-1]
    figure, axis = pyplot.subplots(figsize=(7, 2.8))
    axis.bar(np.arange(len(ordered)), ordered, width=1.0, color="tab:blue")
    axis.set_xlabel("code (sorted by use)")
    axis.set_ylabel("positions encoded")
    axis.set_title(title, fontsize=9)
    axis.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path
