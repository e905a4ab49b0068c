"""TFDS's real image dataset builders, run on small local files.

Each test writes a few tens of images in the dataset's real source format
(dSprites' and 3D Shapes' HDF5 layouts, smallNORB's gzipped NORB binary
matrices; MNIST's and Fashion-MNIST's gzipped IDX files, CIFAR-10's binary
batches in a .tar.gz, SVHN's MATLAB files, CelebA's JPEG zip and text
tables, binarized MNIST's .amat text), lets the installed TFDS builder's
`download_and_prepare` turn them into a prepared dataset (its download
manager is pointed at the local files, as `tfds.testing.DatasetBuilderTestCase`
does; the builder's own `_generate_examples` reads them), and then loads it
through `zoo.data.catalog.load` (and dSprites also through
`python -m recipes.vae`). What comes out must be what was written: pixels in
the full 0..255 range, factors in the documented order, and disjoint splits of
the right sizes. No network.
"""

import gzip
import io
import os
import socket
import tarfile
import urllib.parse
import zipfile

import h5py
import numpy as np
import pytest
import scipy.io
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image
from tensorflow_datasets.datasets.celeb_a import celeb_a_dataset_builder as tfds_celeb_a
from tensorflow_datasets.image_classification import mnist as tfds_mnist

import harness
from zoo.data import catalog

__all__ = []

_DSPRITES_COUNT = 40  # train[:90%] = 36, held out train[90%:] = 4
_SHAPES3D_COUNT = 30  # >= 15 so every value of every factor occurs
_NORB_TRAIN_COUNT, _NORB_TEST_COUNT = 10, 6
# NORB binary matrix magic numbers: uint8 and int32 data.
_NORB_MAGIC = {np.dtype(np.uint8): 0x1E3D4C55, np.dtype(np.int32): 0x1E3D4C54}


