"""`python -m recipes.vqvae` end to end on tiny budgets: both stages, resuming, the export."""

import functools
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import harness
import zoo
from zoo.tasks import vqvae as vqvae_task
from zoo.train import runner

_TINY = ["--epochs=2", "--prior_epochs=2", "--steps_per_epoch=3", "--batch_size=16",
         "--num_codes=8", "--embedding_dim=4", "--filters=8", "--residual_blocks=1",
         "--prior_filters=8", "--prior_layers=2", "--fid_samples=40",
         "--fid_classifier_epochs=1", "--eval_batches=2", "--verbose=2"]

_recipe = functools.partial(harness.run_recipe, "recipes.vqvae")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A whole run, both stages and the VAE baseline: (model_dir, CompletedProcess)."""
    model_dir = str(tmp_path_factory.mktemp("vqvae") / "run")
    result = _recipe(f"--model_dir={model_dir}", "--baselines=vae", "--importance_samples=4",
                     *_TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    return model_dir, result


def test_both_stages_leave_their_outputs_and_the_run_prints_the_bound(tiny_run):
    model_dir, result = tiny_run
    for path in ("config.json", "model.json", "results.json", "checkpoints/state.json",
                 "samples/prior_samples.png", "samples/reconstructions.png",
                 "export/1/saved_model.pb", "autoencoder/checkpoints/state.json",
                 "autoencoder/code_usage.png", "autoencoder/samples/reconstructions.png",
                 "autoencoder/logs/codebook",
                 "autoencoder/export/1/saved_model.pb", "vae/results.json", "fid/classifier.keras"):
        assert os.path.exists(os.path.join(model_dir, path)), path
    assert "autoencoder: test log P(x | z_q) of the binarized data = -" in result.stdout
    assert "test log P(x) of the binarized data >= log P(x | z_q) + log p(z_q) = -" in (
        result.stdout)
    assert "baseline vae: test ELBO: log P(x) of the binarized data >= -" in result.stdout
    results = json.load(open(os.path.join(model_dir, "results.json")))
    stage1, vae = results["autoencoder"], results["baselines"]["vae"]
    assert 1.0 <= stage1["perplexity"] <= 8 and sum(stage1["code_counts"]) > 0
    # The bound is the reconstruction plus the prior's log-probability, both in nats.
    assert results["elbo"] == pytest.approx(results["reconstruction"] - results["kl"], abs=1e-3)
    assert results["kl"] > 0 and results["frechet_distance"] > 0
    assert vae["frechet_distance"] > 0 and vae["data"] == results["data"] == "binarized"
    assert json.load(open(os.path.join(model_dir, "config.json")))["task"] == "vqvae"


def test_the_export_serves_every_signature_without_zoo(tiny_run):
    model_dir, _ = tiny_run
    rng = np.random.default_rng(0)
    images = (rng.uniform(size=(3, 28, 28, 1)) > 0.5).astype(np.float32)
    inputs = {"images": images, "indices": rng.integers(0, 8, (3, 7, 7)).astype(np.int32),
              "noise": rng.uniform(size=(3, 7, 7)).astype(np.float32)}
    served = harness.load_in_fresh_process(os.path.join(model_dir, "export", "1"), inputs)
    assert set(served) >= {"encode", "decode", "reconstruct", "sample", "serving_default"}
    indices = served["encode"]["indices"]
    assert indices.shape == (3, 7, 7) and indices.min() >= 0 and indices.max() < 8
    sampled = served["sample"]["images"]
    assert sampled.shape == (3, 28, 28, 1) and 0 <= sampled.min() and sampled.max() <= 1
    model = zoo.load_run(model_dir)  # The whole model: the same samples from the same noise.
    np.testing.assert_allclose(model.sample_from_noise(inputs["noise"]), sampled, atol=1e-5)
    np.testing.assert_allclose(model.decode(indices), served["reconstruct"]["reconstructions"],
                               atol=1e-5)


def test_recipes_sample_draws_from_the_prior_of_the_run(tiny_run, tmp_path):
    model_dir, _ = tiny_run
    result = harness.run_recipe("recipes.sample", f"--model_dir={model_dir}",
                                "--num_samples=5", f"--output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(tmp_path)) == ["grid.png"] + [f"sample_{i:03d}.png"
                                                           for i in range(5)]


@pytest.mark.parametrize("name, value, message", [
    ("noise", np.full((1, 7, 7), 1.5, np.float32), "noise in"),
    ("indices", np.full((1, 7, 7), 8, np.int32), r"in \[0, 8\)"),
    ("indices", np.zeros((1, 6, 7), np.int32), r"shape \[N, 7, 7\]")])
def test_the_export_refuses_bad_noise_and_indices_in_one_line(tiny_run, name, value, message):
    model_dir, _ = tiny_run
    served = tf.saved_model.load(os.path.join(model_dir, "export", "1"))
    signature = {"noise": "sample", "indices": "decode"}[name]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        served.signatures[signature](**{name: tf.constant(value)})


def test_a_rerun_skips_the_finished_autoencoder_and_resumes_the_prior(tiny_run, tmp_path):
    model_dir, _ = tiny_run
    again = _recipe(f"--model_dir={model_dir}", "--baselines=", *_TINY[:1],
                    "--prior_epochs=3", *_TINY[2:])
    assert again.returncode == 0, again.stderr[-3000:]
    assert "the autoencoder stage is complete" in again.stderr
    assert "resuming from epoch 2" in again.stderr
    assert harness.history_epochs(model_dir) == [0, 1, 2]
    assert harness.history_epochs(os.path.join(model_dir, "autoencoder")) == [0, 1]
    # A new prior on the same autoencoder takes the autoencoder's settings from its run.
    prior = vqvae_task.VQVAETask(vqvae_task.VQVAEConfig(
        stage="prior", autoencoder_dir=f"{model_dir}/autoencoder", num_codes=99,
        model_dir=str(tmp_path / "other_prior")))
    assert prior.config.num_codes == 8 and prior.config.embedding_dim == 4
    assert prior.prerequisites() == {}
    with pytest.raises(ValueError, match=f"^--stage=prior: model directory {tmp_path}/none "
                       "does not exist"):
        vqvae_task.VQVAETask(vqvae_task.VQVAEConfig(
            stage="prior", autoencoder_dir=f"{tmp_path}/none", model_dir=f"{tmp_path}/x"))


def test_a_run_killed_in_the_autoencoder_stage_resumes_it_then_trains_the_prior(tmp_path):
    model_dir = str(tmp_path / "killed")
    tiny = ["--baselines=", *_TINY[1:]]
    killed_at = harness.kill_recipe_after(
        "recipes.vqvae", f"--model_dir={model_dir}", "--epochs=40", *tiny,
        model_dir=os.path.join(model_dir, "autoencoder"), epochs=1)
    assert not os.path.exists(os.path.join(model_dir, "checkpoints"))  # Stage 2 never began.
    result = _recipe(f"--model_dir={model_dir}", f"--epochs={killed_at + 1}", *tiny)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"resuming from epoch {killed_at}" in result.stderr
    assert harness.history_epochs(os.path.join(model_dir, "autoencoder")) == list(
        range(killed_at + 1))
    assert harness.history_epochs(model_dir) == [0, 1]
    assert os.path.exists(os.path.join(model_dir, "export", "1", "saved_model.pb"))


def test_a_conditional_prior_trains_on_the_attributes_and_samples_them(tmp_path):
    settings = dict(epochs=1, prior_epochs=1, steps_per_epoch=2, global_batch_size=16,
                    num_codes=4, embedding_dim=2, filters=4, residual_blocks=0,
                    prior_filters=4, prior_layers=1, fid_samples=20, fid_classifier_epochs=1,
                    eval_batches=1, baselines=(), verbose=0, conditional_prior=True)
    config = vqvae_task.VQVAEConfig(model_dir=str(tmp_path / "run"), **settings)
    results = runner.run(vqvae_task.VQVAETask(config))
    assert results["frechet_distance"] > 0 and results["kl"] > 0
    served = tf.saved_model.load(results["export_path"])
    images = served.signatures["sample"](noise=tf.fill([2, 7, 7], 0.5),
                                         attributes=tf.one_hot([1, 8], 10))["images"]
    assert images.shape == (2, 28, 28, 1)
    (tmp_path / "pngs").mkdir()
    for index in range(12):  # A folder of images has no attributes.
        Image.fromarray(np.full((28, 28), 20 * index, np.uint8)).save(
            tmp_path / "pngs" / f"{index}.png")
    with pytest.raises(ValueError, match="--conditional_prior needs attributes"):
        runner.run(vqvae_task.VQVAETask(vqvae_task.VQVAEConfig(
            model_dir=str(tmp_path / "no_attributes"), dataset="folder:" + str(tmp_path / "pngs"),
            **settings)))
    assert not os.path.exists(tmp_path / "no_attributes" / "autoencoder" / "checkpoints")


@pytest.mark.parametrize("settings, message", [
    ({"ema_decay": 1.0}, "ema_decay=1.0 must be below 1"),
    ({"baselines": ("vae", "gan")}, r"unknown baselines \['gan'\]"),
    ({"stage": "both"}, "stage='both' is not allowed"),
    ({"num_codes": 0}, "num_codes")])
def test_bad_settings_are_refused_in_one_line(settings, message):
    with pytest.raises(ValueError, match=message):
        vqvae_task.VQVAEConfig(**settings)
