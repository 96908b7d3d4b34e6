"""Compiling and fitting, shared by every recipe."""

import json
import os
import time

import keras
import tensorflow as tf
from absl import logging

from modelzoo import multi_worker, storage
from modelzoo.errors import ModelzooError, first_line


def compile_model(
    model, learning_rate, decay_steps=None, steps_per_execution=1, warmup_steps=0,
    final_learning_rate_ratio=0.0, weight_decay=0.0, beta_2=0.999, clipnorm=None,
):
    """Compiles a logits classifier / language model with Adam or AdamW.

    Args:
        model: a `keras.Model` that outputs logits.
        learning_rate: float. Peak learning rate.
        decay_steps: int or None. With a step count, the rate follows a cosine
            decay over it, which reaches a given accuracy sooner than a
            constant rate for the same epochs.
        steps_per_execution: int. Batches run per call into the graph; larger
            values cut per-step Python overhead on small models.
        warmup_steps: int. Steps of linear warm-up from 0 to `learning_rate`
            before the decay (part of `decay_steps`).
        final_learning_rate_ratio: float. Where the cosine ends, as a fraction
            of `learning_rate`.
        weight_decay: float. With a positive value, AdamW's decoupled decay,
            applied to matrices (embeddings and kernels) only, not to biases
            or normalization scales.
        beta_2: float. Adam's second-moment decay.
        clipnorm: float or None. Clips each gradient to this norm.
    """
    if decay_steps:
        warmup_steps = min(warmup_steps, decay_steps - 1)
        learning_rate = keras.optimizers.schedules.CosineDecay(
            0.0 if warmup_steps else learning_rate,
            decay_steps - warmup_steps,
            alpha=final_learning_rate_ratio,
            warmup_target=learning_rate if warmup_steps else None,
            warmup_steps=warmup_steps,
        )
    optimizer_args = dict(learning_rate=learning_rate, beta_2=beta_2, clipnorm=clipnorm)
    if weight_decay:
        optimizer = keras.optimizers.AdamW(weight_decay=weight_decay, **optimizer_args)
        optimizer.exclude_from_weight_decay(
            var_list=[v for v in model.trainable_variables if len(v.shape) < 2]
        )
    else:
        optimizer = keras.optimizers.Adam(**optimizer_args)
    replicas = model.distribute_strategy.num_replicas_in_sync
    if steps_per_execution > 1 and replicas > 1:
        # Keras 3.15's multi-step loop fails under tf.distribute with several
        # replicas ("You must feed a value for placeholder tensor
        # .../while/cond/Placeholder"); one step per call works.
        logging.warning(
            "steps_per_execution=%d is not supported with %d replicas in Keras %s; using 1",
            steps_per_execution, replicas, keras.__version__,
        )
        steps_per_execution = 1
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        # Weighted, so masked-LM padding (weight 0) does not count; without
        # sample weights this is plain accuracy.
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        steps_per_execution=steps_per_execution,
    )
    multi_worker.prepare_model(model)


