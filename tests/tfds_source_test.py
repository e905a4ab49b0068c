"""Tests of zoo.data.tfds_source, on TFDS's mocked data: no network.

Mocked examples are random (or what a test serves): they check shapes, keys,
crops, orders and splits, not what a TFDS builder really stores. The pixel
range each builder writes is checked by tests/tfds_builders_test.py, which
runs the real dsprites, shapes3d and smallnorb builders on local files.
"""

import os
import socket
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from zoo.data import source as source_facts
from zoo.data import tfds_source
from zoo.data.source import DatasetUnavailableError

__all__ = []

_NUM_MOCK_EXAMPLES = 3


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails at once, as offline."""

    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def _prepare_metadata(data_dir, name, splits):
    """Writes the metadata of a prepared dataset (no examples) to data_dir.

    With it, TFDS sees the dataset as prepared, with the given split sizes;
    `tfds.testing.mock_data` then serves generated examples for it.
    """
    builder = tfds.builder(name, data_dir=os.fspath(data_dir))
    builder.info.set_splits(tfds.core.SplitDict([
        tfds.core.SplitInfo(name=split, shard_lengths=[size], num_bytes=0,
                            filename_template=None)
        for split, size in splits.items()
    ]))
    os.makedirs(builder.data_dir, exist_ok=True)
    builder.info.write_to_directory(builder.data_dir)


@pytest.fixture()
def mocked(tmp_path):
    """Mocked TFDS with prepared metadata for a few datasets."""
    _prepare_metadata(tmp_path, "mnist", {"train": 60, "test": 10})
    _prepare_metadata(tmp_path, "celeb_a",
                      {"train": 50, "validation": 5, "test": 7})
    _prepare_metadata(tmp_path, "dsprites", {"train": 200})
    _prepare_metadata(tmp_path, "shapes3d", {"train": 100})
    with tfds.testing.mock_data(num_examples=_NUM_MOCK_EXAMPLES,
                                data_dir=os.fspath(tmp_path)):
        yield


def _serving(overrides):
    """An `as_dataset_fn` for mock_data: one example, zeros but `overrides`."""

    def as_dataset(self, *args, **kwargs):
        specs = self.info.features.get_tensor_spec()
        example = tf.nest.map_structure(
            lambda spec: np.zeros(spec.shape, spec.dtype.as_numpy_dtype),
            specs)
        for key, value in overrides.items():
            if isinstance(value, dict):
                example[key].update(value)
            else:
                example[key] = value
        return tf.data.Dataset.from_tensors(example)

    return as_dataset


def _elements(source):
    return list(source.dataset.as_numpy_iterator())


def test_mnist_image_and_label(mocked):
    source = tfds_source.load("mnist", split="test", download=False)
    assert source.name == "mnist"
    assert source.image_shape == (28, 28, 1)
    assert source.num_examples == 10
    assert source.attribute_names is None and source.factor_names is None
    spec = source.dataset.element_spec
    assert set(spec) == {"image", "label"}
    assert spec["image"].dtype == tf.uint8 and spec["label"].dtype == tf.int64
    elements = _elements(source)
    assert len(elements) == _NUM_MOCK_EXAMPLES
    assert elements[0]["image"].shape == (28, 28, 1)


def test_mnist_resized(mocked):
    source = tfds_source.load("mnist", image_size=16, download=False)
    assert source.image_shape == (16, 16, 1)
    assert source.num_examples == 60
    assert _elements(source)[0]["image"].shape == (16, 16, 1)


def test_celeb_a_is_cropped_and_has_40_sorted_attributes(mocked):
    source = tfds_source.load("celeb_a", split="test")
    assert source.image_shape == (64, 64, 3)
    assert source.num_examples == 7
    assert len(source.attribute_names) == 40
    assert list(source.attribute_names) == sorted(source.attribute_names)
    assert source.attribute_names[0] == "5_o_Clock_Shadow"
    assert "Smiling" in source.attribute_names
    element = _elements(source)[0]
    assert element["image"].shape == (64, 64, 3)
    assert element["image"].dtype == np.uint8
    assert element["attributes"].shape == (40,)
    assert element["attributes"].dtype == np.float32
    assert set(np.unique(element["attributes"])) <= {0.0, 1.0}


def test_celeb_a_crop_is_the_centre_140_square():
    image = np.zeros((218, 178, 3), np.uint8)
    image[39:179, 19:159] = 200  # the centre 140x140 square
    cropped = tfds_source._crop_and_resize(tf.constant(image), (140, 140), 140)
    assert cropped.shape == (140, 140, 3)
    assert np.all(cropped.numpy() == 200)
    small = tfds_source._crop_and_resize(tf.constant(image), (140, 140), 8)
    assert small.shape == (8, 8, 3) and small.dtype == tf.uint8
    assert np.all(small.numpy() == 200)


def test_celeb_a_crop_and_attribute_order_end_to_end(tmp_path):
    _prepare_metadata(tmp_path, "celeb_a", {"train": 5, "test": 5})
    image = np.zeros((218, 178, 3), np.uint8)
    image[39:179, 19:159] = 200  # the centre 140x140 square
    serve = _serving({"image": image, "attributes": {"Smiling": True}})
    with tfds.testing.mock_data(as_dataset_fn=serve,
                                data_dir=os.fspath(tmp_path)):
        source = tfds_source.load("celeb_a", image_size=8)
        element = _elements(source)[0]
    np.testing.assert_array_equal(element["image"],
                                  np.full((8, 8, 3), 200, np.uint8))
    smiling = source.attribute_names.index("Smiling")
    assert smiling == 31
    np.testing.assert_array_equal(element["attributes"],
                                  np.eye(40, dtype=np.float32)[smiling])


def test_factor_order_end_to_end(tmp_path):
    _prepare_metadata(tmp_path, "dsprites", {"train": 10})
    serve = _serving({"label_shape": 2, "label_scale": 5,
                      "label_orientation": 39, "label_x_position": 7,
                      "label_y_position": 31, "value_shape": 9.0})
    with tfds.testing.mock_data(as_dataset_fn=serve,
                                data_dir=os.fspath(tmp_path)):
        element = _elements(tfds_source.load("dsprites", "test"))[0]
    np.testing.assert_array_equal(element["factors"], [2, 5, 39, 7, 31])


def test_celeb_a_native_crop_size(mocked):
    source = tfds_source.load("celeb_a", image_size=140)
    assert source.image_shape == (140, 140, 3)
    assert _elements(source)[0]["image"].shape == (140, 140, 3)


@pytest.mark.parametrize("name, names, channels", [
    ("dsprites", ("shape", "scale", "orientation", "x_position",
                  "y_position"), 1),
    ("shapes3d", ("floor_hue", "wall_hue", "object_hue", "scale", "shape",
                  "orientation"), 3),
])
def test_factor_datasets(mocked, name, names, channels):
    source = tfds_source.load(name)
    assert source.factor_names == names
    assert source.image_shape == (64, 64, channels)
    element = _elements(source)[0]
    assert set(element) == {"image", "factors"}
    assert element["image"].shape == (64, 64, channels)
    assert element["factors"].shape == (len(names),)
    assert element["factors"].dtype == np.float32
    # Factors are class indices, integral and non-negative.
    np.testing.assert_array_equal(element["factors"],
                                  np.round(element["factors"]))
    assert element["factors"].min() >= 0


def test_no_test_split_holds_out_the_last_tenth_of_train(mocked):
    # dsprites has 200 (metadata) training examples and no test split.
    assert tfds_source.load("dsprites", "train").num_examples == 180
    assert tfds_source.load("dsprites", "test").num_examples == 20
    builder = tfds.builder("dsprites")
    assert tfds_source._tfds_split(
        builder, "dsprites", "test",
        source_facts.DATASETS["dsprites"]) == "train[90%:]"


def test_not_prepared_without_download(tmp_path):
    started = time.monotonic()
    with pytest.raises(DatasetUnavailableError) as raised:
        tfds_source.load("mnist", data_dir=os.fspath(tmp_path),
                         download=False)
    message = str(raised.value)
    assert time.monotonic() - started < 5
    assert "\n" not in message
    assert "'mnist'" in message
    assert os.fspath(tmp_path) in message
    assert "tfds build mnist" in message and "manual_dir" in message


def test_offline_download_fails_fast_without_trying(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare",
                        lambda *args, **kwargs: calls.append(args))
    for variable in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                     "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    started = time.monotonic()
    with pytest.raises(DatasetUnavailableError,
                       match=r"'mnist'.*no internet.*tfds build mnist"):
        tfds_source.load("mnist", data_dir=os.fspath(tmp_path))
    assert time.monotonic() - started < 5
    assert not calls


def test_failed_preparation_becomes_one_clear_line(tmp_path, monkeypatch):
    """With manual_dir given, preparation is tried; its failure is wrapped."""

    def fail(self, download_config=None, **kwargs):
        assert download_config.manual_dir == "/manual"
        raise ConnectionError("Max retries exceeded\nwith url: ...")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare",
                        fail)
    with pytest.raises(DatasetUnavailableError) as raised:
        tfds_source.load("mnist", data_dir=os.fspath(tmp_path),
                         manual_dir="/manual")
    message = str(raised.value)
    assert "\n" not in message
    assert "ConnectionError: Max retries exceeded" in message
    assert isinstance(raised.value.__cause__, ConnectionError)


def test_unknown_name_and_split(tmp_path):
    with pytest.raises(ValueError, match="'no_such_set' is not a TFDS dataset"):
        tfds_source.load("no_such_set", data_dir=os.fspath(tmp_path))
    with pytest.raises(ValueError, match="'validation'"):
        tfds_source.load("mnist", split="validation")


def test_prepared_data_is_read_by_tfds(tmp_path):
    """End to end through TFDS's real preparation and reading code.

    Preparing needs `importlib_resources` (a dependency of etils.epath that
    is not always installed); reading does not.
    """
    pytest.importorskip("importlib_resources")
    tfds.testing.DummyMnist(data_dir=os.fspath(tmp_path)).download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    source = tfds_source.load("dummy_mnist", split="test",
                              data_dir=os.fspath(tmp_path), download=False)
    assert source.image_shape == (28, 28, 1)
    assert source.num_examples == 20
    assert len(_elements(source)) == 20


def test_stored_levels_are_rescaled_to_0_255():
    def rescaled(values, levels):
        image = tfds_source._to_full_range(tf.constant(values, tf.uint8), levels)
        assert image.dtype == tf.uint8
        return image.numpy().tolist()

    assert rescaled([0, 1, 1, 0], 2) == [0, 255, 255, 0]  # dSprites
    assert rescaled([0, 1, 2, 3], 4) == [0, 85, 170, 255]
    assert rescaled([0, 1, 2], 3) == [0, 128, 255]  # 127.5 rounds to even
    assert rescaled(list(range(256)), 256) == list(range(256))
    assert rescaled([7], 2) == [255]  # above the stored levels: saturates


def test_every_readme_dataset_records_its_stored_pixel_levels():
    """As each TFDS builder's _generate_examples writes `image`."""
    table = source_facts.DATASETS
    levels = {name: table[name].pixel_levels for name in (
        "mnist", "fashion_mnist", "cifar10", "svhn_cropped", "celeb_a",
        "dsprites", "shapes3d", "smallnorb", "binarized_mnist")}
    assert levels == {"mnist": 256, "fashion_mnist": 256, "cifar10": 256,
                      "svhn_cropped": 256, "celeb_a": 256, "dsprites": 2,
                      "shapes3d": 256, "smallnorb": 256, "binarized_mnist": 2}
    assert source_facts.DatasetFacts().pixel_levels == 256


@pytest.mark.parametrize("levels", [0, 1, 257])
def test_impossible_pixel_levels_are_refused(levels):
    with pytest.raises(ValueError, match=rf"pixel_levels={levels}: expected 2 to 256 levels"):
        source_facts.DatasetFacts(pixel_levels=levels)


def test_one_table_holds_every_dataset_fact_by_name():
    """Default sizes and DC-IGN's intrinsic factors, looked up without config or version."""
    facts = source_facts.facts
    assert facts("smallnorb:2.0.0") == source_facts.DATASETS["smallnorb"]
    assert facts("smallnorb").default_image_size == 64
    assert facts("smallnorb").intrinsic_factors == ("category", "instance")
    assert facts("folder:/some/images").default_image_size == 64
    assert facts("shapes").default_image_size == 32
    assert facts("no_such_set") == source_facts.DatasetFacts()
    assert facts("no_such_set").default_image_size is None
