"""Shapes: a rendered image dataset with known generative factors and masks.

Each image shows one shape (circle, square or triangle) of some size,
rotation, position and colour over a striped background. Images are rendered
in TensorFlow ops, vectorised over a batch (signed distance functions on the
pixel grid, anti-aliased edges), so the dataset needs no download, is
deterministic from a seed and can be rendered inside `tf.data` maps. Every
example carries its factor values, binary attributes and foreground mask:
what DC-IGN (minibatches in which one factor varies) and disCVAE (a gated
foreground over a background) need.

Factors (`FACTOR_NAMES`, float32, in this order; ranges in `FACTOR_RANGES`):

    shape       0. circle, 1. square, 2. triangle (categorical).
    scale       [0.14, 0.32]: radius of the circle that encloses the shape,
                as a fraction of the image side (circle: its radius; square:
                half its diagonal; equilateral triangle: its circumradius).
    rotation    [0, pi/2) radians, counter-clockwise as displayed. A circle
                looks the same at every angle; within this range every angle
                gives a different square and triangle (a square's period is
                pi/2, a triangle's 2 pi/3), the square's 0 and pi/2 meeting.
    position_x  [-1, 1]: centre, as a fraction of the free half-width
                0.5 - scale - 1/16 (left to right), so the shape stays inside
                the image at every rotation and leaves a 1/16 margin (one
                pixel at the smallest size, 16).
    position_y  [-1, 1]: the same, top to bottom.
    hue         [0, 1): foreground hue (HSV). Sampled as one of three colour
                classes, red 0, green 1/3 and blue 2/3, plus a uniform
                jitter in [-0.04, 0.04] (wrapped into [0, 1)).
    background  [0, 1): one number for the whole background: its hue, and
                the direction of its soft sinusoidal stripes (angle
                background * pi), so backgrounds vary smoothly with it.

The geometry is in image-side units, so one factor row renders the same
picture at every image size.

Attributes (`ATTRIBUTE_NAMES`, float32 0/1): circle, square, triangle (the
shape), red, green, blue (the nearest colour class of `hue`) and large
(`scale` above the middle of its range).

References:
    Kulkarni, T. D., Whitney, W., Kohli, P. and Tenenbaum, J. B. (2015).
    Deep Convolutional Inverse Graphics Network. NeurIPS.
    Yan, X., Yang, J., Sohn, K. and Lee, H. (2016). Attribute2Image:
    Conditional Image Generation from Visual Attributes. ECCV.
    Matthey, L., Higgins, I., Hassabis, D. and Lerchner, A. (2017). dSprites:
    Disentanglement testing Sprites dataset (the 2-D shapes idea).
    Quilez, I. 2D distance functions (the triangle's signed distance).
"""

import math
import numbers
from typing import Dict, Mapping, Optional, Union

import tensorflow as tf

from zoo.data.source import Source

__all__ = ["FACTOR_NAMES", "ATTRIBUTE_NAMES", "FACTOR_RANGES", "SPLIT_SIZES",
           "sample_factors", "render", "attributes", "load", "factor_batches"]

FACTOR_NAMES = ("shape", "scale", "rotation", "position_x", "position_y", "hue",
                "background")
ATTRIBUTE_NAMES = ("circle", "square", "triangle", "red", "green", "blue", "large")
# (low, high) of every factor; `shape` takes the integers 0..2 and `hue` the
# colour classes with their jitter (see the module docstring).
FACTOR_RANGES = {"shape": (0.0, 2.0), "scale": (0.14, 0.32),
                 "rotation": (0.0, math.pi / 2.0), "position_x": (-1.0, 1.0),
                 "position_y": (-1.0, 1.0), "hue": (0.0, 1.0), "background": (0.0, 1.0)}
SPLIT_SIZES = {"train": 20_000, "test": 2_000}

# What defines the dataset's pictures (not tunable settings).
_NUM_SHAPES = 3
_NUM_COLOURS = 3
_HUE_JITTER = 0.04
_MARGIN = 1.0 / 16.0
_MIN_IMAGE_SIZE = 16
# Independent random streams: one per split, one for one-factor batches.
_STREAMS = {"train": 1000, "test": 1001, "factor_batches": 1002}
_RENDER_CHUNK = 256

_Seed = Union[int, tf.Tensor]