def _refuse(*args, **kwargs):
    raise OSError("network disabled in tests")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a connection fails at once, as offline."""
    monkeypatch.setattr(socket, "create_connection", _refuse)
    monkeypatch.setattr(socket.socket, "connect", _refuse)


def _prepare_with_real_builder(name, data_dir, files, constants=()):
    """Runs TFDS's `name` builder with its downloads served from `files`.

    Args:
        name: TFDS dataset name.
        data_dir: TFDS data folder to prepare into.
        files: {URL the builder asks for, or its basename: local file}.
            `download` returns the local file; `download_and_extract` returns
            what TFDS's real extractor makes of it (e.g. a gunzipped copy).
        constants: (module, name, value) to set while the builder runs, for
            builders that hard-code the number of examples (MNIST), as TFDS's
            own tests of them do.
    """

    def local(url):
        url = str(url)
        path = files.get(url) or files[os.path.basename(urllib.parse.urlparse(url).path)]
        return tfds.core.Path(path)

    def download(self, url_or_urls):
        del self
        return tf.nest.map_structure(local, url_or_urls)

    def download_and_extract(self, url_or_urls):
        return self.extract(download(self, url_or_urls))

    builder = tfds.builder(name, data_dir=os.fspath(data_dir))
    with pytest.MonkeyPatch.context() as patch:
        # Module-scoped fixtures prepare before `no_network` applies: block here too.
        patch.setattr(socket, "create_connection", _refuse)
        patch.setattr(socket.socket, "connect", _refuse)
        for module, constant, value in constants:
            patch.setattr(module, constant, value)
        patch.setattr(tfds.download.DownloadManager, "download", download)
        patch.setattr(tfds.download.DownloadManager, "download_and_extract",
                      download_and_extract)
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
            try_download_gcs=False,
            compute_stats=tfds.download.ComputeStatsMode.SKIP))
    assert builder.is_prepared()


def _write_dsprites(path, rng):
    """dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5's layout, small.

    `imgs` [N, 64, 64] uint8 in {0, 1}; `latents/classes` [N, 6] int64 and
    `latents/values` [N, 6] float64, columns colour, shape, scale,
    orientation, x, y (Matthey et al. 2017). Returns (imgs, classes[:, 1:]).
    """
    imgs = rng.integers(0, 2, (_DSPRITES_COUNT, 64, 64)).astype(np.uint8)
    sizes = (1, 3, 6, 40, 32, 32)
    classes = np.stack([rng.integers(0, size, _DSPRITES_COUNT) for size in sizes],
                       axis=1).astype(np.int64)
    grids = (np.ones(1), np.arange(1.0, 4.0), np.linspace(0.5, 1.0, 6),
             np.linspace(0.0, 2 * np.pi, 40), np.linspace(0.0, 1.0, 32),
             np.linspace(0.0, 1.0, 32))
    values = np.stack([grid[column] for grid, column in zip(grids, classes.T)], axis=1)
    with h5py.File(path, "w") as handle:
        handle["imgs"] = imgs
        handle["latents/classes"] = classes
        handle["latents/values"] = values
    return imgs, classes[:, 1:]


def _write_shapes3d(path, rng):
    """3dshapes.h5's layout, small: `images` [N, 64, 64, 3] uint8, `labels` [N, 6].

    `labels` holds the factor values (floor, wall, object hue, scale, shape,
    orientation; Burgess & Kim 2018); the builder numbers each column's
    distinct values in sorted order, so every value occurs here and the
    numbers are the class indices. Returns (images, class indices).
    """
    images = rng.integers(0, 256, (_SHAPES3D_COUNT, 64, 64, 3)).astype(np.uint8)
    images[0, 0, 0] = (0, 255, 128)  # the full range certainly occurs
    grids = (np.linspace(0.0, 0.9, 10),) * 3 + (
        np.linspace(0.75, 1.25, 8), np.arange(4.0), np.linspace(-30.0, 30.0, 15))
    classes = np.stack([rng.permutation(np.arange(_SHAPES3D_COUNT) % len(grid))
                        for grid in grids], axis=1)
    values = np.stack([grid[column] for grid, column in zip(grids, classes.T)], axis=1)
    with h5py.File(path, "w") as handle:
        handle["images"] = images
        handle["labels"] = values
    return images, classes


def _write_norb_matrix(path, array):
    """A gzipped NORB binary matrix (LeCun et al. 2004), as smallNORB ships them.

    Little-endian int32 magic (data type), int32 ndim, then max(3, ndim)
    int32 dimensions (missing ones written as 1), then the data.
    """
    array = np.asarray(array)
    dims = list(array.shape) + [1] * (3 - array.ndim)
    header = np.array([_NORB_MAGIC[array.dtype], array.ndim, *dims], "<i4")
    data = array.astype(array.dtype.newbyteorder("<"))
    with gzip.open(path, "wb") as handle:
        handle.write(header.tobytes() + data.tobytes())


def _write_smallnorb_split(folder, stem, count, instances, rng):
    """The dat/cat/info files of one smallNORB split; returns their arrays.

    dat [N, 2, 96, 96] uint8 stereo pairs; cat [N] int32 category; info
    [N, 4] int32 instance, elevation, azimuth (0, 2, ..., 34), lighting.
    """
    dat = rng.integers(0, 256, (count, 2, 96, 96)).astype(np.uint8)
    dat[0, 0, 0, :2] = (0, 255)
    cat = rng.integers(0, 5, count).astype(np.int32)
    info = np.stack([rng.choice(instances, count), rng.integers(0, 9, count),
                     2 * rng.integers(0, 18, count), rng.integers(0, 6, count)],
                    axis=1).astype(np.int32)
    files = {}
    for kind, array in (("dat", dat), ("cat", cat), ("info", info)):
        name = f"{stem}-{kind}.mat.gz"
        _write_norb_matrix(os.path.join(folder, name), array)
        files[name] = os.path.join(folder, name)
    return files, (dat, cat, info)


def _full_range_images(rng, shape):
    """Random uint8 images of `shape` [N, ...] in which 0 and 255 both occur."""
    images = rng.integers(0, 256, shape).astype(np.uint8)
    images.reshape(len(images), -1)[0, :2] = (0, 255)
    return images


def _write_idx(path, array):
    """A gzipped IDX file (LeCun et al. 1998): big-endian magic 0x08 0x0N, dims, bytes."""
    header = np.array([0x800 + array.ndim, *array.shape], ">i4")
    with gzip.open(path, "wb") as handle:
        handle.write(header.tobytes() + array.astype(np.uint8).tobytes())


def _write_mnist(folder, rng, counts):
    """MNIST's four .gz files; returns {split: (images [N, 28, 28, 1], labels)}."""
    written = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = _full_range_images(rng, (counts[split], 28, 28))
        labels = rng.integers(0, 10, counts[split]).astype(np.uint8)
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
        written[split] = (images[..., None], labels)
    files = {path.name: path for path in folder.glob("*.gz")}
    return files, written


