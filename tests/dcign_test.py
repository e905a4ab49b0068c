"""DC-IGN: groups, clamped training steps, one-factor batches, learning, saving, export."""

import json
import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import harness
from zoo import export
from zoo import random as zoo_random
from zoo.data import factor_batches
from zoo.data import shapes
from zoo.data import tfds_source
from zoo.data.source import Source
from zoo.models.dcign import DCIGN
from zoo.metrics import disentanglement
from zoo.tasks import dcign as dcign_task

RNG = np.random.default_rng(2)
GROUPS = [("scale", 1), ("rotation", 2), ("position_x", 1)]
SHAPES = {name: i for i, name in enumerate(shapes.FACTOR_NAMES)}


def _model(**kwargs):
    defaults = dict(intrinsic_dim=3, dataset_factor_names=shapes.FACTOR_NAMES,
                    base_filters=4, seed=5)
    return DCIGN((16, 16, 3), GROUPS, **{**defaults, **kwargs})


def _images(batch=6, shape=(16, 16, 3)):
    return RNG.uniform(size=(batch, *shape)).astype(np.float32)


def _grid_source(name="grid"):
    """A full factor grid: a bright 4x4 square at (x, y) of 8 x 8 places, 3 brightnesses."""
    x, y, level = (a.reshape(-1) for a in np.meshgrid(np.arange(8), np.arange(8), np.arange(3),
                                                       indexing="ij"))
    images = np.zeros((len(x), 16, 16, 1), np.uint8)
    for index, (i, j, k) in enumerate(zip(x, y, level)):
        top, left = 1 + (12 * j) // 7 - 1, 1 + (12 * i) // 7 - 1
        images[index, top:top + 4, left:left + 4] = (255, 180, 110)[k]
    factors = np.stack([x, y, level], 1).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices({"image": images, "factors": factors})
    return Source(name, dataset, (16, 16, 1), len(x), factor_names=("x", "y", "brightness"))


# -- Groups and their columns ---------------------------------------------------


def test_groups_lay_out_the_latent_vector():
    model = _model()
    assert model.latent_dim == 7
    assert model.group_names == ("scale", "rotation", "position_x", "intrinsic")
    assert model.group_slices == {"scale": slice(0, 1), "rotation": slice(1, 3),
                                  "position_x": slice(3, 4), "intrinsic": slice(4, 7)}
    assert model.latent_groups == (("scale", 1), ("rotation", 2), ("position_x", 1),
                                   ("intrinsic", 3))
    weights = factor_batches.draw_weights(shapes.FACTOR_NAMES, [n for n, _ in GROUPS], 8.0)
    assert weights["scale"] == weights["rotation"] == 1.0
    # shape, position_y, hue and background have no group: they share the intrinsic weight.
    assert weights["shape"] == weights["hue"] == pytest.approx(2.0)
    assert list(weights) == list(shapes.FACTOR_NAMES)
    assert factor_batches.draw_weights(("a", "b"), ["a", "b"], 0.5) == {"a": 1.0, "b": 1.0}