def _stream(seed: _Seed, key) -> tf.Tensor:
    """The int64 shape-[2] seed of sub-stream `key` of `seed`."""
    seed = tf.convert_to_tensor(seed)
    if seed.dtype not in (tf.int32, tf.int64):
        raise ValueError(f"seed must be an int or an integer tensor; got dtype {seed.dtype.name}.")
    seed = tf.cast(seed, tf.int64)
    if seed.shape.rank == 0:
        seed = tf.stack([seed, tf.zeros([], tf.int64)])
    return tf.random.experimental.stateless_fold_in(seed, tf.cast(key, tf.int64))


def _sample_factor(index: int, num, seed: _Seed) -> tf.Tensor:
    """`num` independent values of factor `FACTOR_NAMES[index]`, float32 [num]."""
    name = FACTOR_NAMES[index]
    seed = _stream(seed, index)
    uniform = tf.random.stateless_uniform([num], _stream(seed, 0))
    if name == "shape":
        return tf.floor(uniform * _NUM_SHAPES)
    if name == "hue":
        colour = tf.floor(uniform * _NUM_COLOURS)
        jitter = tf.random.stateless_uniform([num], _stream(seed, 1), -_HUE_JITTER, _HUE_JITTER)
        return tf.math.floormod(colour / _NUM_COLOURS + jitter, 1.0)
    low, high = FACTOR_RANGES[name]
    return low + (high - low) * uniform


def sample_factors(num: Union[int, tf.Tensor], seed: _Seed) -> tf.Tensor:
    """Independent draws of all factors, statelessly from a seed.

    Each factor column has its own random stream, and the first n rows of a
    draw do not depend on `num`.

    Args:
        num: number of rows (int or int scalar tensor).
        seed: an int, or an int32/int64 tensor of shape [] or [2].

    Returns:
        float32 [num, F], columns in `FACTOR_NAMES` order.
    """
    return tf.stack([_sample_factor(i, num, seed) for i in range(len(FACTOR_NAMES))], axis=1)


def _signed_distance(shape: tf.Tensor, x: tf.Tensor, y: tf.Tensor,
                     radius: tf.Tensor) -> tf.Tensor:
    """Signed distance to the shape's edge (negative inside), image-side units.

    Args:
        shape: [N, 1, 1] shape index (0., 1., 2.).
        x, y: [N, H, W] coordinates in the shape's frame, y pointing up.
        radius: [N, 1, 1] radius of the enclosing circle.
    """
    circle = tf.sqrt(x * x + y * y) - radius
    # Square of half-side radius / sqrt(2): its corners touch the circle.
    dx = tf.abs(x) - radius / math.sqrt(2.0)
    dy = tf.abs(y) - radius / math.sqrt(2.0)
    outside = tf.sqrt(tf.maximum(dx, 0.0) ** 2 + tf.maximum(dy, 0.0) ** 2)
    square = outside + tf.minimum(tf.maximum(dx, dy), 0.0)
    # Equilateral triangle of circumradius `radius`, pointing up (Quilez).
    k = math.sqrt(3.0)
    half_side = radius * k / 2.0
    px, py = tf.abs(x) - half_side, y + radius / 2.0
    fold = px + k * py > 0.0
    px, py = (tf.where(fold, (px - k * py) / 2.0, px), tf.where(fold, (-k * px - py) / 2.0, py))
    px = px - tf.clip_by_value(px, -2.0 * half_side, 0.0)
    triangle = -tf.sqrt(px * px + py * py) * tf.sign(py)
    return tf.where(shape < 0.5, circle, tf.where(shape < 1.5, square, triangle))


