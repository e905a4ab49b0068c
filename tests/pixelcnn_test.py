"""The gated PixelCNN prior: causality, normalisation, sampling, training, saving, replicas.

The MirroredStrategy test runs this file as a script in a fresh interpreter
that makes two logical CPU devices first (a second MirroredStrategy in the
pytest process can collide with strategy_test's on collective keys; see
tests/dcgan_test.py).
"""

import itertools
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import harness
from zoo import export
from zoo import random as zoo_random
from zoo.layers import pixelcnn as pixelcnn_layers
from zoo.models.pixelcnn import PixelCNNPrior

RNG = np.random.default_rng(0)


def _prior(grid=(3, 4), num_codes=5, **kwargs):
    """A tiny prior, its initial weights the same on every run."""
    keras.utils.set_random_seed(0)
    kwargs = {"filters": 8, "num_layers": 2, **kwargs}
    return PixelCNNPrior(grid, num_codes, **kwargs)


def _randomize(model, scale=0.5, biases_only=False, seed=1):
    """Gives the weights (or only the biases) random normal values, so no weight is zero."""
    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        if not biases_only or variable.path.endswith("bias"):
            variable.assign(scale * rng.standard_normal(variable.shape).astype(np.float32))
    return model


def _past(height, width):
    """[h*w, h*w] bool: past[p, q] iff q comes strictly before p in raster order."""
    return np.tril(np.ones((height * width,) * 2, bool), k=-1)


def _dependencies(model, conditions=None, batch=8):
    """[h*w, h*w] bool: reach[p, q] iff the logits at p have a nonzero gradient at input q.

    Over `batch` random embedded inputs: a gradient is nonzero if it is for any of them (a
    ReLU that happens to be off at p for one input zeroes the gradient there).
    """
    height, width = model.grid_shape
    embedded = tf.constant(RNG.standard_normal((batch, height, width, model.filters)),
                           tf.float32)
    if conditions is not None:
        conditions = tf.tile(conditions, [batch, 1])
    with tf.GradientTape() as tape:
        tape.watch(embedded)
        logits = model.logits_from_embedded(embedded, conditions)
    jacobian = tape.batch_jacobian(logits, embedded).numpy()  # [B, h, w, K, h, w, F]
    reach = np.abs(jacobian).sum(axis=(0, 3, 6))
    return reach.reshape(height * width, height * width) > 0


@pytest.mark.parametrize("weights", ["initial, random biases", "all random"])
@pytest.mark.parametrize("num_conditions", [0, 2])
def test_logits_at_p_depend_on_the_past_only_without_blind_spot(weights, num_conditions):
    height, width = 3, 4
    model = _randomize(_prior((height, width), num_conditions=num_conditions),
                       biases_only=weights.startswith("initial"))
    conditions = tf.ones([1, 2]) if num_conditions else None
    reach = _dependencies(model, conditions)
    future = ~_past(height, width)  # p itself and every later position.
    assert not (reach & future).any(), np.argwhere(reach & future)
    for i, j in itertools.product(range(height), range(width)):
        p = i * width + j
        neighbours = [(i, j - 1)] * (j > 0) + [(i - 1, j)] * (i > 0)
        neighbours += [(i - 1, j + 1)] * (i > 0 and j + 1 < width)  # A masked stack's blind spot.
        for a, b in neighbours:
            assert reach[p, a * width + b], ((i, j), (a, b))


@pytest.mark.parametrize("num_layers, kernel_size", [(3, 3), (2, 5)])
def test_enough_layers_on_a_3x4_grid_see_the_whole_past(num_layers, kernel_size):
    # L blocks of k x k reach L * (k // 2) columns each side in every row above, and
    # 1 + L * (k // 2) columns to the left: on 3x4 that is exactly every earlier position.
    model = _randomize(_prior((3, 4), num_layers=num_layers, kernel_size=kernel_size))
    np.testing.assert_array_equal(_dependencies(model), _past(3, 4))
    one_layer = _dependencies(_randomize(_prior((3, 4), num_layers=1)))
    assert not one_layer[7, 0]  # (1, 3) does not reach (0, 0) through one 3x3 block.


@pytest.mark.parametrize("num_conditions", [0, 3])
def test_probabilities_of_all_81_grids_sum_to_one(num_conditions):
    model = _randomize(_prior((2, 2), 3, num_conditions=num_conditions), scale=1.0)
    grids = np.array(list(itertools.product(range(3), repeat=4)), np.int32).reshape(81, 2, 2)
    conditions = np.tile(RNG.standard_normal((1, 3)), (81, 1)) if num_conditions else None
    log_prob = model.log_prob(grids, conditions).numpy()
    probabilities = np.exp(log_prob.astype(np.float64))
    assert abs(probabilities.sum() - 1.0) < 1e-5
    assert probabilities.max() > 5 * probabilities.min()  # Far from uniform: not trivially 1.
    logits = model(grids, conditions).numpy().astype(np.float64)
    log_softmax = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = np.take_along_axis(log_softmax, grids[..., None], -1).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(log_prob, expected, rtol=1e-5, atol=1e-5)


