"""One training run, end to end: data, model, training, evaluation, outputs, export.

A recipe builds a task (`zoo.train.task.Task`) with its config from its flags
and calls `run(task)`. The model directory then holds:

    config.json                 the resolved configuration, and the task's name
    model.json                  the model's Keras config (`zoo.load_run` rebuilds it)
    checkpoints/                resumable model + optimizer state (per epoch)
    logs/                       TensorBoard scalars (train/validation) and images
    samples/*.png               sample grids after every epoch
    history.csv, training_curves.png
    results.json                the final evaluation (then the export's path)
    export/<version>/           the SavedModel with serving signatures
    run.lock                    pid and host of the run using the folder

Rerunning with the same model directory resumes from the newest readable
checkpoint. The flags of the rerun apply (learning rates, epochs, batch size,
...), but those that shape the model (the config's `model_fields()`) must
match the saved `config.json`: a mismatch is refused before anything is
written. `history.csv` is cut back to the restored
epoch, so it keeps exactly one row per trained epoch. Only one run at a time
may use a model directory (`zoo.train.lock`); in a multi-worker run only the
chief locks and writes it.
"""

import contextlib
import json
import os
import re

import keras
import tensorflow as tf
from absl import logging

from zoo import export as zoo_export
from zoo import images as zoo_images
from zoo.data import pipeline
from zoo.train import task as zoo_task
from zoo.train import callbacks as zoo_callbacks
from zoo.train import load as zoo_load
from zoo.train import lock as zoo_lock
from zoo.train import loop
from zoo.train import strategy as zoo_strategy

__all__ = ["run", "TrainingDiverged", "OutputError", "WorkerLost"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


class WorkerLost(RuntimeError):
    """A multi-worker collective failed: a worker is gone (killed, preempted, unreachable).

    The run cannot go on with fewer workers; restarting all of them resumes
    from the newest checkpoint in the (shared) model directory.
    """


# What a collective with a lost peer raises: aborted by TF's health check
# (Unavailable), timed out (DeadlineExceeded), or cut off mid-transfer.
_LOST_WORKER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                       tf.errors.CancelledError, tf.errors.AbortedError,
                       tf.errors.FailedPreconditionError)


class OutputError(RuntimeError):
    """A file or folder of the run could not be written; the message names it."""


def _is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not zoo_strategy.is_multi_worker(strategy):
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def _set_precision(mixed_precision):
    if not mixed_precision:
        keras.mixed_precision.set_global_policy("float32")
        return
    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    policy = "mixed_float16" if on_gpu else "mixed_bfloat16"
    if not on_gpu:
        logging.warning("mixed precision on CPU uses bfloat16, which is rarely faster.")
    keras.mixed_precision.set_global_policy(policy)


def _reason(error):
    """One line of an `OSError`'s or a `tf.errors.OpError`'s cause."""
    text = getattr(error, "strerror", None) or getattr(error, "message", None) or str(error)
    return (str(text).strip().splitlines() or [type(error).__name__])[0]


@contextlib.contextmanager
def _collectives(strategy, model_dir):
    """Turns a failed multi-worker collective into one `WorkerLost` line."""
    try:
        yield
    except _LOST_WORKER_ERRORS as error:
        if not zoo_strategy.is_multi_worker(strategy):
            raise
        reason = re.sub(r"^\{\{[^}]*\}\}\s*", "", _reason(error))  # TF's {{function_node ...}}.
        raise WorkerLost(
            f"lost contact with a worker ({reason}); restart all workers to resume "
            f"from the last checkpoint in {model_dir}.") from error


@contextlib.contextmanager
def _writing(path):
    """Turns an `OSError` or `tf.errors.OpError` into an `OutputError` naming the path."""
    try:
        yield
    except (OSError, tf.errors.OpError) as error:
        named = getattr(error, "filename", None) or path
        raise OutputError(f"cannot write {named}: {_reason(error)}") from error


