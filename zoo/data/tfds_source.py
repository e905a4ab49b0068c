"""Image datasets from TensorFlow Datasets (TFDS), read by TFDS's own code.

Any TFDS dataset with an `image` feature loads generically: `image`, plus
`label` where the dataset has a scalar `label`, plus `attributes` where it has
an `attributes` dict of binary features (CelebA). A few datasets get
specialised handling:

- Pixel range. Every `image` leaves `load` as uint8 in 0..255, the range the
  rest of the pipeline divides by 255. TFDS stores what the dataset's source
  files hold, which is not always that: its `dsprites` builder writes the
  HDF5 `imgs` array unchanged, pixels in {0, 1} (as does `binarized_mnist`).
  The datasets' table (`zoo.data.source.DATASETS`) records, for each dataset,
  how many levels its stored image has (`pixel_levels`, read from each TFDS
  builder's `_generate_examples`); an image stored with N levels 0..N-1 is rescaled,
  level k -> round(255 k / (N - 1)), so dSprites pixels become {0, 255}.
  `mnist`, `fashion_mnist` (IDX bytes), `cifar10` (binary batches),
  `svhn_cropped` (MATLAB uint8 `X`), `celeb_a` (JPEG), `shapes3d` (HDF5
  uint8 `images`) and `smallnorb` (NORB uint8 matrices) are stored in
  0..255 already and pass unchanged, as does any dataset not in the table.
  tests/tfds_builders_test.py runs each of these builders on small files in
  its source format and checks the pixels that come out.

- `celeb_a`: 218x178 faces centre-cropped to 140x140, then resized to
  `image_size` (default 64); `attributes` are its 40 binary attributes in
  TFDS's sorted key order.
- `dsprites`, `shapes3d`: `factors` are the integer indices of the
  generative factors (their `label_*` features) as float32, in the order the
  datasets' authors list them; `factor_names` drop the `label_` prefix.
- `smallnorb`: `label` is `label_category`; `factors` are category,
  instance, elevation, azimuth and lighting (indices as float32). The second
  stereo image (`image2`) is not decoded.

Splits: "train" and "test" map to the dataset's own splits where it has a
"test" split (mnist, fashion_mnist, cifar10, svhn_cropped, celeb_a,
smallnorb); where it has none (dsprites, shapes3d) "train" is
`train[:90%]` and "test" the held-out `train[90%:]`, so the two never
overlap.

Preparation: data that is not prepared in `data_dir` is downloaded and
prepared with `builder.download_and_prepare` when `download=True`. Without
internet, TFDS's downloader only gives up after its 10 retries with
exponential backoff (minutes on an offline machine: docs/datasets.md),
so `load` first checks, in at most
5 s, that the internet is reachable (skipped when a proxy is configured or
`manual_dir` is given) and raises `DatasetUnavailableError` at once if not.
Every failure to prepare becomes a one-line `DatasetUnavailableError` that
names the dataset, the folder looked in and how to provide the data.
"""

import os
import socket
import urllib.request
from typing import Optional, Tuple

import tensorflow as tf
import tensorflow_datasets as tfds

from zoo.data import source as zoo_source
from zoo.data.source import DatasetUnavailableError, Source

__all__ = ["load"]

_SPLITS = ("train", "test")
_HELD_OUT_PERCENT = 10
# Any host of TFDS's own download mirror answers if the internet does.
_PROBE_ADDRESS = ("storage.googleapis.com", 443)
_PROBE_TIMEOUT_SECONDS = 5.0
_FULL_RANGE_LEVELS = zoo_source.FULL_RANGE_LEVELS