def test_active_factor_selects_the_free_group_and_its_columns():
    model = _model()
    groups = model.active_group(tf.constant(
        [SHAPES["scale"], SHAPES["rotation"], SHAPES["hue"], SHAPES["shape"], -1])).numpy()
    np.testing.assert_array_equal(groups, [0, 1, 3, 3, -1])  # hue and shape are intrinsic.
    expected = {0: [1, 0, 0, 0, 0, 0, 0], 1: [0, 1, 1, 0, 0, 0, 0], 2: [0, 0, 0, 1, 0, 0, 0],
                3: [0, 0, 0, 0, 1, 1, 1], -1: [1, 1, 1, 1, 1, 1, 1]}  # -1: nothing clamped.
    for group, mask in expected.items():
        np.testing.assert_array_equal(model.active_mask(tf.fill([4], group)), mask)
    assert _model(dataset_factor_names=None).active_group(tf.constant(3)).numpy() == 3
    with pytest.raises(tf.errors.InvalidArgumentError, match="one factor only"):
        model.active_mask(tf.constant([0, 1]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="indexes the 7 factors"):
        model.active_group(tf.constant(7))


@pytest.mark.parametrize("kwargs,message", [
    (dict(factor_groups=[]), "at least one factor group"),
    (dict(factor_groups=[("scale", 0)]), "positive integer size"),
    (dict(factor_groups=[("scale", 1), ("scale", 2)]), "named more than once"),
    (dict(factor_groups=[("intrinsic", 1)]), "identifier"),
    (dict(factor_groups=[("my scale", 1)]), "identifier"),
    (dict(factor_groups=[("azimuth", 1)]), r"\['azimuth'\] are not factors of the data"),
    (dict(latent_dim=9), "latent_dim 9 differs"),
    (dict(intrinsic_dim=0), "intrinsic_dim must be a positive int"),
    (dict(clamp_to="median"), "Unknown clamp_to"),
    (dict(invariance_strength=-1.0), "invariance_strength must be a finite number >= 0"),
    (dict(minibatches=0), "minibatches must be a positive int"),
])
def test_bad_arguments_are_named(kwargs, message):
    groups = kwargs.pop("factor_groups", GROUPS)
    with pytest.raises(ValueError, match=message):
        DCIGN((16, 16, 3), groups, dataset_factor_names=shapes.FACTOR_NAMES, **kwargs)


def test_the_config_checks_its_settings_and_defaults_the_groups_from_the_facts_table():
    with pytest.raises(ValueError, match="intrinsic_ratio must be a finite number >= 0"):
        dcign_task.DCIGNConfig(intrinsic_ratio=-1.0)
    with pytest.raises(ValueError, match="factors entry 'scale:0' must be NAME or NAME:SIZE"):
        dcign_task.DCIGNConfig(factors=("scale:0",))
    assert dcign_task.DCIGNConfig().factor_groups(shapes.FACTOR_NAMES) == [
        ["scale", 1], ["position_x", 1], ["position_y", 1]]
    norb = ("category", "instance", "elevation", "azimuth", "lighting")
    assert dcign_task.DCIGNConfig(dataset="smallnorb:2.0.0").factor_groups(norb) == [
        ["elevation", 1], ["azimuth", 1], ["lighting", 1]]
    given = dcign_task.DCIGNConfig(factors=("scale", "rotation:2"), factor_dim=3)
    assert given.factor_groups(shapes.FACTOR_NAMES) == [["scale", 3], ["rotation", 2]]


# -- What users call -------------------------------------------------------------


def test_encode_render_edit_and_traversal():
    model = _model()
    x = _images()
    factors = model.encode_factors(x)
    assert {k: tuple(v.shape) for k, v in factors.items()} == {
        "scale": (6, 1), "rotation": (6, 2), "position_x": (6, 1), "intrinsic": (6, 3)}
    np.testing.assert_allclose(model.render(factors), model.reconstruct(x), rtol=1e-5, atol=1e-6)
    edited = model.edit(x, "rotation", [1.5, -0.5])
    changed = dict(factors, rotation=tf.constant([[1.5, -0.5]] * 6))
    np.testing.assert_allclose(edited, model.render(changed), rtol=1e-5, atol=1e-6)
    rows = model.traversal(x[0], np.linspace(-2, 2, 5)).numpy()
    assert rows.shape == (3, 5, 16, 16, 3)
    latents = model.encode(x[:1])[0].numpy().repeat(5, 0)
    latents[:, 1] = np.linspace(-2, 2, 5)  # Row 1 sweeps rotation's first unit.
    np.testing.assert_allclose(rows[1], model.decode(latents), rtol=1e-5, atol=1e-6)
    summary = model.summary_images(x)
    assert summary["reconstructions"].shape == (12, 16, 16, 3)
    assert summary["traversals"].shape == (64, 16, 16, 3)  # 8 x 8: 3 factor rows, 5 blank.
    with pytest.raises(ValueError, match="missing \\['intrinsic'\\]"):
        model.render({k: v for k, v in factors.items() if k != "intrinsic"})
    with pytest.raises(ValueError, match="Unknown factor 'azimuth'"):
        model.edit(x, "azimuth", 0.0)


# -- The clamped step --------------------------------------------------------------


def _clamped_terms(model, batch, training=True):
    inputs = model.unpack(batch)
    return model.elbo_terms(inputs, zoo_random.step_seed(0, 1), training=training)


def test_a_one_factor_batch_clamps_every_other_group_to_its_batch_mean():
    model = _model()
    x = _images()
    batch = {"image": x, "active_factor": tf.fill([6], SHAPES["rotation"])}
    posterior = _clamped_terms(model, batch)["posterior"]
    free = model.posterior({"images": tf.constant(x)})
    mean, scale = posterior.mean().numpy(), posterior.stddev().numpy()
    np.testing.assert_allclose(mean[:, 1:3], free.mean()[:, 1:3], rtol=1e-6)
    inactive = [0, 3, 4, 5, 6]
    np.testing.assert_allclose(mean[:, inactive],
                               np.broadcast_to(free.mean().numpy()[:, inactive].mean(0), (6, 5)),
                               rtol=1e-5, atol=1e-6)
    assert np.ptp(scale[:, inactive], axis=0).max() < 1e-6  # The scale head is clamped too.
    # The KL is that of the clamped posterior the latents were drawn from.
    terms = _clamped_terms(model, batch)
    kl = 0.5 * np.sum(mean ** 2 + scale ** 2 - 1 - np.log(scale ** 2), -1)
    np.testing.assert_allclose(terms["kl"], kl, rtol=1e-4)
    # A batch without a factor (evaluation, plain images) is not clamped.
    np.testing.assert_array_equal(_clamped_terms(model, {"image": x})["posterior"].mean(),
                                  free.mean())


def test_interleaved_minibatches_are_clamped_each_to_its_own_mean():
    model = _model(minibatches=2)
    x = _images()
    # Rows 0, 2, 4 vary rotation (group 1); rows 1, 3, 5 vary hue (intrinsic, group 3).
    active = np.tile([SHAPES["rotation"], SHAPES["hue"]], 3)
    mean = _clamped_terms(model, {"image": x, "active_factor": active})["posterior"].mean()
    free = model.posterior({"images": tf.constant(x)}).mean().numpy()
    for rows, kept in ((slice(0, None, 2), [1, 2]), (slice(1, None, 2), [4, 5, 6])):
        clamped = [d for d in range(7) if d not in kept]
        np.testing.assert_allclose(mean.numpy()[rows][:, kept], free[rows][:, kept], rtol=1e-6)
        expected = np.broadcast_to(free[rows][:, clamped].mean(0), (3, len(clamped)))
        np.testing.assert_allclose(mean.numpy()[rows][:, clamped], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="whole rows of the 2"):
        _clamped_terms(model, {"image": x[:5], "active_factor": active[:5]})


def _head_gradients(model, batch):
    """|gradient| of the loss on each output column of the encoder's last layer."""
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model.per_example_loss(_clamped_terms(model, batch)))
    kernel = model.encoder.layers[-1].kernel
    return np.abs(tape.gradient(loss, kernel).numpy()).sum(0)