def _write_cifar10(folder, rng, per_batch):
    """cifar-10-binary.tar.gz: per image one label byte, then the R, G, B planes."""
    written = {"train": ([], []), "test": ([], [])}
    members = {"batches.meta.txt": "\n".join(f"class_{i}" for i in range(10)).encode()}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        images = _full_range_images(rng, (per_batch, 32, 32, 3))
        labels = rng.integers(0, 10, per_batch).astype(np.uint8)
        records = np.concatenate(
            [labels[:, None], images.transpose(0, 3, 1, 2).reshape(per_batch, -1)], axis=1)
        members[name] = records.astype(np.uint8).tobytes()
        split = "test" if name == "test_batch.bin" else "train"
        written[split][0].append(images)
        written[split][1].append(labels)
    path = folder / "cifar-10-binary.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return {path.name: path}, {split: (np.concatenate(images), np.concatenate(labels))
                               for split, (images, labels) in written.items()}


def _write_svhn(folder, rng, counts):
    """SVHN's {train,test,extra}_32x32.mat: X [32, 32, 3, N] uint8, y [N, 1] in 1..10."""
    written, files = {}, {}
    for split, count in counts.items():
        images = _full_range_images(rng, (count, 32, 32, 3))
        y = rng.integers(1, 11, (count, 1)).astype(np.uint8)
        y[0] = 10  # the digit 0, stored as 10
        path = folder / f"{split}_32x32.mat"
        scipy.io.savemat(path, {"X": images.transpose(1, 2, 3, 0), "y": y})
        files[path.name] = path
        written[split] = (images, y[:, 0] % 10)
    return files, written


def _write_celeb_a(folder, partitions):
    """img_align_celeba.zip of 218x178 JPEGs and CelebA's four text tables.

    Each image is black on the left, white on the right and a colour of its
    own between, so its centre 140x140 crop holds 0 and 255 and tells it
    apart. Returns the JPEG files, {partition: [file names]} and
    {file name: 40 attributes as 0/1 in ATTR_HEADINGS order}.
    """
    names = [f"{i + 1:06d}.jpg" for i in range(len(partitions))]
    attributes, jpegs = {}, {}
    with zipfile.ZipFile(folder / "img_align_celeba.zip", "w") as archive:
        for i, name in enumerate(names):
            image = np.zeros((218, 178, 3), np.uint8)
            image[:, 59:118] = (20 * i, 255 - 20 * i, 100)
            image[:, 118:] = 255
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="JPEG", quality=95)
            jpegs[name] = buffer.getvalue()
            archive.writestr(f"img_align_celeba/{name}", jpegs[name])
            attributes[name] = [(i + k) % 3 == 0 for k in range(40)]

    def table(path, headings, rows, with_header=True):
        lines = [str(len(names)), " ".join(headings)] if with_header else []
        lines += [f"{name} {' '.join(map(str, row))}" for name, row in rows.items()]
        path.write_text("\n".join(lines) + "\n")

    (folder / "list_eval_partition.txt").write_text(
        "".join(f"{name} {part}\n" for name, part in zip(names, partitions)))
    table(folder / "list_attr_celeba.txt", tfds_celeb_a.ATTR_HEADINGS,
          {name: [1 if a else -1 for a in row] for name, row in attributes.items()})
    table(folder / "list_landmarks_align_celeba.txt", tfds_celeb_a.LANDMARK_HEADINGS,
          {name: list(range(70, 80)) for name in names})
    table(folder / "identity_CelebA.txt", tfds_celeb_a.IDENTITY_HEADINGS,
          {name: [2880 + i] for i, name in enumerate(names)}, with_header=False)
    files = {tfds_celeb_a.IMG_ALIGNED_DATA: folder / "img_align_celeba.zip",
             tfds_celeb_a.EVAL_LIST: folder / "list_eval_partition.txt",
             tfds_celeb_a.ATTR_DATA: folder / "list_attr_celeba.txt",
             tfds_celeb_a.LANDMARKS_DATA: folder / "list_landmarks_align_celeba.txt",
             tfds_celeb_a.IDENTITY_DATA: folder / "identity_CelebA.txt"}
    by_partition = {part: [name for name, p in zip(names, partitions) if p == part]
                    for part in sorted(set(partitions))}
    return files, jpegs, by_partition, attributes


