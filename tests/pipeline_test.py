"""tf.data pipelines: encodings, global batches, resizing, determinism."""

import numpy as np
import pytest
import tensorflow as tf

from zoo.data import pipeline
from zoo.data.source import Source


def _source(count=10, size=8, channels=1, with_mask=False):
    rng = np.random.default_rng(0)
    data = {"image": rng.integers(0, 256, size=(count, size, size, channels), dtype=np.uint8),
            "label": np.arange(count, dtype=np.int64)}
    if with_mask:
        data["mask"] = (rng.uniform(size=(count, size, size, 1)) > 0.5).astype(np.uint8)
    return Source("toy", tf.data.Dataset.from_tensor_slices(data), (size, size, channels), count,
                  has_mask=with_mask)


def test_encodings_place_pixels_in_unit_range():
    pixels = tf.constant([0, 1, 128, 255], tf.uint8)
    np.testing.assert_allclose(pipeline.encode_images(pixels, "discrete"),
                               [0, 1 / 255, 128 / 255, 1])
    np.testing.assert_allclose(pipeline.encode_images(pixels, "dequantized"),
                               (np.array([0, 1, 128, 255]) + 0.5) / 256)
    noisy = pipeline.encode_images(tf.fill([10000], tf.constant(100, tf.uint8)), "dequantized",
                                   tf.constant([1, 2], tf.int64)).numpy()
    assert noisy.min() >= 100 / 256 and noisy.max() < 101 / 256
    binary = pipeline.encode_images(tf.fill([20000], tf.constant(64, tf.uint8)), "binary",
                                    tf.constant([1, 2], tf.int64)).numpy()
    assert set(np.unique(binary)) <= {0.0, 1.0}
    assert binary.mean() == pytest.approx(64 / 255, abs=0.01)
    with pytest.raises(ValueError, match="Unknown encoding 'logit'"):
        pipeline.encode_images(pixels, "logit")


def test_dequantized_values_stay_in_their_pixels_bin():
    # float32 rounds pixel + u up to pixel + 1 for u within 2^-17 of 1 (5 of these
    # 1,024,000 values before the clamp): floor(256 y) must still give the pixel.
    pixels = tf.cast(tf.tile(tf.range(256)[None], [4000, 1]), tf.uint8)
    values = pipeline.encode_images(pixels, "dequantized", tf.constant([1, 2], tf.int64)).numpy()
    np.testing.assert_array_equal(np.floor(values * 256), pixels.numpy())


def test_training_stream_has_full_global_batches_and_new_draws_each_pass():
    data = pipeline.make_dataset(_source(10), 4, "binary", training=True, seed=1,
                                 keys=("image", "label"))
    batches = list(data.take(5))
    assert all(b["image"].shape == (4, 8, 8, 1) for b in batches)
    labels = np.concatenate([b["label"].numpy() for b in batches])
    assert sorted(labels[:8]) != list(range(8))  # Shuffled.
    again = list(pipeline.make_dataset(_source(10), 4, "binary", training=True, seed=1,
                                       keys=("image", "label")).take(5))
    np.testing.assert_array_equal(np.concatenate([b["image"] for b in batches]),
                                  np.concatenate([b["image"] for b in again]))


def test_evaluation_stream_is_finite_deterministic_and_keeps_the_remainder():
    make = lambda: pipeline.make_dataset(_source(10), 4, "binary", training=False)  # noqa: E731
    first, second = list(make()), list(make())
    assert [b["image"].shape[0] for b in first] == [4, 4, 2]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a["image"], b["image"])


def test_evaluation_dequantizes_with_seeded_uniform_noise_not_the_midpoint():
    # The bound E_u log p((x + u) / 256) - D log 256 <= log P(x) needs u ~ U[0, 1).
    make = lambda seed: pipeline.make_dataset(  # noqa: E731
        _source(10), 4, "dequantized", training=False, seed=seed)
    first, again, other = (np.concatenate([b["image"] for b in make(s)]) for s in (0, 0, 1))
    pixels = np.concatenate([b["image"] for b in _source(10).dataset.batch(10)])
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(np.floor(first * 256), pixels)
    assert not np.allclose(first, other)
    noise = first * 256 - pixels
    assert abs(noise.mean() - 0.5) < 0.05 and abs(noise.var() - 1 / 12) < 0.01


def test_resizing_and_channel_conversion_keep_masks_binary():
    data = pipeline.make_dataset(_source(4, size=16, with_mask=True), 2, "discrete", training=False,
                                 image_size=8, channels=3, keys=("image", "mask"))
    batch = next(iter(data))
    assert batch["image"].shape == (2, 8, 8, 3) and batch["mask"].shape == (2, 8, 8, 1)
    assert set(np.unique(batch["mask"].numpy())) <= {0, 1}
    np.testing.assert_allclose(batch["image"][..., 0], batch["image"][..., 2])


def test_missing_keys_and_bad_sizes_are_named():
    with pytest.raises(ValueError, match=r"has no \['attributes'\]"):
        pipeline.make_dataset(_source(), 2, "discrete", training=True, keys=("image", "attributes"))
    with pytest.raises(ValueError, match="global_batch_size must be positive"):
        pipeline.make_dataset(_source(), 0, "discrete", training=True)
    assert pipeline.steps_per_epoch(_source(10), 4) == 2
