"""One training run, end to end: data, model, training, evaluation, outputs, export.

A recipe builds a `RunConfig` from its flags and calls `run(task, config)`.
The model directory then holds:

    config.json                 the resolved configuration
    checkpoints/                resumable model + optimizer state (per epoch)
    logs/                       TensorBoard scalars (train/validation) and images
    samples/*.png               sample grids after every epoch
    history.csv, training_curves.png
    results.json                the final evaluation
    export/<version>/           the SavedModel with serving signatures
"""

import dataclasses
import json
import os
from typing import Any, Callable, Dict, Optional, Tuple

import keras
import tensorflow as tf
from absl import logging

from zoo import export as zoo_export
from zoo import images as zoo_images
from zoo.data import pipeline
from zoo.data import sources
from zoo.train import callbacks as zoo_callbacks
from zoo.train import loop
from zoo.train import strategy as zoo_strategy

__all__ = ["RunConfig", "Task", "run", "TrainingDiverged"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""


@dataclasses.dataclass
class RunConfig:
    """Everything one run needs; written to `model_dir/config.json`."""
    dataset: str = "digits"
    image_size: Optional[int] = None
    channels: Optional[int] = None
    global_batch_size: int = 64
    epochs: int = 20
    steps_per_epoch: Optional[int] = None
    eval_batches: Optional[int] = None
    learning_rate: float = 1e-3
    strategy: str = "auto"
    tpu_address: str = ""
    model_dir: str = "runs/vae"
    export_dir: Optional[str] = None
    jit_compile: bool = False
    mixed_precision: bool = False
    seed: int = 0
    data_dir: Optional[str] = None
    manual_dir: Optional[str] = None
    download: bool = True
    verbose: int = 1
    model_kwargs: Dict[str, Any] = dataclasses.field(default_factory=dict)
    eval_kwargs: Dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True,
                          default=keras.saving.serialize_keras_object)


@dataclasses.dataclass(frozen=True)
class Task:
    """How the runner builds, feeds and judges one kind of model.

    Attributes:
        name: the model's name ("vae", ...).
        build_model: (config, train Source) -> an uncompiled model.
        compile_model: (model, config) -> None; compiles with optimizers.
        encoding: model -> the pipeline encoding of its images.
        evaluate: (model, eval dataset, config) -> dict of final results.
        keys: which entries of the examples the model reads.
        train_data: optional (config, model, train Source, encoding) -> an
            infinite dataset of global batches, for models whose batches are
            built specially (e.g. DC-IGN's one-factor batches); None uses
            `zoo.data.pipeline.make_dataset`.
    """
    name: str
    build_model: Callable[[RunConfig, Any], keras.Model]
    compile_model: Callable[[keras.Model, RunConfig], None]
    encoding: Callable[[keras.Model], str]
    evaluate: Callable[[keras.Model, tf.data.Dataset, RunConfig], Dict[str, Any]]
    keys: Tuple[str, ...] = ("image",)
    train_data: Optional[Callable[..., tf.data.Dataset]] = None


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


