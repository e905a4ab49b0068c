"""What the runner asks of each kind of model: a `Task` and its typed configuration.

A task is the wiring of one model into a run, in the manner of Model
Garden's `base_task.Task` (`build_model`, `build_inputs`, `build_metrics`):
the runner (`zoo.train.runner.run`) loads the data once, and asks the task to
build and compile the model, to feed it, to judge it and to report. The base
class holds what most models share (Adam at `learning_rate`, shuffled global
batches in the likelihood's encoding, no evaluation), so a task overrides
only what its model does differently.

Each task has a `RunConfig` subclass: a dataclass whose fields are the
run's settings, typed, with their help text and checks in `setting(...)`.
The recipes make their flags from it (`recipes.flags.define_flags`), so a
setting is declared, defaulted, documented and checked once. Fields marked
`model=True` shape the model: a resumed run must keep them.
"""

import dataclasses
import json
import os
from typing import ClassVar, Optional, Tuple

import keras
import tensorflow as tf
from absl import logging

from zoo import checks
from zoo.data import catalog
from zoo.data import pipeline
from zoo.data.source import Source
from zoo.train import callbacks as zoo_callbacks
from zoo.train import strategy as zoo_strategy

__all__ = ["setting", "RunConfig", "Data", "Task"]


def setting(default, help, *, model=False, check=None, choices=None, flag=None):  # pylint: disable=redefined-builtin
    """A `RunConfig` field with its help text and what it allows.

    Args:
        default: the default value (a tuple for list settings).
        help: one line for `--help` and the docs.
        model: whether the setting shapes the model (a resumed run keeps it).
        check: (name, value) -> value, e.g. `zoo.checks.positive_int`; run on
            every value that is not None when the config is made.
        choices: the allowed strings, for a setting that names one of a few.
        flag: the flag's name when it differs from the field's.
    """
    metadata = {"help": help, "model": model, "check": check, "choices": choices,
                "flag": flag}
    return dataclasses.field(default=default, metadata=metadata)


def _base_metadata(cls, name):
    """A field's `setting` metadata, from the nearest class that declared it with `setting`."""
    for klass in cls.__mro__:
        field = getattr(klass, "__dataclass_fields__", {}).get(name)
        if field is not None and field.metadata:
            return field.metadata
    return {}