@pytest.fixture(scope="module")
def dsprites_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dsprites")
    written = _write_dsprites(folder / "source.hdf5", np.random.default_rng(1))
    _prepare_with_real_builder("dsprites", folder / "tfds", {
        "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5": folder / "source.hdf5"})
    return folder / "tfds", written


@pytest.fixture(scope="module")
def shapes3d_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes3d")
    written = _write_shapes3d(folder / "3dshapes.h5", np.random.default_rng(2))
    _prepare_with_real_builder("shapes3d", folder / "tfds",
                               {"3dshapes.h5": folder / "3dshapes.h5"})
    return folder / "tfds", written


@pytest.fixture(scope="module")
def smallnorb_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("smallnorb")
    rng = np.random.default_rng(3)
    train_files, train = _write_smallnorb_split(
        folder, "smallnorb-5x46789x9x18x6x2x96x96-training", _NORB_TRAIN_COUNT,
        (4, 6, 7, 8, 9), rng)
    test_files, test = _write_smallnorb_split(
        folder, "smallnorb-5x01235x9x18x6x2x96x96-testing", _NORB_TEST_COUNT,
        (0, 1, 2, 3, 5), rng)
    _prepare_with_real_builder("smallnorb", folder / "tfds", {**train_files, **test_files})
    return folder / "tfds", {"train": train, "test": test}


@pytest.fixture(scope="module", params=["mnist", "fashion_mnist", "cifar10", "svhn_cropped"])
def eight_bit_dir(request, tmp_path_factory):
    """A labelled 8-bit dataset prepared by its real builder, and what was written."""
    name = request.param
    folder = tmp_path_factory.mktemp(name)
    rng = np.random.default_rng(4)
    constants = ()
    if name in ("mnist", "fashion_mnist"):
        counts = {"train": 12, "test": 5}
        files, written = _write_mnist(folder, rng, counts)
        constants = ((tfds_mnist, "_TRAIN_EXAMPLES", counts["train"]),
                     (tfds_mnist, "_TEST_EXAMPLES", counts["test"]))
    elif name == "cifar10":
        files, written = _write_cifar10(folder, rng, per_batch=3)
    else:
        files, written = _write_svhn(folder, rng, {"train": 9, "test": 4, "extra": 2})
        del written["extra"]
    _prepare_with_real_builder(name, folder / "tfds", files, constants)
    return name, folder / "tfds", written


def _load(name, split, data_dir, **kwargs):
    source = catalog.load(name, split, data_dir=os.fspath(data_dir), download=False,
                          **kwargs)
    return source, list(source.dataset.as_numpy_iterator())


def _index_by_image(images):
    """{image bytes: index}; the written images are all different."""
    index = {np.ascontiguousarray(image).tobytes(): i for i, image in enumerate(images)}
    assert len(index) == len(images)
    return index


def _split_indices(elements, written_images, to_written):
    """Index of the written image each loaded element holds, in loading order."""
    index = _index_by_image(written_images)
    keys = [np.ascontiguousarray(to_written(element["image"])).tobytes()
            for element in elements]
    missing = sum(key not in index for key in keys)
    assert not missing, f"{missing} of {len(keys)} loaded images were never written"
    return [index[key] for key in keys]