def load(name: str,
         split: str = "train",
         image_size: Optional[int] = None,
         data_dir: Optional[str] = None,
         manual_dir: Optional[str] = None,
         download: bool = True) -> Source:
    """One split of a TFDS image dataset; see the module docstring.

    Args:
        name: a TFDS name, optionally with config and version
            ("mnist", "celeb_a", "dsprites", "shapes3d:2.0.0", ...).
        split: "train" or "test".
        image_size: height and width to resize to (after a centre crop to a
            square, or CelebA's 140x140 crop), or None for the dataset's
            default (`zoo.data.source.DATASETS`; the native size for a
            dataset without one).
        data_dir: TFDS data folder; None for TFDS's default
            (`$TFDS_DATA_DIR` or ~/tensorflow_datasets).
        manual_dir: folder holding manually downloaded files, for datasets
            that need them.
        download: whether to download and prepare data that is not yet in
            `data_dir`.

    Returns:
        A `Source` named `name`.

    Raises:
        ValueError: for an unknown split, a name that is not a TFDS dataset, a
            dataset without an `image` feature, or variable-sized images
            without `image_size`.
        DatasetUnavailableError: if the data is not prepared in `data_dir`
            and cannot be prepared here (or `download` is False).
    """
    if split not in _SPLITS:
        raise ValueError(
            f"Unknown split {split!r} for {name!r}: expected one of {_SPLITS}.")
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(
            f"{name!r} is not a TFDS dataset (tfds.list_builders() lists "
            "them).") from error
    _prepare(builder, name, manual_dir, download)

    spec = zoo_source.facts(builder.name)
    features = builder.info.features
    if "image" not in features:
        raise ValueError(
            f"TFDS dataset {name!r} has no 'image' feature (features: "
            f"{sorted(features.keys())}).")
    height, width, channels = features["image"].shape
    if channels is None:
        raise ValueError(
            f"TFDS dataset {name!r} has images with an unknown number of "
            "channels.")
    if image_size is None:
        image_size = spec.default_image_size
    if image_size is None and (height is None or width is None):
        raise ValueError(
            f"TFDS dataset {name!r} has images of varying size: pass "
            "image_size.")
    if image_size is None:
        image_shape = (height, width, channels)
    else:
        image_shape = (int(image_size), int(image_size), channels)

    label_key = spec.label_key if _is_scalar(features, spec.label_key) else None
    attribute_names = _attribute_names(features)
    factor_keys = spec.factor_keys
    crop = spec.crop
    pixel_levels = spec.pixel_levels

    def to_element(example):
        image = _to_full_range(example["image"], pixel_levels)
        if image_size is not None and (crop is not None or (height, width) != (
                image_size, image_size)):
            image = _crop_and_resize(image, crop, image_size)
        element = {"image": image}
        if label_key is not None:
            element["label"] = tf.cast(example[label_key], tf.int64)
        if attribute_names is not None:
            element["attributes"] = tf.cast(tf.stack(
                [example["attributes"][key] for key in attribute_names]),
                tf.float32)
        if factor_keys:
            element["factors"] = tf.cast(
                tf.stack([example[key] for key in factor_keys]), tf.float32)
        return element

    tfds_split = _tfds_split(builder, name, split, spec)
    skipped = {
        key: tfds.decode.SkipDecoding() for key, feature in features.items()
        if key != "image" and isinstance(feature, tfds.features.Image)
    }
    dataset = builder.as_dataset(split=tfds_split, shuffle_files=False,
                                 decoders=skipped or None)
    dataset = dataset.map(to_element, num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=True)
    return Source(
        name=name,
        dataset=dataset,
        image_shape=image_shape,
        num_examples=_num_examples(builder, tfds_split),
        attribute_names=attribute_names,
        factor_names=tuple(key[len("label_"):] if key.startswith("label_")
                           else key for key in factor_keys) or None,
    )


def _prepare(builder: tfds.core.DatasetBuilder, name: str,
             manual_dir: Optional[str], download: bool) -> None:
    """Makes sure `builder`'s data is prepared, or raises a clear error."""
    if builder.is_prepared():
        return
    if not download:
        raise DatasetUnavailableError(
            _unavailable(builder, name, "and download=False"))
    proxies = urllib.request.getproxies()
    if manual_dir is None and not {"http", "https", "all"} & set(proxies):
        try:
            socket.create_connection(
                _PROBE_ADDRESS, timeout=_PROBE_TIMEOUT_SECONDS).close()
        except OSError as error:
            raise DatasetUnavailableError(_unavailable(
                builder, name,
                f"and there is no internet to download it ({_PROBE_ADDRESS[0]}"
                f":{_PROBE_ADDRESS[1]} unreachable: {error})")) from error
    try:
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(
                manual_dir=manual_dir))
    except Exception as error:  # TFDS and its downloaders raise many types.
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise DatasetUnavailableError(_unavailable(
            builder, name,
            f"and preparing it failed ({type(error).__name__}: "
            f"{first_line})")) from error


