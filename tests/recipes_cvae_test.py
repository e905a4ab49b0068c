"""`python -m recipes.cvae` end to end on tiny budgets: outputs, numbers, clear errors."""

import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TINY = ["--epochs=1", "--steps_per_epoch=3", "--batch_size=16", "--latent_dim=4",
         "--base_filters=4", "--encoder_hidden=8", "--importance_samples=3",
         "--importance_examples=16", "--attribute_examples=48", "--classifier_examples=200",
         "--classifier_epochs=1", "--completion_steps=2", "--verbose=2"]


def _recipe(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "recipes.cvae", *args], cwd=_REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=_REPO))


def test_a_digits_run_leaves_every_output_and_prints_the_numbers(tmp_path):
    model_dir = str(tmp_path / "run")
    result = _recipe(f"--model_dir={model_dir}", "--dataset=digits",
                     "--likelihood=bernoulli", "--attributes=0,3,5", "--strategy=one_device",
                     *_TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    for line in ("test ELBO:", "importance-weighted, K=3, 16 images",
                 "attribute accuracy of generated images:", "chance",
                 "attribute manipulation accuracy:", "completion of an occluded centre"):
        assert line in result.stdout, (line, result.stdout)
    for path in ("config.json", "results.json", "history.csv", "checkpoints/state.json",
                 "attribute_classifier.keras", "samples/reconstructions.png",
                 "samples/samples_by_attribute.png", "samples/progression.png",
                 "samples/completion.png", "export/1/saved_model.pb"):
        assert os.path.exists(os.path.join(model_dir, path)), path
    assert {"train", "validation", "images"} <= set(os.listdir(os.path.join(model_dir, "logs")))
    results = json.load(open(os.path.join(model_dir, "results.json")))
    assert results["attribute_names"] == ["0", "3", "5"]
    assert results["attribute_groups"] == [["0"], ["3"], ["5"]]
    assert 0 <= results["attribute_chance"] <= 1 and np.isfinite(results["elbo"])
    assert results["log_likelihood"] < 0
    config = json.load(open(os.path.join(model_dir, "config.json")))
    assert config["model_kwargs"]["attribute_names"] == ["0", "3", "5"]
    # An 8 x 8 grid: attribute settings by rows, z by columns.
    grid = np.asarray(Image.open(os.path.join(model_dir, "samples/samples_by_attribute.png")))
    assert grid.shape[:2] == (8 * 29 + 1, 8 * 29 + 1)


def test_bad_flags_fail_in_one_clear_line():
    result = _recipe("--attributes=circle,all", timeout=120)
    assert result.returncode != 0
    assert "--attributes must be 'all' or a comma-separated list" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_dataset_without_attributes_fails_in_one_line(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    for index in range(4):
        Image.fromarray(np.full((8, 8, 3), 40 * index, np.uint8)).save(folder / f"{index}.png")
    result = _recipe(f"--dataset=folder:{folder}", f"--model_dir={tmp_path / 'run'}",
                     timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: dataset 'folder:{folder}' has no attribute labels; use shapes, digits or "
        "celeb_a")
    assert "Traceback" not in result.stderr
