"""Test set-up: quiet TF, and two logical CPU devices for MirroredStrategy tests."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # pylint: disable=wrong-import-position

_CPUS = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(
        _CPUS[0], [tf.config.LogicalDeviceConfiguration()] * 2)
except RuntimeError:  # Already initialised by an earlier import: keep what is there.
    pass


import tempfile  # pylint: disable=wrong-import-position,wrong-import-order

import pytest  # pylint: disable=wrong-import-position,wrong-import-order


@pytest.fixture(autouse=True, scope="session")
def _temporary_files_under_pytest(tmp_path_factory):
    """TFDS leaves empty mkdtemp folders behind: keep them in pytest's rotating area."""
    old = tempfile.tempdir
    tempfile.tempdir = str(tmp_path_factory.mktemp("tempfile"))
    yield
    tempfile.tempdir = old


def _tiny_settings():
    """{name: (task class, config class, settings)}: every recipe's model on one step."""
    # pylint: disable-next=import-outside-toplevel
    from zoo.tasks import cvae, dcgan, dcign, discvae, vae
    tiny = dict(dataset="digits", image_size=8, global_batch_size=8, epochs=1, steps_per_epoch=1,
                eval_batches=1, verbose=0)
    autoencoder = dict(tiny, network="mlp", base_filters=4)
    attributes = dict(autoencoder, encoder_hidden=8)
    return {
        "vae": (vae.VAETask, vae.VAEConfig, dict(autoencoder, latent_dim=2)),
        "cvae": (cvae.CVAETask, cvae.CVAEConfig, dict(attributes, latent_dim=2)),
        "discvae": (discvae.DisCVAETask, discvae.DisCVAEConfig, dict(
            attributes, foreground_dim=2, background_dim=1, gate_supervision_weight=0.0)),
        "dcgan": (dcgan.DCGANTask, dcgan.DCGANConfig,
                  dict(tiny, latent_dim=2, base_filters=4, ema_decay=0.5)),
        "dcign": (dcign.DCIGNTask, dcign.DCIGNConfig, dict(
            autoencoder, dataset="shapes", image_size=16, factors=("scale", "position_x"),
            intrinsic_dim=2, minibatches=2, compare_vae=False)),
    }


def _kept_and_unjudged(task_class, config):
    """A `task_class` task that keeps its built model in `.model` and evaluates nothing."""
    class Tiny(task_class):
        def build_model(self, source):
            self.model = super().build_model(source)
            return self.model

        def evaluate(self, model, data):
            return {}

    return Tiny(config)


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """{name: (model_dir, trained model)}: one finished tiny run of every recipe's model.

    Trained once per session by `zoo.train.runner.run` (not exported: the
    SavedModel is tested in export_test), for the tests of what a run leaves.
    """
    from zoo import export  # pylint: disable=import-outside-toplevel
    from zoo.train import runner  # pylint: disable=import-outside-toplevel
    runs = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(export, "export_saved_model",
                      lambda model, export_dir, version=None: os.path.join(export_dir, "1"))
        for name, (task_class, config_class, settings) in _tiny_settings().items():
            model_dir = str(tmp_path_factory.mktemp(name))
            task = _kept_and_unjudged(task_class, config_class(model_dir=model_dir, **settings))
            runner.run(task)
            runs[name] = (model_dir, task.model)
    return runs