def test_gradients_reach_only_the_active_group_or_pull_toward_the_mean():
    x = _images()
    batch = {"image": x, "active_factor": tf.fill([6], SHAPES["rotation"])}
    heads = _head_gradients(_model(invariance_strength=0.0), batch)
    active = np.zeros(7, bool)
    active[1:3] = True
    mask = np.concatenate([active, active])  # Mean and scale heads.
    assert np.all(heads[mask] > 0) and np.all(heads[~mask] == 0), heads
    # With a strength, clamped outputs get exactly the penalty's gradient.
    model = _model(invariance_strength=3.0)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model.per_example_loss(_clamped_terms(model, batch)))
    dense = model.encoder.layers[-1]
    kernel_grad = tape.gradient(loss, dense.kernel).numpy()
    hidden = keras.Sequential(model.encoder.layers[:-1])(x).numpy()
    outputs = hidden @ dense.kernel.numpy() + dense.bias.numpy()
    pull = 3.0 * (outputs - outputs.mean(0)) / 6
    expected = hidden.T @ pull
    np.testing.assert_allclose(kernel_grad[:, ~mask], expected[:, ~mask], rtol=1e-3, atol=1e-6)
    plain = _head_gradients(_model(invariance_strength=0.0), {"image": x})
    assert np.all(plain > 0)


