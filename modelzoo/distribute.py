"""Distribution strategies by name, plus the chief/worker helpers around them.

`get_distribution_strategy(name)` maps the recipes' `--strategy` flag to a
`tf.distribute.Strategy` and turns every predictable failure (an unknown name,
no TPU, no `TF_CONFIG`, devices configured too late) into a one-line
`ModelzooError`. Call it at program start: `mirrored` with `cpu_replicas` and
`multi_worker` both have to configure TensorFlow before it creates any tensor.

Under `multi_worker`, Keras 3 also needs `modelzoo.multi_worker.prepare_model`
on each model before `fit`; see that module.
"""

import json
import os

import tensorflow as tf
from absl import logging

from modelzoo.errors import ModelzooError, UsageError, first_line

STRATEGY_NAMES = ("default", "one_device", "mirrored", "multi_worker", "tpu")


def get_distribution_strategy(name="default", cpu_replicas=None, tpu=None):
    """Returns the `tf.distribute.Strategy` called `name`.

    Args:
        name: str. One of `STRATEGY_NAMES`:
            `"default"`: the no-op default strategy;
            `"one_device"`: `/gpu:0` if there is a GPU, else `/cpu:0`;
            `"mirrored"`: all local GPUs, or `cpu_replicas` logical CPUs on a
            CPU-only machine (one CPU replica if `cpu_replicas` is None);
            `"multi_worker"`: `MultiWorkerMirroredStrategy` from `TF_CONFIG`;
            `"tpu"`: `TPUStrategy` on the TPU named by `tpu`.
        cpu_replicas: int or None. Only for `"mirrored"` on a CPU-only
            machine: how many logical CPU devices to split the CPU into. This
            must happen before TensorFlow initialises its devices.
        tpu: str or None. For `"tpu"`: a TPU name, `"local"`, or a
            `grpc://` address; None lets the resolver look in the environment.

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        UsageError: for an unknown name, a bad `cpu_replicas`, or a missing or
            invalid `TF_CONFIG`.
        ModelzooError: if TensorFlow was initialised too early, or there is no
            TPU to connect to. Every message is one line.
    """
    if name not in STRATEGY_NAMES:
        raise UsageError(
            f"Unknown distribution strategy {name!r}; use one of: {', '.join(STRATEGY_NAMES)}"
        )
    if cpu_replicas is not None and name != "mirrored":
        raise UsageError(f"cpu_replicas={cpu_replicas} applies only to the 'mirrored' strategy")
    if name == "default":
        return tf.distribute.get_strategy()
    if name in ("one_device", "mirrored") and cpu_replicas is None:
        warn_if_no_gpu(name)
    if name == "one_device":
        device = "/gpu:0" if tf.config.list_physical_devices("GPU") else "/cpu:0"
        return tf.distribute.OneDeviceStrategy(device)
    if name == "mirrored":
        return _mirrored(cpu_replicas)
    if name == "multi_worker":
        return _multi_worker()
    return _tpu(tpu)


_GPU_WARNED = []


def no_gpu_reason(environ=None):
    """Why TensorFlow sees no GPU, and the fix, as one line; None if it sees one.

    Args:
        environ: mapping or None (`os.environ`): where `CUDA_VISIBLE_DEVICES` is read.

    Returns:
        str or None.
    """
    if tf.config.list_physical_devices("GPU"):
        return None
    environ = os.environ if environ is None else environ
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return (f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU; unset it or list the GPUs "
                "to use")
    if not tf.test.is_built_with_cuda():
        return 'this TensorFlow is built without CUDA; install the GPU build: pip install ".[gpu]"'
    return ('TensorFlow found no usable CUDA driver or libraries; pip install ".[gpu]" (CUDA '
            "and cuDNN as wheels) and check the NVIDIA driver with nvidia-smi")


