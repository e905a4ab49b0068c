"""The record every image source hands to the pipeline, and what we know of each dataset."""

import dataclasses
from typing import Callable, Dict, Optional, Tuple

import tensorflow as tf

__all__ = ["Source", "DatasetUnavailableError", "DatasetFacts", "DATASETS", "FULL_RANGE_LEVELS",
           "facts"]

# uint8 0..255, what the pipeline expects of every image.
FULL_RANGE_LEVELS = 256


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
        factor_batches: for data rendered from its factors, how to render
            one-factor batches directly, `(batch_size, image_size, seed,
            factor_weights) -> dataset` (as `zoo.data.shapes.factor_batches`);
            None: `zoo.data.factor_batches` draws them from `dataset`.
    """
    name: str
    dataset: tf.data.Dataset
    image_shape: Tuple[int, int, int]
    num_examples: Optional[int] = None
    attribute_names: Optional[Tuple[str, ...]] = None
    factor_names: Optional[Tuple[str, ...]] = None
    has_mask: bool = False
    factor_batches: Optional[Callable[..., tf.data.Dataset]] = None


@dataclasses.dataclass(frozen=True)
class DatasetFacts:
    """What the code knows of one dataset; the defaults are the generic case.

    Attributes:
        default_image_size: the image side a run uses when it names none
            (None: the stored images' own).
        intrinsic_factors: the factors DC-IGN gives no group of their own by
            default: their one-factor batches train the intrinsic group, as
            the face's identity (shape and texture) does in Kulkarni et al.
            (2015).
        crop: TFDS: (height, width) of a centre crop taken before resizing,
            or None for a centre square of the shorter side.
        label_key: TFDS: the feature that becomes `label`, if not `label`.
        factor_keys: TFDS: the features that become `factors`, in order.
        has_test_split: TFDS: whether the dataset has a "test" split; only
            consulted while the split names are unknown (mocked data), as
            prepared data lists its splits.
        pixel_levels: TFDS: N, the number of levels of the stored image: its
            pixels are 0..N-1 as the TFDS builder writes them (256 for 8-bit
            data, 2 for binary {0, 1} images); `zoo.data.tfds_source.load`
            rescales them to 0..255.
    """
    default_image_size: Optional[int] = None
    intrinsic_factors: Tuple[str, ...] = ()
    crop: Optional[Tuple[int, int]] = None
    label_key: str = "label"
    factor_keys: Tuple[str, ...] = ()
    has_test_split: bool = True
    pixel_levels: int = FULL_RANGE_LEVELS

    def __post_init__(self):
        if not 2 <= self.pixel_levels <= FULL_RANGE_LEVELS:
            raise ValueError(
                f"pixel_levels={self.pixel_levels!r}: expected 2 to "
                f"{FULL_RANGE_LEVELS} levels of a uint8 image.")


_FULL = FULL_RANGE_LEVELS

# Every dataset by its name (without TFDS config or version). `pixel_levels`
# is what each TFDS 4.9 builder's `_generate_examples` writes into `image`,
# read from its code under `tensorflow_datasets/{image_classification,datasets}/`.
DATASETS: Dict[str, DatasetFacts] = {
    # Built in (zoo.data.digits, zoo.data.shapes) and folders of images.
    "digits": DatasetFacts(default_image_size=28),
    # The shapes' object and scene (shape, colour, background: the background
    # factor is circular, 0 and 1 render alike), and the rotation, which the
    # image does not determine (a circle looks the same at every angle, a
    # square every 90 degrees), so no single latent can track it (ask for it
    # with a group of 2 if wanted).
    "shapes": DatasetFacts(default_image_size=32,
                           intrinsic_factors=("shape", "rotation", "hue", "background")),
    "folder": DatasetFacts(default_image_size=64),
    # IDX files: one uint8 byte (0..255) per pixel (LeCun et al. 1998).
    "mnist": DatasetFacts(default_image_size=28, pixel_levels=_FULL),
    "fashion_mnist": DatasetFacts(default_image_size=28, pixel_levels=_FULL),
    # The 0/1 matrices of Larochelle & Murray (2011), cast to uint8.
    "binarized_mnist": DatasetFacts(pixel_levels=2),
    # Binary batches: uint8 bytes per channel (Krizhevsky 2009).
    "cifar10": DatasetFacts(default_image_size=32, pixel_levels=_FULL),
    # MATLAB uint8 array `X` (Netzer et al. 2011).
    "svhn_cropped": DatasetFacts(default_image_size=32, pixel_levels=_FULL),
    # JPEG files, decoded to uint8 RGB.
    "celeb_a": DatasetFacts(default_image_size=64, crop=(140, 140), pixel_levels=_FULL),
    # HDF5 `imgs` written unchanged: uint8 in {0, 1}. Factor order of
    # Matthey et al. (2017) and Burgess & Kim (2018).
    "dsprites": DatasetFacts(
        default_image_size=64, intrinsic_factors=("shape",),
        factor_keys=("label_shape", "label_scale", "label_orientation",
                     "label_x_position", "label_y_position"),
        has_test_split=False, pixel_levels=2),
    # HDF5 `images`: uint8 RGB, 0..255 (Burgess & Kim 2018).
    "shapes3d": DatasetFacts(
        default_image_size=64, intrinsic_factors=("shape",),
        factor_keys=("label_floor_hue", "label_wall_hue", "label_object_hue",
                     "label_scale", "label_shape", "label_orientation"),
        has_test_split=False, pixel_levels=_FULL),
    # NORB binary matrices of uint8 (magic 0x1E3D4C55), 0..255 (LeCun et al.
    # 2004), stored at 96x96.
    "smallnorb": DatasetFacts(
        default_image_size=64, intrinsic_factors=("category", "instance"),
        label_key="label_category",
        factor_keys=("label_category", "instance", "label_elevation",
                     "label_azimuth", "label_lighting"),
        pixel_levels=_FULL),
}


def facts(name):
    """The `DatasetFacts` of a dataset name ("mnist", "shapes3d:2.0.0", "folder:PATH", ...)."""
    return DATASETS.get(name.split(":")[0].split("/")[0], DatasetFacts())