def _hand_params(minibatches):
    """Encoder outputs [4M, 14] whose minibatch 0 is the same 4 rows for every M.

    Row i of minibatch 0 is c_i * (1, 2, ..., 14) with c = (1, 2, 3, 6): the
    batch mean of column d is 3 * (d + 1), the deviations (-2, -1, 0, 3) * (d + 1).
    The other minibatches hold larger, different rows (their means must not leak).
    """
    first = np.outer([1.0, 2.0, 3.0, 6.0], np.arange(1, 15))
    parts = [first] + [np.outer(10.0 * m + np.arange(4.0) ** 2, np.ones(14))
                       for m in range(1, minibatches)]
    return np.stack(parts, axis=1).reshape(4 * minibatches, 14).astype(np.float32)


def _gradient_on_encoder_outputs(model, params, active_factor):
    """d/d(params) of the train step's loss sum_d w_d * out_d averaged over the batch."""
    params = tf.constant(params)
    weights = tf.range(1.0, 15.0)  # A stand-in for the objective's gradient, w_d = d + 1.
    group = tf.broadcast_to(model.active_group(active_factor), tf.shape(params)[:1])
    with tf.GradientTape() as tape:
        tape.watch(params)
        out = model.clamp_encoder_outputs(params, group, training=True)
        loss = tf.nn.compute_average_loss(tf.reduce_sum(weights * out, axis=-1))
    return tape.gradient(loss, params).numpy()


def test_the_pull_is_per_example_of_the_global_batch_for_any_number_of_minibatches():
    """The same rows get the same pull per example, 1/N like the objective, N = 4M.

    Before the fix, the pull was divided by the minibatch size N / M only,
    so with M = 2 it was twice as strong against the objective as with M = 1.
    """
    strength = 2.0
    grads = {}
    for count in (1, 2):
        model = _model(minibatches=count, invariance_strength=strength)
        # Minibatch 0 varies rotation (columns 1, 2 and 8, 9 free); any others vary hue.
        active = np.tile([SHAPES["rotation"]] + [SHAPES["hue"]] * (count - 1), 4)
        grads[count] = _gradient_on_encoder_outputs(model, _hand_params(count), active)
    free = np.zeros(14, bool)
    free[[1, 2, 8, 9]] = True
    deviations = np.outer([-2.0, -1.0, 0.0, 3.0], np.arange(1, 15))
    for count, grad in grads.items():
        rows = grad[0::count]  # Minibatch 0: the same four rows for both M.
        total = 4 * count  # The global batch the loss is averaged over.
        # Hand values for the scale unit's mean head (column 0): 2 * (-2, -1, 0, 3) / N.
        np.testing.assert_allclose(rows[:, 0], np.array([-4.0, -2.0, 0.0, 6.0]) / total,
                                   rtol=1e-6)
        np.testing.assert_allclose(rows[:, ~free], (strength * deviations / total)[:, ~free],
                                   rtol=1e-6)
        np.testing.assert_allclose(rows[:, free], np.broadcast_to(
            np.arange(1.0, 15.0)[free] / total, (4, 4)), rtol=1e-6)
    # Pull and objective both halve when the global batch doubles: their ratio is M-free.
    np.testing.assert_allclose(grads[2][0::2], grads[1] / 2, rtol=1e-6)


def test_duplicated_rows_in_a_second_minibatch_leave_the_invariance_gradient_unchanged():
    """Through the whole loss: M = 2 on x and a copy of x pulls the weights as M = 1 on x."""
    x = _images(4)
    strength = 3.0
    rotation = SHAPES["rotation"]
    model = _model(invariance_strength=strength)
    twice = _model(minibatches=2, invariance_strength=strength)
    twice.set_weights(model.get_weights())
    kernels = {}
    for count, net in ((1, model), (2, twice)):
        batch = {"image": np.repeat(x, count, axis=0),  # Rows 2i, 2i + 1: x_i in both.
                 "active_factor": np.full(4 * count, rotation, np.int32)}
        with tf.GradientTape() as tape:
            loss = tf.nn.compute_average_loss(net.per_example_loss(_clamped_terms(net, batch)))
        kernels[count] = tape.gradient(loss, net.encoder.layers[-1].kernel).numpy()
    dense = model.encoder.layers[-1]
    hidden = keras.Sequential(model.encoder.layers[:-1])(x).numpy()
    outputs = hidden @ dense.kernel.numpy() + dense.bias.numpy()
    expected = hidden.T @ (strength * (outputs - outputs.mean(0)) / 4)
    clamped = np.ones(14, bool)
    clamped[[1, 2, 8, 9]] = False
    for count in (1, 2):
        np.testing.assert_allclose(kernels[count][:, clamped], expected[:, clamped],
                                   rtol=1e-3, atol=1e-6)


