"""Flags every recipe shares (data, run, strategy), validated, and the config they make."""

import math
import os
import sys

import tensorflow as tf
from absl import flags

from zoo import distributions
from zoo import networks
from zoo.data.source import DatasetUnavailableError
from zoo.train import lock
from zoo.train import runner
from zoo.train import strategy

__all__ = ["define_run_flags", "define_vae_flags", "vae_model_kwargs", "run_config",
           "run_or_exit", "exit_lost_worker", "outputs_line"]

FLAGS = flags.FLAGS


def _positive(name):
    flags.register_validator(name, lambda value: value is None or 0 < value < math.inf,
                             message=f"--{name} must be a positive number.")


def define_run_flags(model_dir, dataset="digits", epochs=20, batch_size=64,
                     learning_rate=1e-3):
    """Defines the shared flags with this recipe's defaults."""
    flags.DEFINE_string("dataset", dataset,
                        "Built-in 'digits' or 'shapes' (offline), 'folder:PATH' for your own "
                        "images, or a TFDS image dataset ('mnist', 'celeb_a', 'cifar10', ...).")
    flags.DEFINE_integer("image_size", None, "Square image side (28, 32, 64, ...); "
                         "default: the dataset's own.")
    flags.DEFINE_integer("channels", None, "1 or 3 image channels; default: the dataset's.")
    flags.DEFINE_integer("batch_size", batch_size, "GLOBAL batch size (split across replicas).")
    flags.DEFINE_integer("epochs", epochs, "Training epochs.")
    flags.DEFINE_integer("steps_per_epoch", None, "Steps per epoch; default: one pass over the data.")
    flags.DEFINE_integer("eval_batches", None, "Evaluate at most this many test batches.")
    flags.DEFINE_float("learning_rate", learning_rate, "Adam learning rate.")
    flags.DEFINE_enum("strategy", "auto", strategy.STRATEGIES, "tf.distribute strategy.")
    flags.DEFINE_string("tpu_address", "", "TPU name or address for --strategy=tpu.")
    flags.DEFINE_float("collective_timeout", 60.0, "Multi-worker runs: seconds a worker "
                       "waits for the others in a collective before it stops with "
                       "'lost contact with a worker'.")
    flags.DEFINE_string("model_dir", model_dir, "Checkpoints, logs, samples, results; "
                        "rerunning with the same folder resumes.")
    flags.DEFINE_string("export_dir", None, "SavedModel base folder; default MODEL_DIR/export.")
    flags.DEFINE_boolean("jit_compile", False, "XLA-compile the training step.")
    flags.DEFINE_boolean("mixed_precision", False, "float16 compute on GPU (bfloat16 on CPU).")
    flags.DEFINE_integer("seed", 0, "Seed of initialisation, data order and sampling.")
    flags.DEFINE_string("data_dir", None, "TFDS data folder.")
    flags.DEFINE_string("manual_dir", None, "TFDS folder of manually downloaded files.")
    flags.DEFINE_boolean("download", True, "Let TFDS download and prepare a missing dataset.")
    flags.DEFINE_integer("verbose", 1, "1: progress bar, 2: one line per epoch, 0: quiet.")
    for name in ("image_size", "channels", "batch_size", "epochs", "steps_per_epoch",
                 "eval_batches", "learning_rate", "collective_timeout"):
        _positive(name)
    flags.register_validator("channels", lambda value: value in (None, 1, 3),
                             message="--channels must be 1 or 3.")
    flags.register_validator(
        "dataset", lambda value: bool(value) and (not value.startswith("folder:") or
                                                  len(value) > len("folder:")),
        message="--dataset must be a name or folder:PATH with a path.")


