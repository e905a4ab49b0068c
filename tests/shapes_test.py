"""Tests of zoo.data.shapes: rendering, masks, attributes, splits, one-factor batches."""

import math

import numpy as np
import pytest
import tensorflow as tf

from zoo.data import shapes

__all__ = []

F = {name: i for i, name in enumerate(shapes.FACTOR_NAMES)}
CIRCLE, SQUARE, TRIANGLE = 0.0, 1.0, 2.0


def _rows(*overrides):
    """float32 [N, F]: a mid-sized red circle in the middle, with overrides per row."""
    base = {"shape": CIRCLE, "scale": 0.25, "rotation": 0.0, "position_x": 0.0,
            "position_y": 0.0, "hue": 0.0, "background": 0.3}
    return tf.constant([[{**base, **row}[name] for name in shapes.FACTOR_NAMES]
                        for row in overrides], tf.float32)


def _render(*overrides, size=32):
    rendered = shapes.render(_rows(*overrides), size)
    return rendered["image"].numpy().astype(int), rendered["mask"].numpy()[..., 0].astype(bool)


def _first(source, count):
    batch = next(iter(source.dataset.batch(count)))
    return {key: value.numpy() for key, value in batch.items()}


def test_same_seed_same_examples_other_seed_or_split_other_examples():
    first = _first(shapes.load("train", 16, num_examples=6, seed=3), 6)
    again = _first(shapes.load("train", 16, num_examples=6, seed=3), 6)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    other_seed = _first(shapes.load("train", 16, num_examples=6, seed=4), 6)
    test_split = _first(shapes.load("test", 16, num_examples=6, seed=3), 6)
    for other in (other_seed, test_split):
        assert not np.array_equal(first["image"], other["image"])
        assert not np.isin(first["factors"][:, F["scale"]], other["factors"][:, F["scale"]]).any()
    longer = _first(shapes.load("train", 16, num_examples=9, seed=3), 9)
    np.testing.assert_array_equal(longer["image"][:6], first["image"])


def test_elements_have_documented_shapes_types_and_metadata():
    source = shapes.load("test", 24)
    assert (source.name, source.num_examples, source.image_shape) == ("shapes", 2000, (24, 24, 3))
    assert source.has_mask and source.factor_names == shapes.FACTOR_NAMES
    assert source.attribute_names == shapes.ATTRIBUTE_NAMES
    assert shapes.load("train", 16).num_examples == 20_000
    spec = source.dataset.element_spec
    expected = {"image": ((24, 24, 3), tf.uint8), "mask": ((24, 24, 1), tf.uint8),
                "factors": ((7,), tf.float32), "attributes": ((7,), tf.float32),
                "label": ((), tf.int64)}
    assert {key: (tuple(s.shape), s.dtype) for key, s in spec.items()} == expected
    arrays = _first(source, 5)
    assert set(np.unique(arrays["mask"])) <= {0, 1}
    np.testing.assert_array_equal(arrays["label"], arrays["factors"][:, F["shape"]])
    np.testing.assert_array_equal(arrays["attributes"], shapes.attributes(arrays["factors"]))


def test_render_works_on_empty_batches_and_in_graphs_of_unknown_batch_size():
    empty = shapes.render(tf.zeros([0, 7]), 20)
    assert empty["image"].shape == (0, 20, 20, 3) and empty["mask"].shape == (0, 20, 20, 1)
    graph_render = tf.function(lambda rows: shapes.render(rows, 20),
                               input_signature=[tf.TensorSpec([None, 7], tf.float32)])
    rows = shapes.sample_factors(tf.constant(3), tf.constant([1, 2], tf.int32))
    np.testing.assert_array_equal(graph_render(rows)["image"], shapes.render(rows, 20)["image"])


def test_sampled_factors_cover_their_documented_ranges():
    factors = shapes.sample_factors(3000, 5).numpy()
    assert factors.shape == (3000, 7) and factors.dtype == np.float32
    np.testing.assert_array_equal(np.unique(factors[:, F["shape"]]), [0.0, 1.0, 2.0])
    for name in ("scale", "rotation", "position_x", "position_y", "background"):
        low, high = shapes.FACTOR_RANGES[name]
        column = factors[:, F[name]]
        assert low <= column.min() < low + 0.02 * (high - low), name
        assert high - 0.02 * (high - low) < column.max() <= high, name
    distance_to_class = np.abs((factors[:, F["hue"]] * 3 + 0.5) % 1 - 0.5) / 3
    assert distance_to_class.max() <= 0.04 + 1e-6 and distance_to_class.max() > 0.035