def _unavailable(builder: tfds.core.DatasetBuilder, name: str,
                 reason: str) -> str:
    """One line: what is missing, where we looked, how to provide it."""
    root = builder.data_path.parents[len(builder.info.full_name.split("/")) - 1]
    return (
        f"TFDS dataset {name!r} is not prepared in {os.fspath(root)!r} "
        f"(looked for {builder.data_dir}) {reason}. To provide it, run "
        f"`tfds build {builder.name} --data_dir=DIR` on a machine with "
        f"internet and copy DIR/{builder.name} into {os.fspath(root)!r}, or, "
        f"if it needs manually downloaded files, put them in a folder and "
        f"pass manual_dir=FOLDER (as `tfds build {builder.name} "
        f"--manual_dir=FOLDER` does).")


def _tfds_split(builder: tfds.core.DatasetBuilder, name: str, split: str,
                spec: zoo_source.DatasetFacts) -> str:
    """Our "train"/"test" -> a TFDS split string; see the module docstring."""
    known = set(builder.info.splits.keys())
    if known and "train" not in known:
        raise ValueError(
            f"TFDS dataset {name!r} has no 'train' split (splits: "
            f"{sorted(known)}).")
    has_test = "test" in known if known else spec.has_test_split
    if has_test:
        return split
    cut = 100 - _HELD_OUT_PERCENT
    return f"train[:{cut}%]" if split == "train" else f"train[{cut}%:]"


def _num_examples(builder: tfds.core.DatasetBuilder,
                  tfds_split: str) -> Optional[int]:
    """Examples in `tfds_split`, or None where TFDS does not know."""
    try:
        count = builder.info.splits[tfds_split].num_examples
    except (KeyError, ValueError):
        return None
    return int(count) if count else None


def _is_scalar(features: tfds.features.FeaturesDict, key: str) -> bool:
    return key in features and tuple(features[key].shape) == ()


def _attribute_names(
        features: tfds.features.FeaturesDict) -> Optional[Tuple[str, ...]]:
    """Sorted keys of an `attributes` dict of scalar features, else None."""
    attributes = features["attributes"] if "attributes" in features else None
    if not isinstance(attributes, tfds.features.FeaturesDict):
        return None
    if not all(tuple(attributes[key].shape) == () for key in attributes.keys()):
        return None
    return tuple(sorted(attributes.keys()))


def _to_full_range(image: tf.Tensor, levels: int) -> tf.Tensor:
    """uint8 pixels of `levels` levels 0..levels-1 -> uint8 0..255.

    Level k becomes round(255 k / (levels - 1)): {0, 1} -> {0, 255}. Values
    above levels - 1 (which the TFDS builders do not write, but mocked data
    does) saturate at 255. 256 levels pass unchanged.
    """
    if levels == _FULL_RANGE_LEVELS:
        return image
    scaled = tf.round(tf.cast(image, tf.float32) * (255.0 / (levels - 1)))
    return tf.cast(tf.clip_by_value(scaled, 0.0, 255.0), tf.uint8)


def _crop_and_resize(image: tf.Tensor, crop: Optional[Tuple[int, int]],
                     size: int) -> tf.Tensor:
    """Centre crop (`crop`, or a square of the shorter side) -> [size, size].

    Resizing is bilinear with antialiasing; the result is rounded to uint8.
    """
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    if crop is None:
        crop_height = crop_width = tf.minimum(height, width)
    else:
        crop_height, crop_width = crop
    image = tf.image.crop_to_bounding_box(
        image, (height - crop_height) // 2, (width - crop_width) // 2,
        crop_height, crop_width)
    if crop is not None and tuple(crop) == (size, size):
        return image
    resized = tf.image.resize(image, (size, size), method="bilinear",
                              antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)
