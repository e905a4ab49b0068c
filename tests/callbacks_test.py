"""Checkpoints keep the last finite state; sample grids are written."""

import os

import keras
import numpy as np
import tensorflow as tf

from zoo.train import callbacks
from zoo.models.vae import VAE


def _model():
    model = VAE((28, 28, 1), latent_dim=3, base_filters=4)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def test_a_nan_stops_training_and_the_last_good_checkpoint_is_kept(tmp_path):
    good = (np.random.default_rng(0).uniform(size=(8, 28, 28, 1)) > 0.5).astype(np.float32)
    model = _model()
    checkpoint = callbacks.ResumableCheckpoint(str(tmp_path / "ckpt"))
    model.fit(good, batch_size=4, epochs=2, verbose=0, callbacks=[checkpoint])
    saved = [v.numpy() for v in model.trainable_variables]
    # A diverged step: NaN images are refused at the door, so poison the weights instead.
    kernel = model.decoder.trainable_variables[0]
    kernel.assign(np.full(kernel.shape, np.nan, np.float32))
    history = model.fit(good, batch_size=4, epochs=5, initial_epoch=2, verbose=0,
                        callbacks=[keras.callbacks.TerminateOnNaN(), checkpoint])
    assert len(history.history["loss"]) == 1 and np.isnan(history.history["loss"][0])
    assert checkpoint.skipped_nonfinite
    assert checkpoint.latest()[0] == 2
    restored = _model()
    assert checkpoint.restore(restored) == 2
    for a, b in zip(saved, restored.trainable_variables):
        np.testing.assert_array_equal(a, b)
    assert int(restored.optimizer.iterations) == 4


def test_only_recent_checkpoints_are_kept(tmp_path):
    model = _model()
    checkpoint = callbacks.ResumableCheckpoint(str(tmp_path / "ckpt"), max_to_keep=2)
    model.fit(np.zeros((4, 28, 28, 1), np.float32), batch_size=4, epochs=4, verbose=0,
              callbacks=[checkpoint])
    assert sorted(f for f in os.listdir(tmp_path / "ckpt") if f.endswith(".h5")) == [
        "epoch-0003.weights.h5", "epoch-0004.weights.h5"]


def test_sample_grids_write_pngs_and_summaries(tmp_path):
    model = _model()
    batch = tf.zeros((5, 28, 28, 1))
    grids = callbacks.SampleGrids(batch, str(tmp_path / "samples"), str(tmp_path / "logs"))
    grids.set_model(model)
    grids.on_epoch_end(0)
    assert sorted(os.listdir(tmp_path / "samples")) == [
        "prior_samples.png", "prior_samples_epoch001.png", "reconstructions.png",
        "reconstructions_epoch001.png"]
    assert os.listdir(tmp_path / "logs")
