"""Callbacks: resumable checkpoints that keep only finite weights, and sample grids."""

import csv
import json
import math
import os
import re

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from zoo import images as zoo_images

__all__ = ["ResumableCheckpoint", "SampleGrids", "trim_history"]

_CHECKPOINT_NAME = re.compile(r"epoch-(\d+)\.weights\.h5$")
# What a checkpoint that cannot be read raises from `load_weights` (h5py: OSError, KeyError).
_UNREADABLE = (OSError, ValueError, KeyError, RuntimeError)


class ResumableCheckpoint(keras.callbacks.Callback):
    """Saves model and optimizer state at every epoch end; `restore` resumes.

    A checkpoint is written only when the epoch's loss and every weight are
    finite, so after a NaN the newest checkpoint is the last good state. Only
    the chief writes in a multi-worker run.

    `restore` falls back to the newest readable checkpoint when a newer one is
    truncated (a kill or a full disk while writing), and keeps the learning
    rates the model was compiled with: a rerun with a new `--learning_rate`
    trains with it (the checkpoint's rate would otherwise come back with the
    optimizer's other variables).

    Args:
        directory: where `epoch-NNNN.weights.h5` files and `state.json` go.
        max_to_keep: how many recent checkpoints to keep.
        is_chief: whether this process writes.
    """

    def __init__(self, directory, max_to_keep=3, is_chief=True):
        super().__init__()
        self.directory = directory
        self.max_to_keep = max_to_keep
        self.is_chief = is_chief
        self.skipped_nonfinite = False

    @property
    def _state_path(self):
        return os.path.join(self.directory, "state.json")

    def latest(self):
        """(epochs completed, checkpoint path) of the newest checkpoint, or (0, None).

        Raises:
            ValueError: `state.json` is empty or corrupt (the message names it).
        """
        if not os.path.exists(self._state_path):
            return 0, None
        try:
            with open(self._state_path) as handle:
                state = json.load(handle)
            return int(state["epoch"]), os.path.join(self.directory, str(state["file"]))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"{self._state_path} is empty or corrupt ({type(error).__name__}: {error}); "
                'it should read {"epoch": N, "file": "epoch-NNNN.weights.h5"}: fix it, or '
                f"delete {self.directory} to train from scratch.") from None

    def _older(self, epoch):
        """(epoch, path) of the kept checkpoints older than `epoch`, newest first."""
        if not os.path.isdir(self.directory):
            return []
        found = []
        for name in os.listdir(self.directory):
            match = _CHECKPOINT_NAME.fullmatch(name)
            if match and int(match.group(1)) < epoch:
                found.append((int(match.group(1)), os.path.join(self.directory, name)))
        return sorted(found, reverse=True)

    def restore(self, model):
        """Loads the newest readable checkpoint into `model`; returns the epoch to start from.

        Learning rates stay those of the model's optimizers as compiled.

        Raises:
            ValueError: `state.json` is corrupt, or no kept checkpoint can be read.
        """
        epoch, path = self.latest()
        if path is None:
            return 0
        if model.optimizer is not None and not model.optimizer.built:
            with model.distribute_strategy.scope():  # Slots live where the variables do.
                model.optimizer.build(model.trainable_variables)
        rates = [(v, v.numpy()) for v in _optimizer_variables(model) if v.name == "learning_rate"]
        failed = []
        for epoch, path in [(epoch, path)] + self._older(epoch):
            try:
                model.load_weights(path)
            except _UNREADABLE as error:
                failed.append((path, str(error).splitlines()[0] if str(error) else
                               type(error).__name__))
                continue
            for bad, reason in failed:
                logging.warning("checkpoint %s is unreadable (%s); resuming from %s instead.",
                                bad, reason, path)
            for variable, rate in rates:
                if not np.isclose(float(variable.numpy()), float(rate)):
                    logging.info("learning rate %s (as compiled) replaces the checkpoint's %s",
                                 float(rate), float(variable.numpy()))
                variable.assign(rate)
            return epoch
        raise ValueError(f"no checkpoint in {self.directory} can be read ("
                         + "; ".join(f"{p}: {r}" for p, r in failed)
                         + f"): delete {self.directory} to train from scratch.")

    def _finite(self, logs):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            return False
        return all(np.isfinite(v.numpy()).all() for v in self.model.trainable_variables)

    def on_epoch_end(self, epoch, logs=None):
        if not self._finite(logs):
            self.skipped_nonfinite = True
            return
        if not self.is_chief:
            return
        os.makedirs(self.directory, exist_ok=True)
        name = f"epoch-{epoch + 1:04d}.weights.h5"
        self.model.save_weights(os.path.join(self.directory, name))
        with open(self._state_path + ".tmp", "w") as handle:
            json.dump({"epoch": epoch + 1, "file": name}, handle)
        os.replace(self._state_path + ".tmp", self._state_path)
        saved = sorted(f for f in os.listdir(self.directory) if f.endswith(".weights.h5"))
        for old in saved[:-self.max_to_keep]:
            os.remove(os.path.join(self.directory, old))


def _optimizer_variables(model):
    """The variables of every optimizer the model holds (`optimizer`, a GAN's two, ...)."""
    optimizers = []
    for value in vars(model).values():
        if isinstance(value, keras.optimizers.Optimizer) and all(
                value is not known for known in optimizers):
            optimizers.append(value)
    return [v for optimizer in optimizers for v in optimizer.variables]


def trim_history(path, epochs):
    """Keeps one row per epoch `0 .. epochs - 1` in a CSVLogger file, for a run resumed there.

    Rows of later epochs (written before a kill that came ahead of their
    checkpoint, or a non-finite epoch that was not checkpointed) are dropped;
    of repeated rows of one epoch the last is kept.
    """
    if not os.path.exists(path):
        return
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    if not fields:
        return
    kept = {}
    for row in rows:
        try:
            epoch = int(row["epoch"])
        except (KeyError, TypeError, ValueError):
            continue
        if epoch < epochs:
            kept[epoch] = row
    with open(path + ".tmp", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(kept[epoch] for epoch in sorted(kept))
    os.replace(path + ".tmp", path)


class SampleGrids(keras.callbacks.Callback):
    """Writes the model's `summary_images(batch)` as PNG grids and TensorBoard images.

    Args:
        batch: a fixed batch (so that grids are comparable across epochs).
        sample_dir: folder of `NAME_epochNNN.png` and the newest `NAME.png`.
        log_dir: TensorBoard folder (None: no image summaries).
        is_chief: whether this process writes.
    """

    def __init__(self, batch, sample_dir, log_dir=None, is_chief=True):
        super().__init__()
        self.batch = batch
        self.sample_dir = sample_dir
        self.is_chief = is_chief
        self.writer = tf.summary.create_file_writer(log_dir) if log_dir and is_chief else None

    def on_epoch_end(self, epoch, logs=None):
        if not self.is_chief:
            return
        for name, batch in self.model.summary_images(self.batch).items():
            batch = np.asarray(batch)
            columns = 8 if name == "reconstructions" else None
            grid = zoo_images.image_grid(batch, columns=columns)
            zoo_images.save_png(
                os.path.join(self.sample_dir, f"{name}_epoch{epoch + 1:03d}.png"), grid)
            zoo_images.save_png(os.path.join(self.sample_dir, f"{name}.png"), grid)
            if self.writer is not None:
                with self.writer.as_default():
                    tf.summary.image(name, grid[None], step=epoch + 1)
        if self.writer is not None:
            self.writer.flush()
