"""A folder of the user's own images as a dataset.

Files are found recursively, split at file level, checked up front with PIL
(so that a bad file is reported by name) and decoded with `tf.io` inside the
`tf.data` pipeline (so that decoding runs in parallel, outside Python).

Choice of checks: `check="header"` (the default) opens every file of the
requested split with PIL, which reads only its header, and reads the file's
last bytes: it catches files that are not images at all (garbage, HTML error
pages, empty files, wrong extensions), formats `tf.io` cannot decode, and
files cut short (a truncated copy or download), at roughly the cost of
opening each file once, which stays bearable for 100k images (timed in
docs/datasets.md). A file cut short lacks its format's end (PNG's IEND
chunk, JPEG's end-of-image marker, GIF's trailer, the size a BMP's header
declares); such a file is decoded in full with PIL, and reported by name if
that fails, instead of failing later inside `tf.data` with an
`InvalidArgumentError` that cannot name the file (errors raised by ops
inside a dataset carry no element context). A JPEG with bytes after its end
marker is decoded in full too, and passes. What the header check cannot see
is damage inside the pixel data of a file whose end is intact:
`check="decode"` decodes every file once with PIL before returning, so such
files are reported by name too, at the cost of a full decoding pass (see
docs/datasets.md); use it once on a new folder, or whenever a decoding error
appears.
"""

import concurrent.futures
import hashlib
import os
from typing import List, Optional, Sequence, Tuple, Union

import tensorflow as tf
from PIL import Image

from zoo.data.source import Source