@dataclasses.dataclass
class RunConfig:
    """The settings every run shares; a task's config adds its model's.

    A subclass may redeclare a field with a plain default (`epochs: int =
    30`); it keeps the help text and check of the base class's `setting`.
    Written to `MODEL_DIR/config.json`.
    """
    dataset: str = setting(
        "digits", "Built-in 'digits' or 'shapes' (offline), 'folder:PATH' for your own "
        "images, or a TFDS image dataset ('mnist', 'celeb_a', 'cifar10', ...).", model=True)
    image_size: Optional[int] = setting(
        None, "Square image side (28, 32, 64, ...); default: the dataset's own.", model=True,
        check=checks.positive_int)
    channels: Optional[int] = setting(
        None, "1 or 3 image channels; default: the dataset's.", model=True,
        choices=(1, 3))
    global_batch_size: int = setting(64, "GLOBAL batch size (split across replicas).",
                                     check=checks.positive_int, flag="batch_size")
    epochs: int = setting(20, "Training epochs.", check=checks.positive_int)
    steps_per_epoch: Optional[int] = setting(
        None, "Steps per epoch; default: one pass over the data.", check=checks.positive_int)
    eval_batches: Optional[int] = setting(
        None, "Evaluate at most this many test batches; default: all.",
        check=checks.positive_int)
    learning_rate: float = setting(1e-3, "Adam learning rate.", check=checks.finite_positive)
    strategy: str = setting("auto", "tf.distribute strategy.",
                            choices=tuple(zoo_strategy.STRATEGIES))
    tpu_address: str = setting("", "TPU name or address for --strategy=tpu.")
    collective_timeout: Optional[float] = setting(
        60.0, "Multi-worker runs: seconds a worker waits for the others in a collective "
        "before it stops with 'lost contact with a worker'.", check=checks.finite_positive)
    model_dir: str = setting("runs/model", "Checkpoints, logs, samples, results; rerunning "
                             "with the same folder resumes.")
    export_dir: Optional[str] = setting(None, "SavedModel base folder; default "
                                        "MODEL_DIR/export.")
    jit_compile: bool = setting(False, "XLA-compile the training step.")
    mixed_precision: bool = setting(False, "float16 compute on GPU (bfloat16 on CPU).",
                                    model=True)
    seed: int = setting(0, "Seed of initialisation, data order and sampling.",
                        check=checks.integer)
    data_dir: Optional[str] = setting(None, "TFDS data folder.")
    manual_dir: Optional[str] = setting(None, "TFDS folder of manually downloaded files.")
    download: bool = setting(True, "Let TFDS download and prepare a missing dataset.")
    verbose: int = setting(1, "1: progress bar, 2: one line per epoch, 0: quiet.",
                           choices=(0, 1, 2))

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, list):  # From JSON or a list flag.
                value = tuple(value)
                setattr(self, field.name, value)
            metadata = _base_metadata(type(self), field.name)
            if value is None:
                continue
            name = self.flag_name(field.name)
            if metadata.get("check") is not None:
                setattr(self, field.name, metadata["check"](name, value))
            choices = metadata.get("choices")
            if choices is not None and value not in choices:
                raise ValueError(f"{name}={value!r} is not allowed; expected one of "
                                 f"{', '.join(map(str, choices))}.")
        if self.dataset in ("", "folder:"):
            raise ValueError(f"dataset={self.dataset!r} names no dataset; pass a name or "
                             "folder:PATH.")

    @classmethod
    def model_fields(cls):
        """Names of the settings that shape the model (kept by a resumed run)."""
        return tuple(f.name for f in dataclasses.fields(cls)
                     if _base_metadata(cls, f.name).get("model"))

    @classmethod
    def flag_name(cls, name):
        """The flag that sets field `name` (`global_batch_size` is `--batch_size`)."""
        return _base_metadata(cls, name).get("flag") or name

    @classmethod
    def help_of(cls, name):
        return _base_metadata(cls, name).get("help", "")

    @classmethod
    def choices_of(cls, name):
        return _base_metadata(cls, name).get("choices")

    def as_dict(self):
        return json.loads(self.to_json())

    def to_json(self):
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values):
        """A config from `as_dict` output (a `config.json`); unknown keys are refused."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"{cls.__name__} has no settings {unknown}; it has {sorted(names)}.")
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class Data:
    """The run's data, loaded once by the runner and handed to the task.

    Attributes:
        train: the training split (unbatched, uint8 images).
        test: the held-out split.
        test_batches: `test` as finite global batches in the model's encoding,
            with the task's `keys` (what validation and the likelihood see).
    """
    train: Source
    test: Source
    test_batches: tf.data.Dataset


class Task:
    """How the runner builds, feeds and judges one kind of model.

    Subclasses set `name` and `config_class` and implement `build_model`;
    the other methods have defaults.

    Args:
        config: an instance of `config_class` (default: its defaults).
    """
    name: ClassVar[str] = ""
    config_class: ClassVar[type] = RunConfig
    # Entries of the examples the model reads.
    keys: ClassVar[Tuple[str, ...]] = ("image",)
    # The setting that says how many epochs to train (a later stage may have its own).
    epochs_field: ClassVar[str] = "epochs"

    def __init__(self, config=None):
        config = self.config_class() if config is None else config
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}; "
                            f"got {type(config).__name__}.")
        self.config = config

    def load_splits(self):
        """(train, test): the splits the runner loads once for the whole run.

        Default: the config's image dataset (`zoo.data.catalog.load`).
        """
        config = self.config
        load = dict(image_size=config.image_size, data_dir=config.data_dir,
                    manual_dir=config.manual_dir, download=config.download)
        train = catalog.load(config.dataset, "train", **load)
        test = catalog.load(config.dataset, "test", **load)
        logging.info("dataset %s: %s train / %s test images of shape %s", config.dataset,
                     train.num_examples, test.num_examples, train.image_shape)
        return train, test

    def image_shape(self, source):
        """(size, size, channels): the config's, else the dataset's."""
        size = self.config.image_size or source.image_shape[0]
        return (size, size, self.config.channels or source.image_shape[-1])

    def build_model(self, source):
        """An uncompiled model for the training split `source`."""
        raise NotImplementedError

    def compile(self, model):
        """Compiles `model` with Adam at the config's learning rate."""
        model.compile(optimizer=keras.optimizers.Adam(self.config.learning_rate),
                      jit_compile=self.config.jit_compile)

    def encoding(self, model):
        """How the pipeline places the model's images in [0, 1] (`pipeline.ENCODINGS`)."""
        return model.likelihood.data_encoding

    def batches(self, model, source, training, *, keys=None, encoding=None,
                batch_size=None):
        """`source` as global batches shaped for `model` (`pipeline.make_dataset`).

        Defaults: the task's keys, the model's encoding, the config's batch size.
        """
        return pipeline.make_dataset(
            source, batch_size or self.config.global_batch_size,
            encoding or self.encoding(model), training=training,
            image_size=model.image_shape[0], channels=model.image_shape[-1],
            keys=self.keys if keys is None else keys, seed=self.config.seed)

    def train_data(self, model, source):
        """The infinite training stream of global batches: shuffled, in the model's encoding."""
        return self.batches(model, source, training=True)

    def sample_callbacks(self, model, data, is_chief):
        """Callbacks that show the model's samples as it trains.

        Default: `SampleGrids` of the first test batch in MODEL_DIR/samples
        and the TensorBoard logs.
        """
        del model
        model_dir = self.config.model_dir
        return [zoo_callbacks.SampleGrids(next(iter(data.test_batches)),
                                          os.path.join(model_dir, "samples"),
                                          os.path.join(model_dir, "logs", "images"),
                                          is_chief=is_chief)]

    def evaluate(self, model, data):
        """The final results of the trained `model` on `data` (a `Data`): a dict of numbers."""
        del model, data
        return {}

    def epochs(self):
        """The epochs to train: the config's `epochs_field` (default `epochs`)."""
        return getattr(self.config, self.epochs_field)

    def model_fields(self):
        """The settings a resumed run must keep (default: the config's `model_fields()`)."""
        return self.config.model_fields()

    def prerequisites(self):
        """Earlier stages to run first, in order: {name: Task} (none here).

        Each runs in its own `model_dir` (a complete one is not rerun), and its
        results are added to this task's under its name.
        """
        return {}

    def baselines(self, results):
        """Other tasks to train after this one, for comparison: {name: Task} (none here).

        The runner trains each in its own `model_dir` and adds its results to
        `results["baselines"][name]`.
        """
        del results
        return {}

    def report(self, results):
        """The lines a recipe prints about `results`."""
        del results
        return []