def _background(background: tf.Tensor, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """RGB in [0, 1], [N, H, W, 3]: the factor's hue, striped along its angle."""
    angle = background * math.pi
    phase = 2.0 * math.pi * 3.0 * (tf.cos(angle) * x + tf.sin(angle) * y)
    value = 0.35 + 0.25 * (0.5 + 0.5 * tf.sin(phase))
    hsv = tf.stack([tf.broadcast_to(background, tf.shape(value)),
                    tf.fill(tf.shape(value), 0.45), value], axis=-1)
    return tf.image.hsv_to_rgb(hsv)


def render(factors: tf.Tensor, image_size: int) -> Dict[str, tf.Tensor]:
    """Renders factor rows into images and foreground masks.

    Pure TensorFlow ops, vectorised over the batch: usable eagerly, in a
    `tf.function` and in `tf.data` maps.

    Args:
        factors: float32 [N, F], columns in `FACTOR_NAMES` order.
        image_size: side S of the square images (a Python int).

    Returns:
        {"image": uint8 [N, S, S, 3], "mask": uint8 [N, S, S, 1]}; the mask is
        1 where the foreground covers at least half of a pixel.
    """
    factors = tf.convert_to_tensor(factors, tf.float32)
    column = {name: factors[:, i, None, None] for i, name in enumerate(FACTOR_NAMES)}
    pixel = 1.0 / image_size
    # Pixel centres in image-side units, origin at the image centre, y down.
    coords = (tf.range(image_size, dtype=tf.float32) + 0.5) * pixel - 0.5
    grid_y, grid_x = tf.meshgrid(coords, coords, indexing="ij")
    grid_x, grid_y = grid_x[None], grid_y[None]
    radius = column["scale"]
    free = 0.5 - radius - _MARGIN
    x = grid_x - column["position_x"] * free
    up = -(grid_y - column["position_y"] * free)
    cos, sin = tf.cos(column["rotation"]), tf.sin(column["rotation"])
    local_x, local_y = cos * x + sin * up, -sin * x + cos * up
    distance = _signed_distance(column["shape"], local_x, local_y, radius)
    coverage = tf.clip_by_value(0.5 - distance / pixel, 0.0, 1.0)[..., None]
    hue = column["hue"]
    foreground = tf.image.hsv_to_rgb(tf.stack(
        [hue, tf.ones_like(hue), tf.fill(tf.shape(hue), 0.95)], axis=-1))  # [N, 1, 1, 3]
    background = _background(column["background"], grid_x, grid_y)
    image = coverage * foreground + (1.0 - coverage) * background
    return {"image": tf.cast(tf.round(image * 255.0), tf.uint8),
            "mask": tf.cast(coverage >= 0.5, tf.uint8)}


def attributes(factors: tf.Tensor) -> tf.Tensor:
    """Binary attributes of factor rows.

    Args:
        factors: float32 [N, F], columns in `FACTOR_NAMES` order.

    Returns:
        float32 [N, A], columns in `ATTRIBUTE_NAMES` order: one-hot shape,
        one-hot nearest colour class of the hue, and `scale` above the middle
        of its range.
    """
    factors = tf.convert_to_tensor(factors, tf.float32)
    index = {name: i for i, name in enumerate(FACTOR_NAMES)}
    shape = tf.one_hot(tf.cast(tf.round(factors[:, index["shape"]]), tf.int32), _NUM_SHAPES)
    colour_class = tf.math.floormod(tf.round(factors[:, index["hue"]] * _NUM_COLOURS),
                                    _NUM_COLOURS)
    colour = tf.one_hot(tf.cast(colour_class, tf.int32), _NUM_COLOURS)
    low, high = FACTOR_RANGES["scale"]
    large = tf.cast(factors[:, index["scale"]] > (low + high) / 2.0, tf.float32)[:, None]
    return tf.concat([shape, colour, large], axis=1)


def _examples(factors: tf.Tensor, image_size: int) -> Dict[str, tf.Tensor]:
    """A batch of complete examples from factor rows [N, F]."""
    rendered = render(factors, image_size)
    return {"image": rendered["image"], "mask": rendered["mask"], "factors": factors,
            "attributes": attributes(factors),
            "label": tf.cast(tf.round(factors[:, FACTOR_NAMES.index("shape")]), tf.int64)}


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_image_size(image_size) -> int:
    if not _is_int(image_size) or image_size < _MIN_IMAGE_SIZE:
        raise ValueError(f"shapes image_size must be an integer >= {_MIN_IMAGE_SIZE}; "
                         f"got {image_size!r}.")
    return int(image_size)


def load(split: str = "train", image_size: int = 32, num_examples: Optional[int] = None,
         seed: int = 0) -> Source:
    """A split of the shapes dataset.

    The splits are independent random streams of the same seed, so train and
    test do not share examples (beyond chance coincidences of continuous
    factors, which have probability zero).

    Args:
        split: "train" (20,000 examples) or "test" (2,000).
        image_size: side of the square RGB images, an integer >= 16.
        num_examples: how many examples to take instead of the split's size;
            they are the first `num_examples` of the split's stream.
        seed: the same seed gives the same examples, in the same order.

    Returns:
        A `Source` named "shapes" whose elements are {"image": uint8
        [S, S, 3], "mask": uint8 [S, S, 1], "factors": float32 [F],
        "attributes": float32 [A], "label": int64 (the shape index)};
        its `factor_batches` is `factor_batches` (one-factor batches are
        rendered, not drawn from the split).

    Raises:
        ValueError: an unknown split, an image size below 16 or a negative
            `num_examples`.
    """
    if split not in SPLIT_SIZES:
        raise ValueError(f"Unknown split {split!r} for shapes; expected one of "
                         f"{sorted(SPLIT_SIZES)}.")
    image_size = _check_image_size(image_size)
    if num_examples is None:
        num_examples = SPLIT_SIZES[split]
    if not _is_int(num_examples) or num_examples < 0:
        raise ValueError(f"shapes num_examples must be an integer >= 0 or None; "
                         f"got {num_examples!r}.")
    factors = sample_factors(int(num_examples), _stream(seed, _STREAMS[split]))
    dataset = tf.data.Dataset.from_tensor_slices(factors).batch(_RENDER_CHUNK).map(
        lambda rows: _examples(rows, image_size), num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True).unbatch()
    return Source(name="shapes", dataset=dataset, image_shape=(image_size, image_size, 3),
                  num_examples=int(num_examples), attribute_names=ATTRIBUTE_NAMES,
                  factor_names=FACTOR_NAMES, has_mask=True, factor_batches=factor_batches)


def _active_factor_logits(factor_weights: Optional[Mapping[str, float]]) -> tf.Tensor:
    """float32 [F]: log-probabilities of each factor being the varied one."""
    if factor_weights is None:
        factor_weights = {name: 1.0 for name in FACTOR_NAMES}
    unknown = sorted(set(factor_weights) - set(FACTOR_NAMES))
    if unknown:
        raise ValueError(f"Unknown factors {unknown} in factor_weights; expected names "
                         f"from {FACTOR_NAMES}.")
    weights = [float(factor_weights.get(name, 0.0)) for name in FACTOR_NAMES]
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"factor_weights must be finite, >= 0 and not all 0; "
                         f"got {dict(factor_weights)}.")
    return tf.math.log(tf.constant(weights) / sum(weights))


