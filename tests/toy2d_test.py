"""The 2-D toy: mixtures, mode statistics, and a short run that clearly covers more modes."""

import json
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.data import mixtures
from zoo.metrics import modes
from zoo.models import gan
from zoo.tasks import gan_toy2d
from zoo.train import runner


def test_mixtures_are_where_they_say():
    ring = mixtures.make_mixture("ring", num_modes=8, radius=2.0, std=0.02)
    np.testing.assert_allclose(np.linalg.norm(ring.modes, axis=1), 2.0)
    assert ring.num_modes == 8
    grid = mixtures.make_mixture("grid", num_modes=9, radius=1.0)
    assert sorted(set(grid.modes[:, 0].round(6))) == [-1.0, 0.0, 1.0]
    samples = ring.sample(4000, seed=1)
    assert samples.shape == (4000, 2) and samples.dtype == np.float32
    np.testing.assert_array_equal(samples, ring.sample(4000, seed=1))
    batch = next(iter(ring.dataset(7, seed=2)))
    assert batch.shape == (7, 2)
    with pytest.raises(ValueError, match="Unknown mixture 'spiral'"):
        mixtures.make_mixture("spiral")
    with pytest.raises(ValueError, match="square number"):
        mixtures.make_mixture("grid", num_modes=8)
    with pytest.raises(ValueError, match="square number"):
        gan_toy2d.GANToy2DConfig(mixture="grid", num_modes=8)


def test_mode_statistics_of_data_and_of_a_collapsed_sampler():
    ring = mixtures.make_mixture("ring")
    real = modes.mode_statistics(ring.sample(20000, seed=3), ring.modes, ring.std)
    assert real["modes_covered"] == 8
    assert real["high_quality_share"] == pytest.approx(1 - math.exp(-4.5), abs=0.005)
    assert real["mode_jsd"] < 1e-3
    assert sum(real["mode_shares"]) == pytest.approx(real["high_quality_share"])
    collapsed = ring.modes[2] + ring.std * np.random.default_rng(0).normal(size=(5000, 2))
    stats = modes.mode_statistics(collapsed, ring.modes, ring.std)
    assert stats["modes_covered"] == 1 and stats["high_quality_share"] > 0.95
    assert stats["mode_jsd"] > 0.4
    blurred = modes.mode_statistics(np.random.default_rng(1).normal(size=(5000, 2)),
                                    ring.modes, ring.std)
    assert blurred["high_quality_share"] < 0.05
    assert blurred["mode_jsd"] > 0.5


def test_a_short_run_covers_many_more_modes_and_lowers_the_divergence(tmp_path):
    config = gan_toy2d.GANToy2DConfig(loss="non_saturating", std=0.05, steps_per_epoch=1000,
                                      num_samples=2000, model_dir=str(tmp_path))
    mixture = config.make_mixture()
    keras.utils.set_random_seed(config.seed)
    untrained = gan.MLPGAN(config.latent_dim, config.hidden, seed=config.seed)
    before = modes.mode_statistics(untrained.sample(2000, seed=1), mixture.modes, mixture.std)
    task = gan_toy2d.GANToy2DTask(config)
    after = runner.run(task)
    assert before["modes_covered"] <= 1
    assert after["modes_covered"] >= before["modes_covered"] + 5
    assert after["mode_jsd"] < before["mode_jsd"] - 0.25
    assert after["high_quality_share"] > before["high_quality_share"] + 0.25
    assert task.samples.shape == (2000, 2)
    assert {"config.json", "model.json", "results.json", "samples.png", "history.csv",
            "export"} <= set(os.listdir(tmp_path))
    saved = json.load(open(tmp_path / "results.json"))
    assert saved["modes_covered"] == after["modes_covered"] and saved["steps"] == 1000
    assert json.load(open(tmp_path / "config.json"))["task"] == "gan_toy2d"
    # The export maps latents to points, and judges points.
    exported = tf.saved_model.load(after["export_path"])
    points = exported.signatures["generate"](latents=tf.zeros([3, 2]))["points"]
    assert points.shape == (3, 2)
    logits = exported.signatures["discriminate"](points=points)["logits"]
    assert logits.shape == (3,)
