"""`zoo.load_run`: every recipe's trained model back from its model directory, and its errors."""

import json
import logging
import os
import shutil
import warnings

import keras
import numpy as np
import pytest

import zoo
from zoo.train import load

_MODELS = ("vae", "cvae", "discvae", "dcgan", "dcign")


def _outputs(model):
    """What users ask of each model, from fixed seeds: samples, generations, reconstructions."""
    if isinstance(model, zoo.DCGAN):
        return [model.sample(5, seed=1)]
    images = np.linspace(0.0, 1.0, 2 * np.prod(model.image_shape), dtype=np.float32)
    images = images.reshape([2, *model.image_shape])
    if isinstance(model, zoo.CVAE):  # And the DisCVAE.
        attributes = np.eye(model.attribute_dim, dtype=np.float32)[:2]
        return [model.generate(attributes, seed=1), model.reconstruct(images, attributes)]
    return [model.sample(5, seed=1), model.reconstruct(images)]


@pytest.mark.parametrize("name", _MODELS)
def test_the_loaded_model_is_the_trained_one(tiny_runs, name, caplog):
    model_dir, trained = tiny_runs[name]
    with caplog.at_level(logging.WARNING), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = zoo.load_run(model_dir)
    assert [r.getMessage() for r in caplog.records] == [] and caught == []
    assert type(loaded) is type(trained)
    assert int(loaded.optimizer.iterations) == int(trained.optimizer.iterations) == 1
    mine, theirs = (model.weights + model.optimizer.variables for model in (loaded, trained))
    assert len(mine) == len(theirs)
    for variable, expected in zip(mine, theirs):
        np.testing.assert_array_equal(variable.numpy(), expected.numpy(), err_msg=variable.path)
    for mine, theirs in zip(_outputs(loaded), _outputs(trained)):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))


def test_the_checkpoint_matters(tiny_runs):
    """A model rebuilt from model.json alone has other (initial) weights: the restore is real."""
    model_dir, trained = tiny_runs["vae"]
    with open(os.path.join(model_dir, "model.json")) as handle:
        fresh = keras.saving.deserialize_keras_object(json.load(handle))
    assert not np.array_equal(np.asarray(_outputs(fresh)[0]), np.asarray(_outputs(trained)[0]))


def _copy(tiny_runs, tmp_path):
    model_dir = str(tmp_path / "run")
    shutil.copytree(tiny_runs["vae"][0], model_dir)
    return model_dir


def _one_line_error(error_type, model_dir, *parts):
    with pytest.raises(error_type) as error:
        zoo.load_run(model_dir)
    message = str(error.value)
    assert "\n" not in message and all(part in message for part in parts), message
    return message


def test_a_missing_folder_or_a_folder_without_a_run_is_one_line(tmp_path):
    missing = str(tmp_path / "nothing")
    _one_line_error(FileNotFoundError, missing, f"model directory {missing} does not exist")
    _one_line_error(load.RunNotFound, str(tmp_path), f"{tmp_path} holds no run of recipes.*",
                    "config.json or model.json")
    (tmp_path / "config.json").write_text('{"task": "vae"}')
    _one_line_error(load.RunNotFound, str(tmp_path), "holds no run", "(no model.json)")
    afile = tmp_path / "config.json"
    _one_line_error(load.RunNotFound, str(afile), f"{afile} is not a folder")


def test_a_run_without_a_checkpoint_yet_is_one_line(tiny_runs, tmp_path):
    model_dir = _copy(tiny_runs, tmp_path)
    shutil.rmtree(os.path.join(model_dir, "checkpoints"))
    _one_line_error(load.RunNotFound, model_dir, f"{model_dir} holds no checkpoint yet",
                    "vae run has not finished its first epoch")


@pytest.mark.parametrize("file, text, says", [
    ("model.json", "", "model.json is empty or corrupt"),
    ("model.json", "{not json", "model.json is empty or corrupt"),
    ("model.json", "[1, 2]", "model.json is not a JSON object"),
    ("model.json", '{"class_name": "NoSuchModel", "config": {}}',
     "model.json is not a model Keras can rebuild"),
    ("model.json", '{"module": "keras.layers", "class_name": "Dense", "config": {"units": 2}}',
     "model.json holds a Dense, not a model"),
    ("config.json", "{", "config.json is empty or corrupt"),
    ("config.json", '{"dataset": "digits"}', "config.json names no task"),
])
def test_an_unreadable_config_or_model_json_is_one_line(tiny_runs, tmp_path, file, text, says):
    model_dir = _copy(tiny_runs, tmp_path)
    with open(os.path.join(model_dir, file), "w") as handle:
        handle.write(text)
    message = _one_line_error(load.RunUnreadable, model_dir, os.path.join(model_dir, says),
                              "rerun the recipe with the same --model_dir")
    assert isinstance(load.RunUnreadable(message), ValueError)


def test_read_config_gives_the_task_and_its_settings(tiny_runs):
    config = load.read_config(tiny_runs["dcign"][0])
    assert config["task"] == "dcign" and config["factors"] == ["scale", "position_x"]
