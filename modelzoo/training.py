"""Compiling and fitting, shared by every recipe."""

import io
import json
import os
import time

import keras
import tensorflow as tf
from absl import logging

from modelzoo import distribute, multi_worker, storage
from modelzoo.errors import ModelzooError, UsageError, first_line


def compile_model(
    model, learning_rate, decay_steps=None, steps_per_execution=1, warmup_steps=0,
    final_learning_rate_ratio=0.0, weight_decay=0.0, beta_2=0.999, clipnorm=None,
    jit_compile="auto",
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
        jit_compile: `"auto"`, True or False: Keras's XLA compilation of
            the train step (`"auto"` lets Keras decide).
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
    steps_per_execution, reason = distribute.steps_per_execution_for(
        model.distribute_strategy, steps_per_execution)
    if reason:
        logging.warning("%s (Keras %s)", reason, keras.__version__)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        # Weighted, so masked-LM padding (weight 0) does not count; without
        # sample weights this is plain accuracy.
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
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
    """Keras's `BackupAndRestore` that resumes from the last sound backup.

    It keeps the previous backup too (`<file>.bkp`), since a kill while the
    backup is written leaves it broken, and rotates by renaming (Keras
    copies), which needs no disk space: a full disk cannot break both. When
    the latest backup is missing or broken (empty, unreadable or not an epoch
    count) and the previous pair is sound, training resumes from that pair.
    A backup that cannot be restored is named in one line.
    """

    def __init__(self, backup_dir):
        super().__init__(backup_dir, double_checkpoint=True)

    def on_train_begin(self, logs=None):
        self._fall_back_to_previous()
        # Keras resumes at the saved epoch even without the weights file, so
        # the run would go on from random weights as if nothing was lost.
        if (
            storage.exists(self._training_metadata_path)
            and not storage.exists(self._weights_path)
            and self._broken_file() == self._weights_path
        ):
            raise ModelzooError(
                f"the backup {os.path.dirname(self._weights_path)} has "
                f"{os.path.basename(self._training_metadata_path)} but no "
                f"{os.path.basename(self._weights_path)}, so its weights cannot be restored; "
                "rerun with --fresh_start to set it aside and train from epoch 1"
            )
        broken = self._broken_file()
        if broken == self._training_metadata_path:
            raise ModelzooError(
                f"the backup {broken} cannot be restored ({self._metadata_problem(broken)}); "
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

    def _fall_back_to_previous(self):
        """Puts the previous pair in place if the latest is missing or broken."""
        current = (self._weights_path, self._training_metadata_path)
        previous = (self._prev_weights_path, self._prev_training_metadata_path)
        if self._pair_is_sound(*current) or not self._pair_is_sound(*previous):
            return
        if not any(storage.exists(p) for p in current):
            return  # a finished or fresh run: nothing to resume
        meta = self._training_metadata_path
        logging.warning(
            "the latest backup in %s is incomplete (%s); resuming from the previous one (%s.bkp)",
            self.backup_dir, self._metadata_problem(meta) if storage.exists(meta)
            else f"no {os.path.basename(meta)}", os.path.basename(meta),
        )
        for source, target in zip(previous, current):
            storage.replace(source, target)

    def _pair_is_sound(self, weights, metadata):
        return storage.isfile(weights) and self._metadata_problem(metadata) is None

    @staticmethod
    def _metadata_problem(path):
        """Why the metadata file `path` cannot be resumed from, or None."""
        try:
            with storage.open_file(path) as f:
                text = f.read()
        except OSError as e:
            return e.strerror or type(e).__name__
        if not text.strip():
            return "it is empty"
        try:
            epoch = json.loads(text)["epoch"]
        except (ValueError, KeyError, TypeError) as e:
            return f"not a JSON object with an epoch: {first_line(e, empty=type(e).__name__)}"
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            return f"its epoch is {json.dumps(epoch)}, not a whole number >= 0"
        return None

    def _broken_file(self):
        if storage.exists(self._training_metadata_path) and self._metadata_problem(
                self._training_metadata_path):
            return self._training_metadata_path
        return self._weights_path

    def _save_model(self):
        storage.makedirs(self.backup_dir)
        current = (self._weights_path, self._training_metadata_path)
        previous = (self._prev_weights_path, self._prev_training_metadata_path)
        if self._pair_is_sound(*current):
            for source, target in zip(current, previous):
                storage.replace(source, target)
        try:
            save_weights(self.model, self._weights_path, remove_partial=False)
            write_text(self._training_metadata_path, json.dumps(
                {"epoch": self._current_epoch, "batch": self._last_batch_seen}))
        except ModelzooError:
            # Back to the state before this save: the last sound backup as
            # the latest, or none rather than a broken one.
            if self._pair_is_sound(*previous):
                for source, target in zip(previous, current):
                    storage.replace(source, target)
            else:
                for path in current:
                    if storage.isfile(path):
                        storage.remove(path)
            raise


def save_weights(model, path, remove_partial=True, atomic=False):
    """`model.save_weights(path)`; a failure is one `ModelzooError` naming `path`.

    The weights are written into memory by Keras and then to `path` by
    plain file I/O: h5py writing to a full disk leaves its file open, and
    freeing it at exit prints two tracebacks and crashes the process (exit
    139).

    Args:
        model: a built `keras.Model`.
        path: str. The `.weights.h5` file.
        remove_partial: bool. Remove what a failed write left at `path`.
        atomic: bool. Write a hidden sibling and rename it to `path`, so
            `path` never holds a partial file.

    Raises:
        ModelzooError: the write failed (a full disk, a folder in the way).
    """
    data = weights_bytes(model)
    try:
        if atomic:
            storage.write_file(path, data, replace_existing=True)
        else:
            with storage.open_file(path, "wb") as f:
                f.write(data)
    except OSError as e:
        if remove_partial and storage.isfile(path):
            storage.remove(path)
        raise ModelzooError(
            f"cannot write {path} ({e.strerror}); free space there or pass another --model_dir"
        ) from None


def weights_bytes(model):
    """The `.weights.h5` file `model.save_weights` would write, as bytes."""
    # Keras's own writer, the one `save_weights` uses, given a BytesIO: its
    # public API takes only a path.
    from keras.src.saving import saving_lib

    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="",
                           visited_saveables=set())
    store.close()
    return buffer.getvalue()


def write_text(path, text):
    """Writes `text` to `path`; a failure is one `ModelzooError` naming `path`."""
    try:
        with storage.open_file(path, "w") as f:
            f.write(text)
    except OSError as e:
        raise ModelzooError(
            f"cannot write {path} ({e.strerror}); free space there or pass another --model_dir"
        ) from None


def set_aside(path, label="discarded"):
    """Renames `path` to `<path>.<label>-<time>`; nothing is deleted or replaced.

    Returns:
        The new path, or None if `path` does not exist.
    """
    if not storage.lexists(path):
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
    """Keras's `ModelCheckpoint` that sets an existing file aside, never replacing it.

    A failed write is one `ModelzooError` naming the file (see `save_weights`).
    """

    def on_epoch_end(self, epoch, logs=None):
        # The file name template has only {epoch}, counted from 1 by Keras.
        path = self.filepath.format(epoch=epoch + 1)
        moved = set_aside(path, "previous")
        if moved:
            logging.warning("%s existed; kept it as %s", path, moved)
        storage.makedirs(os.path.dirname(path) or ".")
        save_weights(self.model, path, atomic=True)


# What a run writes inside --model_dir; each must be a folder if it exists.
MODEL_DIR_FOLDERS = ("backup", "checkpoints", "logs")


def claim_model_dir(model_dir):
    """Checks the folders a run writes in `model_dir` and locks it for this run.

    Called before any work, so a file in the way or a second run sharing
    the folder fails at once, not after an epoch. The lock is a `flock` on
    a hidden file, one per multi-worker task (they share `model_dir` but
    each writes its own backup); it is held until `release_model_dir`
    (`trainer.run` calls it when the run ends), and taking it again in the
    same process is a no-op.

    Args:
        model_dir: str or None (then nothing is done). An existing folder.

    Raises:
        UsageError: a file is in the way of `backup`, `checkpoints` or `logs`.
        storage.FolderInUse: another run holds `model_dir`.
    """
    if not model_dir:
        return
    task = _task_suffix()
    check_model_dir_folders(
        model_dir, [storage.join(model_dir, n) for n in (*MODEL_DIR_FOLDERS, f"backup{task}")])
    if storage.is_remote(model_dir):
        # An object store has no lock; one run per remote --model_dir is the
        # user's to ensure (docs/distributed.md says why no marker stands in).
        return
    storage.hold_folder_lock(_run_lock(model_dir), what=f"--model_dir={model_dir}")


def release_model_dir(model_dir):
    """Releases `claim_model_dir`'s lock; nothing if this process holds none."""
    if model_dir and not storage.is_remote(model_dir):
        storage.release_folder_lock(_run_lock(model_dir))


def _run_lock(model_dir):
    return storage.join(model_dir, f".modelzoo-run{_task_suffix()}.lock")


def check_model_dir_folders(model_dir, paths):
    """Raises `UsageError` if one of `paths` (in `model_dir`) exists and is not a folder."""
    for path in paths:
        if storage.lexists(path) and not storage.isdir(path):
            raise UsageError(
                f"--model_dir={model_dir}: {path} is a file, not a folder; "
                "move it away or pass another --model_dir"
            )


def _task_suffix():
    # The multi-worker task from TF_CONFIG, as `-worker1`; "" for the chief
    # or a single process. The chief's files carry no suffix, as in
    # `model_dir_callbacks`.
    try:
        task = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task") or {}
        kind, index = task.get("type"), int(task.get("index", 0))
    except (ValueError, AttributeError, TypeError):
        return ""
    if not kind or kind == "chief" or (kind == "worker" and index == 0 and not _has_chief()):
        return ""
    return f"-{kind}{index}"


def _has_chief():
    try:
        return bool(json.loads(os.environ["TF_CONFIG"]).get("cluster", {}).get("chief"))
    except (KeyError, ValueError, AttributeError):
        return False


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
    backup_dir = storage.join(model_dir, "backup")
    if not distribute.is_chief(strategy):
        resolver = strategy.cluster_resolver
        backup_dir += f"-{resolver.task_type}{resolver.task_id}"
    if fresh_start:
        set_aside(backup_dir)
    out_dir = distribute.worker_dir(model_dir, strategy)
    checkpoints = storage.join(out_dir, "checkpoints")
    check_model_dir_folders(model_dir, [backup_dir, checkpoints, storage.join(out_dir, "logs")])
    if not storage.exists(backup_dir) and storage.isdir(checkpoints) and storage.listdir(checkpoints):
        # A run that does not resume starts its epochs at 1 again: the
        # earlier run's checkpoints move aside whole instead of being
        # overwritten one by one.
        moved = set_aside(checkpoints, "previous")
        logging.warning("%s held an earlier run's checkpoints; kept them as %s", checkpoints, moved)
    # The checkpoint first: once the backup records an epoch, its checkpoint
    # is complete, so a run killed in between resumes without a gap.
    return [
        ModelCheckpoint(
            storage.join(checkpoints, "epoch-{epoch:03d}.weights.h5"),
            save_weights_only=True,
        ),
        BackupAndRestore(backup_dir),
        keras.callbacks.TensorBoard(storage.join(out_dir, "logs")),
    ]