def _check_output_dir(path, flag):
    """Creates folder `path` and proves it writable, else one `ValueError` line naming it."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"--{flag}={path} is a file, not a folder; pass a folder.")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise ValueError(f"--{flag}={path} cannot be created ({_reason(error)}); "
                         "pass a folder you can write to.") from None
    probe = os.path.join(path, f".write-test-{os.getpid()}")
    try:
        with open(probe, "w") as handle:
            handle.write("zoo")
        os.remove(probe)
    except OSError as error:
        raise ValueError(f"--{flag}={path} is not writable ({_reason(error)}); "
                         "pass a folder you can write to.") from None


def _show(value):
    """A config value as a flag would spell it (None: unset, the default)."""
    if value is None:
        return "unset"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _saved_config(model_dir):
    """The `config.json` of an earlier run in `model_dir`, or None."""
    path = os.path.join(model_dir, "config.json")
    if not os.path.exists(path):
        return None
    return zoo_load.read_json_object(
        path, "fix it, or delete it to resume with the flags given now.")


def _check_resume(task, saved, trained_epochs):
    """Refuses, in one line, a resumed run that changes the model or asks for fewer epochs.

    The other settings (learning rates, batch size, steps, evaluation, ...)
    of the task's new config apply to the resumed run.
    """
    config = task.config
    new = config.as_dict()
    changed = [(name, saved[name], new[name]) for name in task.model_fields()
               if name in saved and saved[name] != new[name]]
    if changed:
        name, old, value = changed[0]
        flag = config.flag_name(name)
        raise ValueError(
            f"--{flag}={_show(value)} differs from {_show(old)} of the model in "
            f"{config.model_dir}, which resumes with the architecture it was built with: "
            f"pass --{flag}={_show(old)} or another --model_dir.")
    epochs, flag = task.epochs(), config.flag_name(task.epochs_field)
    if epochs < trained_epochs:
        raise ValueError(
            f"--{flag}={epochs} is fewer than the {trained_epochs} epochs already "
            f"trained in {config.model_dir}: pass --{flag}={trained_epochs} or more, or "
            "another --model_dir.")


def _write_json(path, value):
    with _writing(path):
        with open(path + ".tmp", "w") as handle:
            json.dump(value, handle, indent=2, sort_keys=True)
        os.replace(path + ".tmp", path)


def run(task, strategy=None):
    """Trains, evaluates and exports `task`'s model as its config says; returns the results.

    Args:
        task: a `zoo.train.task.Task` holding its config.
        strategy: a strategy already made (else one is made from the config's
            `strategy`; a multi-worker strategy must be made before any other TF op).

    The task's `prerequisites()` (earlier stages, e.g. the VQ-VAE before its
    prior) run first, each in its own model directory, under this run's lock;
    a complete one is not run again. The results hold `export_path`, the
    SavedModel's folder (None on a worker that is not the chief: only the
    chief writes), each earlier stage's results under its name, and
    `baselines`, the results of the task's baselines (each trained in
    `MODEL_DIR/NAME`).

    Raises:
        TrainingDiverged: the loss became non-finite (the model directory keeps
            the last good checkpoint, which is restored and exported).
        ValueError: an output folder is a file, cannot be created or written;
            a resumed run changes the model; a corrupt `config.json` or
            checkpoint state.
        zoo.train.lock.ModelDirLocked: another run uses the model directory.
        OutputError: a file of the run could not be written (full disk, ...).
        WorkerLost: in a multi-worker run, another worker stopped answering
            (its collectives failed or timed out after `collective_timeout`).
    """
    config = task.config
    strategy = strategy or zoo_strategy.make_strategy(config.strategy, config.tpu_address,
                                                      config.collective_timeout)
    chief = _is_chief(strategy)
    export_dir = config.export_dir or os.path.join(config.model_dir, "export")
    if not chief:  # The chief checks, locks and writes the folders.
        os.makedirs(config.model_dir, exist_ok=True)  # As before: task files may go there.
        earlier = _run_prerequisites(task, strategy)
        results = _run(task, strategy, chief, export_dir)
    else:
        _check_output_dir(config.model_dir, "model_dir")
        _check_output_dir(export_dir, "export_dir")
        with zoo_lock.ModelDirLock(config.model_dir):
            earlier = _run_prerequisites(task, strategy)
            results = _run(task, strategy, chief, export_dir)
    if earlier:
        results = {**earlier, **results}
        if chief:
            _write_json(os.path.join(config.model_dir, "results.json"), results)
    baselines = task.baselines(results)
    if baselines:
        results["baselines"] = {name: run(baseline, strategy=strategy)
                                for name, baseline in baselines.items()}
        if chief:
            _write_json(os.path.join(config.model_dir, "results.json"), results)
    return results


def _run_prerequisites(task, strategy):
    """Runs the task's earlier stages in order, skipping complete ones: {name: results}.

    A stage is complete when its newest checkpoint has its config's epochs and
    its `results.json` holds an export (a rerun would only evaluate and export
    it again); a complete stage is still checked against the new settings.
    """
    results = {}
    for name, earlier in task.prerequisites().items():
        config = earlier.config
        trained = zoo_callbacks.ResumableCheckpoint(
            os.path.join(config.model_dir, "checkpoints")).latest()[0]
        saved = _saved_config(config.model_dir) if trained else None
        results_json = os.path.join(config.model_dir, "results.json")
        if saved is not None and trained >= earlier.epochs() and os.path.isfile(results_json):
            _check_resume(earlier, saved, trained)
            done = zoo_load.read_json_object(
                results_json, f"delete it to evaluate the {name} stage again.")
            if done.get("export_path"):
                logging.info("the %s stage is complete in %s", name, config.model_dir)
                results[name] = done
                continue
        results[name] = run(earlier, strategy=strategy)
    return results


def _run(task, strategy, chief, export_dir):
    """`run` after the output folders are checked and locked."""
    config = task.config
    checkpoint = zoo_callbacks.ResumableCheckpoint(
        os.path.join(config.model_dir, "checkpoints"), is_chief=chief)
    trained_epochs = checkpoint.latest()[0]
    saved = _saved_config(config.model_dir) if trained_epochs else None
    if saved is not None:
        _check_resume(task, saved, trained_epochs)
    keras.utils.set_random_seed(config.seed)
    _set_precision(config.mixed_precision)

    train, test = task.load_splits()
    logging.info("strategy %s (%d replicas)", type(strategy).__name__,
                 strategy.num_replicas_in_sync)
    with strategy.scope():
        model = task.build_model(train)
        task.compile(model)
    data = zoo_task.Data(train=train, test=test,
                         test_batches=task.batches(model, test, training=False))
    train_data = task.train_data(model, data.train)
    steps = config.steps_per_epoch or pipeline.steps_per_epoch(
        data.train, config.global_batch_size)

    initial_epoch = checkpoint.restore(model)
    if initial_epoch:
        logging.info("resuming from epoch %d of %s", initial_epoch, config.model_dir)

    log_dir = os.path.join(config.model_dir, "logs")
    history_csv = os.path.join(config.model_dir, "history.csv")
    if chief:
        _write_json(os.path.join(config.model_dir, "config.json"),
                    {"task": task.name, **config.as_dict()})
        _write_json(os.path.join(config.model_dir, "model.json"),
                    keras.saving.serialize_keras_object(model))
        with _writing(history_csv):
            zoo_callbacks.trim_history(history_csv, initial_epoch)
    # The history row goes before the checkpoint: a kill between the two
    # leaves a row of an epoch that is not checkpointed, which the resumed
    # run trims (never a checkpoint without its row).
    callbacks = [keras.callbacks.TerminateOnNaN()]
    if chief:
        callbacks.append(keras.callbacks.CSVLogger(history_csv, append=initial_epoch > 0))
    callbacks += [checkpoint, *task.sample_callbacks(model, data, chief)]
    if chief:
        callbacks.append(keras.callbacks.TensorBoard(log_dir, write_graph=False))
    eval_data, eval_steps = data.test_batches, config.eval_batches
    if zoo_strategy.is_multi_worker(strategy):
        # Equal full batches on every worker: uneven last batches would hang.
        eval_steps = eval_steps or max(1, data.test.num_examples // config.global_batch_size)
        eval_data = task.batches(model, data.test, training=True)
    if initial_epoch < task.epochs():
        with _writing(config.model_dir), _collectives(strategy, config.model_dir):
            # _writing: checkpoints, rows, grids, summaries; _collectives: a lost worker.
            loop.train(model, strategy, train_data, steps, task.epochs(),
                       initial_epoch=initial_epoch, eval_data=eval_data, eval_steps=eval_steps,
                       callbacks=callbacks, verbose=config.verbose)
    if checkpoint.skipped_nonfinite or not all(
            bool(tf.reduce_all(tf.math.is_finite(v))) for v in model.trainable_variables):
        checkpoint.restore(model)
        raise TrainingDiverged(
            f"the loss became non-finite; the last good checkpoint "
            f"({checkpoint.latest()[1] or 'none'}) is kept in {config.model_dir}. "
            "Lower --learning_rate or raise --kl_warmup_steps.")

    results = task.evaluate(model, data)
    results["epochs"] = task.epochs()
    if chief:
        results_json = os.path.join(config.model_dir, "results.json")
        _write_json(results_json, results)  # Kept even if the export fails.
        if os.path.exists(history_csv):
            curves = os.path.join(config.model_dir, "training_curves.png")
            with _writing(curves):
                zoo_images.plot_history(history_csv, curves)
        with _writing(export_dir):
            results["export_path"] = zoo_export.export_saved_model(model, export_dir)
        _write_json(results_json, results)
    else:  # The chief exports; this worker's copy of the model is identical and unsaved.
        results["export_path"] = None
    return results