def test_dsprites_pixels_become_0_and_255(dsprites_dir):
    data_dir, (imgs, classes) = dsprites_dir
    found = {}
    for split in ("train", "test"):
        source, elements = _load("dsprites", split, data_dir)
        assert source.image_shape == (64, 64, 1)
        assert source.factor_names == ("shape", "scale", "orientation", "x_position",
                                       "y_position")
        for element in elements:
            image = element["image"]
            assert image.dtype == np.uint8 and image.shape == (64, 64, 1)
            assert set(np.unique(image)) == {0, 255}
        stored = _split_indices(elements, imgs, lambda image: (image[..., 0] // 255))
        for element, i in zip(elements, stored):
            np.testing.assert_array_equal(element["image"][..., 0], 255 * imgs[i])
            np.testing.assert_array_equal(element["factors"], classes[i])
        found[split] = stored
    # train[:90%] and the held-out train[90%:]: sizes, disjoint, all of them.
    assert len(found["train"]) == 36 and len(found["test"]) == 4
    assert not set(found["train"]) & set(found["test"])
    assert sorted(found["train"] + found["test"]) == list(range(_DSPRITES_COUNT))


def test_shapes3d_pixels_and_factors_are_as_written(shapes3d_dir):
    data_dir, (images, classes) = shapes3d_dir
    found = {}
    for split in ("train", "test"):
        source, elements = _load("shapes3d", split, data_dir)
        assert source.image_shape == (64, 64, 3)
        assert source.factor_names == ("floor_hue", "wall_hue", "object_hue", "scale",
                                       "shape", "orientation")
        # Each loaded image is byte for byte one of the written ones.
        stored = _split_indices(elements, images, lambda image: image)
        for element, i in zip(elements, stored):
            assert element["image"].dtype == np.uint8
            np.testing.assert_array_equal(element["factors"], classes[i])
        found[split] = (stored, [element["image"] for element in elements])
    (train, train_images), (test, test_images) = found["train"], found["test"]
    assert len(train) == 27 and len(test) == 3
    assert not set(train) & set(test)
    assert sorted(train + test) == list(range(_SHAPES3D_COUNT))
    # Stored 0..255 and passed unchanged: the extremes survive.
    loaded = np.stack(train_images + test_images)
    assert loaded.min() == 0 and loaded.max() == 255


def test_smallnorb_pixels_label_and_factors_are_as_written(smallnorb_dir):
    data_dir, written = smallnorb_dir
    for split, count in (("train", _NORB_TRAIN_COUNT), ("test", _NORB_TEST_COUNT)):
        dat, cat, info = written[split]
        source, elements = _load("smallnorb", split, data_dir, image_size=96)
        assert source.image_shape == (96, 96, 1) and source.num_examples == count
        assert source.factor_names == ("category", "instance", "elevation", "azimuth",
                                       "lighting")
        stored = _split_indices(elements, dat[:, 0], lambda image: image[..., 0])
        assert sorted(stored) == list(range(count))
        for element, i in zip(elements, stored):
            assert set(element) == {"image", "label", "factors"}
            assert element["label"] == cat[i]
            np.testing.assert_array_equal(
                element["factors"],
                [cat[i], info[i, 0], info[i, 1], info[i, 2] // 2, info[i, 3]])
        images = np.stack([element["image"] for element in elements])
        assert images.dtype == np.uint8
        if split == "train":  # the written extremes are in image 0
            assert images.min() == 0 and images.max() == 255


def test_eight_bit_datasets_pass_unchanged(eight_bit_dir):
    """mnist, fashion_mnist, cifar10, svhn_cropped: images and labels as written."""
    name, data_dir, written = eight_bit_dir
    for split, (images, labels) in written.items():
        source, elements = _load(name, split, data_dir)
        assert source.image_shape == images.shape[1:]
        assert source.num_examples == len(images)
        stored = _split_indices(elements, images, lambda image: image)
        assert sorted(stored) == list(range(len(images)))
        for element, i in zip(elements, stored):
            assert element["image"].dtype == np.uint8
            assert element["label"] == labels[i]
        loaded = np.stack([element["image"] for element in elements])
        assert loaded.min() == 0 and loaded.max() == 255


def test_celeb_a_crops_the_decoded_jpegs_and_keeps_their_range(tmp_path):
    """CelebA's JPEGs decode to 0..255; `load` crops them and changes no pixel."""
    partitions = [0, 0, 1, 2, 0, 2, 0, 1, 2, 0]  # 5 train, 2 validation, 3 test
    files, jpegs, by_partition, attributes = _write_celeb_a(tmp_path, partitions)
    _prepare_with_real_builder("celeb_a", tmp_path / "tfds", files)
    for split, part in (("train", 0), ("test", 2)):
        source, elements = _load("celeb_a", split, tmp_path / "tfds", image_size=140)
        assert source.num_examples == len(by_partition[part])
        names = by_partition[part]
        # TF's own decoding of the written JPEG bytes, centre 140x140.
        crops = [tf.io.decode_jpeg(jpegs[name]).numpy()[39:179, 19:159] for name in names]
        stored = _split_indices(elements, crops, lambda image: image)
        assert sorted(stored) == list(range(len(names)))
        for element, i in zip(elements, stored):
            assert element["image"].dtype == np.uint8
            np.testing.assert_array_equal(element["attributes"],
                                          np.float32(attributes[names[i]])[np.argsort(
                                              tfds_celeb_a.ATTR_HEADINGS)])
            assert element["image"].min() == 0 and element["image"].max() == 255


def test_binarized_mnist_pixels_become_0_and_255(tmp_path):
    """Its .amat rows of 784 space-separated 0/1 values are stored as {0, 1}."""
    rng = np.random.default_rng(5)
    written, files = {}, {}
    for split, stem, count in (("train", "train", 6), ("validation", "valid", 2),
                               ("test", "test", 3)):
        images = rng.integers(0, 2, (count, 28, 28)).astype(np.uint8)
        path = tmp_path / f"binarized_mnist_{stem}.amat"
        np.savetxt(path, images.reshape(count, -1), fmt="%d", delimiter=" ")
        files[path.name] = path
        written[split] = images
    _prepare_with_real_builder("binarized_mnist", tmp_path / "tfds", files)
    for split in ("train", "test"):
        source, elements = _load("binarized_mnist", split, tmp_path / "tfds")
        assert source.image_shape == (28, 28, 1)
        for element in elements:
            assert set(np.unique(element["image"])) == {0, 255}
        stored = _split_indices(elements, written[split],
                                lambda image: image[..., 0] // 255)
        assert sorted(stored) == list(range(len(written[split])))


def test_smallnorb_default_size_is_64(smallnorb_dir):
    data_dir, _ = smallnorb_dir
    source, elements = _load("smallnorb", "test", data_dir)
    assert source.image_shape == (64, 64, 1)
    assert elements[0]["image"].shape == (64, 64, 1)
    assert elements[0]["image"].dtype == np.uint8


def test_vae_recipe_trains_on_full_range_dsprites(dsprites_dir, tmp_path):
    """The recipe's reconstruction grid shows the held-out images as 0/255.

    The recipe's Bernoulli likelihood binarizes with p = pixel / 255, so its
    inputs are the written images exactly when the pixels are 0 or 255 (with
    the old /255 of {0, 1} they were almost all black). The small MLP keeps
    the run short; the data path is the same for every network.
    """
    data_dir, (imgs, _) = dsprites_dir
    model_dir = tmp_path / "run"
    result = harness.run_recipe(
        "recipes.vae", "--dataset=dsprites", f"--data_dir={data_dir}", "--download=false",
        f"--model_dir={model_dir}", "--epochs=1", "--steps_per_epoch=2", "--batch_size=4",
        "--eval_batches=1", "--importance_samples=2", "--latent_dim=2", "--network=mlp",
        "--verbose=0")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "dataset dsprites: 36 train / 4 test images of shape (64, 64, 1)" in result.stderr
    # One row of 8 tiles (64x64, 1-pixel padding): input, reconstruction, ...
    grid = np.asarray(Image.open(model_dir / "samples" / "reconstructions.png"))
    assert grid.shape == (66, 8 * 65 + 1)
    index = _index_by_image(255 * imgs)
    shown = []
    for tile in range(0, 8, 2):
        image = grid[1:65, 1 + 65 * tile:65 + 65 * tile]
        assert set(np.unique(image)) == {0, 255}
        key = np.ascontiguousarray(image).tobytes()
        assert key in index, f"input tile {tile} is not 255 x a written image"
        shown.append(index[key])
    assert len(set(shown)) == 4
