r"""Training throughput of every model of the zoo, in images/s, on the built-in shapes.

    python benchmarks/model_throughput.py [--image_size=32] [--batch_size=64]
    python benchmarks/model_throughput.py --models="VAE,VAE IAF K=1,VAE IAF K=2,VAE IAF K=4"

Each model is built, compiled and fed exactly as its recipe's task does it
(`zoo.tasks.*`: the same networks, likelihood, optimizer and `tf.data`
pipeline, DC-IGN on its one-factor batches), with its recipe's default
likelihood and minibatches, the library's defaults otherwise. In one `fit`,
after 10 warm-up steps, --repeats stretches of --steps steps are timed (the
median is printed), so the pipeline's shuffle buffer fills once, untimed. A
DCGAN step updates both players (one discriminator step). The "VAE IAF K=k"
rows are the VAE with `--posterior=iaf --flow_steps=k` (inverse autoregressive
flow, Kingma et al. 2016; the recipe's default --flow_hidden=64), beside the
diagonal Gaussian of the "VAE" row. --models picks rows by name.
"""

import statistics
import time

import keras
import tensorflow as tf
from absl import app
from absl import flags

from zoo.data import catalog
from zoo.tasks import cvae as cvae_task
from zoo.tasks import dcgan as dcgan_task
from zoo.tasks import dcign as dcign_task
from zoo.tasks import discvae as discvae_task
from zoo.tasks import vae as vae_task
from zoo.tasks import vqvae as vqvae_task
from zoo.models import pixelcnn
from zoo.models import vqvae_prior

flags.DEFINE_integer("image_size", 32, "Square image side.")
flags.DEFINE_integer("batch_size", 64, "Global batch size.")
flags.DEFINE_integer("steps", 40, "Timed steps per repeat.")
flags.DEFINE_integer("repeats", 3, "Timed repeats (the median is printed).")
flags.DEFINE_boolean("jit_compile", False, "Compile the train steps with XLA.")
flags.DEFINE_list("models", None, "Names of the rows to time (comma-separated, as printed, "
                  "e.g. 'VAE,VAE IAF K=2'); default: all.")
FLAGS = flags.FLAGS

# Each model with its recipe's defaults, except that the CVAE draws shapes here.
TASKS = (("VAE", vae_task.VAETask, {}),
         *((f"VAE IAF K={steps}", vae_task.VAETask, {"posterior": "iaf", "flow_steps": steps})
           for steps in (1, 2, 4)),
         ("CVAE", cvae_task.CVAETask, {"likelihood": "discretized_logistic"}),
         ("DisCVAE", discvae_task.DisCVAETask, {}),
         ("DCIGN", dcign_task.DCIGNTask, {}),
         ("DCGAN", dcgan_task.DCGANTask, {}))


class _PriorStage(vqvae_task.VQVAETask):
    """The VQ-VAE's stage 2 step (the prior on the frozen autoencoder's codes).

    The autoencoder is freshly built instead of loaded from a run: its weights
    do not change the cost of a step.
    """

    def build_model(self, source):
        autoencoder = vqvae_task.AutoencoderTask(self.config).build_model(source)
        prior = pixelcnn.PixelCNNPrior(autoencoder.grid_shape, autoencoder.num_codes,
                                       filters=self.config.prior_filters,
                                       num_layers=self.config.prior_layers)
        return vqvae_prior.VQVAEWithPrior(autoencoder, prior)


TASKS += (("VQVAE", vqvae_task.AutoencoderTask, {}), ("VQVAE prior", _PriorStage, {}))


class _StepTimer(keras.callbacks.Callback):
    """The wall time at the end of every training batch."""

    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


def _throughput(task_class, settings):
    task = task_class(task_class.config_class(
        dataset="shapes", image_size=FLAGS.image_size, global_batch_size=FLAGS.batch_size,
        jit_compile=FLAGS.jit_compile, **settings))
    keras.utils.set_random_seed(0)
    source = catalog.load("shapes", "train", image_size=FLAGS.image_size)
    model = task.build_model(source)
    task.compile(model)
    data = task.train_data(model, source)  # The stream the runner would give it.
    # One fit, so the pipeline (shuffle buffer, cache) fills once, before the timed steps.
    timer = _StepTimer()
    warmup = 10
    model.fit(data, epochs=1, steps_per_epoch=warmup + FLAGS.steps * FLAGS.repeats,
              callbacks=[timer], verbose=0)
    times = timer.times[warmup - 1:]
    seconds = statistics.median(
        (times[(r + 1) * FLAGS.steps] - times[r * FLAGS.steps]) / FLAGS.steps
        for r in range(FLAGS.repeats))
    return FLAGS.batch_size / seconds, 1000 * seconds


def _chosen_tasks(names):
    """The rows of TASKS named in `names` (all for None), in TASKS' order."""
    if names is None:
        return TASKS
    known = [name for name, _, _ in TASKS]
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise app.UsageError(f"--models: unknown {unknown}; expected some of {known}")
    return tuple(row for row in TASKS if row[0] in names)


def main(argv):
    del argv  # Unused.
    rows = [(name, *_throughput(task, settings))
            for name, task, settings in _chosen_tasks(FLAGS.models)]
    print(f"\nTraining throughput on shapes {FLAGS.image_size}x{FLAGS.image_size}x3, batch "
          f"{FLAGS.batch_size}, jit_compile={FLAGS.jit_compile}, devices: "
          f"{[d.device_type for d in tf.config.list_logical_devices()]}")
    print(f"{'model':14s} {'images/s':>10s} {'ms/step':>9s}")
    for name, speed, milliseconds in rows:
        print(f"{name:14s} {speed:10.0f} {milliseconds:9.1f}")


if __name__ == "__main__":
    app.run(main)
