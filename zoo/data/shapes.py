"""Shapes: a procedurally rendered dataset with known generative factors and masks.

Each image is one shape (circle, square or triangle) of some scale, rotation,
position and colour over a textured background, rendered in TensorFlow ops
(signed distance functions on the pixel grid, anti-aliased edges), so it needs
no download and is deterministic from a seed. Every example carries its
factor values, a binary attribute vector and its foreground mask, which is what
DC-IGN (batches where one factor varies) and disCVAE (gated foreground and
background) need.

Factors (`FACTOR_NAMES`, float32, in this order):
    shape       0 circle, 1 square, 2 triangle
    scale       radius as a fraction of the image side, [0.12, 0.28]
    rotation    radians, [0, 2 pi) (a circle looks the same at every angle)
    position_x  centre, [-1, 1] of the free range (the shape stays inside)
    position_y  centre, [-1, 1] of the free range
    hue         foreground hue in [0, 1): one of three colour classes
                (red 0.0, green 1/3, blue 2/3) plus a jitter of +-0.04
    background  [0, 1): the background's hue and the direction of its stripes

Attributes (`ATTRIBUTE_NAMES`, 0/1): circle, square, triangle, red, green,
blue, large (scale above the middle of its range).
"""

import math

import tensorflow as tf

from zoo.data.source import Source

__all__ = ["FACTOR_NAMES", "ATTRIBUTE_NAMES", "FACTOR_RANGES", "sample_factors", "render",
           "attributes", "load", "factor_batches"]

FACTOR_NAMES = ("shape", "scale", "rotation", "position_x", "position_y", "hue", "background")
ATTRIBUTE_NAMES = ("circle", "square", "triangle", "red", "green", "blue", "large")
FACTOR_RANGES = {"shape": (0.0, 2.0), "scale": (0.12, 0.28), "rotation": (0.0, 2 * math.pi),
                 "position_x": (-1.0, 1.0), "position_y": (-1.0, 1.0), "hue": (0.0, 1.0),
                 "background": (0.0, 1.0)}
_SPLIT_SEEDS = {"train": 0, "test": 1}
_SPLIT_SIZES = {"train": 20_000, "test": 2_000}
_HUE_JITTER = 0.04
_CLASS_HUES = (0.0, 1.0 / 3.0, 2.0 / 3.0)


def _seed(seed, stream):
    seed = tf.convert_to_tensor(seed)
    if seed.shape.rank == 0:
        seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    return tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), stream)


def _sample_factor(index, num, seed):
    """`num` values of factor `index` (a Python int), stateless."""
    name = FACTOR_NAMES[index]
    uniform = tf.random.stateless_uniform([num], _seed(seed, index))
    if name == "shape":
        return tf.floor(uniform * 3.0)
    if name == "hue":
        colour = tf.floor(uniform * 3.0)
        jitter = tf.random.stateless_uniform([num], _seed(seed, 100), -_HUE_JITTER, _HUE_JITTER)
        return tf.math.floormod(colour / 3.0 + jitter, 1.0)
    low, high = FACTOR_RANGES[name]
    return low + (high - low) * uniform


def sample_factors(num, seed):
    """Independent factor values, float32 [num, F]; seed an int or shape-[2] tensor."""
    return tf.stack([_sample_factor(i, num, seed) for i in range(len(FACTOR_NAMES))], axis=1)


def _rotate(x, y, angle):
    cos, sin = tf.cos(angle), tf.sin(angle)
    return cos * x + sin * y, -sin * x + cos * y


def _signed_distance(shape, x, y, radius):
    """Distance to the shape's edge (negative inside), in image-side units."""
    circle = tf.sqrt(x * x + y * y) - radius
    half = radius * 0.85
    square = tf.maximum(tf.abs(x), tf.abs(y)) - half
    # Equilateral triangle of circumradius `radius`, pointing up (inigo quilez's SDF).
    k = math.sqrt(3.0)
    side = radius * k
    px, py = tf.abs(x) - side / 2.0, -y + radius / 2.0
    flip = px + k * py > 0
    px, py = (tf.where(flip, (px - k * py) / 2.0, px), tf.where(flip, (-k * px - py) / 2.0, py))
    px = px - tf.clip_by_value(px, -side, 0.0)
    triangle = -tf.sqrt(px * px + py * py) * tf.sign(py)
    return tf.where(shape < 0.5, circle, tf.where(shape < 1.5, square, triangle))


def _background(background, grid_x, grid_y):
    """A hue from the factor, with soft stripes whose direction turns with it."""
    angle = background * math.pi
    stripes = 0.5 + 0.5 * tf.sin(2 * math.pi * 3.0 * (tf.cos(angle) * grid_x + tf.sin(angle) * grid_y))
    value = 0.35 + 0.25 * stripes
    hsv = tf.stack([tf.broadcast_to(background, tf.shape(value)),
                    tf.fill(tf.shape(value), 0.45), value], axis=-1)
    return tf.image.hsv_to_rgb(hsv)


