"""`python -m recipes.vae` end to end on tiny budgets: outputs, resuming, clear errors."""

import contextlib
import functools
import json
import math
import os

import pytest
from PIL import Image

import harness
from zoo.train import lock

_TINY = ["--epochs=2", "--steps_per_epoch=3", "--batch_size=16", "--importance_samples=4",
         "--latent_dim=4", "--base_filters=8", "--verbose=2"]


_recipe = functools.partial(harness.run_recipe, "recipes.vae")


def test_default_run_leaves_every_output_and_prints_the_likelihood(tmp_path):
    model_dir = str(tmp_path / "run")
    result = _recipe(f"--model_dir={model_dir}", *_TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test ELBO: log P(x) of the binarized data >= -" in result.stdout
    assert "test log P(x) of the binarized data >= -" in result.stdout
    assert "bits/dim), importance-weighted, K=4" in result.stdout
    assert "expects binary pixels" not in result.stderr  # Binarized dynamically.
    for path in ("config.json", "results.json", "history.csv", "training_curves.png",
                 "checkpoints/state.json", "checkpoints/epoch-0002.weights.h5",
                 "samples/reconstructions.png", "samples/prior_samples.png",
                 "samples/prior_samples_epoch001.png", "export/1/saved_model.pb"):
        assert os.path.exists(os.path.join(model_dir, path)), path
    logs = os.listdir(os.path.join(model_dir, "logs"))
    assert {"train", "validation", "images"} <= set(logs)
    results = json.load(open(os.path.join(model_dir, "results.json")))
    assert results["log_likelihood"] < 0 and results["bits_per_dim"] > 0
    _check_latent_figures(model_dir, results, result.stdout)
    config = json.load(open(os.path.join(model_dir, "config.json")))
    assert config["latent_dim"] == 4 and config["global_batch_size"] == 16
    # Running again with more epochs resumes where the first run stopped.
    again = _recipe(f"--model_dir={model_dir}", *_TINY[1:], "--epochs=3")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming from epoch 2" in again.stderr
    assert harness.history_epochs(model_dir) == [0, 1, 2]
    assert os.path.exists(os.path.join(model_dir, "export/2/saved_model.pb"))


def _check_latent_figures(model_dir, results, stdout):
    """The latent figures of docs/latents.md: PNG grids of the documented sizes, the KL list."""
    kl = results["kl_per_dimension"]
    assert len(kl) == 4 and all(value >= 0 for value in kl), kl
    assert results["traversal_dims"] == sorted(range(4), key=lambda d: -kl[d])
    assert results["attribute_vector_names"] == [str(digit) for digit in range(8)]
    side = 28 + 1  # An image and the grid's padding.
    expected = {"interpolation": (8 * side + 1, 16 * side + 1),  # 8 pairs x 2 methods.
                "traversal": (7 * side + 1, 4 * side + 1),       # 4 dims x 7 values.
                "attribute_vectors": (5 * side + 1, 8 * side + 1)}  # 8 digits x 5 strengths.
    for name, size in expected.items():
        path = os.path.join(model_dir, "latents", f"{name}.png")
        assert results[f"{name}_png"] == path
        assert Image.open(path).size == size, name
    assert os.listdir(os.path.join(model_dir, "logs", "latents"))
    assert "latents: KL per dimension " in stdout and "attribute_vectors.png" in stdout


def test_a_density_reports_log_p_of_the_8_bit_data_in_nats_and_bits(tmp_path):
    model_dir = str(tmp_path / "gaussian")
    result = _recipe(f"--model_dir={model_dir}", "--likelihood=gaussian_fixed",
                     "--dequantization_draws=2", "--epochs=1", *_TINY[1:])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test log P(x) of the 8-bit data >= -" in result.stdout
    assert "dequantized with u ~ U[0, 1) (2 draws)" in result.stdout
    results = json.load(open(os.path.join(model_dir, "results.json")))
    assert results["data"] == "8-bit" and results["dequantization_draws"] == 2
    num_dims = 28 * 28
    for nats, bits in (("log_likelihood", "bits_per_dim"), ("elbo", "elbo_bits_per_dim")):
        assert results[bits] == pytest.approx(-results[nats] / (num_dims * math.log(2)))


def test_a_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    model_dir = str(tmp_path / "killed")
    args = [f"--model_dir={model_dir}", "--epochs=200", "--steps_per_epoch=2", "--batch_size=8",
            "--latent_dim=4", "--base_filters=4", "--verbose=0", "--importance_samples=2"]
    killed_at = harness.kill_recipe_after("recipes.vae", *args, model_dir=model_dir,
                                          timeout=120)
    assert 2 <= killed_at < 200
    resumed = _recipe(*args[:1], f"--epochs={killed_at + 1}", *args[2:])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from epoch {killed_at}" in resumed.stderr
    state = os.path.join(model_dir, "checkpoints", "state.json")
    assert json.load(open(state))["epoch"] == killed_at + 1


@pytest.mark.parametrize("flag,message", [
    ("--latent_dim=0", "error: latent_dim must be a positive int; got 0."),
    ("--likelihood=poisson", "value should be one of"),
    ("--strategy=gpus", "value should be one of"),
    ("--batch_size=-4", "error: batch_size must be a positive int; got -4."),
    ("--beta=inf", "error: beta must be a finite number >= 0; got inf."),
    ("--beta=nan", "error: beta must be a finite number >= 0; got nan."),
    ("--fixed_scale=inf", "error: fixed_scale must be a finite number > 0; got inf."),
    ("--learning_rate=inf", "error: learning_rate must be a finite number > 0; got inf."),
    ("--dataset=folder:", "error: dataset='folder:' names no dataset"),
])
def test_bad_flags_fail_in_one_clear_line(flag, message, tmp_path):
    result = _recipe(*_TINY, f"--model_dir={tmp_path}", flag, timeout=120)
    assert result.returncode != 0
    assert message in result.stderr and flag.split("=")[0][2:] in result.stderr
    assert "Traceback" not in result.stderr
    assert not os.path.exists(tmp_path / "checkpoints")


def test_a_tfds_dataset_that_is_not_here_fails_in_one_line(tmp_path):
    result = _recipe("--dataset=mnist", "--download=false", f"--data_dir={tmp_path}",
                     f"--model_dir={tmp_path / 'run'}", timeout=120)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and "mnist" in last
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("case", ["model_dir_is_a_file", "export_dir_is_a_file", "locked"])
def test_unusable_output_folders_fail_in_one_line_before_training(tmp_path, case):
    afile = tmp_path / "afile"
    afile.write_text("x")
    model_dir = tmp_path / "run"
    args, expected = {
        "model_dir_is_a_file": ([f"--model_dir={afile}"], f"--model_dir={afile} is a file"),
        "export_dir_is_a_file": ([f"--model_dir={model_dir}", f"--export_dir={afile}"],
                                 f"--export_dir={afile} is a file"),
        "locked": ([f"--model_dir={model_dir}"], f"{model_dir} is in use by pid {os.getpid()}"),
    }[case]
    model_dir.mkdir()
    with lock.ModelDirLock(str(model_dir)) if case == "locked" else contextlib.nullcontext():
        result = _recipe(*args, *_TINY, timeout=120)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and expected in last, last
    assert "Traceback" not in result.stderr
    assert not os.path.exists(model_dir / "checkpoints")


def test_mixed_precision_and_jit_compile_run_end_to_end(tmp_path):
    """--mixed_precision (bfloat16 on this CPU) with --jit_compile trains, evaluates and
    exports: a finite log-likelihood and a SavedModel."""
    model_dir = str(tmp_path / "mixed")
    result = _recipe(f"--model_dir={model_dir}", "--epochs=1", "--steps_per_epoch=2",
                     "--batch_size=8", "--eval_batches=1", "--importance_samples=2",
                     "--latent_dim=4", "--network=mlp", "--verbose=2", "--mixed_precision",
                     "--jit_compile")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "mixed precision on CPU uses bfloat16" in result.stderr
    config = json.load(open(os.path.join(model_dir, "config.json")))
    assert config["mixed_precision"] is True and config["jit_compile"] is True, config
    results = json.load(open(os.path.join(model_dir, "results.json")))
    assert math.isfinite(results["log_likelihood"]) and results["log_likelihood"] < 0
    assert os.path.exists(os.path.join(model_dir, "export/1/saved_model.pb"))