def test_fit_on_shape_factor_batches_and_on_plain_images():
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    data = shapes.factor_batches(4, 16, seed=1).map(
        lambda b: {"image": tf.cast(b["image"], tf.float32) / 255.0,
                   "active_factor": b["active_factor"]})
    logs = model.fit(data, steps_per_epoch=2, epochs=1, verbose=0).history
    assert set(logs) == {"loss", "elbo", "reconstruction", "kl", "bits_per_dim"}
    scores = model.evaluate(_images(), batch_size=3, verbose=0, return_dict=True)
    assert np.isfinite(scores["elbo"])
    model.fit(_images(4), batch_size=2, epochs=1, verbose=0)


# -- One-factor batches -------------------------------------------------------------


def _train_data(model, source, encoding, batch_size=16, seed=0, intrinsic_ratio=3.0,
                replicas=1):
    """`factor_batches.train_data` as `DCIGNTask` calls it for `model`."""
    named = [name for name, _ in model.factor_groups]
    weights = factor_batches.draw_weights(source.factor_names, named, intrinsic_ratio)
    return factor_batches.train_data(source, batch_size, model.minibatches, weights, encoding,
                                     model.image_shape[0], model.image_shape[-1], seed=seed,
                                     replicas=replicas)


def _varying(batch, num_factors, minibatches=1):
    """The factor of each interleaved minibatch, checking that it alone varies there."""
    factors, active = batch["factors"].numpy(), batch["active_factor"].numpy()
    found = []
    for m in range(minibatches):
        rows = slice(m, None, minibatches)  # Row i * M + m: example i of minibatch m.
        assert len(set(active[rows])) == 1, active
        varying = {k for k in range(num_factors) if np.ptp(factors[rows, k]) > 0}
        assert varying <= {active[rows][0]}, (m, varying, active[rows][0])
        found.append(int(active[rows][0]))
    return found


def test_shapes_train_data_varies_one_factor_per_minibatch():
    data = _train_data(_model(), shapes.load("test", 16, 10), "binary")
    seen = set()
    for batch in data.take(10):
        assert batch["image"].shape == (16, 16, 16, 3) and batch["image"].dtype == tf.float32
        assert set(np.unique(batch["image"].numpy())) <= {0.0, 1.0}
        seen.update(_varying(batch, len(shapes.FACTOR_NAMES)))
    assert len(seen) >= 4, seen  # Factors drawn at random, batch by batch.
    data = _train_data(_model(minibatches=4), shapes.load("test", 16, 10), "binary")
    for batch in data.take(5):
        seen.update(_varying(batch, len(shapes.FACTOR_NAMES), minibatches=4))
    assert seen == set(range(len(shapes.FACTOR_NAMES)))
    with pytest.raises(ValueError, match=r"multiple of minibatches × replicas = 5 × 1 = 5"):
        _train_data(_model(minibatches=5), shapes.load("test", 16, 10), "binary")


def test_a_source_that_renders_its_own_one_factor_batches_is_asked_for_them():
    """The capability, not the name, decides: a source's `factor_batches` renders them."""
    calls = []

    def render(batch_size, image_size, seed, factor_weights):
        calls.append((batch_size, image_size, seed, factor_weights))
        return shapes.factor_batches(batch_size, image_size, seed, factor_weights)

    split = shapes.load("test", 16, 10)
    toy = Source("toy", split.dataset, split.image_shape, factor_names=shapes.FACTOR_NAMES,
                 factor_batches=render)
    mine = next(iter(_train_data(_model(minibatches=2), toy, "binary", seed=4)))
    theirs = next(iter(_train_data(_model(minibatches=2), split, "binary", seed=4)))
    weights = factor_batches.draw_weights(shapes.FACTOR_NAMES, [n for n, _ in GROUPS], 3.0)
    assert calls == [(8, 16, 4, weights)]
    for key in ("image", "factors", "active_factor"):
        np.testing.assert_array_equal(mine[key], theirs[key])