class Throughput(keras.callbacks.Callback):
    """Records training wall time and examples per second, per epoch."""

    def __init__(self, examples_per_epoch):
        super().__init__()
        self.examples_per_epoch = examples_per_epoch
        self.epoch_seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self._start)

    def examples_per_second(self):
        """Median over epochs after the first, which includes tracing."""
        times = sorted(self.epoch_seconds[1:] or self.epoch_seconds)
        if not times or not self.examples_per_epoch:
            return None
        return self.examples_per_epoch / times[len(times) // 2]


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras's `BackupAndRestore` that names a corrupt backup in one line.

    It keeps the previous backup too (`double_checkpoint`), since Keras
    writes the backup in place and a kill during the write corrupts it.
    """

    def __init__(self, backup_dir):
        super().__init__(backup_dir, double_checkpoint=True)

    def on_train_begin(self, logs=None):
        # Keras resumes at the saved epoch even without the weights file, so
        # the run would go on from random weights as if nothing was lost.
        if (
            os.path.exists(self._training_metadata_path)
            and not os.path.exists(self._weights_path)
            and self._broken_file() == self._weights_path
        ):
            raise ModelzooError(
                f"the backup {os.path.dirname(self._weights_path)} has "
                f"{os.path.basename(self._training_metadata_path)} but no "
                f"{os.path.basename(self._weights_path)}, so its weights cannot be restored; "
                "rerun with --fresh_start to set it aside and train from epoch 1"
            )
        try:
            super().on_train_begin(logs)
        except Exception as e:  # noqa: BLE001 - h5py, OSError, JSON, shape errors
            raise ModelzooError(
                f"the backup {self._broken_file()} cannot be restored "
                f"({type(e).__name__}: {first_line(e, empty='no message')}); "
                "rerun with --fresh_start to set it aside and train from epoch 1"
            ) from e

    def _broken_file(self):
        try:
            with open(self._training_metadata_path) as f:
                int(json.load(f)["epoch"])
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError):
            return self._training_metadata_path
        return self._weights_path


def set_aside(path, label="discarded"):
    """Renames `path` to `<path>.<label>-<time>`; nothing is deleted or replaced.

    Returns:
        The new path, or None if `path` does not exist.
    """
    if not os.path.lexists(path):
        return None
    base = f"{path}.{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    for n in range(1, 1000):
        target = base if n == 1 else f"{base}-{n}"
        try:
            storage.rename_no_replace(path, target)
            return target
        except FileExistsError:
            continue
    raise ModelzooError(f"cannot find a free name to set {path} aside")


class ModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """Keras's `ModelCheckpoint` that sets an existing file aside, never replacing it."""

    def on_epoch_end(self, epoch, logs=None):
        # The file name template has only {epoch}, counted from 1 by Keras.
        path = self.filepath.format(epoch=epoch + 1)
        moved = set_aside(path, "previous")
        if moved:
            logging.warning("%s existed; kept it as %s", path, moved)
        super().on_epoch_end(epoch, logs)


def model_dir_callbacks(model_dir, strategy=None, fresh_start=False):
    """Backup (for resuming), per-epoch checkpoints and TensorBoard logs.

    Nothing already in `model_dir` is overwritten: a run that does not resume
    a backup renames an earlier run's `checkpoints` to
    `checkpoints.previous-<time>`, and a checkpoint file that exists anyway
    is renamed to `<file>.previous-<time>` before the new one is written.

    Under multi_worker every worker must run the same saves, so each keeps a
    backup of its own (`backup` on the chief, `backup-worker<i>` on worker
    i) to resume from, while checkpoints and logs of non-chief workers go to
    temporary directories, as TF's multi-worker guide prescribes.

    Args:
        model_dir: str or None. The run's directory; `None` disables them.
        strategy: the `tf.distribute.Strategy` of the run.
        fresh_start: bool. Set an existing backup aside instead of resuming.

    Returns:
        A list of callbacks.
    """
    if not model_dir:
        return []
    from modelzoo import distribute

    strategy = strategy or tf.distribute.get_strategy()
    backup_dir = os.path.join(model_dir, "backup")
    if not distribute.is_chief(strategy):
        resolver = strategy.cluster_resolver
        backup_dir += f"-{resolver.task_type}{resolver.task_id}"
    if fresh_start:
        set_aside(backup_dir)
    out_dir = distribute.worker_dir(model_dir, strategy)
    checkpoints = os.path.join(out_dir, "checkpoints")
    if not os.path.exists(backup_dir) and os.path.isdir(checkpoints) and os.listdir(checkpoints):
        # A run that does not resume starts its epochs at 1 again: the
        # earlier run's checkpoints move aside whole instead of being
        # overwritten one by one.
        moved = set_aside(checkpoints, "previous")
        logging.warning("%s held an earlier run's checkpoints; kept them as %s", checkpoints, moved)
    return [
        BackupAndRestore(backup_dir),
        ModelCheckpoint(
            os.path.join(checkpoints, "epoch-{epoch:03d}.weights.h5"),
            save_weights_only=True,
        ),
        keras.callbacks.TensorBoard(os.path.join(out_dir, "logs")),
    ]