def _inverse_cdf(logits, noise, num_codes):
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    cdf = np.cumsum(probabilities / probabilities.sum(-1, keepdims=True), -1)
    return np.minimum((cdf <= noise[..., None]).sum(-1), num_codes - 1)


@pytest.mark.parametrize("fill", ["uniform", 0.0, 0.5, 0.9999999])
def test_a_sample_is_the_inverse_cdf_of_the_network_on_itself(fill):
    model = _randomize(_prior((3, 4), 5), scale=1.0)
    noise = (RNG.uniform(size=(6, 3, 4)) if fill == "uniform"
             else np.full((6, 3, 4), fill)).astype(np.float32)
    codes = model.sample_from_noise(noise)
    assert codes.dtype == tf.int32 and codes.shape == (6, 3, 4)
    codes = codes.numpy()
    assert codes.min() >= 0 and codes.max() < 5
    # The logits at p depend only on codes before p, which were final when p was drawn.
    np.testing.assert_array_equal(codes, _inverse_cdf(model(codes).numpy(), noise, 5))
    if fill == 0.0:
        assert (codes == 0).all()
    if fill == "uniform":
        assert len(np.unique(codes)) > 2


def test_sampling_is_deterministic_in_the_noise_eagerly_and_in_a_graph():
    model = _randomize(_prior((3, 3), 4, num_conditions=2))
    noise = RNG.uniform(size=(5, 3, 3)).astype(np.float32)
    conditions = RNG.standard_normal((5, 2)).astype(np.float32)
    first = model.sample_from_noise(noise, conditions).numpy()
    np.testing.assert_array_equal(first, model.sample_from_noise(noise, conditions).numpy())
    graph = tf.function(lambda n, c: model.sample_from_noise(n, c))
    np.testing.assert_array_equal(first, graph(noise, conditions).numpy())
    assert (first != model.sample_from_noise(1 - noise, conditions).numpy()).any()
    seeded = model.sample(5, seed=3, conditions=conditions).numpy()
    drawn = tf.random.stateless_uniform([5, 3, 3], zoo_random.step_seed(3, 0))
    np.testing.assert_array_equal(seeded, model.sample_from_noise(drawn, conditions).numpy())
    with pytest.raises(ValueError, match="needs conditions"):
        model.sample(2)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        _prior(kernel_size=4)


def test_a_short_fit_on_constant_grids_learns_them():
    keras.utils.set_random_seed(0)
    codes = np.repeat(RNG.integers(0, 4, 64), 9).reshape(64, 3, 3).astype(np.int32)
    model = _prior((3, 3), 4)
    model.compile(optimizer=keras.optimizers.Adam(5e-2))
    initial = model.evaluate(codes, batch_size=64, verbose=0, return_dict=True)
    data = tf.data.Dataset.from_tensor_slices(codes).repeat().batch(32)
    model.fit(data, steps_per_epoch=20, epochs=1, shuffle=False, verbose=0)
    final = model.evaluate(codes, batch_size=64, verbose=0, return_dict=True)
    np.testing.assert_allclose(initial["bits_per_code"], initial["loss"] / 9 / np.log(2),
                               rtol=1e-5)
    assert initial["loss"] > 9 * np.log(4) - 1.5  # About uniform at the start: 12.5 nats.
    assert final["loss"] < initial["loss"] - 8  # The optimum is ln 4 = 1.4 nats.
    samples = model.sample(64, seed=1).numpy().reshape(64, 9)
    assert (samples == samples[:, :1]).all(axis=1).mean() > 0.8


