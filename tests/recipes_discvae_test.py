"""`python -m recipes.discvae` end to end on tiny budgets: layers, gate IoU, resuming, errors."""

import functools
import json
import os

import harness

_TINY = ["--epochs=1", "--steps_per_epoch=3", "--batch_size=16", "--foreground_dim=3",
         "--background_dim=2", "--base_filters=4", "--encoder_hidden=8",
         "--importance_samples=2", "--importance_examples=16", "--attribute_examples=32",
         "--classifier_examples=200", "--classifier_epochs=1", "--completion_steps=2",
         "--image_size=16", "--verbose=2"]


_recipe = functools.partial(harness.run_recipe, "recipes.discvae")


def test_a_shapes_run_reports_the_gate_and_resumes(tmp_path):
    model_dir = str(tmp_path / "run")
    result = _recipe(f"--model_dir={model_dir}", "--strategy=mirrored", *_TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    for line in ("test ELBO:", "attribute accuracy of generated images:",
                 "gate IoU with the true foreground masks:",
                 "mean |pixel change| when only z_F is redrawn: background"):
        assert line in result.stdout, (line, result.stdout)
    for path in ("samples/layers.png", "samples/samples_by_attribute.png",
                 "samples/progression.png", "samples/completion.png",
                 "export/1/saved_model.pb", "checkpoints/epoch-0001.weights.h5"):
        assert os.path.exists(os.path.join(model_dir, path)), path
    results = json.load(open(os.path.join(model_dir, "results.json")))
    assert 0 <= results["gate_iou"] <= 1 and 0 < results["gate_iou_all_foreground"] < 1
    assert results["gate_supervision_weight"] == 10.0
    assert results["background_change_when_zF_changes"] >= 0
    config = json.load(open(os.path.join(model_dir, "config.json")))
    assert config["foreground_dim"] == 3 and config["strategy"] == "mirrored"
    # Running again with one more epoch resumes (and reuses the cached classifier).
    again = _recipe(f"--model_dir={model_dir}", "--strategy=mirrored", *_TINY[1:], "--epochs=2")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming from epoch 1" in again.stderr
    assert os.path.exists(os.path.join(model_dir, "export/2/saved_model.pb"))


def test_bad_gate_flags_fail_in_one_clear_line():
    result = _recipe("--gate_supervision_weight=-1", timeout=120)
    assert result.returncode != 0
    assert "error: gate_supervision_weight must be a finite number >= 0" in result.stderr
    assert "Traceback" not in result.stderr
