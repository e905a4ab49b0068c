"""`runner.run` on a tiny VAE and DCGAN: resuming with new flags, one history row per epoch,
unreadable checkpoints, the model directory's lock, and file-system problems in one line."""

import csv
import errno
import json
import logging
import os
import shutil
import socket
import subprocess
import sys

import keras
import pytest
import tensorflow as tf

import harness
from zoo import export as zoo_export
from zoo.tasks import dcgan as dcgan_task
from zoo.tasks import vae as vae_task
from zoo.train import callbacks as zoo_callbacks
from zoo.train import lock as zoo_lock
from zoo.train import runner


def _config(model_dir, **overrides):
    kwargs = dict(dataset="digits", image_size=8, global_batch_size=8, epochs=1,
                  steps_per_epoch=1, eval_batches=1, model_dir=str(model_dir), verbose=0,
                  learning_rate=1e-3, latent_dim=2, network="mlp", importance_samples=2)
    kwargs.update(overrides)
    return vae_task.VAEConfig(**kwargs)


def _vae(model_dir, **overrides):
    return vae_task.VAETask(_config(model_dir, **overrides))


def _keeping_model(task):
    """`task` whose built model is kept in the returned dict's "model"."""
    kept = {}
    build = task.build_model

    def keep(source):
        kept["model"] = build(source)
        return kept["model"]

    task.build_model = keep
    return task, kept


class _Killed(Exception):
    """Stands for a kill -9 in the middle of an epoch's end."""


@pytest.fixture(autouse=True)
def _cheap_export(monkeypatch):
    """The SavedModel itself is tested in export_test; here only its path matters."""
    monkeypatch.setattr(zoo_export, "export_saved_model",
                        lambda model, export_dir, version=None: os.path.join(export_dir, "1"))


@pytest.fixture(scope="module")
def _trained(tmp_path_factory):
    """A model directory of 3 trained epochs (3 kept checkpoints), copied by the tests."""
    model_dir = tmp_path_factory.mktemp("trained")
    runner.run(_vae(model_dir, epochs=3))
    assert not os.path.exists(model_dir / zoo_lock.LOCK_FILE)  # Released at the end.
    return model_dir


def _copy(trained, tmp_path):
    shutil.copytree(trained, tmp_path, dirs_exist_ok=True)
    return tmp_path


# 3. Flags given on resume.

def test_a_new_learning_rate_applies_on_resume(_trained, tmp_path):
    model_dir = _copy(_trained, tmp_path)  # Trained with learning_rate=1e-3.
    task, kept = _keeping_model(_vae(model_dir, learning_rate=1e-5, epochs=4))
    runner.run(task)
    assert float(kept["model"].optimizer.learning_rate) == pytest.approx(1e-5)
    assert int(kept["model"].optimizer.iterations) == 4  # Resumed: 3 steps + 1 step.
    assert json.load(open(model_dir / "config.json"))["learning_rate"] == 1e-5


def test_both_gan_learning_rates_apply_on_resume(tmp_path):
    class Unjudged(dcgan_task.DCGANTask):
        def evaluate(self, model, data):
            return {}

    def task(**overrides):
        settings = dict(dataset="digits", image_size=8, global_batch_size=8, epochs=1,
                        steps_per_epoch=1, eval_batches=1, model_dir=str(tmp_path), verbose=0,
                        latent_dim=2, base_filters=4, ema_decay=0.0)
        return Unjudged(dcgan_task.DCGANConfig(**{**settings, **overrides}))

    runner.run(task(d_learning_rate=1e-3, g_learning_rate=2e-3))
    resumed, kept = _keeping_model(task(d_learning_rate=3e-5, g_learning_rate=4e-5, epochs=2))
    runner.run(resumed)
    model = kept["model"]
    assert float(model.d_optimizer.learning_rate) == pytest.approx(3e-5)
    assert float(model.g_optimizer.learning_rate) == pytest.approx(4e-5)
    assert int(model.g_optimizer.iterations) == 2


