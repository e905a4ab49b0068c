"""scikit-learn's 8x8 handwritten digits, upsampled: no download needed.

The 1,797 images of `sklearn.datasets.load_digits` (UCI optical recognition of
handwritten digits; 4-bit grey levels 0..16 on an 8x8 grid) ship with
scikit-learn, so models and recipes can be trained and tested offline.

References:
    Alpaydin, E. and Kaynak, C. (1998). Optical Recognition of Handwritten
    Digits. UCI Machine Learning Repository.
"""

from typing import Tuple

import numpy as np
import tensorflow as tf
from sklearn import datasets as sklearn_datasets
from sklearn import model_selection

from zoo.data.source import Source

__all__ = ["load", "split_indices"]

_NUM_CLASSES = 10

_SPLITS = ("train", "test")
_MAX_GREY_LEVEL = 16.0


def split_indices(test_fraction: float = 0.1,
                  seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Indices into `load_digits()` of the train and test examples.

    The split is stratified by class and fixed by `seed`, so every call (and
    every machine with the same scikit-learn data) gives the same split.

    Args:
        test_fraction: share of each class held out for testing, in (0, 1).
        seed: seed of the shuffle that precedes the split.

    Returns:
        (train_indices, test_indices): sorted int64 arrays that partition
        range(1797).
    """
    labels = sklearn_datasets.load_digits().target
    train, test = model_selection.train_test_split(
        np.arange(labels.shape[0]), test_size=test_fraction,
        stratify=labels, random_state=seed)
    return np.sort(train).astype(np.int64), np.sort(test).astype(np.int64)


def _upsample(images: np.ndarray, image_size: int) -> np.ndarray:
    """Grey levels [N, 8, 8] in 0..16 -> uint8 [N, S, S, 1] in 0..255.

    Bicubic interpolation with an antialiasing kernel gives smooth strokes;
    its overshoot is clipped before rounding.
    """
    scaled = images.astype(np.float32)[..., np.newaxis] * (
        255.0 / _MAX_GREY_LEVEL)
    resized = tf.image.resize(scaled, (image_size, image_size),
                              method="bicubic", antialias=True).numpy()
    return np.clip(np.round(resized), 0, 255).astype(np.uint8)


def load(split: str = "train", image_size: int = 28) -> Source:
    """One split of the upsampled digits.

    Elements are dicts with `image` (uint8, [image_size, image_size, 1]),
    `label` (int64, the digit) and `attributes` (float32 [10], the one-hot
    digit, named "0".."9"). The split is a stratified 90/10 split with a fixed
    seed (`split_indices()`): 1,617 training and 180 test images, in the
    order of `load_digits()`.

    Args:
        split: "train" or "test".
        image_size: height and width of the images (8 keeps the originals).

    Returns:
        A `Source` named "digits".

    Raises:
        ValueError: for an unknown split or a non-positive image_size.
    """
    if split not in _SPLITS:
        raise ValueError(
            f"Unknown split {split!r} for digits: expected one of {_SPLITS}.")
    if not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise ValueError(
            f"image_size must be a positive int, got {image_size!r}.")
    digits = sklearn_datasets.load_digits()
    train_indices, test_indices = split_indices()
    indices = train_indices if split == "train" else test_indices
    labels = digits.target[indices].astype(np.int64)
    images = _upsample(digits.images[indices], int(image_size))
    attributes = np.eye(_NUM_CLASSES, dtype=np.float32)[labels]
    dataset = tf.data.Dataset.from_tensor_slices({
        "image": images,
        "label": labels,
        "attributes": attributes,
    })
    return Source(
        name="digits",
        dataset=dataset,
        image_shape=(int(image_size), int(image_size), 1),
        num_examples=int(labels.shape[0]),
        attribute_names=tuple(str(digit) for digit in range(_NUM_CLASSES)),
    )
