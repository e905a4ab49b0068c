"""`python -m recipes.dcgan` and `recipes.gan_toy2d` end to end on tiny budgets."""

import json
import os

import pytest

import harness
from zoo.tasks import dcgan

_TINY = ["--epochs=2", "--steps_per_epoch=2", "--batch_size=16", "--latent_dim=4",
         "--base_filters=4", "--fid_samples=60", "--fid_classifier_epochs=1", "--verbose=2"]


def _recipe(name, *args, timeout=300):
    return harness.run_recipe(f"recipes.{name}", *args, timeout=timeout)


def test_a_killed_run_resumes_and_leaves_every_output_and_the_frechet_distance(tmp_path):
    model_dir = str(tmp_path / "run")
    fgan_flags = ["--loss=weighted_jensen_shannon", "--pi=0.3", "--generator_update=alternative",
                  "--d_steps=2", "--ema_decay=0.9", "--strategy=one_device"]
    args = [f"--model_dir={model_dir}", *_TINY[1:], *fgan_flags]
    killed_at = harness.kill_recipe_after("recipes.dcgan", *args, "--epochs=200",
                                          model_dir=model_dir)
    assert 2 <= killed_at < 200
    result = _recipe("dcgan", *args, f"--epochs={killed_at + 1}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"resuming from epoch {killed_at}" in result.stderr
    assert harness.history_epochs(model_dir)[-1] == killed_at
    assert "Fréchet distance (classifier features, 60 generated vs 60 real" in result.stdout
    assert "untrained generator" in result.stdout and "real test images score" in result.stdout
    for path in ("config.json", "results.json", "history.csv", "training_curves.png",
                 "checkpoints/state.json", f"checkpoints/epoch-{killed_at + 1:04d}.weights.h5",
                 "samples/samples.png", "samples/samples_epoch001.png",
                 f"samples/samples_epoch{killed_at + 1:03d}.png", "samples/real.png",
                 "fid/classifier.keras", "export/1/saved_model.pb"):
        assert os.path.exists(os.path.join(model_dir, path)), path
    assert {"train", "validation", "images"} <= set(os.listdir(os.path.join(model_dir, "logs")))
    results = json.load(open(os.path.join(model_dir, "results.json")))
    assert results["frechet_distance"] > 0 and results["frechet_distance_reference"] >= 0
    assert results["frechet_distance_untrained"] > 0
    assert results["fid_samples"] == 60 and "fid" not in results
    assert results["epochs"] == killed_at + 1
    config = json.load(open(os.path.join(model_dir, "config.json")))
    assert (config["task"], config["loss"], config["pi"], config["generator_update"]) == (
        "dcgan", "weighted_jensen_shannon", 0.3, "alternative")
    assert config["d_steps"] == 2 and config["global_batch_size"] == 16
    del config["task"]
    assert dcgan.DCGANConfig.from_dict(config).learning_rates() == (1e-4, 4e-4)
    assert config["beta1"] == 0.5 and config["strategy"] == "one_device"


_CHECK_FLAGS = r"""
import json, sys
from absl import flags
import recipes.dcgan
from recipes import flags as recipe_flags
from zoo.data import digits
from zoo.tasks import dcgan
source = digits.load("train")
messages = {}
for flag in sys.argv[1:]:
    flags.FLAGS.unparse_flags()
    try:
        flags.FLAGS(["dcgan", flag])
        dcgan.DCGANTask(recipe_flags.config_from_flags(dcgan.DCGANConfig)).build_model(source)
        messages[flag] = None
    except (flags.Error, ValueError, TypeError) as error:
        messages[flag] = str(error)
print(json.dumps(messages))
"""

# What the flags' parser, the config or the model's constructor says of each bad value.
_BAD_FLAGS = {
    "--pi=0.3": "GAN loss 'non_saturating' does not take pi=0.3; pi is for "
                "weighted_jensen_shannon.",
    "--generator_update=alternative": "GAN loss 'non_saturating' does not take "
                                      "generator_update='alternative'",
    "--d_steps=3": "batch_size=64 must be a multiple of d_steps=3",
    "--image_size=30": "it must halve down to a width of 3 to 7",
    "--ema_decay=1": "ema_decay must be in [0, 1); got 1.0",
    "--beta1=-0.1": "beta1 must be a finite number >= 0; got -0.1",
    "--latent_dim=0": "latent_dim must be a positive int; got 0",
    "--loss=hinge": "value should be one of",
    "--inception_weights=/no/such/file.h5": "inception_weights=/no/such/file.h5 is not a file",
}


def test_bad_flags_are_refused_with_a_clear_message():
    messages = harness.run_python_json("-c", _CHECK_FLAGS, *_BAD_FLAGS,
                                       "--loss=weighted_jensen_shannon", timeout=120)
    for flag, message in _BAD_FLAGS.items():
        assert messages[flag] and message in messages[flag], (flag, messages[flag])
    assert messages["--loss=weighted_jensen_shannon"] is None  # A good flag parses.


@pytest.mark.parametrize("recipe,flag,message", [
    ("dcgan", "--pi=0.3", "error: GAN loss 'non_saturating' does not take pi=0.3"),
    ("gan_toy2d", "--loss=minimax,hinge", "--loss must be a comma-separated list"),
])
def test_a_bad_flag_ends_the_recipe_in_one_clear_line(recipe, flag, message):
    result = _recipe(recipe, flag, timeout=120)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_the_toy_recipe_compares_losses(tmp_path):
    result = _recipe("gan_toy2d", "--loss=minimax,reverse_kl", "--steps=30",
                     "--num_samples=200", f"--output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["loss", "modes", "covered"]
    assert [line.split()[0] for line in lines[1:3]] == ["minimax", "reverse_kl"]
    assert sorted(os.listdir(tmp_path)) == ["minimax", "results.json", "reverse_kl",
                                            "samples.png"]
    results = json.load(open(tmp_path / "results.json"))
    assert set(results) == {"minimax", "reverse_kl"}
    assert all(0 <= r["modes_covered"] <= 8 and 0 <= r["high_quality_share"] <= 1
               for r in results.values())
    for loss in results:  # Each loss is a run of its own, as the runner lays it out.
        run = json.load(open(tmp_path / loss / "results.json"))
        assert run["modes_covered"] == results[loss]["modes_covered"]
        assert json.load(open(tmp_path / loss / "config.json"))["loss"] == loss
        assert os.path.exists(tmp_path / loss / "export" / "1" / "saved_model.pb")
