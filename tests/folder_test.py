"""Tests of zoo.data.folder: a folder of the user's own images."""

import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from zoo.data import folder

__all__ = []

# Distinct colours, one per file, far apart so that JPEG cannot confuse them.
_COLOURS = [(230, 20, 20), (20, 230, 20), (20, 20, 230), (230, 230, 20),
            (20, 230, 230), (230, 20, 230)]


def _solid(colour, width=12, height=10, mode="RGB"):
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[...] = colour
    return Image.fromarray(pixels).convert(mode)


@pytest.fixture()
def images(tmp_path):
    """A folder with a sub-folder, several formats and a non-square image."""
    paths = {
        "a.png": _solid(_COLOURS[0]),
        "b.jpg": _solid(_COLOURS[1]),
        "sub/c.png": _solid(_COLOURS[2]),
        "sub/deeper/d.bmp": _solid(_COLOURS[3]),
        "e.gif": _solid(_COLOURS[4]),
        "sub/F.JPEG": _solid(_COLOURS[5], width=7, height=16),
    }
    for relative, image in paths.items():
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(target)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"ignored")
    return tmp_path


def _stack(source):
    return np.stack([element["image"].numpy()
                     for element in source.dataset])


def _colour_index(image):
    mean = image.reshape(-1, image.shape[-1]).mean(axis=0)
    distances = np.linalg.norm(np.array(_COLOURS) - mean, axis=1)
    assert distances.min() < 20, mean
    return int(distances.argmin())


def test_finds_images_recursively_and_ignores_the_rest(images):
    found = folder.list_images(images)
    names = sorted(os.path.relpath(path, images) for path in found)
    assert names == sorted(["a.png", "b.jpg", os.path.join("sub", "c.png"),
                            os.path.join("sub", "deeper", "d.bmp"), "e.gif",
                            os.path.join("sub", "F.JPEG")])


def test_shapes_dtype_and_every_file_once(images):
    source = folder.load(images, image_size=8, test_fraction=0.0)
    assert source.image_shape == (8, 8, 3)
    assert source.num_examples == 6
    spec = source.dataset.element_spec
    assert spec["image"].shape == (8, 8, 3) and spec["image"].dtype == tf.uint8
    stacked = _stack(source)
    assert stacked.shape == (6, 8, 8, 3)
    assert sorted(_colour_index(image) for image in stacked) == list(range(6))


def test_non_square_image_is_centre_cropped_not_squashed(tmp_path):
    pixels = np.zeros((10, 30, 3), np.uint8)
    pixels[:, :10] = (255, 0, 0)
    pixels[:, 10:20] = (0, 255, 0)
    pixels[:, 20:] = (0, 0, 255)
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    image = _stack(folder.load(tmp_path, image_size=5, test_fraction=0.0))[0]
    np.testing.assert_array_equal(image,
                                  np.broadcast_to((0, 255, 0), image.shape))


def test_one_channel(images):
    source = folder.load(images, image_size=6, channels=1, test_fraction=0.0)
    stacked = _stack(source)
    assert source.image_shape == (6, 6, 1) and stacked.shape == (6, 6, 6, 1)
    greys = sorted(int(image.mean()) for image in stacked)
    expected = sorted(int(round(0.299 * r + 0.587 * g + 0.114 * b))
                      for r, g, b in _COLOURS)
    np.testing.assert_allclose(greys, expected, atol=4)


def test_split_is_disjoint_complete_and_deterministic(tmp_path):
    for index in range(20):
        _solid((index * 10, 0, 0)).save(tmp_path / f"{index:02d}.png")
    train, test = folder.split_files(tmp_path, test_fraction=0.25, seed=3)
    assert len(test) == 5 and len(train) == 15
    assert not set(train) & set(test)
    assert sorted(train + test) == folder.list_images(tmp_path)
    assert folder.split_files(tmp_path, test_fraction=0.25, seed=3) == (
        train, test)
    assert folder.split_files(tmp_path, test_fraction=0.25, seed=4)[1] != test
    # The sources hold exactly those files, in sorted order.
    source = folder.load(tmp_path, "test", image_size=4, test_fraction=0.25,
                         seed=3)
    reds = [int(image[..., 0].mean()) for image in _stack(source)]
    assert reds == [int(os.path.basename(path)[:2]) * 10 for path in test]
    assert source.num_examples == 5


def test_small_folder_still_gets_a_test_image(images):
    train, test = folder.split_files(images, test_fraction=0.1)
    assert (len(train), len(test)) == (5, 1)
    assert folder.load(images, "test", image_size=4).num_examples == 1


def test_corrupt_file_is_named(images):
    bad = images / "sub" / "broken.png"
    bad.write_bytes(b"\x89PNG but not really an image")
    with pytest.raises(ValueError, match="broken.png"):
        folder.load(images, test_fraction=0.0)


def test_truncated_file_is_named_by_the_decode_check(images):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)
    Image.fromarray(noise).save(images / "big.png")
    (images / "big.png").write_bytes((images / "big.png").read_bytes()[:200])
    with pytest.raises(ValueError, match="big.png"):
        folder.load(images, test_fraction=0.0, check="decode")


@pytest.mark.parametrize("name", ["big.png", "big.jpg", "big.gif", "big.bmp"])
def test_a_file_cut_in_half_is_named_by_the_default_check(images, name):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)
    Image.fromarray(noise).save(images / name)
    whole = (images / name).read_bytes()
    (images / name).write_bytes(whole[:len(whole) // 2])
    # The header alone is intact: tf.io fails on the pixel data, which tf.data could not name.
    with Image.open(images / name) as image:
        assert image.size == (64, 64)
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.io.decode_image(whole[:len(whole) // 2], channels=3, expand_animations=False)
    with pytest.raises(ValueError, match=rf"^Image file '.*{name}' cannot be read as an image "
                                         r"\(OSError: image file is truncated"):
        folder.load(images, test_fraction=0.0)


def test_a_jpeg_with_bytes_after_its_end_passes_and_decodes(images):
    path = images / "padded.jpg"
    _solid(_COLOURS[0]).save(path)
    path.write_bytes(path.read_bytes() + b"\x00" * 10)
    source = folder.load(images, test_fraction=0.0, image_size=4)
    assert len(_stack(source)) == 7


@pytest.mark.parametrize("make", ["missing", "empty", "file"])
def test_missing_or_empty_folder_is_a_clear_error(tmp_path, make):
    path = tmp_path / "photos"
    if make == "empty":
        path.mkdir()
        (path / "readme.txt").write_text("no images here")
    elif make == "file":
        path.write_text("a file")
    with pytest.raises(ValueError, match=r"photos.*png/jpg/jpeg/bmp/gif"):
        folder.load(path)


def test_bad_arguments(images):
    with pytest.raises(ValueError, match="'valid'"):
        folder.load(images, split="valid")
    with pytest.raises(ValueError, match="channels"):
        folder.load(images, channels=4)
    with pytest.raises(ValueError, match="test_fraction"):
        folder.load(images, test_fraction=1.0)
    with pytest.raises(ValueError, match="empty"):
        folder.load(images, split="test", test_fraction=0.0)