def define_vae_flags(likelihood):
    """Defines the flags of every VAE-family model, with this recipe's default likelihood.

    --likelihood, --fixed_scale, --prior, --network, --base_filters, --beta
    and --kl_warmup_steps, validated; `vae_model_kwargs` reads them.
    """
    flags.DEFINE_enum("likelihood", likelihood, sorted(distributions.LIKELIHOODS),
                      "The likelihood: bernoulli (binarized data), gaussian (learned per-pixel "
                      "variance), gaussian_fixed (least squares), discretized_logistic (8-bit "
                      "RGB), continuous_bernoulli.")
    flags.DEFINE_float("fixed_scale", 0.1, "Standard deviation of --likelihood=gaussian_fixed.")
    flags.DEFINE_enum("prior", "standard_normal", sorted(distributions.PRIORS), "p(z).")
    flags.DEFINE_enum("network", "conv", sorted(networks.ENCODERS),
                      "Encoder/decoder kind: conv (DCGAN-shaped), coord (the conv encoder; a "
                      "decoder with pixel coordinates at every resolution, which draws shapes' "
                      "edges sooner), mlp.")
    flags.DEFINE_integer("base_filters", 32, "Filters of the first convolution.")
    flags.DEFINE_float("beta", 1.0, "Weight of the KL term (beta-VAE; 1 is the ELBO).")
    flags.DEFINE_integer("kl_warmup_steps", 0, "Steps over which the KL weight ramps up to beta.")
    # Finite: an infinite weight or scale would only show up as a NaN loss, blamed on
    # the learning rate.
    for name in ("base_filters", "fixed_scale"):
        flags.register_validator(name, lambda value: 0 < value < math.inf,
                                 message=f"--{name} must be positive and finite.")
    for name in ("beta", "kl_warmup_steps"):
        flags.register_validator(name, lambda value: 0 <= value < math.inf,
                                 message=f"--{name} must be finite and >= 0.")


def vae_model_kwargs():
    """The model arguments the `define_vae_flags` flags describe."""
    likelihood = FLAGS.likelihood
    if likelihood == "gaussian_fixed":
        likelihood = distributions.FixedVarianceGaussian(FLAGS.fixed_scale)
    return dict(likelihood=likelihood, prior=FLAGS.prior, network=FLAGS.network,
                base_filters=FLAGS.base_filters, beta=FLAGS.beta,
                kl_warmup_steps=FLAGS.kl_warmup_steps)


def run_config(model_kwargs, eval_kwargs=None):
    """The `RunConfig` the shared flags describe."""
    return runner.RunConfig(
        dataset=FLAGS.dataset, image_size=FLAGS.image_size, channels=FLAGS.channels,
        global_batch_size=FLAGS.batch_size, epochs=FLAGS.epochs,
        steps_per_epoch=FLAGS.steps_per_epoch, eval_batches=FLAGS.eval_batches,
        learning_rate=FLAGS.learning_rate, strategy=FLAGS.strategy,
        tpu_address=FLAGS.tpu_address, collective_timeout=FLAGS.collective_timeout,
        model_dir=FLAGS.model_dir,
        export_dir=FLAGS.export_dir, jit_compile=FLAGS.jit_compile,
        mixed_precision=FLAGS.mixed_precision, seed=FLAGS.seed, data_dir=FLAGS.data_dir,
        manual_dir=FLAGS.manual_dir, download=FLAGS.download, verbose=FLAGS.verbose,
        model_kwargs=model_kwargs, eval_kwargs=eval_kwargs or {})


def run_or_exit(task, config):
    """Runs; a dataset, value, divergence, lock, file or lost-worker problem: one line, exit 1."""
    try:
        return runner.run(task, config)
    except runner.WorkerLost as error:
        exit_lost_worker(error)
    except (DatasetUnavailableError, runner.TrainingDiverged, runner.OutputError,
            lock.ModelDirLocked, ValueError) as error:
        sys.exit(f"error: {error}")
    except OSError as error:  # Not one the runner named: the error's own file, if any.
        where = f"{error.filename}: " if error.filename else ""
        sys.exit(f"error: {where}{error.strerror or error}")
    except tf.errors.OpError as error:
        sys.exit(f"error: {(error.message.strip().splitlines() or [type(error).__name__])[0]}")


def outputs_line(results):
    """Where the run's outputs are; a worker that is not the chief names the chief's."""
    export = results["export_path"] or "written by the chief (worker 0)"
    return f"model directory: {FLAGS.model_dir}; SavedModel: {export}"


def exit_lost_worker(error):
    """Prints a `runner.WorkerLost` in one line and ends the process at once, with exit code 1.

    After a lost worker the process's collectives are aborted, and a normal
    interpreter shutdown (destructors of the strategy, its gRPC server, data
    workers) can hang or print tracebacks under the line; the model directory
    is already unlocked and its checkpoints are complete.
    """
    sys.stdout.flush()
    sys.stderr.write(f"error: {error}\n")
    sys.stderr.flush()
    os._exit(1)  # pylint: disable=protected-access
