"""`python -m recipes.dcign` end to end on tiny budgets: outputs, comparison, resuming, errors."""

import functools
import json
import os

import numpy as np
import pytest
from PIL import Image

import harness

_TINY = ["--epochs=2", "--steps_per_epoch=3", "--batch_size=16", "--minibatches=2",
         "--factors=scale,position_x:2", "--intrinsic_dim=2", "--base_filters=4",
         "--image_size=16", "--importance_samples=2", "--eval_batches=2",
         "--disentanglement_examples=64", "--verbose=2"]


_recipe = functools.partial(harness.run_recipe, "recipes.dcign")


def test_a_run_leaves_every_output_compares_with_a_vae_and_resumes(tmp_path):
    model_dir = str(tmp_path / "run")
    result = _recipe(f"--model_dir={model_dir}", *_TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "named factors (scale, position_x)" in out and "plain VAE" in out
    assert "test ELBO:" in out and "VAE best r" in out and "dci disentanglement" in out
    for path in ("config.json", "results.json", "history.csv",
                 "checkpoints/state.json", "samples/reconstructions.png",
                 "samples/traversals.png", "traversals/traversal_0.png",
                 "export/1/saved_model.pb", "vae_baseline/export/1/saved_model.pb",
                 "vae_baseline/results.json"):
        assert os.path.exists(os.path.join(model_dir, path)), path
    assert {"train", "validation", "images"} <= set(os.listdir(os.path.join(model_dir, "logs")))
    # A traversal figure: one row per named factor, the input then 9 values.
    figure = np.asarray(Image.open(os.path.join(model_dir, "traversals", "traversal_0.png")))
    assert figure.shape[:2] == (1 + 2 * 17, 1 + 10 * 17)
    ours = json.load(open(os.path.join(model_dir, "results.json")))
    vae = ours["baselines"]["vae"]
    assert ours["latent_dim"] == vae["latent_dim"] == 5
    assert set(ours["factor_correlations"]) == {"scale", "position_x"}
    for scores in (ours, vae):
        for key in ("mig", "mig_all_factors", "dci_disentanglement", "dci_completeness",
                    "dci_disentanglement_all_factors"):
            assert 0 <= scores[key] <= 1, (key, scores[key])
    assert ours["named_factors"] == vae["named_factors"] == ["scale", "position_x"]
    config = json.load(open(os.path.join(model_dir, "config.json")))
    assert config["factors"] == ["scale", "position_x:2"]
    assert config["minibatches"] == 2
    again = _recipe(f"--model_dir={model_dir}", *_TINY[1:], "--epochs=3", "--compare_vae=false",
                    "--strategy=one_device")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming from epoch 2" in again.stderr
    assert "plain VAE" not in again.stdout and "DC-IGN" in again.stdout
    assert os.path.exists(os.path.join(model_dir, "export/2/saved_model.pb"))


@pytest.mark.parametrize("flags,message", [
    (["--factors=scale:0"], "factors entry 'scale:0' must be NAME or NAME:SIZE"),
    (["--batch_size=30", "--minibatches=8"],
     "a multiple of minibatches × replicas = 8 × 1 = 8"),
])
def test_bad_flags_fail_in_one_clear_line(flags, message):
    result = _recipe(*flags, timeout=120)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("flags,message", [
    (["--dataset=digits"], "DC-IGN needs a dataset with known generative factors"),
    (["--factors=azimuth"], "['azimuth'] are not factors of the data"),
])
def test_data_without_the_factors_fails_in_one_line(tmp_path, flags, message):
    result = _recipe(*flags, f"--model_dir={tmp_path / 'run'}", timeout=120)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and message in last, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_an_infinite_weight_is_refused_by_the_model_in_one_line(tmp_path):
    # It passes the flag's check; the model's constructor refuses it, before any training.
    result = _recipe("--invariance_strength=inf", f"--model_dir={tmp_path / 'run'}",
                     timeout=120)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == "error: invariance_strength must be a finite number >= 0; got inf."
    assert "Traceback" not in result.stderr and "diverged" not in result.stderr