def _rim(mask):
    """The mask grown by one pixel in every direction."""
    grown = tf.nn.max_pool2d(mask[..., None].astype(np.float32), 3, 1, "SAME")
    return grown.numpy()[..., 0].astype(bool)


def test_mask_pixels_differ_from_the_background_and_nothing_else_does():
    # The same circle over the same background, once top-left and once bottom-right: where
    # the masks do not overlap, the other image shows the background.
    (left, right), masks = _render(
        {"position_x": -1.0, "position_y": -1.0}, {"position_x": 1.0, "position_y": 1.0})
    assert masks[0].sum() > 50 and not (masks[0] & masks[1]).any()
    difference = np.abs(left - right).sum(-1)
    assert difference[masks[0] | masks[1]].min() > 100
    assert not difference[~_rim(masks).any(0)].any()
    # Changing only the colour changes the masked pixels and at most a one-pixel rim.
    (red, green), masks = _render({"shape": TRIANGLE, "rotation": 0.4},
                                  {"shape": TRIANGLE, "rotation": 0.4, "hue": 1 / 3})
    np.testing.assert_array_equal(masks[0], masks[1])
    difference = np.abs(red - green).sum(-1)
    assert difference[masks[0]].min() > 100 and not difference[~_rim(masks[:1])[0]].any()


def test_mask_area_grows_with_scale_and_matches_each_shape_area():
    scales = np.linspace(*shapes.FACTOR_RANGES["scale"], 4)
    for shape, area in ((CIRCLE, math.pi), (SQUARE, 2.0), (TRIANGLE, 3 * math.sqrt(3) / 4)):
        _, masks = _render(*[{"shape": shape, "scale": s, "rotation": 0.3} for s in scales],
                           size=64)
        fractions = masks.mean(axis=(1, 2))
        assert (np.diff(fractions) > 0).all(), shape
        np.testing.assert_allclose(fractions, area * scales ** 2, rtol=0.06)


def test_rotation_leaves_a_circle_unchanged_but_turns_a_square_and_a_triangle():
    def rotation_change(shape, angle):
        images, _ = _render({"shape": shape}, {"shape": shape, "rotation": angle})
        return np.abs(images[0] - images[1]).max()

    assert rotation_change(CIRCLE, 0.7) <= 1 and rotation_change(CIRCLE, 1.5) <= 1
    assert rotation_change(SQUARE, math.pi / 4) > 100
    assert rotation_change(TRIANGLE, math.pi / 3) > 100
    assert rotation_change(SQUARE, math.pi / 2) <= 1  # A square's period.


def test_attributes_follow_the_factors_and_the_rendered_colours():
    rows = _rows({"shape": TRIANGLE, "scale": 0.3, "hue": 0.69},
                 {"shape": CIRCLE, "scale": 0.15, "hue": 0.98},
                 {"shape": SQUARE, "scale": 0.22, "hue": 0.35},
                 {"shape": SQUARE, "scale": 0.24, "hue": 0.01})
    np.testing.assert_array_equal(shapes.attributes(rows), [[0, 0, 1, 0, 0, 1, 1],
                                                            [1, 0, 0, 1, 0, 0, 0],
                                                            [0, 1, 0, 0, 1, 0, 0],
                                                            [0, 1, 0, 1, 0, 0, 1]])
    arrays = _first(shapes.load("test", 16, num_examples=300, seed=1), 300)
    values = arrays["attributes"]
    assert values.dtype == np.float32 and set(np.unique(values)) == {0.0, 1.0}
    np.testing.assert_array_equal(values[:, :3].argmax(1), arrays["label"])
    np.testing.assert_array_equal(values[:, :3].sum(1), 1)
    np.testing.assert_array_equal(values[:, 3:6].sum(1), 1)
    np.testing.assert_array_equal(values[:, 6], arrays["factors"][:, F["scale"]] > 0.23)
    assert 0.3 < values[:, 6].mean() < 0.7 and (values[:, :6].mean(0) > 0.25).all()
    mask = arrays["mask"].astype(bool)[..., 0]
    mean_colour = (arrays["image"] * mask[..., None]).sum((1, 2)) / mask.sum((1, 2))[:, None]
    np.testing.assert_array_equal(mean_colour.argmax(1), values[:, 3:6].argmax(1))


