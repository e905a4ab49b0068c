"""The trained model of a run, back from its model directory: `zoo.load_run(model_dir)`.

A run of any recipe (`zoo.train.runner.run`) leaves in its model directory
`config.json` (the task's name and settings), `model.json` (the model's
Keras serialization) and `checkpoints/` (weights and optimizer state at each
epoch's end). `load_run` rebuilds the model from `model.json`, which Keras
also compiles as the run compiled it (its `compile_config`: the optimizers
and their learning rates), and loads the newest readable checkpoint into it,
the optimizers' state included: the model samples, generates, encodes and
reconstructs as the trained one did. To train on, rerun the recipe with the
same --model_dir: it resumes from the same checkpoint, outputs and all.

Every problem is one line: `RunNotFound` (a `FileNotFoundError`) for a
folder that does not exist, holds no run or no checkpoint yet, and
`RunUnreadable` (a `ValueError`) for a corrupt `config.json` or `model.json`.
"""

import json
import os

import keras

from zoo.train import callbacks as zoo_callbacks

__all__ = ["load_run", "read_config", "read_json_object", "RunNotFound", "RunUnreadable"]

_REWRITE = "rerun the recipe with the same --model_dir to write it again."
_RECIPES = ("recipes.vae, recipes.cvae, recipes.discvae, recipes.dcgan, recipes.dcign or "
            "recipes.vqvae")


class RunNotFound(FileNotFoundError):
    """The folder does not exist, holds no run, or holds no checkpoint yet."""


class RunUnreadable(ValueError):
    """A run's `config.json` or `model.json` cannot be read."""


def read_json_object(path, remedy):
    """The JSON object in file `path`, else a one-line `RunUnreadable` that ends in `remedy`."""
    try:
        with open(path) as handle:
            value = json.load(handle)
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or (str(error).splitlines() or ["empty"])[0]
        raise RunUnreadable(f"{path} is empty or corrupt ({reason}); {remedy}") from None
    if not isinstance(value, dict):
        raise RunUnreadable(f"{path} is not a JSON object; {remedy}")
    return value


def read_config(model_dir):
    """The run's `config.json`: {"task": name, setting: value, ...}.

    Raises:
        RunNotFound: `model_dir` does not exist or holds no run of a recipe.
        RunUnreadable: `config.json` is empty, corrupt or names no task.
    """
    model_dir = os.fspath(model_dir)
    if not os.path.isdir(model_dir):
        what = "is not a folder" if os.path.exists(model_dir) else "does not exist"
        raise RunNotFound(f"model directory {model_dir} {what}; pass the --model_dir of a "
                          f"run of {_RECIPES}.")
    missing = [name for name in ("config.json", "model.json")
               if not os.path.isfile(os.path.join(model_dir, name))]
    if missing:
        raise RunNotFound(f"{model_dir} holds no run of recipes.* (no {' or '.join(missing)}); "
                          f"pass the --model_dir of a run of {_RECIPES}.")
    path = os.path.join(model_dir, "config.json")
    config = read_json_object(path, _REWRITE)
    if not isinstance(config.get("task"), str):
        raise RunUnreadable(f"{path} names no task; {_REWRITE}")
    return config


def load_run(model_dir):
    """The trained model of the run in `model_dir`, at its newest readable checkpoint.

    Returns only the model, compiled as trained; `read_config(model_dir)`
    gives the run's settings. A truncated newest checkpoint falls back to an
    older one with a warning (`zoo.train.callbacks.ResumableCheckpoint.restore`).

    Raises:
        RunNotFound: `model_dir` does not exist, holds no run of a recipe, or
            holds no checkpoint yet (the run has not finished an epoch).
        RunUnreadable: `config.json` or `model.json` is corrupt, or
            `model.json` is not a model Keras can rebuild.
        ValueError: `checkpoints/state.json` is corrupt or no checkpoint can be read.
    """
    model_dir = os.fspath(model_dir)
    task = read_config(model_dir)["task"]
    path = os.path.join(model_dir, "model.json")
    serialized = read_json_object(path, _REWRITE)
    try:
        model = keras.saving.deserialize_keras_object(serialized)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise RunUnreadable(f"{path} is not a model Keras can rebuild ({reason}); "
                            f"{_REWRITE}") from None
    if not isinstance(model, keras.Model):
        raise RunUnreadable(f"{path} holds a {type(model).__name__}, not a model; {_REWRITE}")
    checkpoints = os.path.join(model_dir, "checkpoints")
    if not zoo_callbacks.ResumableCheckpoint(checkpoints).restore(model):
        raise RunNotFound(f"{model_dir} holds no checkpoint yet ({checkpoints} is empty): the "
                          f"{task} run has not finished its first epoch.")
    return model
