"""Flags made from a task's config dataclass, and the one way every recipe runs and fails.

`define_flags(VAEConfig)` defines a flag per setting (named by the field, or
its `flag=`), with the setting's default, help text and choices;
`config_from_flags` reads them back into the config, whose own checks run
then. `main(VAETask)` is a whole recipe: config from flags, `runner.run`, the
task's report; any problem with the data, a value, the folder or the run
ends it with one line, `error: ...`, and exit status 1.
"""

import dataclasses
import os
import sys
import typing

import tensorflow as tf
from absl import flags

from zoo.data.source import DatasetUnavailableError
from zoo.train import lock
from zoo.train import runner

__all__ = ["define_flags", "config_from_flags", "run_or_exit", "main", "exit_lost_worker",
           "outputs_line"]

FLAGS = flags.FLAGS
_DEFINE = {bool: flags.DEFINE_boolean, int: flags.DEFINE_integer, float: flags.DEFINE_float,
           str: flags.DEFINE_string}


def _value_type(annotation):
    """(type of one value, is_list) of a field annotation: int, Optional[int], Tuple[str, ...]."""
    if typing.get_origin(annotation) is typing.Union:
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is tuple:
        return typing.get_args(annotation)[0], True
    return annotation, False


def define_flags(config_class, skip=()):
    """Defines one flag per field of `config_class` (a `zoo.train.task.RunConfig`).

    Fields named in `skip` get no flag (the recipe sets them).
    """
    for field in dataclasses.fields(config_class):
        if field.name in skip:
            continue
        name = config_class.flag_name(field.name)
        kind, is_list = _value_type(field.type)
        default = field.default
        help_text = config_class.help_of(field.name) or field.name
        choices = config_class.choices_of(field.name)
        if is_list:
            flags.DEFINE_list(name, None if default is None else [str(v) for v in default],
                              help_text)
        elif choices is not None and kind is str:
            flags.DEFINE_enum(name, default, list(choices), help_text)
        else:
            _DEFINE[kind](name, default, help_text)


def config_from_flags(config_class, **given):
    """The `config_class` the flags describe (its checks raise a one-line `ValueError`).

    `given` sets fields that have no flag (`define_flags(skip=...)`).
    """
    values = dict(given)
    for field in dataclasses.fields(config_class):
        if field.name in given:
            continue
        value = FLAGS[config_class.flag_name(field.name)].value
        kind, is_list = _value_type(field.type)
        if is_list and value is not None:
            try:
                value = tuple(kind(item) for item in value)
            except ValueError:
                raise ValueError(f"--{config_class.flag_name(field.name)}={','.join(value)}: "
                                 f"every entry must be a {kind.__name__}.") from None
        values[field.name] = value
    return config_class(**values)


def run_or_exit(task):
    """Runs; a dataset, value, divergence, lock, file or lost-worker problem: one line, exit 1."""
    try:
        return runner.run(task)
    except runner.WorkerLost as error:
        exit_lost_worker(error)
    except (DatasetUnavailableError, runner.TrainingDiverged, runner.OutputError,
            lock.ModelDirLocked, ValueError, TypeError) as error:
        sys.exit(f"error: {error}")
    except OSError as error:  # Not one the runner named: the error's own file, if any.
        where = f"{error.filename}: " if error.filename else ""
        sys.exit(f"error: {where}{error.strerror or error}")
    except tf.errors.OpError as error:
        sys.exit(f"error: {(error.message.strip().splitlines() or [type(error).__name__])[0]}")


def main(task_class):
    """A recipe's body: the task's config from the flags, the run, and its report."""
    try:
        task = task_class(config_from_flags(task_class.config_class))
    except (ValueError, TypeError) as error:
        sys.exit(f"error: {error}")
    results = run_or_exit(task)
    print("\n".join(task.report(results)))
    print(outputs_line(task.config, results))


def outputs_line(config, results):
    """Where the run's outputs are; a worker that is not the chief names the chief's."""
    export = results["export_path"] or "written by the chief (worker 0)"
    return f"model directory: {config.model_dir}; SavedModel: {export}"


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