def factor_batches(batch_size: int, image_size: int = 32, seed: int = 0,
                   factor_weights: Optional[Mapping[str, float]] = None) -> tf.data.Dataset:
    """An infinite stream of batches in which exactly one factor varies.

    DC-IGN's clamped minibatches (Kulkarni et al. 2015, Sec. 3.1): for each
    batch, one "active" factor is drawn with probability proportional to its
    weight; every other factor takes one value, drawn as in
    `sample_factors`, shared by the whole batch; the active factor takes
    `batch_size` independent values from its distribution. For `shape` these
    are draws of the categorical, so a small batch may, by chance, show one
    shape only (probability 3 ** (1 - batch_size)).

    Args:
        batch_size: examples per batch, B.
        image_size: side of the square images, an integer >= 16.
        seed: the same seed gives the same batches, in the same order.
        factor_weights: {factor name: weight >= 0}; factors left out weigh 0.
            None weighs every factor equally.

    Returns:
        A dataset of dicts: "image" uint8 [B, S, S, 3], "mask" uint8
        [B, S, S, 1], "factors" float32 [B, F], "attributes" float32 [B, A],
        "label" int64 [B] and "active_factor" int32 scalar (index into
        `FACTOR_NAMES`).

    Raises:
        ValueError: a bad batch size or image size, an unknown factor name or
            weights that are negative or all zero.
    """
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
    batch_size = int(batch_size)
    image_size = _check_image_size(image_size)
    logits = _active_factor_logits(factor_weights)
    base_seed = _stream(seed, _STREAMS["factor_batches"])

    def make_batch(index):
        batch_seed = _stream(base_seed, index)
        active = tf.random.stateless_categorical(logits[None], 1, _stream(batch_seed, 0),
                                                 dtype=tf.int32)[0, 0]
        shared = tf.tile(sample_factors(1, _stream(batch_seed, 1)), [batch_size, 1])
        varied = sample_factors(batch_size, _stream(batch_seed, 2))
        is_active = tf.equal(tf.range(len(FACTOR_NAMES)), active)[None]
        example = _examples(tf.where(is_active, varied, shared), image_size)
        example["active_factor"] = active
        return example

    return tf.data.Dataset.counter().map(make_batch, num_parallel_calls=tf.data.AUTOTUNE,
                                         deterministic=True)
