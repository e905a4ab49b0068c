"""Callbacks: resumable checkpoints that keep only finite weights, and sample grids."""

import json
import math
import os

import keras
import numpy as np
import tensorflow as tf

from zoo import images as zoo_images

__all__ = ["ResumableCheckpoint", "SampleGrids"]


class ResumableCheckpoint(keras.callbacks.Callback):
    """Saves model and optimizer state at every epoch end; `restore` resumes.

    A checkpoint is written only when the epoch's loss and every weight are
    finite, so after a NaN the newest checkpoint is the last good state. Only
    the chief writes in a multi-worker run.

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
        """(epochs completed, checkpoint path) of the newest checkpoint, or (0, None)."""
        if not os.path.exists(self._state_path):
            return 0, None
        with open(self._state_path) as handle:
            state = json.load(handle)
        return state["epoch"], os.path.join(self.directory, state["file"])

    def restore(self, model):
        """Loads the newest checkpoint into `model`; returns the epoch to start from."""
        epoch, path = self.latest()
        if path is None:
            return 0
        if model.optimizer is not None and not model.optimizer.built:
            with model.distribute_strategy.scope():  # Slots live where the variables do.
                model.optimizer.build(model.trainable_variables)
        model.load_weights(path)
        return epoch

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
            zoo_images.save_png(os.path.join(self.sample_dir, f"{name}_epoch{epoch + 1:03d}.png"), grid)
            zoo_images.save_png(os.path.join(self.sample_dir, f"{name}.png"), grid)
            if self.writer is not None:
                with self.writer.as_default():
                    tf.summary.image(name, grid[None], step=epoch + 1)
        if self.writer is not None:
            self.writer.flush()