def test_grid_groups_vary_one_factor_and_cope_with_missing_examples():
    source = _grid_source()
    images, factors = factor_batches.load_arrays(source)
    assert images.shape == (192, 16, 16, 1) and images.dtype == np.uint8
    keep = RNG.uniform(size=192) > 0.3  # An incomplete grid, like a 90% split.
    groups = factor_batches.OneFactorGroups(factors[keep])
    rng = np.random.default_rng(0)
    for factor in range(3):
        assert groups.group_size(factor).sum() == keep.sum()
        for _ in range(20):
            rows = factors[keep][groups.sample(factor, 5, rng)]
            assert {k for k in range(3) if np.ptp(rows[:, k]) > 0} <= {factor}
    assert len(set(map(tuple, factors[keep][groups.sample(0, 5, rng)]))) > 1
    single = factor_batches.OneFactorGroups(np.array([[0.0, 0.0], [1.0, 1.0]]))
    assert not single.can_vary(0)
    with pytest.raises(ValueError, match="No two examples differ in factor 0"):
        single.sample(0, 2, rng)


def test_tfds_style_train_data_resizes_encodes_and_weights_the_factors():
    model = DCIGN((16, 16, 3), [("x", 1)], intrinsic_dim=2,
                  dataset_factor_names=("x", "y", "brightness"), base_filters=4, minibatches=2)
    data = _train_data(model, _grid_source(), "discrete", batch_size=8)
    actives = []
    for batch in data.take(30):
        assert batch["image"].shape == (8, 16, 16, 3)
        actives += _varying(batch, 3, minibatches=2)
    counts = np.bincount(actives, minlength=3)
    assert counts[0] > 0 and counts[1] + counts[2] > counts[0]  # x: 1; y, brightness: 1.5 each.
    with pytest.raises(ValueError, match="Unknown factors \\['azimuth'\\]"):
        factor_batches.tfds_factor_batches(_grid_source(), 4, {"azimuth": 1.0})
    plain = Source("toy", tf.data.Dataset.from_tensor_slices(
        {"image": np.zeros((4, 16, 16, 1), np.uint8)}), (16, 16, 1), 4)
    with pytest.raises(ValueError, match="no known generative factors"):
        factor_batches.tfds_factor_batches(plain, 4)


