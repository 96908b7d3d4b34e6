"""Compiling and fitting, shared by every recipe."""

import os
import time

import keras

from modelzoo import multi_worker


def compile_model(model, learning_rate, decay_steps=None, steps_per_execution=1):
    """Compiles a logits classifier / language model with Adam.

    Args:
        model: a `keras.Model` that outputs logits.
        learning_rate: float. Peak learning rate.
        decay_steps: int or None. With a step count, the rate follows a cosine
            decay to 0 over it, which reaches a given accuracy sooner than a
            constant rate for the same epochs.
        steps_per_execution: int. Batches run per call into the graph; larger
            values cut per-step Python overhead on small models.
    """
    if decay_steps:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
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


def model_dir_callbacks(model_dir):
    """Backup (for resuming), per-epoch checkpoints and TensorBoard logs.

    Args:
        model_dir: str or None. Where this worker writes; `None` disables them.

    Returns:
        A list of callbacks.
    """
    if not model_dir:
        return []
    return [
        keras.callbacks.BackupAndRestore(os.path.join(model_dir, "backup")),
        keras.callbacks.ModelCheckpoint(
            os.path.join(model_dir, "checkpoints", "epoch-{epoch:03d}.weights.h5"),
            save_weights_only=True,
        ),
        keras.callbacks.TensorBoard(os.path.join(model_dir, "logs")),
    ]