def warn_if_no_gpu(name):
    """Logs one line, once per process, when `--strategy=name` finds no GPU.

    `one_device` and `mirrored` (without `cpu_replicas`, which asks for
    CPUs) are how a recipe asks for GPUs; without one they run on the CPU,
    which would otherwise go unnoticed until training is slow.

    Returns:
        The line logged, or None (a GPU is there, or it was logged already).
    """
    reason = no_gpu_reason()
    if reason is None or _GPU_WARNED:
        return None
    _GPU_WARNED.append(name)
    line = (f"--strategy={name} asks for a GPU but TensorFlow sees none, so it runs on the "
            f"CPU: {reason}")
    logging.warning("%s", line)
    return line


def _mirrored(cpu_replicas):
    if cpu_replicas is not None and (
        isinstance(cpu_replicas, bool) or not isinstance(cpu_replicas, int) or cpu_replicas <= 0
    ):
        raise UsageError(f"cpu_replicas={cpu_replicas!r} must be a positive integer")
    if tf.config.list_physical_devices("GPU"):
        if cpu_replicas is not None:
            logging.warning("cpu_replicas=%d ignored: mirroring over the GPUs", cpu_replicas)
        return tf.distribute.MirroredStrategy()
    if cpu_replicas is None:
        return tf.distribute.MirroredStrategy()
    _split_cpu(cpu_replicas)
    return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(cpu_replicas)])


