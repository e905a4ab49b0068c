"""`tf.distribute` strategies by name."""

import json
import os

import tensorflow as tf

__all__ = ["STRATEGIES", "make_strategy", "is_multi_worker"]

STRATEGIES = ("auto", "default", "one_device", "mirrored", "multi_worker", "tpu")


_TF_CONFIG_FORM = ('a JSON object such as {"cluster": {"worker": ["host:port", ...]}, '
                   '"task": {"type": "worker", "index": 0}}')


def _tf_config():
    """The TF_CONFIG environment variable as a dict ({} when unset or empty).

    Raises:
        ValueError: in one line naming TF_CONFIG, if it is not JSON, not an
            object, or its "cluster" is not an object of address lists.
    """
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}); expected "
                         f"{_TF_CONFIG_FORM}.") from None
    if not isinstance(config, dict):
        raise ValueError(f"TF_CONFIG must be {_TF_CONFIG_FORM}; got the JSON "
                         f"{type(config).__name__} {text.strip()[:80]}.")
    cluster = config.get("cluster", {})
    if not isinstance(cluster, dict) or not all(
            isinstance(tasks, list) for tasks in cluster.values()):
        raise ValueError(f"TF_CONFIG's \"cluster\" must map task types to lists of "
                         f"addresses; got {json.dumps(cluster)[:80]}.")
    return config


def _worker_count():
    cluster = _tf_config().get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def make_strategy(name="auto", tpu_address="", collective_timeout=60.0):
    """Builds a strategy. Call it first thing: multi-worker set-up must precede any op.

    A multi-worker strategy's collectives (the gradient all-reduces) give up
    after `collective_timeout` seconds, so that the workers left when one is
    lost (killed, preempted, hung) stop with an error instead of waiting
    forever. (A killed peer's dropped connection, or TF's heartbeats, often
    abort them sooner.)

    Args:
        name: "auto" (multi_worker when TF_CONFIG names several workers, tpu
            when `tpu_address` is given, mirrored on several GPUs, else
            default), "default", "one_device", "mirrored", "multi_worker" or "tpu".
        tpu_address: the TPU's name or grpc address ("local" on a TPU VM).
        collective_timeout: seconds a multi-worker collective may wait for the
            other workers (None: forever). It must exceed the longest time one
            worker can spend out of step, e.g. the chief writing checkpoints,
            sample grids and summaries at an epoch's end.

    Raises:
        ValueError: an unknown name, a `collective_timeout` that is not a
            positive number, a TF_CONFIG that is not a JSON object describing
            a cluster, or a TPU/cluster that is not there.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; expected one of {STRATEGIES}.")
    if collective_timeout is not None and not 0 < collective_timeout < float("inf"):
        raise ValueError(f"collective_timeout must be a positive number of seconds or None; "
                         f"got {collective_timeout!r}.")
    workers = _worker_count()  # Checks TF_CONFIG for every name: a broken one is not ignored.
    if name == "auto":
        if workers > 1:
            name = "multi_worker"
        elif tpu_address:
            name = "tpu"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            return tf.distribute.MirroredStrategy()
        return tf.distribute.MirroredStrategy(
            [device.name for device in tf.config.list_logical_devices("CPU")])
    if name == "multi_worker":
        if not _tf_config():
            raise ValueError("strategy 'multi_worker' needs the TF_CONFIG environment "
                             "variable describing the cluster and this worker's task.")
        return tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=tf.distribute.experimental.CommunicationOptions(
                timeout_seconds=collective_timeout))
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address or None)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError, RuntimeError) as error:
        raise ValueError(f"strategy 'tpu' found no TPU at {tpu_address or '(default)'!r}: "
                         f"{str(error).splitlines()[0]}") from None
    return tf.distribute.TPUStrategy(resolver)


def is_multi_worker(strategy):
    """Whether `strategy` spans several workers (Keras 3's fit() cannot drive it)."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.extended._in_multi_worker_mode())  # pylint: disable=protected-access