def test_dsprites_from_mocked_tfds_gives_one_factor_batches(tmp_path, monkeypatch):
    """The real TFDS loading code, on a mocked dsprites holding a small factor grid."""
    monkeypatch.setattr("socket.create_connection",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    builder = tfds.builder("dsprites", data_dir=os.fspath(tmp_path))
    builder.info.set_splits(tfds.core.SplitDict([tfds.core.SplitInfo(
        name="train", shard_lengths=[48], num_bytes=0, filename_template=None)]))
    os.makedirs(builder.data_dir, exist_ok=True)
    builder.info.write_to_directory(builder.data_dir)
    grid = np.stack([a.reshape(-1) for a in np.meshgrid(
        np.arange(3), np.arange(2), np.arange(2), np.arange(2), np.arange(2), indexing="ij")], 1)

    def as_dataset(self, *args, **kwargs):
        del self, args, kwargs
        image = np.zeros((len(grid), 64, 64, 1), np.uint8)
        for index, row in enumerate(grid):
            image[index, 8 * row[3]:8 * row[3] + 8 + 4 * row[1], 8 * row[4]:16] = 1 + row[0]
        keys = ("label_shape", "label_scale", "label_orientation", "label_x_position",
                "label_y_position")
        example = {"image": image, **{key: grid[:, i] for i, key in enumerate(keys)}}
        return tf.data.Dataset.from_tensor_slices(example)

    with tfds.testing.mock_data(as_dataset_fn=as_dataset, data_dir=os.fspath(tmp_path)):
        source = tfds_source.load("dsprites", image_size=16, download=False)
        assert source.factor_names == ("shape", "scale", "orientation", "x_position",
                                       "y_position")
        batches = factor_batches.tfds_factor_batches(source, 4, {"scale": 1.0, "shape": 1.0},
                                                     seed=3, image_size=16)
        for batch in batches.take(6):
            factors = batch["factors"].numpy()
            active = int(batch["active_factor"])
            assert active in (0, 1) and batch["image"].shape == (4, 16, 16, 1)
            assert {k for k in range(5) if np.ptp(factors[:, k]) > 0} <= {active}


# -- Learning -----------------------------------------------------------------------


def test_short_training_makes_the_named_latents_track_their_factors():
    keras.utils.set_random_seed(0)
    source = _grid_source()
    model = DCIGN((16, 16, 1), [("x", 1), ("y", 1)], intrinsic_dim=2, minibatches=4,
                  dataset_factor_names=source.factor_names, base_filters=8, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    images, factors = factor_batches.load_arrays(source)

    def correlations():
        return disentanglement.factor_correlations(model.encode(images)[0].numpy(), factors)

    before = correlations()
    data = _train_data(model, source, "binary", batch_size=32, intrinsic_ratio=1.0)
    model.fit(data, steps_per_epoch=300, epochs=1, verbose=0)
    after = correlations()
    for group, factor in ((0, 0), (1, 1)):
        assert after[group, factor] > max(0.8, before[group, factor] + 0.3), (before, after)


_MIRRORED = r"""
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import numpy as np
from zoo.data import factor_batches, shapes
from zoo.models.dcign import DCIGN

devices = [d.name for d in tf.config.list_logical_devices("CPU")]
out = {}
for name, strategy in (("one", tf.distribute.OneDeviceStrategy(devices[0])),
                       ("two", tf.distribute.MirroredStrategy(devices))):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = DCIGN((16, 16, 3), [("scale", 1), ("position_x", 1)], intrinsic_dim=2,
                      dataset_factor_names=shapes.FACTOR_NAMES, base_filters=4, seed=5,
                      invariance_strength=2.0, clamp_to=sys.argv[1])
        model.compile(optimizer=keras.optimizers.SGD(0.1))  # Adam would magnify rounding.
    source = shapes.load("test", 16, 10)
    weights = factor_batches.draw_weights(source.factor_names, ["scale", "position_x"], 3.0)
    data = factor_batches.train_data(source, 8, 1, weights, "binary", 16, 3, seed=1,
                                     replicas=strategy.num_replicas_in_sync)
    model.fit(data, steps_per_epoch=4, epochs=1, verbose=0)
    out[name] = [v.numpy().ravel().tolist() for v in model.trainable_variables]

# The pull under the strategy, M = 2: 8 rows, each replica holding 2 rows of each minibatch.
with strategy.scope():
    model = DCIGN((16, 16, 3), [("scale", 1), ("position_x", 1)], intrinsic_dim=2,
                  dataset_factor_names=shapes.FACTOR_NAMES, base_filters=4, seed=5,
                  invariance_strength=2.0, clamp_to=sys.argv[1], minibatches=2)
params = np.array(json.loads(sys.argv[2]), np.float32)
group = np.zeros(8, np.int32)  # Both minibatches vary scale: columns 0 and 4 free.


@tf.function
def pull(rows, groups):
    with tf.GradientTape() as tape:
        tape.watch(rows)
        clamped = model.clamp_encoder_outputs(rows, groups, training=True)
        loss = tf.nn.compute_average_loss(tf.reduce_sum(clamped, axis=-1))
    return tape.gradient(loss, rows)


def share(array):
    return strategy.experimental_distribute_values_from_function(
        lambda context: array[4 * context.replica_id_in_sync_group:][:4])


grads = strategy.run(pull, args=(share(params), share(group)))
out["pull"] = np.concatenate(
    [g.numpy() for g in strategy.experimental_local_results(grads)]).tolist()
print(json.dumps(out))
"""

# Minibatch 0 (rows 0, 2, 4, 6) and minibatch 1 (rows 1, 3, 5, 7), each split over 2 replicas.
_MIRRORED_PARAMS = np.outer([1.0, 10.0, 2.0, 20.0, 3.0, 40.0, 6.0, 50.0], np.arange(1, 9))


def test_mirrored_training_equals_one_device_with_each_batch_across_replicas():
    """Two replicas clamp to the global batch's statistic: the same weights as one device.

    And with M = 2 minibatches split over the replicas, the pull is per example
    of the GLOBAL batch (8 rows, not a replica's 4 or a minibatch's 4), as the
    loss's gradient is under `tf.nn.compute_average_loss`.
    In a fresh interpreter: a MirroredStrategy is not made in the pytest process.
    """
    weights = harness.run_python_json("-c", _MIRRORED, "mean",
                                      json.dumps(_MIRRORED_PARAMS.tolist()), timeout=240)
    for one, two in zip(weights["one"], weights["two"], strict=True):
        np.testing.assert_allclose(two, one, rtol=2e-4, atol=2e-5)
    # Minibatch means: 3 * (d + 1) for rows 0, 2, 4, 6 and 30 * (d + 1) for rows 1, 3, 5, 7.
    means = np.outer(np.tile([3.0, 30.0], 4), np.arange(1, 9))
    expected = 2.0 * (_MIRRORED_PARAMS - means) / 8
    expected[:, [0, 4]] = 1.0 / 8  # The free columns: the loss's own gradient, 1 / N.
    np.testing.assert_allclose(np.array(weights["pull"]), expected, rtol=1e-6)


def test_every_replica_must_get_whole_minibatches():
    """24 examples in 8 minibatches split over 2 replicas would cut a minibatch in half."""
    with pytest.raises(ValueError, match=r"multiple of minibatches × replicas = 8 × 2 = 16"):
        factor_batches.require_whole_minibatches(24, 8, 2)
    factor_batches.require_whole_minibatches(32, 8, 2)
    with pytest.raises(ValueError, match=r"multiple of minibatches × replicas = 2 × 2 = 4"):
        _train_data(_model(minibatches=2), shapes.load("test", 16, 10), "binary", batch_size=6,
                    replicas=2)


# -- Saving and export ------------------------------------------------------------


def test_save_and_load_give_identical_outputs(tmp_path):
    model = _model(clamp_to="first", invariance_strength=0.5, minibatches=2,
                   likelihood="gaussian")
    model.compile(optimizer=keras.optimizers.Adam())
    model.fit({"image": _images(4), "active_factor": np.full(4, SHAPES["scale"], np.int32)},
              batch_size=4, epochs=1, verbose=0)
    path = str(tmp_path / "dcign.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, DCIGN) and loaded.factor_groups == model.factor_groups
    assert (loaded.clamp_to, loaded.invariance_strength) == ("first", 0.5)
    assert loaded.minibatches == 2
    assert loaded.dataset_factor_names == shapes.FACTOR_NAMES
    x = _images(3)
    for name, value in model.encode_factors(x).items():
        np.testing.assert_array_equal(loaded.encode_factors(x)[name], value)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    again = DCIGN.from_config(model.get_config()).get_config()
    for key in ("factor_groups", "intrinsic_dim", "clamp", "clamp_to", "invariance_strength",
                "minibatches", "dataset_factor_names", "latent_dim"):
        assert again[key] == model.get_config()[key], key
    # A config saved before `intrinsic_ratio` left the model: dropped, with a warning.
    old = dict(model.get_config(), intrinsic_ratio=2.0)
    with pytest.warns(DeprecationWarning, match="no longer takes intrinsic_ratio"):
        restored = DCIGN.from_config(old)
    assert "intrinsic_ratio" not in restored.get_config()
    assert restored.get_config()["factor_groups"] == model.get_config()["factor_groups"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        DCIGN.from_config(model.get_config())


def test_export_round_trip_in_a_fresh_process_without_zoo(tmp_path):
    model = _model()
    path = export.export_saved_model(model, str(tmp_path / "export"))
    x = _images(3)
    named = {"scale": RNG.normal(size=(3, 1)), "rotation": RNG.normal(size=(3, 2)),
             "position_x": RNG.normal(size=(3, 1)), "intrinsic": RNG.normal(size=(3, 3))}
    named = {k: v.astype(np.float32) for k, v in named.items()}
    served = harness.load_in_fresh_process(path, dict(named, images=x))
    assert set(served) == {"serving_default", "reconstruct", "encode", "render"}
    assert set(served["encode"]) == set(named)
    for name, value in model.encode_factors(x).items():
        np.testing.assert_allclose(served["encode"][name], value, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(served["render"]["images"], model.render(named),
                               rtol=1e-5, atol=1e-6)
    for name in ("reconstruct", "serving_default"):
        np.testing.assert_allclose(served[name]["reconstructions"],
                                   model.reconstruct(x), rtol=1e-5, atol=1e-6)
    loaded = tf.saved_model.load(path)
    assert sorted(loaded.signatures["render"].structured_input_signature[1]) == sorted(named)
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
        loaded.signatures["render"](**{**named, "rotation": tf.zeros([3, 1])})