def test_changing_the_model_on_resume_is_refused_before_config_json_changes(
        _trained, tmp_path):
    model_dir = _copy(_trained, tmp_path)
    before = open(model_dir / "config.json").read()
    for change, flag, old, new in [
            (dict(latent_dim=3), "--latent_dim", "2", "3"),
            (dict(network="conv"), "--network", "mlp", "conv"),
            (dict(beta=2.0), "--beta", "1.0", "2.0"),
            (dict(image_size=12), "--image_size", "8", "12"),
            (dict(dataset="shapes"), "--dataset", "digits", "shapes"),
            (dict(epochs=2), "--epochs", "3", "2")]:
        with pytest.raises(ValueError) as error:
            runner.run(_vae(model_dir, **change))
        message = str(error.value)
        assert f"{flag}={new}" in message and old in message, message
        assert str(model_dir) in message and "\n" not in message
        assert open(model_dir / "config.json").read() == before


# 4. One history row per epoch.

@pytest.mark.parametrize("after_checkpoint", [False, True])
def test_a_kill_at_an_epoch_end_leaves_one_history_row_per_epoch(
        _trained, tmp_path, monkeypatch, after_checkpoint):
    model_dir = _copy(_trained, tmp_path)
    save = zoo_callbacks.ResumableCheckpoint.on_epoch_end

    def killed_in_epoch_four(self, epoch, logs=None):
        if epoch == 3 and not after_checkpoint:
            raise _Killed()
        save(self, epoch, logs)
        if epoch == 3:
            raise _Killed()

    monkeypatch.setattr(zoo_callbacks.ResumableCheckpoint, "on_epoch_end", killed_in_epoch_four)
    with pytest.raises(_Killed):
        runner.run(_vae(model_dir, epochs=5))
    state = json.load(open(model_dir / "checkpoints" / "state.json"))
    assert state["epoch"] == (4 if after_checkpoint else 3)
    assert harness.history_epochs(model_dir) == [0, 1, 2, 3]  # The row comes first.
    assert not os.path.exists(model_dir / zoo_lock.LOCK_FILE)  # Released on the way out.
    monkeypatch.setattr(zoo_callbacks.ResumableCheckpoint, "on_epoch_end", save)
    runner.run(_vae(model_dir, epochs=5))
    assert harness.history_epochs(model_dir) == [0, 1, 2, 3, 4]


def test_trim_history_keeps_the_last_row_of_each_restored_epoch(tmp_path):
    path = str(tmp_path / "history.csv")
    with open(path, "w") as handle:
        handle.write("epoch,loss\n0,5.0\n1,nan\n1,4.0\n2,3.0\n")
    zoo_callbacks.trim_history(path, 2)
    with open(path, newline="") as handle:
        assert [(r["epoch"], r["loss"]) for r in csv.DictReader(handle)] == [
            ("0", "5.0"), ("1", "4.0")]


# 5. Unreadable checkpoints and state.

def test_a_truncated_latest_checkpoint_falls_back_to_the_newest_readable(
        _trained, tmp_path, caplog):
    model_dir = _copy(_trained, tmp_path)
    latest = model_dir / "checkpoints" / "epoch-0003.weights.h5"
    latest.write_bytes(latest.read_bytes()[:1000])
    checkpoint = zoo_callbacks.ResumableCheckpoint(str(model_dir / "checkpoints"))
    with caplog.at_level(logging.WARNING):
        task, kept = _keeping_model(_vae(model_dir, epochs=4))
        runner.run(task)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(latest) in w and "epoch-0002.weights.h5" in w for w in warnings), warnings
    assert int(kept["model"].optimizer.iterations) == 2 + 2  # From epoch 2, then 3 and 4.
    assert harness.history_epochs(model_dir) == [0, 1, 2, 3]
    assert checkpoint.latest()[0] == 4


