"""`python -m recipes.cvae` end to end on tiny budgets: defaults, outputs, numbers, errors."""

import functools
import json
import os

import numpy as np
from PIL import Image

import harness

_TINY = ["--epochs=1", "--steps_per_epoch=3", "--batch_size=16", "--latent_dim=4",
         "--base_filters=4", "--encoder_hidden=8", "--importance_samples=3",
         "--importance_examples=16", "--attribute_examples=48", "--classifier_examples=200",
         "--classifier_epochs=1", "--completion_steps=2", "--verbose=2"]


_recipe = functools.partial(harness.run_recipe, "recipes.cvae")


def test_the_default_run_is_digits_and_the_judge_reports_sane_numbers(tmp_path):
    model_dir = str(tmp_path / "run")
    result = _recipe(f"--model_dir={model_dir}", "--strategy=one_device", *_TINY,
                     "--classifier_examples=2000", "--classifier_epochs=2")
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
    config = json.load(open(os.path.join(model_dir, "config.json")))
    assert config["dataset"] == "digits" and config["likelihood"] == "bernoulli"
    assert config["attributes"] == ["all"] and config["task"] == "cvae"
    results = json.load(open(os.path.join(model_dir, "results.json")))
    digit_names = [str(digit) for digit in range(10)]
    assert results["attribute_names"] == digit_names
    # One one-hot group: exact match is "the class is right".
    assert results["attribute_groups"] == [digit_names]
    assert results["attribute_examples"] == 48
    # The judge (all 1,617 training digits, 2 epochs) reads real test digits far above
    # chance; a 3-step model's scores are shares.
    assert results["classifier_accuracy_on_real"] > 0.5, results
    assert results["attribute_chance"] < 0.3, results
    for key in ("attribute_accuracy", "attribute_mean_accuracy", "manipulation_accuracy"):
        assert 0 <= results[key] <= 1, (key, results[key])
    assert set(results["attribute_accuracy_per_attribute"]) == set(digit_names)
    assert np.isfinite(results["elbo"]) and results["log_likelihood"] < 0
    # An 8 x 8 grid: attribute settings by rows, z by columns.
    grid = np.asarray(Image.open(os.path.join(model_dir, "samples/samples_by_attribute.png")))
    assert grid.shape[:2] == (8 * 29 + 1, 8 * 29 + 1)


def test_the_defaults_are_digits_for_the_cvae_and_shapes_for_the_discvae():
    cvae_help = _recipe("--helpfull", timeout=120).stdout
    discvae_help = harness.run_recipe("recipes.discvae", "--helpfull", timeout=120).stdout
    for text, dataset, likelihood, epochs in ((cvae_help, "digits", "bernoulli", 50),
                                              (discvae_help, "shapes",
                                               "discretized_logistic", 5)):
        for flag, default in (("dataset", f"'{dataset}'"), ("likelihood", f"'{likelihood}'"),
                              ("epochs", f"'{epochs}'")):
            block = text[text.index(f"--{flag}:"):]
            assert block[:block.index("(default:")].count("\n  --") == 0, (flag, block[:400])
            assert block[block.index("(default:"):].startswith(f"(default: {default})"), (
                flag, block[:400])


def test_a_shapes_subset_run_works(tmp_path):
    model_dir = str(tmp_path / "run")
    result = _recipe(f"--model_dir={model_dir}", "--dataset=shapes",
                     "--likelihood=discretized_logistic", "--attributes=circle,red,large",
                     "--image_size=16", *_TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.load(open(os.path.join(model_dir, "results.json")))
    assert results["attribute_names"] == ["circle", "red", "large"]
    # Part of a one-hot group is no longer one-hot: three binary attributes.
    assert results["attribute_groups"] == [["circle"], ["red"], ["large"]]
    assert 0 <= results["attribute_chance"] <= 1 and np.isfinite(results["elbo"])
    config = json.load(open(os.path.join(model_dir, "config.json")))
    assert config["attributes"] == ["circle", "red", "large"]
    grid = np.asarray(Image.open(os.path.join(model_dir, "samples/samples_by_attribute.png")))
    assert grid.shape[:2] == (8 * 17 + 1, 8 * 17 + 1)


def test_bad_flags_fail_in_one_clear_line():
    result = _recipe("--attributes=circle,all", timeout=120)
    assert result.returncode != 0
    assert "error: attributes=circle,all must be 'all' or a comma-separated list" in result.stderr
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