def run(task, config, strategy=None):
    """Trains, evaluates and exports one model as `config` says; returns the results.

    Args:
        task: the model's `Task`.
        config: a `RunConfig`.
        strategy: a strategy already made (else one is made from config.strategy;
            a multi-worker strategy must be made before any other TF op).

    Raises:
        TrainingDiverged: the loss became non-finite (the model directory keeps
            the last good checkpoint, which is restored and exported).
    """
    strategy = strategy or zoo_strategy.make_strategy(config.strategy, config.tpu_address)
    chief = _is_chief(strategy)
    keras.utils.set_random_seed(config.seed)
    _set_precision(config.mixed_precision)

    load = dict(image_size=config.image_size, data_dir=config.data_dir,
                manual_dir=config.manual_dir, download=config.download)
    train_source = sources.load(config.dataset, "train", **load)
    eval_source = sources.load(config.dataset, "test", **load)
    logging.info("dataset %s: %s train / %s test images of shape %s, strategy %s (%d replicas)",
                 config.dataset, train_source.num_examples, eval_source.num_examples,
                 train_source.image_shape, type(strategy).__name__,
                 strategy.num_replicas_in_sync)

    with strategy.scope():
        model = task.build_model(config, train_source)
        task.compile_model(model, config)

    image_shape = model.image_shape
    make = dict(image_size=image_shape[0], channels=image_shape[-1], keys=task.keys,
                seed=config.seed)
    encoding = task.encoding(model)
    if task.train_data is not None:
        train_data = task.train_data(config, model, train_source, encoding)
    else:
        train_data = pipeline.make_dataset(train_source, config.global_batch_size, encoding,
                                           training=True, **make)
    eval_data = pipeline.make_dataset(eval_source, config.global_batch_size, encoding,
                                      training=False, **make)
    steps = config.steps_per_epoch or pipeline.steps_per_epoch(
        train_source, config.global_batch_size)

    os.makedirs(config.model_dir, exist_ok=True)
    if chief:
        with open(os.path.join(config.model_dir, "config.json"), "w") as handle:
            handle.write(config.to_json())
    checkpoint = zoo_callbacks.ResumableCheckpoint(
        os.path.join(config.model_dir, "checkpoints"), is_chief=chief)
    initial_epoch = checkpoint.restore(model)
    if initial_epoch:
        logging.info("resuming from epoch %d of %s", initial_epoch, config.model_dir)

    log_dir = os.path.join(config.model_dir, "logs")
    history_csv = os.path.join(config.model_dir, "history.csv")
    fixed_batch = next(iter(eval_data))
    callbacks = [keras.callbacks.TerminateOnNaN(), checkpoint,
                 zoo_callbacks.SampleGrids(fixed_batch, os.path.join(config.model_dir, "samples"),
                                           os.path.join(log_dir, "images"), is_chief=chief)]
    if chief:
        callbacks += [keras.callbacks.CSVLogger(history_csv, append=initial_epoch > 0),
                      keras.callbacks.TensorBoard(log_dir, write_graph=False)]
    eval_steps = config.eval_batches
    if zoo_strategy.is_multi_worker(strategy):
        # Equal full batches on every worker: uneven last batches would hang.
        eval_steps = eval_steps or max(1, eval_source.num_examples // config.global_batch_size)
        eval_data = pipeline.make_dataset(eval_source, config.global_batch_size, encoding,
                                          training=True, **make)
    if initial_epoch < config.epochs:
        loop.train(model, strategy, train_data, steps, config.epochs,
                   initial_epoch=initial_epoch, eval_data=eval_data, eval_steps=eval_steps,
                   callbacks=callbacks, verbose=config.verbose)
    if checkpoint.skipped_nonfinite or not all(
            bool(tf.reduce_all(tf.math.is_finite(v))) for v in model.trainable_variables):
        checkpoint.restore(model)
        raise TrainingDiverged(
            f"the loss became non-finite; the last good checkpoint "
            f"({checkpoint.latest()[1] or 'none'}) is kept in {config.model_dir}. "
            "Lower --learning_rate or raise --kl_warmup_steps.")

    eval_finite = pipeline.make_dataset(eval_source, config.global_batch_size, encoding,
                                        training=False, **make)
    results = task.evaluate(model, eval_finite, config)
    results["epochs"] = config.epochs
    if chief:
        if os.path.exists(history_csv):
            zoo_images.plot_history(history_csv,
                                    os.path.join(config.model_dir, "training_curves.png"))
        export_dir = config.export_dir or os.path.join(config.model_dir, "export")
        results["export_path"] = zoo_export.export_saved_model(model, export_dir)
        with open(os.path.join(config.model_dir, "results.json"), "w") as handle:
            json.dump(results, handle, indent=2, sort_keys=True)
    return results