def test_an_empty_or_corrupt_state_json_is_named(_trained, tmp_path):
    model_dir = _copy(_trained, tmp_path)
    state = model_dir / "checkpoints" / "state.json"
    for text in ("", "{not json", '{"epoch": 2}'):
        state.write_text(text)
        with pytest.raises(ValueError, match="state.json is empty or corrupt") as error:
            runner.run(_vae(model_dir, epochs=4))
        assert str(state) in str(error.value) and "\n" not in str(error.value)


# 6. The lock.

def test_a_second_run_on_a_locked_model_dir_is_refused(tmp_path):
    with zoo_lock.ModelDirLock(str(tmp_path)):
        with pytest.raises(zoo_lock.ModelDirLocked) as error:
            runner.run(_vae(tmp_path))
    message = str(error.value)
    assert str(tmp_path) in message and f"pid {os.getpid()}" in message
    assert socket.gethostname() in message
    assert not os.path.exists(tmp_path / "config.json")  # Refused before writing.


def test_a_stale_lock_is_taken_over_with_a_warning_and_removed_at_the_end(tmp_path, caplog):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / zoo_lock.LOCK_FILE
    path.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    with caplog.at_level(logging.WARNING):
        with zoo_lock.ModelDirLock(str(tmp_path)):
            assert json.loads(path.read_text()) == {"pid": os.getpid(),
                                                    "host": socket.gethostname()}
    assert any("stale lock" in r.getMessage() and f"pid {dead.pid}" in r.getMessage()
               for r in caplog.records)
    assert not os.path.exists(path)


def test_a_lock_held_by_a_live_process_without_flock_is_still_refused(tmp_path):
    (tmp_path / zoo_lock.LOCK_FILE).write_text(
        json.dumps({"pid": os.getppid(), "host": socket.gethostname()}))
    with pytest.raises(zoo_lock.ModelDirLocked, match=f"pid {os.getppid()}"):
        zoo_lock.ModelDirLock(str(tmp_path)).acquire()


# 7. File-system problems.

def test_output_folders_that_cannot_be_written_are_refused_before_training(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    cases = [(afile, None, f"--model_dir={afile} is a file"),
             (afile / "run", None, f"--model_dir={afile / 'run'} cannot be created"),
             (tmp_path / "ok", str(afile), f"--export_dir={afile} is a file"),
             (tmp_path / "ok", "/proc/zoo", "--export_dir=/proc/zoo cannot be created")]
    for model_dir, export_dir, start in cases:
        with pytest.raises(ValueError) as error:
            runner.run(_vae(model_dir, export_dir=export_dir))
        assert str(error.value).startswith(start) and "\n" not in str(error.value), error.value
    assert not os.path.exists(tmp_path / "ok" / "checkpoints")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_model_dir_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="is not writable"):
            runner.run(_vae(folder))
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("failure", [
    OSError(errno.ENOSPC, "No space left on device"),
    tf.errors.ResourceExhaustedError(None, None, "write failed: disk full\nmore detail"),
])
def test_a_failed_export_keeps_results_json_and_names_the_export_dir(
        _trained, tmp_path, monkeypatch, failure):
    def full_disk(model, export_dir, version=None):
        raise failure

    model_dir = _copy(_trained, tmp_path)
    os.remove(model_dir / "results.json")
    monkeypatch.setattr(zoo_export, "export_saved_model", full_disk)
    with pytest.raises(runner.OutputError) as error:
        runner.run(_vae(model_dir, epochs=3))  # Evaluates, exports.
    message = str(error.value)
    assert message.startswith(f"cannot write {model_dir / 'export'}: ") and "\n" not in message
    assert ("No space left" in message) or ("disk full" in message)
    results = json.load(open(model_dir / "results.json"))
    assert "log_likelihood" in results and "export_path" not in results


def test_a_full_disk_while_checkpointing_names_the_model_dir(tmp_path, monkeypatch):
    def full_disk(self, filepath, overwrite=True, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(keras.Model, "save_weights", full_disk)
    with pytest.raises(runner.OutputError, match=f"cannot write {tmp_path}: No space left"):
        runner.run(_vae(tmp_path))
