"""Tests of zoo.data.digits: scikit-learn's 8x8 digits, upsampled."""

import numpy as np
import pytest
import tensorflow as tf
from sklearn import datasets as sklearn_datasets

from zoo.data import digits

__all__ = []


def _arrays(source):
    """All elements of a source as a dict of stacked numpy arrays."""
    batch = next(iter(source.dataset.batch(10_000)))
    return {key: value.numpy() for key, value in batch.items()}


@pytest.fixture(scope="module")
def train():
    return digits.load("train")


@pytest.fixture(scope="module")
def test():
    return digits.load("test")


def test_shapes_dtypes_and_metadata(train):
    assert train.name == "digits"
    assert train.image_shape == (28, 28, 1)
    assert train.attribute_names == tuple("0123456789")
    assert train.factor_names is None and not train.has_mask
    spec = train.dataset.element_spec
    assert spec["image"].shape == (28, 28, 1)
    assert spec["image"].dtype == tf.uint8
    assert spec["label"].shape == () and spec["label"].dtype == tf.int64
    assert spec["attributes"].shape == (10,)
    assert spec["attributes"].dtype == tf.float32


def test_split_sizes_are_a_stratified_90_10_partition(train, test):
    assert (train.num_examples, test.num_examples) == (1617, 180)
    assert len(_arrays(train)["label"]) == 1617
    train_indices, test_indices = digits.split_indices()
    assert not set(train_indices) & set(test_indices)
    assert sorted(np.concatenate([train_indices, test_indices])) == list(
        range(1797))
    counts = np.bincount(_arrays(test)["label"], minlength=10)
    assert counts.min() >= 17 and counts.max() <= 19


def test_range_uses_the_full_uint8_scale(train):
    images = _arrays(train)["image"]
    assert images.min() == 0
    assert images.max() >= 250


def test_labels_and_one_hot_attributes_agree(test):
    arrays = _arrays(test)
    attributes = arrays["attributes"]
    np.testing.assert_array_equal(attributes.sum(axis=1), 1.0)
    assert set(np.unique(attributes)) == {0.0, 1.0}
    np.testing.assert_array_equal(attributes.argmax(axis=1), arrays["label"])
    assert set(arrays["label"]) == set(range(10))


def test_loading_is_deterministic(test):
    first, second = _arrays(test), _arrays(digits.load("test"))
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])


def test_native_size_keeps_original_pixels_and_labels():
    data = sklearn_datasets.load_digits()
    _, test_indices = digits.split_indices()
    arrays = _arrays(digits.load("test", image_size=8))
    expected = np.round(data.images[test_indices] * 255.0 / 16.0)
    np.testing.assert_allclose(arrays["image"][..., 0], expected, atol=1)
    np.testing.assert_array_equal(arrays["label"], data.target[test_indices])


def test_upsampling_keeps_the_digit(test):
    data = sklearn_datasets.load_digits()
    _, test_indices = digits.split_indices()
    images = _arrays(test)["image"].astype(np.float32)
    back = tf.image.resize(images, (8, 8), method="area").numpy()[..., 0]
    original = data.images[test_indices]
    for downsampled, digit in zip(back, original):
        correlation = np.corrcoef(downsampled.ravel(), digit.ravel())[0, 1]
        assert correlation > 0.9
    # Smooth: neighbouring pixels of the 28x28 image differ little.
    steps = np.abs(np.diff(images[..., 0], axis=2))
    assert np.percentile(steps, 99) < 100


def test_other_sizes_and_bad_arguments():
    assert digits.load("test", image_size=13).image_shape == (13, 13, 1)
    with pytest.raises(ValueError, match="'validation'"):
        digits.load("validation")
    with pytest.raises(ValueError, match="image_size"):
        digits.load("train", image_size=0)