__all__ = ["load", "list_images", "split_files", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
"""File name endings (compared case-insensitively) taken as images."""

_SPLITS = ("train", "test")
_CHECKS = ("header", "decode")
_PIL_FORMATS = {"PNG", "JPEG", "BMP", "GIF"}
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # The empty IEND chunk and its CRC.
_JPEG_END = b"\xff\xd9"  # End-of-image marker.
_GIF_END = b"\x3b"  # Trailer.


def list_images(path: Union[str, os.PathLike]) -> List[str]:
    """All image files under `path`, recursively, sorted.

    Names starting with "." (hidden files and folders, macOS "._" resource
    forks) are skipped.

    Args:
        path: a folder.

    Returns:
        Paths (joined onto `path`) of the files whose names end in one of
        `IMAGE_EXTENSIONS`, in sorted order.

    Raises:
        ValueError: if `path` is not an existing folder or holds no images; the
            message names the path and the extensions looked for.
    """
    root = os.path.expanduser(os.fspath(path))
    if not os.path.isdir(root):
        what = "is not a folder" if os.path.exists(root) else "does not exist"
        raise ValueError(
            f"Image folder {root!r} {what}: expected a folder of "
            f"{_extension_list()} files.")
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        found.extend(
            os.path.join(folder, name) for name in files
            if not name.startswith(".")
            and name.lower().endswith(IMAGE_EXTENSIONS))
    if not found:
        raise ValueError(
            f"No images found in {root!r} (searched recursively for "
            f"{_extension_list()}).")
    return sorted(found)


def split_files(path: Union[str, os.PathLike],
                test_fraction: float = 0.1,
                seed: int = 0) -> Tuple[List[str], List[str]]:
    """The image files of the train and test splits of a folder.

    Files are ordered by a hash of (`seed`, path relative to the folder) and
    the first round(test_fraction * n) of them (at least 1 when
    test_fraction > 0 and there are 2 files or more) form the test split. A
    file's place in that order does not depend on the other files, so adding
    images to the folder moves few existing files between splits.

    Args:
        path: the folder, searched recursively (see `list_images`).
        test_fraction: share of the files held out for testing, in [0, 1).
        seed: changes which files are held out.

    Returns:
        (train_files, test_files), each in sorted path order.

    Raises:
        ValueError: as `list_images`, or for test_fraction outside [0, 1).
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(
            f"test_fraction must be in [0, 1), got {test_fraction!r}.")
    root = os.path.expanduser(os.fspath(path))
    files = list_images(root)

    def rank(file_path):
        relative = os.path.relpath(file_path, root).replace(os.sep, "/")
        return hashlib.sha256(f"{seed}\0{relative}".encode()).hexdigest()

    num_test = int(round(test_fraction * len(files)))
    if test_fraction > 0 and num_test == 0 and len(files) >= 2:
        num_test = 1
    held_out = set(sorted(files, key=rank)[:num_test])
    train = [f for f in files if f not in held_out]
    test = [f for f in files if f in held_out]
    return train, test


def load(path: Union[str, os.PathLike],
         split: str = "train",
         image_size: int = 64,
         channels: int = 3,
         test_fraction: float = 0.1,
         seed: int = 0,
         check: str = "header") -> Source:
    """One split of a folder of images, centre-cropped to squares.

    Every image is decoded, centre-cropped to a square of its shorter side and
    resized (bilinear with antialiasing) to `image_size`; grey images are
    repeated to 3 channels, colour images converted to grey for 1 channel,
    alpha dropped and only the first frame of a GIF kept.

    The split is at file level and deterministic (see `split_files`);
    elements follow sorted path order within a split.

    Args:
        path: the folder, searched recursively (see `list_images`).
        split: "train" or "test".
        image_size: height and width of the output images.
        channels: 1 (grey) or 3 (RGB).
        test_fraction: share of the files held out as the test split, in
            [0, 1).
        seed: changes which files are held out.
        check: "header" (default) or "decode"; see the module docstring.

    Returns:
        A `Source` named by `path`, whose elements are dicts with `image`
        (uint8, [image_size, image_size, channels]).

    Raises:
        ValueError: for a missing or empty folder (naming the path and the
            extensions looked for), an unreadable image (naming the file), an
            empty split, or a bad argument.
    """
    if split not in _SPLITS:
        raise ValueError(
            f"Unknown split {split!r}: expected one of {_SPLITS}.")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}.")
    if not isinstance(image_size, int) or image_size < 1:
        raise ValueError(
            f"image_size must be a positive int, got {image_size!r}.")
    if check not in _CHECKS:
        raise ValueError(f"check must be one of {_CHECKS}, got {check!r}.")
    train_files, test_files = split_files(path, test_fraction, seed)
    chosen = train_files if split == "train" else test_files
    if not chosen:
        raise ValueError(
            f"The {split!r} split of {os.fspath(path)!r} is empty: "
            f"{len(train_files) + len(test_files)} image(s) with "
            f"test_fraction={test_fraction}.")
    _check_files(chosen, decode=(check == "decode"))

    def to_element(file_path):
        image = tf.io.decode_image(tf.io.read_file(file_path), channels=3,
                                   expand_animations=False)
        image.set_shape([None, None, 3])
        if channels == 1:
            image = _to_grey(image)
        return {"image": _center_crop_and_resize(image, image_size)}

    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(chosen))
    dataset = dataset.map(to_element, num_parallel_calls=tf.data.AUTOTUNE,
                          deterministic=True)
    return Source(
        name=os.fspath(path),
        dataset=dataset,
        image_shape=(image_size, image_size, channels),
        num_examples=len(chosen),
    )


def _extension_list() -> str:
    return "/".join(extension[1:] for extension in IMAGE_EXTENSIONS)


def _problem(file_path: str, decode: bool) -> Optional[str]:
    """What is wrong with one image file, or None if `tf.io` can read it."""
    try:
        with Image.open(file_path) as image:
            if image.format not in _PIL_FORMATS:
                return (f"is a {image.format} image, which tf.io cannot "
                        "decode")
            if image.format == "BMP" and image.mode == "1":
                return "is a 1-bit BMP, which tf.io cannot decode"
            if image.width < 1 or image.height < 1:
                return f"has an empty size {image.size}"
            if decode or _looks_cut_short(file_path, image.format):
                image.load()
    except Exception as error:  # PIL raises many types for bad files.
        return f"cannot be read as an image ({type(error).__name__}: {error})"
    return None


def _looks_cut_short(file_path: str, image_format: str) -> bool:
    """Whether a file does not end as a complete file of its format ends.

    Reads the last few bytes (and, for BMP, compares the size the header
    declares with the file's). True only means "decode it to be sure".
    """
    size = os.path.getsize(file_path)
    with open(file_path, "rb") as handle:
        if image_format == "BMP":
            declared = int.from_bytes(handle.read(6)[2:6], "little")
            return size < declared
        handle.seek(max(size - len(_PNG_END), 0))
        tail = handle.read()
    ends = {"PNG": _PNG_END, "JPEG": _JPEG_END, "GIF": _GIF_END}
    return not tail.endswith(ends[image_format])


def _check_files(files: Sequence[str], decode: bool) -> None:
    """Raises ValueError naming the first bad file, in sorted order."""
    workers = min(32, (os.cpu_count() or 1) * 4)
    pool = concurrent.futures.ThreadPoolExecutor(workers)
    try:
        problems = pool.map(lambda f: _problem(f, decode), files)
        for file_path, problem in zip(files, problems):
            if problem is not None:
                raise ValueError(f"Image file {file_path!r} {problem}.")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _to_grey(image: tf.Tensor) -> tf.Tensor:
    """uint8 RGB -> uint8 grey (ITU-R 601 luma), exact for grey inputs."""
    weights = tf.constant([0.299, 0.587, 0.114], tf.float32)
    luma = tf.reduce_sum(tf.cast(image, tf.float32) * weights, axis=-1,
                         keepdims=True)
    return tf.cast(tf.clip_by_value(tf.round(luma), 0.0, 255.0), tf.uint8)


def _center_crop_and_resize(image: tf.Tensor, size: int) -> tf.Tensor:
    """Centre square crop of the shorter side, resized to [size, size]."""
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    side = tf.minimum(height, width)
    image = tf.image.crop_to_bounding_box(
        image, (height - side) // 2, (width - side) // 2, side, side)
    resized = tf.image.resize(image, (size, size), method="bilinear",
                              antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)