@pytest.mark.parametrize("size", [16, 64])
def test_the_shape_stays_inside_the_image_at_extreme_factors(size):
    scale = shapes.FACTOR_RANGES["scale"][1]
    corners = [{"shape": s, "scale": scale, "rotation": r, "position_x": x, "position_y": y}
               for s in (CIRCLE, SQUARE, TRIANGLE) for r in (0.0, math.pi / 4, 1.5)
               for x in (-1.0, 1.0) for y in (-1.0, 1.0)]
    _, masks = _render(*corners, size=size)
    borders = np.concatenate([masks[:, 0], masks[:, -1], masks[:, :, 0], masks[:, :, -1]], 1)
    assert not borders.any() and masks.sum((1, 2)).min() > 0.1 * size ** 2
    # At position +-1 the circle reaches the margin of 1/16 of the side.
    _, (left, right) = _render({"position_x": -1.0, "scale": scale},
                               {"position_x": 1.0, "scale": scale}, size=size)
    margin = size // 16
    assert left[:, margin].any() and right[:, -1 - margin].any()


def _varying_columns(factors):
    return {i for i in range(factors.shape[1]) if np.ptp(factors[:, i]) > 0}


def test_factor_batches_vary_exactly_the_active_factor():
    batches = shapes.factor_batches(5, 16, seed=2)
    spec = batches.element_spec
    assert spec["image"].shape == (5, 16, 16, 3) and spec["mask"].shape == (5, 16, 16, 1)
    assert spec["factors"].shape == (5, 7) and spec["active_factor"].shape == ()
    assert spec["active_factor"].dtype == tf.int32 and spec["image"].dtype == tf.uint8
    seen = set()
    for batch in batches.take(60):
        factors, active = batch["factors"].numpy(), int(batch["active_factor"])
        name = shapes.FACTOR_NAMES[active]
        varying = _varying_columns(factors)
        # Draws of the categorical `shape` may all agree; every other factor is continuous.
        assert varying == {active} or (name == "shape" and not varying)
        masks_agree = (batch["mask"].numpy() == batch["mask"].numpy()[:1]).all()
        if name in ("hue", "background"):
            assert masks_agree
        elif name != "rotation" and varying:  # Rotations of a circle look the same.
            assert not masks_agree
        seen.add(active)
    assert seen == set(range(len(shapes.FACTOR_NAMES)))


def test_factor_batches_are_deterministic_from_the_seed():
    def first_batches(seed):
        return [b["image"].numpy() for b in shapes.factor_batches(3, 16, seed=seed).take(3)]

    first, again, other = first_batches(7), first_batches(7), first_batches(8)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_factor_weights_set_how_often_each_factor_varies():
    batches = shapes.factor_batches(2, 16, seed=0, factor_weights={"scale": 1.0, "hue": 3.0,
                                                                   "rotation": 0.0})
    actives = [int(b["active_factor"]) for b in batches.take(80)]
    assert set(actives) == {F["scale"], F["hue"]}
    assert 0.6 < actives.count(F["hue"]) / len(actives) < 0.9


def test_bad_arguments_raise_errors_that_name_the_value_and_the_choices():
    with pytest.raises(ValueError, match=r"Unknown split 'validation'.*\['test', 'train'\]"):
        shapes.load("validation")
    for size in (8, 15, 32.0, None):
        with pytest.raises(ValueError, match=f"image_size must be an integer >= 16; got {size}"):
            shapes.load("train", size)
    with pytest.raises(ValueError, match="num_examples must be an integer >= 0 or None; got -1"):
        shapes.load("train", num_examples=-1)
    with pytest.raises(ValueError, match=r"Unknown factors \['azimuth'\]"):
        shapes.factor_batches(2, 16, factor_weights={"azimuth": 1.0})
    for weights in ({"scale": -1.0}, {"scale": 0.0}):
        with pytest.raises(ValueError, match="factor_weights must be finite, >= 0 and not all 0"):
            shapes.factor_batches(2, 16, factor_weights=weights)
    with pytest.raises(ValueError, match="image_size must be an integer >= 16; got 12"):
        shapes.factor_batches(2, 12)
    with pytest.raises(ValueError, match="batch_size must be a positive integer; got 0"):
        shapes.factor_batches(0)