def _split_cpu(count):
    """Splits the first physical CPU into `count` logical devices."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    # A second call in the same process asking for the same split is fine.
    if current is not None and len(current) == count:
        return
    if current is None and count == 1:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError:
        raise ModelzooError(
            f"cpu_replicas={count}: TensorFlow has already initialised its devices; "
            "create the strategy at program start, before any tensor, model or dataset"
        ) from None


def _multi_worker():
    _check_tf_config(os.environ.get("TF_CONFIG"))
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
    except RuntimeError as e:
        # "Collective ops must be configured at program startup."
        raise ModelzooError(
            f"multi_worker: {first_line(e, limit=200)}; create the strategy before any other "
            "TensorFlow work"
        ) from None


def _check_tf_config(raw):
    """Raises `UsageError` unless `raw` is a usable TF_CONFIG JSON string."""
    example = (
        '{"cluster": {"worker": ["host1:port", "host2:port"]}, '
        '"task": {"type": "worker", "index": 0}}'
    )
    if not raw:
        raise UsageError(f"multi_worker needs the TF_CONFIG environment variable, e.g. {example}")
    try:
        config = json.loads(raw)
    except ValueError as e:
        raise UsageError(f"TF_CONFIG is not valid JSON ({e}); expected e.g. {example}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster:
        raise UsageError(f"TF_CONFIG has no 'cluster'; expected e.g. {example}")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise UsageError(f"TF_CONFIG has no 'task' with 'type' and 'index'; expected e.g. {example}")
    addresses = cluster.get(task["type"])
    try:
        index = int(task["index"])
    except (TypeError, ValueError):
        index = -1
    if not isinstance(addresses, list) or not 0 <= index < len(addresses):
        raise UsageError(
            f"TF_CONFIG task {task['type']}:{task['index']} is not in its cluster "
            f"{ {k: len(v) for k, v in cluster.items() if isinstance(v, list)} }"
        )


def _tpu(tpu):
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except Exception as e:  # noqa: BLE001
        # Without a TPU the resolver, the Cloud TPU client and the runtime
        # fail with unrelated types (ValueError, URLError, NotFoundError,
        # UnimplementedError...), some with empty messages. All mean "no TPU
        # here", and the flag value is what the user can act on.
        raise ModelzooError(
            f"no TPU available for tpu={tpu!r}: {first_line(e, limit=200)}"
        ) from None


def steps_per_execution_for(strategy, steps):
    """The `steps_per_execution` Keras can run under `strategy`.

    Keras 3's multi-step loop fails under `MirroredStrategy` and
    `MultiWorkerMirroredStrategy` with more than one replica ("You must feed
    a value for placeholder tensor .../while/cond/Placeholder", keras#19246),
    so there one step per call is used. Everywhere else, a TPU above all
    (where it is the main throughput setting: one host round trip per N
    steps), `steps` is kept. Decided by the strategy's type, so it holds
    without the hardware.

    Args:
        strategy: a `tf.distribute.Strategy`.
        steps: int. The `--steps_per_execution` asked for.

    Returns:
        `(steps, reason)`: the steps to use, and None or a one-line reason
        why fewer than asked.
    """
    mirrored = (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy,
                tf.distribute.experimental.MultiWorkerMirroredStrategy)
    replicas = strategy.num_replicas_in_sync
    if steps > 1 and replicas > 1 and isinstance(strategy, mirrored):
        return 1, (f"steps_per_execution={steps} fails under {type(strategy).__name__} with "
                   f"{replicas} replicas (keras#19246); using 1")
    return steps, None


def shard_options(dataset):
    """Returns `dataset` set to auto-shard by DATA across workers.

    The default (AUTO) policy shards by input file; a pipeline that is not
    read from several files (TFDS splits, `from_tensor_slices`) would fall
    back with a warning or give every worker all the data. DATA makes each
    worker keep every n-th global batch. Batch the dataset by the GLOBAL batch
    size before this: `tf.distribute` splits each batch over the replicas.

    Args:
        dataset: a `tf.data.Dataset`.

    Returns:
        The dataset with `auto_shard_policy=DATA`.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def per_replica_batch_size(global_batch_size, strategy):
    """Returns the per-replica share of `global_batch_size`.

    Args:
        global_batch_size: int. The batch size the pipeline is batched by.
        strategy: a `tf.distribute.Strategy`.

    Returns:
        int, `global_batch_size // strategy.num_replicas_in_sync`.

    Raises:
        UsageError: if it does not divide evenly; Keras scales each replica's
            mean loss by `1 / num_replicas`, which is the global mean only for
            equal per-replica batches.
    """
    replicas = strategy.num_replicas_in_sync
    if global_batch_size % replicas:
        raise UsageError(
            f"batch_size={global_batch_size} must be divisible by the {replicas} replicas"
        )
    return global_batch_size // replicas


def _task(strategy):
    """Returns `(task_type, task_id, cluster_dict)`, or None if not multi-worker."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return None
    if resolver.task_type is None:
        return None
    return resolver.task_type, resolver.task_id, resolver.cluster_spec().as_dict()


def is_chief(strategy):
    """Returns whether this process should write the shared outputs.

    Args:
        strategy: a `tf.distribute.Strategy`.

    Returns:
        True unless `strategy` is a multi-worker strategy and this task is
        neither the `chief` nor, in a cluster without one, `worker` 0.
    """
    task = _task(strategy)
    if task is None:
        return True
    task_type, task_id, cluster = task
    if task_type == "chief":
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in cluster


def worker_dir(path, strategy):
    """Returns where this worker should write what belongs in `path`.

    Under `MultiWorkerMirroredStrategy` every worker must run the same saves
    (they read synchronised variables with collective ops), but only the
    chief's copy may land in `path`. The others get a hidden sibling,
    `<parent>/.<name>.workertemp_<task_type>_<task_id>`: outside `path`, so
    they never race the chief's files or create `path` first, and stable
    across restarts, so a per-worker `BackupAndRestore` dir can be resumed.
    Delete it afterwards with `remove_worker_dir`.

    Args:
        path: str. The output directory, local or remote (`gs://...`).
        strategy: a `tf.distribute.Strategy`.

    Returns:
        `path` on the chief; the worker's temporary directory on the others.
    """
    if is_chief(strategy):
        return path
    task_type, task_id, _ = _task(strategy)
    if "://" in path:
        # normpath would fold `gs://` into `gs:/`.
        parent, name = path.rstrip("/").rsplit("/", 1)
        return f"{parent}/.{name}.workertemp_{task_type}_{task_id}"
    parent, name = os.path.split(os.path.normpath(path))
    return os.path.join(parent, f".{name}.workertemp_{task_type}_{task_id}")


def remove_worker_dir(directory, path):
    """Deletes `directory` if it is a non-chief temporary from `worker_dir`.

    Args:
        directory: str. What `worker_dir(path, strategy)` returned.
        path: str. The `path` given to `worker_dir`.
    """
    if os.path.normpath(directory) != os.path.normpath(path) and tf.io.gfile.exists(directory):
        tf.io.gfile.rmtree(directory)