def render(factors, image_size):
    """Renders factor rows [N, F] into {"image": uint8 [N,S,S,3], "mask": uint8 [N,S,S,1]}."""
    factors = tf.convert_to_tensor(factors, tf.float32)
    columns = {name: factors[:, i, None, None] for i, name in enumerate(FACTOR_NAMES)}
    pixel = 1.0 / image_size
    coords = (tf.range(image_size, dtype=tf.float32) + 0.5) * pixel - 0.5
    grid_y, grid_x = tf.meshgrid(coords, coords, indexing="ij")
    radius = columns["scale"]
    free = 0.5 - radius - 2 * pixel
    x = grid_x[None] - columns["position_x"] * free
    y = grid_y[None] - columns["position_y"] * free
    x, y = _rotate(x, y, columns["rotation"])
    distance = _signed_distance(columns["shape"], x, y, radius)
    coverage = tf.clip_by_value(0.5 - distance / pixel, 0.0, 1.0)[..., None]
    foreground_hsv = tf.stack([columns["hue"], tf.ones_like(columns["hue"]),
                               tf.fill(tf.shape(columns["hue"]), 0.95)], axis=-1)
    foreground = tf.image.hsv_to_rgb(foreground_hsv)  # [N, 1, 1, 3]
    background = _background(columns["background"], grid_x[None], grid_y[None])
    image = coverage * foreground + (1.0 - coverage) * background
    return {"image": tf.cast(tf.round(image * 255.0), tf.uint8),
            "mask": tf.cast(coverage >= 0.5, tf.uint8)}


def attributes(factors):
    """Binary attributes [N, A] from factor rows [N, F]."""
    factors = tf.convert_to_tensor(factors, tf.float32)
    shape = tf.one_hot(tf.cast(factors[:, 0], tf.int32), 3)
    colour_class = tf.math.floormod(tf.round(factors[:, 5] * 3.0), 3.0)
    colour = tf.one_hot(tf.cast(colour_class, tf.int32), 3)
    low, high = FACTOR_RANGES["scale"]
    large = tf.cast(factors[:, 1] > (low + high) / 2.0, tf.float32)[:, None]
    return tf.concat([shape, colour, large], axis=1)


def _examples(factors, image_size):
    rendered = render(factors, image_size)
    return {"image": rendered["image"], "mask": rendered["mask"], "factors": factors,
            "attributes": attributes(factors), "label": tf.cast(factors[:, 0], tf.int64)}


def _check_size(image_size):
    if not isinstance(image_size, int) or image_size < 16:
        raise ValueError(f"shapes image_size must be an integer >= 16; got {image_size!r}.")


def load(split="train", image_size=32, num_examples=None, seed=0):
    """The shapes dataset as a `Source` (train and test come from disjoint seeds).

    Args:
        split: "train" (20,000 examples) or "test" (2,000).
        image_size: side of the square RGB images, >= 16.
        num_examples: override the split's size.
        seed: base seed; the same seed gives the same images.
    """
    if split not in _SPLIT_SEEDS:
        raise ValueError(f"Unknown split {split!r} for shapes; expected one of {sorted(_SPLIT_SEEDS)}.")
    image_size = image_size or 32
    _check_size(image_size)
    count = num_examples or _SPLIT_SIZES[split]
    factors = sample_factors(count, tf.constant([seed, 1000 + _SPLIT_SEEDS[split]], tf.int64))
    dataset = tf.data.Dataset.from_tensor_slices(factors).batch(256).map(
        lambda rows: _examples(rows, image_size), num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    return Source(name="shapes", dataset=dataset, image_shape=(image_size, image_size, 3),
                  num_examples=count, attribute_names=ATTRIBUTE_NAMES, factor_names=FACTOR_NAMES,
                  has_mask=True)


def factor_batches(batch_size, image_size=32, seed=0, factor_weights=None):
    """An infinite stream of batches in which exactly one factor varies.

    Each batch draws one shared value for every factor, then redraws the active
    factor independently for each of its `batch_size` examples. The active
    factor is drawn per batch with probability proportional to
    `factor_weights` (default equal) — DC-IGN's clamped minibatches.

    Returns:
        A dataset of dicts: `image` uint8 [B,S,S,3], `mask`, `factors` [B,F],
        `attributes`, `label` and `active_factor` (int32 index into FACTOR_NAMES).
    """
    _check_size(image_size)
    weights = dict(factor_weights or {})
    unknown = sorted(set(weights) - set(FACTOR_NAMES))
    if unknown:
        raise ValueError(f"Unknown factors {unknown}; expected names from {FACTOR_NAMES}.")
    probabilities = tf.constant([float(weights.get(n, 1.0 if not weights else 0.0))
                                 for n in FACTOR_NAMES])
    if float(tf.reduce_sum(probabilities)) <= 0:
        raise ValueError(f"factor_weights must give some factor a positive weight; got {weights}.")
    log_probabilities = tf.math.log(probabilities / tf.reduce_sum(probabilities))

    def make_batch(index):
        batch_seed = tf.stack([tf.cast(seed, tf.int64), index])
        active = tf.random.stateless_categorical(log_probabilities[None], 1,
                                                 _seed(batch_seed, 7), dtype=tf.int32)[0, 0]
        shared = tf.tile(sample_factors(1, _seed(batch_seed, 8)), [batch_size, 1])
        varied = sample_factors(batch_size, _seed(batch_seed, 9))
        column = tf.equal(tf.range(len(FACTOR_NAMES)), active)[None]
        factors = tf.where(column, varied, shared)
        example = _examples(factors, image_size)
        example["active_factor"] = active
        return example

    return tf.data.Dataset.counter().map(make_batch, num_parallel_calls=tf.data.AUTOTUNE)
