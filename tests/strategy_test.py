"""Training under tf.distribute: mirrored equals one device; two workers agree.

Run as a script (`python strategy_test.py recipes.NAME --flag=value ...`), this
file is one worker of the multi-worker tests: it runs the recipe as
`python -m recipes.NAME` would and prints a digest of the trained weights.
TF_CONFIG must be set by the caller.
"""

import functools
import hashlib
import json
import os
import re
import runpy
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import harness
from zoo import random as zoo_random
from zoo.data import digits
from zoo.data import pipeline
from zoo.train import loop
from zoo.train import runner
from zoo.train import strategy as zoo_strategy
from zoo.models.vae import VAE
from zoo.models.vqvae import VQVAE


def _train(strategy, steps=4, **options):
    keras.utils.set_random_seed(0)
    data = pipeline.make_dataset(digits.load("train"), 32, "binary", training=True, seed=3)
    with strategy.scope():
        model = VAE((28, 28, 1), latent_dim=5, base_filters=8, seed=11, kl_warmup_steps=3,
                    **options)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(data, epochs=2, steps_per_epoch=steps // 2, verbose=0).history
    return [v.numpy() for v in model.trainable_variables], history


@functools.cache
def _mirrored():
    """The file's one MirroredStrategy: two in one process can collide on collective keys."""
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    assert len(devices) == 2, "conftest should give two logical CPU devices"
    return tf.distribute.MirroredStrategy(devices)


def test_mirrored_on_two_devices_trains_exactly_like_one_device():
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    mirrored = _mirrored()
    assert mirrored.num_replicas_in_sync == 2
    one_weights, one_history = _train(tf.distribute.OneDeviceStrategy(devices[0]))
    two_weights, two_history = _train(mirrored)
    for one, two in zip(one_weights, two_weights):
        np.testing.assert_allclose(one, two, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(one_history["loss"], two_history["loss"], rtol=1e-4)
    start = VAE((28, 28, 1), latent_dim=5, base_filters=8)
    assert any(not np.allclose(a, b.numpy())
               for a, b in zip(one_weights, start.trainable_variables))


def test_a_mirrored_iaf_step_with_free_bits_equals_one_device():
    # Free bits floors each dimension's batch-mean KL: on two replicas that mean
    # must be the global batch's (one all-reduce), or the floors would differ.
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    options = dict(posterior="iaf", flow_steps=2, flow_hidden=8, free_bits=0.3)
    one_weights, one_history = _train(tf.distribute.OneDeviceStrategy(devices[0]), 2, **options)
    two_weights, two_history = _train(_mirrored(), 2, **options)
    for one, two in zip(one_weights, two_weights):
        np.testing.assert_allclose(one, two, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(one_history["loss"], two_history["loss"], rtol=1e-4)


def _train_vqvae(strategy, steps=3):
    keras.utils.set_random_seed(0)
    data = pipeline.make_dataset(digits.load("train"), 32, "binary", training=True, seed=3)
    with strategy.scope():
        # A restart threshold above the starting count of 1 restarts codes on step one.
        model = VQVAE((28, 28, 1), num_codes=8, embedding_dim=3, filters=8, residual_blocks=1,
                      ema=True, restart_threshold=2.0, seed=5)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    start = model.quantizer.codebook.numpy()
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    return start, [(v.name, v.numpy()) for v in model.weights]


def test_a_mirrored_vqvae_step_with_ema_and_restarts_equals_one_device():
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    start, one = _train_vqvae(tf.distribute.OneDeviceStrategy(devices[0]))
    _, two = _train_vqvae(_mirrored())
    assert [name for name, _ in one] == [name for name, _ in two]
    assert {"ema_counts", "ema_sums", "codebook"} <= {name for name, _ in one}
    for (name, value), (_, mirrored) in zip(one, two):
        np.testing.assert_allclose(value, mirrored, rtol=2e-4, atol=2e-5, err_msg=name)
    assert not np.allclose(dict(one)["codebook"], start)


@pytest.mark.parametrize("global_batch", [5, 6, 1])
def test_noise_of_an_uneven_batch_on_two_replicas_is_the_one_device_noise(global_batch):
    # The last batch of a finite dataset is split unevenly (5 -> 3 + 2, 1 -> 1 + 0):
    # each replica must take its own rows of the global draw, none twice.
    strategy = _mirrored()
    seed = zoo_random.step_seed(7, 3)
    data = tf.data.Dataset.range(global_batch).batch(global_batch)
    batch = next(iter(strategy.experimental_distribute_dataset(data)))

    def replica_noise(ids):
        size = tf.shape(ids)[0]
        return (ids, zoo_random.global_batch_normal([size, 4], seed),
                zoo_random.global_batch_uniform([size, 4], seed),
                zoo_random.global_batch_normal(tf.stack([3, size]), seed, batch_axis=1))

    per_replica = tf.function(lambda b: strategy.run(replica_noise, args=(b,)))(batch)
    ids, normal, uniform, transposed = (
        [t.numpy() for t in strategy.experimental_local_results(value)] for value in per_replica)
    assert [len(i) for i in ids] == [(global_batch + 1) // 2, global_batch // 2]
    np.testing.assert_array_equal(np.concatenate(ids), np.arange(global_batch))
    np.testing.assert_array_equal(np.concatenate(normal),
                                  tf.random.stateless_normal([global_batch, 4], seed))
    np.testing.assert_array_equal(np.concatenate(uniform),
                                  tf.random.stateless_uniform([global_batch, 4], seed))
    np.testing.assert_array_equal(np.concatenate(transposed, axis=1),
                                  tf.random.stateless_normal([3, global_batch], seed))
    assert len(np.unique(np.concatenate(normal), axis=0)) == global_batch


def test_strategy_names_are_checked():
    with pytest.raises(ValueError, match="Unknown strategy 'gpus'.*mirrored"):
        zoo_strategy.make_strategy("gpus")
    assert zoo_strategy.make_strategy("mirrored").num_replicas_in_sync == 2
    assert isinstance(zoo_strategy.make_strategy("one_device"), tf.distribute.OneDeviceStrategy)
    old = os.environ.pop("TF_CONFIG", None)
    try:
        with pytest.raises(ValueError, match="TF_CONFIG"):
            zoo_strategy.make_strategy("multi_worker")
    finally:
        if old is not None:
            os.environ["TF_CONFIG"] = old


@pytest.mark.parametrize("timeout", [0, -1.0, float("inf"), float("nan")])
def test_a_collective_timeout_must_be_positive_and_finite(timeout):
    with pytest.raises(ValueError, match=r"^collective_timeout must be a positive number of "
                                         rf"seconds or None; got {timeout!r}\.$"):
        zoo_strategy.make_strategy("default", collective_timeout=timeout)
    assert zoo_strategy.make_strategy("default", collective_timeout=None) is (
        tf.distribute.get_strategy())


@pytest.mark.parametrize("error", [tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                                   tf.errors.CancelledError])
def test_a_failed_collective_of_a_multi_worker_run_is_one_worker_lost_line(monkeypatch, error):
    strategy = tf.distribute.get_strategy()
    text = ("{{function_node __wrapped__CollectiveReduceV2_device_/job:worker/replica:0/task:0}}"
            " Collective ops is aborted by: recvmsg:Connection reset by peer\nmore detail")
    with pytest.raises(error):  # One process: not a lost worker, the error as it is.
        with runner._collectives(strategy, "/shared/run"):  # pylint: disable=protected-access
            raise error(None, None, text)
    monkeypatch.setattr(zoo_strategy, "is_multi_worker", lambda strategy: True)
    with pytest.raises(runner.WorkerLost) as lost:
        with runner._collectives(strategy, "/shared/run"):  # pylint: disable=protected-access
            raise error(None, None, text)
    assert str(lost.value) == (
        "lost contact with a worker (Collective ops is aborted by: recvmsg:Connection reset by "
        "peer); restart all workers to resume from the last checkpoint in /shared/run.")
    with pytest.raises(tf.errors.InvalidArgumentError):  # A bug is not a lost worker.
        with runner._collectives(strategy, "/shared/run"):  # pylint: disable=protected-access
            raise tf.errors.InvalidArgumentError(None, None, "shapes differ")


@pytest.mark.parametrize("value,message", [
    ("{'cluster': {}}", r"^TF_CONFIG is not valid JSON \(Expecting property name.*; "
                        r"expected a JSON object such as \{\"cluster\""),
    ("[1]", r"^TF_CONFIG must be a JSON object such as .*; got the JSON list \[1\]\.$"),
    ('"x"', r"^TF_CONFIG must be a JSON object .*; got the JSON str \"x\"\.$"),
    ("3", r"^TF_CONFIG must be a JSON object .*; got the JSON int 3\.$"),
    ('{"cluster": ["localhost:1"]}', r"^TF_CONFIG's \"cluster\" must map task types to lists"),
    ('{"cluster": {"worker": "localhost:1"}}', r"^TF_CONFIG's \"cluster\" must map"),
])
@pytest.mark.parametrize("name", ["auto", "default", "multi_worker"])
def test_a_malformed_tf_config_is_one_line_naming_it(monkeypatch, name, value, message):
    monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(ValueError, match=message) as error:
        zoo_strategy.make_strategy(name)
    assert "\n" not in str(error.value)


def test_an_empty_tf_config_is_no_cluster(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", "  ")
    assert zoo_strategy.make_strategy("auto") is tf.distribute.get_strategy()
    monkeypatch.setenv("TF_CONFIG", "{}")
    assert zoo_strategy.make_strategy("auto") is tf.distribute.get_strategy()
    with pytest.raises(ValueError, match="needs the TF_CONFIG environment variable"):
        zoo_strategy.make_strategy("multi_worker")


class _Counter(keras.Model):
    """Counts the examples and batches its train and test steps see."""

    def __init__(self):
        super().__init__(name="counter")
        self.examples = keras.metrics.Sum(name="examples")
        self.batches = keras.metrics.Sum(name="batches")

    def call(self, inputs):
        return inputs

    def train_step(self, data):
        return self.test_step(data)

    def test_step(self, data):
        self.examples.update_state(tf.cast(tf.shape(data)[0], tf.float32))
        self.batches.update_state(1.0)
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        return [self.examples, self.batches]


@pytest.mark.parametrize("custom_loop", [False, True])
def test_eval_steps_none_evaluates_the_whole_eval_set_in_both_loops(monkeypatch, custom_loop):
    # The custom loop is the multi-worker one; it runs here on one device.
    monkeypatch.setattr(zoo_strategy, "is_multi_worker", lambda strategy: custom_loop)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        model = _Counter()
        model.compile()
    train_data = tf.data.Dataset.range(6).map(lambda i: tf.cast(i, tf.float32)).batch(3)
    eval_data = tf.data.Dataset.range(11).map(lambda i: tf.cast(i, tf.float32)).batch(4)
    history = loop.train(model, strategy, train_data.repeat(), 2, 2, eval_data=eval_data,
                         verbose=0).history
    assert history["examples"] == [6.0, 6.0]
    assert history["val_examples"] == [11.0, 11.0]  # 4 + 4 + 3, every epoch.
    assert history["val_batches"] == [3.0, 3.0]
    history = loop.train(model, strategy, train_data.repeat(), 2, 1, eval_data=eval_data,
                         eval_steps=2, verbose=0).history
    assert history["val_examples"] == [8.0] and history["val_batches"] == [2.0]
    with pytest.raises(ValueError, match="eval_steps=None evaluates all of eval_data, which "
                                         "is infinite"):
        loop.train(model, strategy, train_data.repeat(), 2, 1, eval_data=eval_data.repeat())


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


# Each recipe's tiny run: one or two steps of small networks, evaluation cut to the minimum.
_TINY = dict(dataset="digits", batch_size=16, epochs=1, steps_per_epoch=2, eval_batches=1,
             verbose=0, seed=1)
_RECIPES = {
    "vae": dict(_TINY, epochs=2, latent_dim=4, base_filters=8, importance_samples=3),
    "dcgan": dict(_TINY, latent_dim=4, base_filters=8, fid_samples=32,
                  fid_classifier_epochs=1),
    "dcign": dict(_TINY, dataset="shapes", image_size=16, intrinsic_dim=2, minibatches=2,
                  base_filters=8, importance_samples=2, disentanglement_examples=64,
                  compare_vae=False),
    "cvae": dict(_TINY, latent_dim=4, base_filters=8, encoder_hidden=16, importance_samples=2,
                 importance_examples=16, attribute_examples=16, classifier_examples=64,
                 classifier_epochs=1, completion_steps=1),
    "vqvae": dict(_TINY, num_codes=4, embedding_dim=2, filters=4, residual_blocks=0,
                  prior_epochs=1, prior_filters=4, prior_layers=1, baselines="", fid_samples=32,
                  fid_classifier_epochs=1),
}


def _flags(values):
    return [f"--{name}={value}" for name, value in values.items()]


def _start_workers(recipe, flags, model_dirs):
    """Starts two localhost workers of `python -m recipes.RECIPE FLAGS` (via `_worker_main`).

    Worker i writes to model_dirs[i] (one folder for both: shared storage, as on a cluster).
    """
    workers = [f"localhost:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        env = harness.python_env(TF_CONFIG=json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen(
            [sys.executable, __file__, f"recipes.{recipe}",
             f"--model_dir={model_dirs[index]}"] + flags,
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=harness.REPO,
            start_new_session=True))
    return processes


def _stop(processes):
    """Kills whatever is left of the workers (and their children)."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)


def _finish(processes, timeout=300):
    """Waits for both workers; returns their (returncode, stdout, stderr); kills on timeout."""
    try:
        outputs = [p.communicate(timeout=timeout) for p in processes]
    finally:
        _stop(processes)
    return [(p.returncode, out, err) for p, (out, err) in zip(processes, outputs)]


def _digest(out):
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("recipe", sorted(_RECIPES))
def test_two_workers_on_localhost_train_a_recipe_and_agree(tmp_path, recipe):
    dirs = [tmp_path / "worker0", tmp_path / "worker1"]
    finished = _finish(_start_workers(recipe, _flags(_RECIPES[recipe]), dirs))
    for code, _, err in finished:
        assert code == 0, err[-3000:]
    digests = [_digest(out) for _, out, _ in finished]
    assert digests[0]["weights"] == digests[1]["weights"]
    assert digests[0]["replicas"] == digests[1]["replicas"] == 2
    assert digests[0]["multi_worker"] and digests[1]["multi_worker"]
    assert digests[0]["trained_steps"] == _RECIPES[recipe]["epochs"] * 2
    assert os.path.exists(dirs[0] / "export" / "1" / "saved_model.pb")
    assert os.path.exists(dirs[0] / "checkpoints" / "state.json")
    assert not os.path.exists(dirs[1] / "export")
    assert not os.path.exists(dirs[1] / "checkpoints")


def _wait_for(path, processes, timeout):
    """Waits until `path` exists while both workers run; False on timeout or an exit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return True
        if any(p.poll() is not None for p in processes):
            return False
        time.sleep(0.5)
    return False


def test_a_killed_worker_stops_the_other_in_one_line_and_a_restart_resumes(tmp_path):
    # One shared model directory, as on a cluster; short collective timeouts. The chief
    # (worker 0) is killed: its lock is left behind, and worker 1 is the survivor.
    flags = _flags(dict(_RECIPES["vae"], epochs=50, collective_timeout=10))
    processes = _start_workers("vae", flags, [tmp_path] * 2)
    try:
        assert _wait_for(tmp_path / "checkpoints" / "state.json", processes, 240), (
            [p.poll() for p in processes])
        os.killpg(processes[0].pid, signal.SIGKILL)
        started = time.monotonic()
        _, err = processes[1].communicate(timeout=90)
        stopped_after = time.monotonic() - started
    finally:
        _stop(processes)
    assert processes[1].returncode == 1, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert [line for line in err.splitlines() if line.startswith("error:")] == [last]
    assert re.fullmatch(
        r"error: lost contact with a worker \(.+\); restart all workers to resume from the "
        rf"last checkpoint in {re.escape(str(tmp_path))}\.", last), err[-3000:]
    assert stopped_after < 90
    with open(tmp_path / "checkpoints" / "state.json") as handle:
        trained = json.load(handle)["epoch"]
    assert trained >= 1

    restart = _flags(dict(_RECIPES["vae"], epochs=trained + 1, collective_timeout=10))
    finished = _finish(_start_workers("vae", restart, [tmp_path] * 2))
    for code, _, err in finished:
        assert code == 0, err[-3000:]
        assert f"resuming from epoch {trained} of {tmp_path}" in err
    digests = [_digest(out) for _, out, _ in finished]
    assert digests[0]["weights"] == digests[1]["weights"]
    assert digests[0]["trained_steps"] == (trained + 1) * 2
    with open(tmp_path / "history.csv") as handle:
        assert len(handle.read().strip().splitlines()) == 1 + trained + 1


def _worker_main(recipe, argv):
    """Runs `python -m RECIPE ARGV` as it is, then prints a digest of the trained weights."""
    models = []
    run = runner.run

    def run_and_keep(task, strategy=None):
        build = task.build_model

        def build_and_keep(source):
            models.append(build(source))
            return models[-1]

        task.build_model = build_and_keep
        return run(task, strategy)

    runner.run = run_and_keep
    sys.argv = [recipe] + argv
    try:
        runpy.run_module(recipe, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            raise
    strategy = models[0].distribute_strategy
    blob = b"".join(v.numpy().tobytes() for model in models for v in model.weights)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                      "multi_worker": zoo_strategy.is_multi_worker(strategy),
                      "trained_steps": int(models[0].optimizer.iterations.numpy()),
                      "weights": hashlib.sha256(blob).hexdigest()}))


if __name__ == "__main__":
    _worker_main(sys.argv[1], sys.argv[2:])
