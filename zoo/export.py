"""SavedModel export with named serving signatures, for TF Serving.

Every zoo model lists its endpoints in `serving_endpoints()` as
{name: (function, [TensorSpec, ...])}. Inputs have explicit names, dtypes and
shapes, so a request with the wrong image size is rejected by the signature;
outputs are dicts of named tensors. The first endpoint is also
`serving_default`. Models are written to numbered version folders, as TF
Serving expects (`export_dir/1`, `export_dir/2`, ...).
"""

import os

import keras

__all__ = ["export_saved_model", "next_version"]


def next_version(export_dir):
    """1 + the largest numbered version folder in `export_dir` (1 if none)."""
    if not os.path.isdir(export_dir):
        return 1
    versions = [int(name) for name in os.listdir(export_dir) if name.isdigit()]
    return max(versions, default=0) + 1


def export_saved_model(model, export_dir, version=None):
    """Writes `model`'s serving signatures to `export_dir/<version>`.

    Args:
        model: a zoo model with `serving_endpoints()`.
        export_dir: the model's base export folder.
        version: integer version; None takes the next free one.

    Returns:
        The path of the written SavedModel.
    """
    version = next_version(export_dir) if version is None else int(version)
    path = os.path.join(export_dir, str(version))
    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (function, signature) in model.serving_endpoints().items():
        archive.add_endpoint(name, function, input_signature=signature)
    archive.write_out(path, verbose=False)
    return path