@pytest.mark.parametrize("num_conditions", [0, 2])
def test_keras_file_and_config_round_trip(tmp_path, num_conditions):
    model = _randomize(_prior((3, 3), 4, num_conditions=num_conditions, seed=5))
    codes = RNG.integers(0, 4, (3, 3, 3))
    conditions = RNG.standard_normal((3, 2)).astype(np.float32) if num_conditions else None
    path = str(tmp_path / "prior.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, PixelCNNPrior)
    np.testing.assert_allclose(loaded(codes, conditions).numpy(),
                               model(codes, conditions).numpy(), rtol=1e-6, atol=1e-6)
    config = model.get_config()
    assert PixelCNNPrior.from_config(config).get_config() == config
    assert config["seed"] == 5 and config["num_conditions"] == num_conditions
    block = model.blocks[0]
    assert pixelcnn_layers.GatedPixelCNNBlock.from_config(
        block.get_config()).get_config() == block.get_config()


@pytest.mark.parametrize("num_conditions", [0, 2])
def test_the_exported_sample_signature_takes_noise(tmp_path, num_conditions):
    model = _randomize(_prior((2, 3), 4, num_conditions=num_conditions))
    inputs = {"noise": RNG.uniform(size=(4, 2, 3)).astype(np.float32)}
    if num_conditions:
        inputs["conditions"] = RNG.standard_normal((4, 2)).astype(np.float32)
    path = export.export_saved_model(model, str(tmp_path))
    served = tf.saved_model.load(path).signatures["sample"](
        **{name: tf.constant(value) for name, value in inputs.items()})
    np.testing.assert_array_equal(served["codes"].numpy(),
                                  model.sample_from_noise(*inputs.values()).numpy())


def test_a_batch_as_tensor_dict_or_tuple_gives_minus_log_p_per_grid():
    codes = RNG.integers(0, 4, (5, 3, 3)).astype(np.int32)
    conditions = RNG.standard_normal((5, 2)).astype(np.float32)
    for model, batches, log_prob in (
            (_prior((3, 3), 4), [codes, (codes,)], None),
            (_prior((3, 3), 4, num_conditions=2),
             [{"codes": codes, "conditions": conditions}, (codes, conditions)], conditions)):
        expected = -model.log_prob(codes, log_prob).numpy().mean()
        for batch in batches:
            model.reset_metrics()
            logs = model.test_step(tf.nest.map_structure(tf.constant, batch))
            np.testing.assert_allclose(float(logs["loss"]), expected, rtol=1e-6)
            np.testing.assert_allclose(float(logs["bits_per_code"]),
                                       expected / 9 / np.log(2), rtol=1e-6)


def test_mixed_float16_gives_float32_logits_and_trains():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = _prior((2, 2), 3, num_conditions=2)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        assert model.blocks[0].vertical_conv.compute_dtype == "float16"
        codes = tf.constant(RNG.integers(0, 3, (4, 2, 2)), tf.int32)
        data = {"codes": codes, "conditions": tf.ones([4, 2])}
        assert model(codes, data["conditions"]).dtype == tf.float32
        logs = model.train_step(data)
        assert np.isfinite(float(logs["loss"])) and float(logs["loss"]) > 0
        assert model.sample(2, conditions=tf.ones([2, 2])).dtype == tf.int32
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_shifts_move_rows_and_columns():
    x = tf.reshape(tf.range(1.0, 7.0), [1, 2, 3, 1])
    np.testing.assert_array_equal(pixelcnn_layers.shift_down(x)[0, ..., 0], [[0, 0, 0], [1, 2, 3]])
    np.testing.assert_array_equal(pixelcnn_layers.shift_right(x)[0, ..., 0], [[0, 1, 2], [0, 4, 5]])


def _one_step(strategy, weights, codes, conditions):
    with strategy.scope():
        model = _prior((3, 3), 4, num_conditions=2)
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
    data = tf.data.Dataset.from_tensors({"codes": codes, "conditions": conditions})
    loss = model.fit(data, epochs=1, verbose=0).history["loss"][0]
    return model.get_weights(), loss


def _compare_mirrored_with_one_device():
    """Run in a fresh process (one MirroredStrategy per process): prints the differences."""
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    start = _randomize(_prior((3, 3), 4, num_conditions=2), scale=0.3).get_weights()
    codes = RNG.integers(0, 4, (8, 3, 3)).astype(np.int32)
    conditions = RNG.standard_normal((8, 2)).astype(np.float32)
    one, one_loss = _one_step(tf.distribute.OneDeviceStrategy(devices[0]), start, codes,
                              conditions)
    mirrored = tf.distribute.MirroredStrategy(devices)
    two, two_loss = _one_step(mirrored, start, codes, conditions)
    print(json.dumps({
        "replicas": mirrored.num_replicas_in_sync, "loss": abs(one_loss - two_loss),
        "weights": max(float(np.max(np.abs(a - b))) for a, b in zip(one, two)),
        "moved": min(float(np.max(np.abs(a - b))) for a, b in zip(one, start))}))


def test_one_step_on_two_replicas_equals_one_step_on_one_device():
    report = harness.run_python_json(__file__)
    assert report["replicas"] == 2
    assert report["loss"] < 1e-4
    assert report["weights"] < 1e-5
    assert report["moved"] > 1e-3  # Adam moves every weight by about the learning rate.


if __name__ == "__main__":
    _compare_mirrored_with_one_device()
