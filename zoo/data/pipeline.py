"""tf.data pipelines: resize, encode for a likelihood, shuffle, batch globally, prefetch.

Batches have the *global* batch size: under a `tf.distribute` strategy, Keras
(or `strategy.experimental_distribute_dataset`) splits each one across the
replicas. Training streams repeat forever (pass `steps_per_epoch` to `fit`),
so random encodings keep changing from epoch to epoch; evaluation streams are
finite and encoded reproducibly, each example with noise of its own index.
Evaluation dequantizes with u ~ U[0, 1), not the bin midpoint u = 1/2: only
then is E_u[log p((x + u) / 256)] - D log 256 a lower bound on log P(x) of the
8-bit data (Theis, van den Oord & Bethge 2016, A note on the evaluation of
generative models). All randomness is stateless and comes from `seed`, so a
run is reproducible.
"""

import tensorflow as tf

__all__ = ["ENCODINGS", "make_dataset", "encode_images", "steps_per_epoch"]

ENCODINGS = ("binary", "dequantized", "discrete")
_CACHE_LIMIT_BYTES = 2 << 30
# The cap on u: k + 1 - 2^-16 is a float32 below k + 1 for every level k <= 255.
_TOP_OF_BIN = 1.0 - 2.0 ** -16


def encode_images(images, encoding, seed=None):
    """uint8 pixels -> float32 images in [0, 1] as a likelihood expects them.

    Args:
        images: uint8 tensor.
        encoding: "binary" (Bernoulli(pixel / 255) draws), "dequantized"
            ((pixel + u) / 256, u ~ U[0, 1)) or "discrete" (pixel / 255).
        seed: shape-[2] stateless seed for the random encodings; None gives the
            deterministic version (threshold at 1/2, u = 1/2), for display:
            the midpoint gives no bound on the likelihood.

    Dequantized values stay inside their pixel's bin, [pixel, pixel + 1) / 256
    (float32 rounding of pixel + u is kept below pixel + 1), so
    floor(256 * value) recovers the pixel.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"Unknown encoding {encoding!r}; expected one of {ENCODINGS}.")
    pixels = tf.cast(images, tf.float32)
    if encoding == "discrete":
        return pixels / 255.0
    if seed is None:
        uniform = tf.fill(tf.shape(pixels), 0.5)
    else:
        uniform = tf.random.stateless_uniform(tf.shape(pixels), seed)
    if encoding == "binary":
        return tf.cast(uniform < pixels / 255.0, tf.float32)
    return tf.minimum(pixels + uniform, pixels + _TOP_OF_BIN) / 256.0


def _resize(example, image_size, channels):
    image = example["image"]
    if image_size is not None and tuple(image.shape[:2]) != (image_size, image_size):
        image = tf.image.resize(image, [image_size, image_size], antialias=True)
        image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        if "mask" in example:
            example["mask"] = tf.image.resize(
                example["mask"], [image_size, image_size], method="nearest")
    if channels is not None and image.shape[-1] != channels:
        if channels == 3 and image.shape[-1] == 1:
            image = tf.image.grayscale_to_rgb(image)
        elif channels == 1 and image.shape[-1] == 3:
            image = tf.cast(tf.round(tf.image.rgb_to_grayscale(
                tf.cast(image, tf.float32))), tf.uint8)
        else:
            raise ValueError(
                f"Cannot turn {image.shape[-1]}-channel images into {channels} channels.")
    example["image"] = image
    return example


def steps_per_epoch(source, global_batch_size):
    """Full global batches in one pass over `source` (at least 1)."""
    if source.num_examples is None:
        raise ValueError(f"Dataset {source.name!r} has no known size; pass the steps explicitly.")
    return max(1, source.num_examples // global_batch_size)


def make_dataset(source, global_batch_size, encoding, training, *,
                 image_size=None, channels=None, keys=("image",), seed=0,
                 shuffle_buffer=10_000, cache=None):
    """A batched, prefetched stream of dicts with the requested `keys`.

    Args:
        source: a `zoo.data.source.Source`.
        global_batch_size: examples per batch summed over all replicas.
        encoding: how `image` is placed in [0, 1] (see `encode_images`).
        training: shuffle, repeat forever and drop the last partial batch.
        image_size: resize square images to this side (None keeps them).
        channels: convert to 1 or 3 channels (None keeps them).
        keys: which entries of the source's examples to keep.
        seed: seed of the shuffle and of the random encodings.
        shuffle_buffer: examples in the shuffle buffer.
        cache: cache the decoded, resized examples in memory; None decides by
            the split's size (up to 2 GiB).

    Returns:
        A `tf.data.Dataset` of dicts; `image` is float32 [B, H, W, C].
    """
    if global_batch_size < 1:
        raise ValueError(f"global_batch_size must be positive; got {global_batch_size}.")
    if encoding not in ENCODINGS:
        raise ValueError(f"Unknown encoding {encoding!r}; expected one of {ENCODINGS}.")
    missing = [key for key in keys if key not in source.dataset.element_spec]
    if missing:
        raise ValueError(
            f"Dataset {source.name!r} has no {missing} in its examples; it has "
            f"{sorted(source.dataset.element_spec)}.")
    autotune = tf.data.AUTOTUNE
    dataset = source.dataset.map(
        lambda example: _resize({key: example[key] for key in keys},
                                image_size, channels),
        num_parallel_calls=autotune)
    if cache is None:
        side = image_size or source.image_shape[0]
        size = (source.num_examples or 0) * side * side * (channels or source.image_shape[-1])
        cache = source.num_examples is not None and size <= _CACHE_LIMIT_BYTES
    if cache:
        dataset = dataset.cache()
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed,
                                  reshuffle_each_iteration=True).repeat()
        seeds = tf.data.Dataset.random(seed=seed).batch(2)
    else:
        seeds = tf.data.Dataset.counter().map(lambda i: tf.stack([tf.cast(seed, tf.int64), i]))

    def encode(example, element_seed):
        example = dict(example)
        example["image"] = encode_images(example["image"], encoding, element_seed)
        return example

    dataset = tf.data.Dataset.zip((dataset, seeds)).map(encode, num_parallel_calls=autotune)
    dataset = dataset.batch(global_batch_size, drop_remainder=training)
    return dataset.prefetch(autotune)
