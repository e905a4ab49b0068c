"""DC-IGN's clamp (`zoo.clamping`): forward values, the backward rule, replicas, masks.

The MirroredStrategy test runs in a fresh interpreter (this file run as a
script) that configures two logical CPU devices first: a second
MirroredStrategy in the pytest process can reuse collective instance keys
and abort (see tests/conformance_test.py). It never skips.
"""

import json
import os
import sys

import numpy as np
import pytest
import tensorflow as tf

import harness
from zoo import clamping

__all__ = []

ACTIVE = np.array([True, False, True, False, False])
STRENGTH = 0.7


def _data(rows=4, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(rows, ACTIVE.size)).astype(np.float32),
            rng.normal(size=(rows, ACTIVE.size)).astype(np.float32))


def _clamp_and_gradient(z, weights, compiled=False, **kwargs):
    """(output, d/dz of sum(weights * output)) of `clamp_latents`."""

    def step(latents, upstream):
        with tf.GradientTape() as tape:
            tape.watch(latents)
            out = clamping.clamp_latents(latents, ACTIVE, **kwargs)
            loss = tf.reduce_sum(upstream * out)
        return out, tape.gradient(loss, latents)

    step = tf.function(step) if compiled else step
    out, grad = step(tf.constant(z), tf.constant(weights))
    return out.numpy(), grad.numpy()


