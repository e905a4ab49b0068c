"""Datasets by name: built-in offline sets, a folder of images, or any TFDS image set."""

import importlib

from zoo.data import source

__all__ = ["BUILTIN", "load"]

# Built-in sources need no download; each module has `load(split, image_size)`.
BUILTIN = {"digits": "zoo.data.digits", "shapes": "zoo.data.shapes"}
_FOLDER_PREFIX = "folder:"


def load(name, split="train", image_size=None, data_dir=None, manual_dir=None,
         download=True):
    """A `zoo.data.source.Source` for a dataset name.

    Args:
        name: "digits" or "shapes" (built in, offline), "folder:PATH" (your own
            images) or the name of a TFDS image dataset ("mnist", "celeb_a", ...).
        split: "train" or "test".
        image_size: side the source should produce where it crops or renders;
            None takes the dataset's default (`zoo.data.source.DATASETS`).
        data_dir, manual_dir, download: TFDS options (see
            `zoo.data.tfds_source.load`).

    Raises:
        zoo.data.source.DatasetUnavailableError: a TFDS set is not available.
        ValueError: a bad split, size or folder.
    """
    if image_size is None:
        image_size = source.facts(name).default_image_size
    if name in BUILTIN:
        return importlib.import_module(BUILTIN[name]).load(split=split, image_size=image_size)
    if name.startswith(_FOLDER_PREFIX):
        from zoo.data import folder  # pylint: disable=import-outside-toplevel
        return folder.load(name[len(_FOLDER_PREFIX):], split=split, image_size=image_size)
    from zoo.data import tfds_source  # pylint: disable=import-outside-toplevel
    return tfds_source.load(name, split=split, image_size=image_size, data_dir=data_dir,
                            manual_dir=manual_dir, download=download)
