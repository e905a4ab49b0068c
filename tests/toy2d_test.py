"""The 2-D toy: mixtures, mode statistics, and a short run that clearly covers more modes."""

import json
import math
import os

import numpy as np
import pytest

from zoo import toy2d


def test_mixtures_are_where_they_say():
    ring = toy2d.make_mixture("ring", num_modes=8, radius=2.0, std=0.02)
    np.testing.assert_allclose(np.linalg.norm(ring.modes, axis=1), 2.0)
    assert ring.num_modes == 8
    grid = toy2d.make_mixture("grid", num_modes=9, radius=1.0)
    assert sorted(set(grid.modes[:, 0].round(6))) == [-1.0, 0.0, 1.0]
    samples = ring.sample(4000, seed=1)
    assert samples.shape == (4000, 2) and samples.dtype == np.float32
    np.testing.assert_array_equal(samples, ring.sample(4000, seed=1))
    batch = next(iter(ring.dataset(7, seed=2)))
    assert batch.shape == (7, 2)
    with pytest.raises(ValueError, match="Unknown mixture 'spiral'"):
        toy2d.make_mixture("spiral")
    with pytest.raises(ValueError, match="square number"):
        toy2d.make_mixture("grid", num_modes=8)


def test_mode_statistics_of_data_and_of_a_collapsed_sampler():
    ring = toy2d.make_mixture("ring")
    real = toy2d.mode_statistics(ring.sample(20000, seed=3), ring)
    assert real["modes_covered"] == 8
    assert real["high_quality_share"] == pytest.approx(1 - math.exp(-4.5), abs=0.005)
    assert real["mode_jsd"] < 1e-3
    assert sum(real["mode_shares"]) == pytest.approx(real["high_quality_share"])
    collapsed = ring.modes[2] + ring.std * np.random.default_rng(0).normal(size=(5000, 2))
    stats = toy2d.mode_statistics(collapsed, ring)
    assert stats["modes_covered"] == 1 and stats["high_quality_share"] > 0.95
    assert stats["mode_jsd"] > 0.4
    blurred = toy2d.mode_statistics(np.random.default_rng(1).normal(size=(5000, 2)), ring)
    assert blurred["high_quality_share"] < 0.05
    assert blurred["mode_jsd"] > 0.5


def test_a_short_run_covers_many_more_modes_and_lowers_the_divergence(tmp_path):
    config = toy2d.ToyConfig(losses=("non_saturating",), std=0.05, steps=1000, seed=0,
                             num_samples=2000)
    mixture = toy2d.make_mixture("ring", std=config.std)
    untrained = toy2d.build_gan("non_saturating", config.latent_dim, seed=config.seed)
    before, _ = toy2d.evaluate(untrained, mixture, 2000)
    results = toy2d.run(config, str(tmp_path))
    after = results["non_saturating"]
    assert before["modes_covered"] <= 1
    assert after["modes_covered"] >= before["modes_covered"] + 5
    assert after["mode_jsd"] < before["mode_jsd"] - 0.25
    assert after["high_quality_share"] > before["high_quality_share"] + 0.25
    assert sorted(os.listdir(tmp_path)) == ["config.json", "results.json", "samples.png"]
    saved = json.load(open(tmp_path / "results.json"))
    assert saved["non_saturating"]["modes_covered"] == after["modes_covered"]
