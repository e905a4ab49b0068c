"""The rendered shapes dataset: determinism, masks, factors, one-factor batches."""

import math

import numpy as np
import pytest
import tensorflow as tf

from zoo.data import shapes

F = {name: i for i, name in enumerate(shapes.FACTOR_NAMES)}


def _factors(**values):
    row = [0.0, 0.2, 0.0, 0.0, 0.0, 0.0, 0.3]
    for name, value in values.items():
        row[F[name]] = value
    return tf.constant([row], tf.float32)


def test_same_seed_same_images_and_other_seed_other_images():
    first = next(iter(shapes.load("train", 16, num_examples=8, seed=3).dataset.batch(8)))
    again = next(iter(shapes.load("train", 16, num_examples=8, seed=3).dataset.batch(8)))
    other = next(iter(shapes.load("train", 16, num_examples=8, seed=4).dataset.batch(8)))
    test = next(iter(shapes.load("test", 16, num_examples=8, seed=3).dataset.batch(8)))
    np.testing.assert_array_equal(first["image"], again["image"])
    assert not np.array_equal(first["image"], other["image"])
    assert not np.array_equal(first["factors"], test["factors"])


def test_elements_have_documented_shapes_and_types():
    source = shapes.load("test", 24)
    assert source.num_examples == 2000 and source.image_shape == (24, 24, 3) and source.has_mask
    example = next(iter(source.dataset))
    assert example["image"].dtype == tf.uint8 and example["image"].shape == (24, 24, 3)
    assert example["mask"].shape == (24, 24, 1) and example["factors"].shape == (7,)
    assert example["attributes"].shape == (7,) and example["label"].dtype == tf.int64


def test_mask_marks_the_foreground_and_grows_with_scale():
    small = shapes.render(_factors(scale=0.12), 32)
    large = shapes.render(_factors(scale=0.28), 32)
    assert large["mask"].numpy().sum() > 3 * small["mask"].numpy().sum() > 0
    image, mask = large["image"].numpy()[0].astype(int), large["mask"].numpy()[0, ..., 0] > 0
    background = shapes.render(_factors(scale=0.28, position_x=1.0), 32)["image"].numpy()[0]
    changed = np.abs(image - background.astype(int)).sum(-1) > 30
    assert (changed & mask).sum() > 0.8 * (mask & ~(shapes.render(
        _factors(scale=0.28, position_x=1.0), 32)["mask"].numpy()[0, ..., 0] > 0)).sum()
    area = mask.mean()
    assert area == pytest.approx(math.pi * 0.28 ** 2, rel=0.1)  # A circle of radius 0.28.


def test_rotation_changes_a_square_but_not_a_circle():
    render = lambda **v: shapes.render(_factors(**v), 32)["image"].numpy().astype(int)  # noqa: E731
    circle = np.abs(render(shape=0.0, rotation=0.0) - render(shape=0.0, rotation=0.7)).max()
    square = np.abs(render(shape=1.0, rotation=0.0) - render(shape=1.0, rotation=0.7)).max()
    assert circle <= 2 and square > 100


def test_attributes_follow_the_factors():
    rows = tf.constant([[2.0, 0.27, 0, 0, 0, 0.68, 0.1], [0.0, 0.13, 0, 0, 0, 0.98, 0.1],
                        [1.0, 0.2, 0, 0, 0, 0.35, 0.1]])
    np.testing.assert_array_equal(shapes.attributes(rows),
                                  [[0, 0, 1, 0, 0, 1, 1], [1, 0, 0, 1, 0, 0, 0], [0, 1, 0, 0, 1, 0, 0]])
    factors = shapes.sample_factors(2000, 5).numpy()
    assert set(np.unique(factors[:, 0])) == {0.0, 1.0, 2.0}
    attributes = shapes.attributes(factors).numpy()
    np.testing.assert_array_equal(attributes[:, :3].sum(1), 1)
    np.testing.assert_array_equal(attributes[:, 3:6].sum(1), 1)


def test_the_shape_stays_inside_the_image_at_extreme_factors():
    corners = [[s, 0.28, r, px, py, 0.0, 0.5] for s in (0.0, 1.0, 2.0) for r in (0.0, 0.8)
               for px in (-1.0, 1.0) for py in (-1.0, 1.0)]
    masks = shapes.render(tf.constant(corners), 32)["mask"].numpy()[..., 0]
    borders = np.concatenate([masks[:, 0], masks[:, -1], masks[:, :, 0], masks[:, :, -1]], axis=1)
    assert borders.sum() == 0 and masks.sum(axis=(1, 2)).min() > 20


def test_factor_batches_vary_exactly_the_active_factor():
    seen = set()
    for batch in shapes.factor_batches(6, 16, seed=2).take(40):
        factors, active = batch["factors"].numpy(), int(batch["active_factor"])
        varying = {i for i in range(factors.shape[1]) if np.ptp(factors[:, i]) > 0}
        assert varying <= {active} and batch["image"].shape == (6, 16, 16, 3)
        if active != F["shape"]:
            assert varying == {active}
        seen.add(active)
    assert seen == set(range(len(shapes.FACTOR_NAMES)))


def test_factor_weights_pick_the_active_factor():
    batches = shapes.factor_batches(2, 16, seed=0, factor_weights={"scale": 1.0, "hue": 3.0})
    actives = [int(b["active_factor"]) for b in batches.take(60)]
    assert set(actives) == {F["scale"], F["hue"]} and actives.count(F["hue"]) > actives.count(F["scale"])
    with pytest.raises(ValueError, match="Unknown factors"):
        shapes.factor_batches(2, 16, factor_weights={"azimuth": 1.0})


def test_bad_arguments_name_the_value():
    with pytest.raises(ValueError, match="Unknown split 'validation'"):
        shapes.load("validation")
    with pytest.raises(ValueError, match="image_size must be an integer >= 16; got 8"):
        shapes.load("train", 8)
