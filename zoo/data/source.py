"""The record every image source hands to the pipeline."""

import dataclasses
from typing import Optional, Tuple

import tensorflow as tf

__all__ = ["Source", "DatasetUnavailableError"]


class DatasetUnavailableError(RuntimeError):
    """A dataset cannot be read here: its message says what to do about it."""


@dataclasses.dataclass(frozen=True)
class Source:
    """An unbatched split of an image dataset, before any scaling.

    Attributes:
        name: the dataset's name as the user typed it (`digits`, `mnist`, ...).
        dataset: elements are dicts with `image` (uint8, [H, W, C]) and, where
            the data has them, `label` (int64 scalar), `attributes` (float32,
            [A], values in [0, 1]), `mask` (uint8, [H, W, 1], 1 on the
            foreground) and `factors` (float32, [F], the generative factors).
        image_shape: (H, W, C) of `image`.
        num_examples: size of the split, or None where unknown.
        attribute_names: names of the `attributes` entries, or None.
        factor_names: names of the `factors` entries, or None.
        has_mask: whether elements carry `mask`.
    """
    name: str
    dataset: tf.data.Dataset
    image_shape: Tuple[int, int, int]
    num_examples: Optional[int] = None
    attribute_names: Optional[Tuple[str, ...]] = None
    factor_names: Optional[Tuple[str, ...]] = None
    has_mask: bool = False