@pytest.mark.parametrize("compiled", [False, True])
def test_mean_forward_clamps_inactive_columns_to_the_batch_mean(compiled):
    z, w = _data()
    out, _ = _clamp_and_gradient(z, w, compiled=compiled)
    np.testing.assert_array_equal(out[:, ACTIVE], z[:, ACTIVE])
    assert np.all(out[:, ~ACTIVE] == out[:1, ~ACTIVE])  # One value per column, exactly.
    np.testing.assert_allclose(out[0, ~ACTIVE], z[:, ~ACTIVE].mean(0), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("compiled", [False, True])
def test_first_forward_clamps_inactive_columns_to_the_first_example(compiled):
    z, w = _data()
    out, _ = _clamp_and_gradient(z, w, compiled=compiled, clamp_to="first")
    np.testing.assert_array_equal(out[:, ACTIVE], z[:, ACTIVE])
    np.testing.assert_array_equal(out[:, ~ACTIVE], np.broadcast_to(z[0, ~ACTIVE], (4, 3)))


@pytest.mark.parametrize("clamp_to", ["mean", "first"])
@pytest.mark.parametrize("compiled", [False, True])
def test_backward_passes_the_upstream_gradient_to_active_columns_only(clamp_to, compiled):
    z, w = _data()
    _, grad = _clamp_and_gradient(z, w, compiled=compiled, clamp_to=clamp_to,
                                  invariance_strength=STRENGTH)
    np.testing.assert_array_equal(grad[:, ACTIVE], w[:, ACTIVE])
    target = z.mean(0) if clamp_to == "mean" else z[0]
    expected = STRENGTH * (z - target) / len(z)
    np.testing.assert_allclose(grad[:, ~ACTIVE], expected[:, ~ACTIVE], rtol=1e-5, atol=1e-7)
    # Nothing of the upstream gradient: a different upstream, the same pull.
    _, other = _clamp_and_gradient(z, 10 * w + 3, compiled=compiled, clamp_to=clamp_to,
                                   invariance_strength=STRENGTH)
    np.testing.assert_array_equal(other[:, ~ACTIVE], grad[:, ~ACTIVE])


@pytest.mark.parametrize("stop_at_statistic", [True, False])
def test_the_pull_is_the_gradient_of_the_batch_averaged_penalty(stop_at_statistic):
    """dP/dz for P = (lambda / N) sum_i 0.5 ||z_i - mean||^2 over clamped columns.

    With the mean differentiated too, the gradient is the same (the deviations
    from the mean sum to zero).
    """
    z = tf.constant(_data(rows=6)[0])
    with tf.GradientTape() as tape:
        tape.watch(z)
        out = clamping.clamp_latents(z, ACTIVE, invariance_strength=2.5)
    grad = tape.gradient(out, z, output_gradients=tf.zeros_like(z))
    with tf.GradientTape() as tape:
        tape.watch(z)
        mean = tf.reduce_mean(z, 0)
        mean = tf.stop_gradient(mean) if stop_at_statistic else mean
        per_example = 0.5 * 2.5 * tf.reduce_sum(tf.where(ACTIVE, 0.0, (z - mean) ** 2), 1)
        penalty = tf.nn.compute_average_loss(per_example, global_batch_size=6)
    np.testing.assert_allclose(grad, tape.gradient(penalty, z), rtol=1e-5, atol=1e-7)


def test_zero_strength_gives_clamped_units_no_gradient_and_scale_multiplies():
    z, w = _data()
    _, grad = _clamp_and_gradient(z, w, clamp_to="first", invariance_strength=0.0)
    assert np.all(grad[:, ~ACTIVE] == 0)
    np.testing.assert_array_equal(grad[:, ACTIVE], w[:, ACTIVE])
    _, one = _clamp_and_gradient(z, w, invariance_strength=1.0)
    _, scaled = _clamp_and_gradient(z, w, invariance_strength=tf.constant(1.0),
                                    gradient_scale=tf.constant(256.0))
    np.testing.assert_allclose(scaled[:, ~ACTIVE], 256 * one[:, ~ACTIVE], rtol=1e-5)
    np.testing.assert_array_equal(scaled[:, ACTIVE], w[:, ACTIVE])


def test_a_variable_strength_inside_tf_function():
    z, w = _data()
    strength = tf.Variable(STRENGTH)
    _, grad = _clamp_and_gradient(z, w, compiled=True, invariance_strength=strength)
    np.testing.assert_allclose(grad[:, ~ACTIVE], (STRENGTH * (z - z.mean(0)) / 4)[:, ~ACTIVE],
                               rtol=1e-5, atol=1e-7)


def test_an_all_active_mask_is_the_identity_both_ways():
    z, w = _data()
    identity = np.ones(ACTIVE.size, bool)
    zt = tf.constant(z)
    with tf.GradientTape() as tape:
        tape.watch(zt)
        out = clamping.clamp_latents(zt, identity, invariance_strength=STRENGTH)
        loss = tf.reduce_sum(tf.constant(w) * out)
    np.testing.assert_array_equal(out, z)
    np.testing.assert_array_equal(tape.gradient(loss, zt), w)


def test_integer_masks_half_precision_and_an_empty_batch():
    z, _ = _data()
    np.testing.assert_array_equal(clamping.clamp_latents(z, ACTIVE.astype(np.int32)),
                                  clamping.clamp_latents(z, ACTIVE))
    half = clamping.clamp_latents(tf.constant(z, tf.float16), ACTIVE)
    assert half.dtype == tf.float16
    np.testing.assert_allclose(half.numpy()[0, ~ACTIVE], z[:, ~ACTIVE].mean(0), atol=2e-3)
    for clamp_to in clamping.CLAMP_TARGETS:
        empty = tf.zeros([0, ACTIVE.size])
        with tf.GradientTape() as tape:
            tape.watch(empty)
            out = clamping.clamp_latents(empty, ACTIVE, clamp_to=clamp_to)
        assert out.shape == (0, ACTIVE.size)
        assert tape.gradient(out, empty).shape == (0, ACTIVE.size)


def test_bad_arguments_name_the_problem():
    z = tf.zeros([2, ACTIVE.size])
    with pytest.raises(ValueError, match=r"Unknown clamp_to 'median'.*'mean', 'first'"):
        clamping.clamp_latents(z, ACTIVE, clamp_to="median")
    with pytest.raises(ValueError, match="Unknown clamp_to None"):
        clamping.validate_clamp_to(None)
    assert clamping.validate_clamp_to("first") == "first"
    with pytest.raises(ValueError, match="invariance_strength must be >= 0"):
        clamping.clamp_latents(z, ACTIVE, invariance_strength=-1.0)
    with pytest.raises(ValueError, match="active has 3 entries for 5 latents"):
        clamping.clamp_latents(z, ACTIVE[:3])
    with pytest.raises(ValueError, match=r"\[batch, latents\]"):
        clamping.clamp_latents(tf.zeros([2, 3, 5]), ACTIVE)


GROUPS = [("azimuth", 1), ("elevation", 2), ("intrinsic", 3)]


def test_group_mask_by_name_and_python_index():
    expected = [False, True, True, False, False, False]
    np.testing.assert_array_equal(clamping.group_mask(GROUPS, "elevation"), expected)
    np.testing.assert_array_equal(clamping.group_mask(dict(GROUPS), 1), expected)
    np.testing.assert_array_equal(clamping.group_mask(dict(GROUPS), "intrinsic"),
                                  [False] * 3 + [True] * 3)
    with pytest.raises(ValueError, match=r"Unknown latent group 'light'.*azimuth"):
        clamping.group_mask(GROUPS, "light")
    with pytest.raises(ValueError, match="index 3 is out of range"):
        clamping.group_mask(GROUPS, 3)
    with pytest.raises(ValueError, match="named more than once"):
        clamping.group_mask([("a", 1), ("a", 2)], "a")
    with pytest.raises(ValueError, match="positive integer size"):
        clamping.group_mask([("a", 0)], "a")


def test_group_mask_with_a_tensor_index_inside_tf_function():
    z = tf.constant(np.arange(12, dtype=np.float32).reshape(2, 6))

    @tf.function
    def clamp(latents, factor):
        return clamping.clamp_latents(latents, clamping.group_mask(GROUPS, factor))

    for factor in range(3):
        mask = clamping.group_mask(GROUPS, factor).numpy()
        out = clamp(z, tf.constant(factor)).numpy()
        np.testing.assert_array_equal(out[:, mask], z.numpy()[:, mask])
        np.testing.assert_array_equal(out[:, ~mask], np.broadcast_to(z.numpy()[:, ~mask].mean(0),
                                                                     (2, int((~mask).sum()))))
    with pytest.raises(tf.errors.InvalidArgumentError, match="active_group index >= 3"):
        clamp(z, tf.constant(3))


# ---- Two replicas, in a fresh interpreter --------------------------------------------------

# (how the global batch reaches the replicas, rows per replica)
_SPLITS = [("dataset", [3, 3]), ("function", [0, 5]), ("function", [4, 1])]
_REPLICA_STRENGTH = 1.5


def _replica_cases():
    """Global batches whose two halves differ, so local statistics would be wrong."""
    cases = []
    for index, (how, sizes) in enumerate(_SPLITS):
        z, w = _data(rows=sum(sizes), seed=10 + index)
        z[sizes[0]:] += 5.0
        cases.extend({"how": how, "sizes": sizes, "clamp_to": clamp_to,
                      "z": z.tolist(), "w": w.tolist()} for clamp_to in clamping.CLAMP_TARGETS)
    return cases


def _replica_results(cases, devices):
    """Runs each case on a MirroredStrategy over `devices`: per-replica outputs and gradients."""
    strategy = tf.distribute.MirroredStrategy(devices)
    results = []
    for case in cases:
        z, w = np.array(case["z"], np.float32), np.array(case["w"], np.float32)
        if case["how"] == "dataset":  # Consecutive rows per replica, as in training.
            inputs = next(iter(strategy.experimental_distribute_dataset(
                tf.data.Dataset.from_tensors((z, w)))))
        else:
            bounds = np.cumsum([0] + case["sizes"])

            def rows(context, bounds=bounds, z=z, w=w):
                start, stop = bounds[context.replica_id_in_sync_group:][:2]
                return z[start:stop], w[start:stop]

            inputs = strategy.experimental_distribute_values_from_function(rows)

        def replica_step(latents, upstream, clamp_to=case["clamp_to"]):
            with tf.GradientTape() as tape:
                tape.watch(latents)
                out = clamping.clamp_latents(latents, ACTIVE, clamp_to,
                                             invariance_strength=_REPLICA_STRENGTH)
                loss = tf.reduce_sum(upstream * out)
            return out, tape.gradient(loss, latents)

        out, grad = tf.function(lambda batch: strategy.run(replica_step, args=batch))(inputs)
        results.append({name: [t.numpy().tolist() for t in strategy.experimental_local_results(v)]
                        for name, v in (("out", out), ("grad", grad))})
    return {"replicas": strategy.num_replicas_in_sync, "results": results}


def _replica_worker():
    """The subprocess: configures two logical CPUs before TF starts, reads cases on stdin."""
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    json.dump(_replica_results(json.load(sys.stdin), devices), sys.stdout)


def _run_on_two_replicas(cases):
    """In a fresh interpreter with two logical CPUs (no MirroredStrategy in pytest's)."""
    return harness.run_python_json(os.path.abspath(__file__), stdin=json.dumps(cases),
                                   timeout=240)


def test_two_replicas_clamp_to_the_global_batch_statistic():
    cases = _replica_cases()
    report = _run_on_two_replicas(cases)
    assert report["replicas"] == 2
    for case, result in zip(cases, report["results"], strict=True):
        z, w = np.array(case["z"], np.float32), np.array(case["w"], np.float32)
        sizes = [len(rows) for rows in result["out"]]
        assert sizes == case["sizes"], case
        out, grad = (np.concatenate([np.reshape(rows, (-1, ACTIVE.size)) for rows in result[name]])
                     for name in ("out", "grad"))
        # The global statistic: the whole batch's mean, or its very first row (replica 0's,
        # or replica 1's when replica 0 has no rows).
        target = z.mean(0) if case["clamp_to"] == "mean" else z[0]
        np.testing.assert_allclose(out[:, ~ACTIVE], np.broadcast_to(target[~ACTIVE], (len(z), 3)),
                                   rtol=1e-5, atol=1e-5, err_msg=str(case["sizes"]))
        assert np.all(out[:, ~ACTIVE] == out[:1, ~ACTIVE])  # Both replicas: one value.
        np.testing.assert_array_equal(out[:, ACTIVE], z[:, ACTIVE])
        np.testing.assert_array_equal(grad[:, ACTIVE], w[:, ACTIVE])
        pull = _REPLICA_STRENGTH * (z - target) / len(z)  # Global N, not the replica's.
        np.testing.assert_allclose(grad[:, ~ACTIVE], pull[:, ~ACTIVE], rtol=1e-4, atol=1e-6)


if __name__ == "__main__":
    _replica_worker()
