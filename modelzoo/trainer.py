"""The one training flow every experiment runs, from its config.

`run(config)`: seed, strategy and artifact target → the task's data → the
model built and compiled inside `strategy.scope()` → fit → evaluate → the
artifact (an export, or a checkpoint) → the summary dict. The command line
(`modelzoo.recipe`) and the Python API (`modelzoo.train`) both call it.
"""

import os
import time

import keras
import tensorflow as tf

from modelzoo import distribute, storage
from modelzoo.errors import UsageError
from modelzoo.registry import builder_config, get_model
from modelzoo.training import (
    Throughput,
    claim_model_dir,
    compile_model,
    model_dir_callbacks,
    release_model_dir,
)


def deterministic(training):
    """Whether ops run deterministically: `training.deterministic`, or by default
    with a seed on a CPU (cheap there), and not on GPU or TPU (some ops have no
    deterministic kernel, or a slower one) nor with `--jit_compile=true`."""
    if training.deterministic is not None:
        return training.deterministic
    accelerator = training.strategy == "tpu" or bool(tf.config.list_physical_devices("GPU"))
    # Keras turns XLA off under op determinism, so --jit_compile=true goes without it.
    return training.seed is not None and not accelerator and training.jit_compile != "true"


def set_up(training):
    """Seeds every random generator, sets op determinism and the precision policy.

    Args:
        training: the config's `TrainingConfig`.
    """
    if training.seed is not None:
        keras.utils.set_random_seed(training.seed)
    if deterministic(training):
        tf.config.experimental.enable_op_determinism()
    if training.mixed_precision:
        gpu = bool(tf.config.list_physical_devices("GPU"))
        keras.mixed_precision.set_global_policy("mixed_float16" if gpu else "mixed_bfloat16")
    else:
        keras.mixed_precision.set_global_policy("float32")


def make_strategy(training, strategy_override=None):
    """The strategy named by `training.strategy`, unless a test injects one."""
    if strategy_override is not None:
        return strategy_override
    strategy = distribute.get_distribution_strategy(
        training.strategy, cpu_replicas=training.cpu_replicas, tpu=training.tpu)
    distribute.per_replica_batch_size(training.batch_size, strategy)
    return strategy


def compile_args(config, train_steps, epochs=None, learning_rate=None):
    """`training.compile_model`'s arguments from the optimizer and training sections."""
    opt = config.optimizer
    epochs = epochs or config.training.epochs
    return dict(
        learning_rate=learning_rate or opt.learning_rate,
        decay_steps=train_steps and train_steps * epochs,
        steps_per_execution=config.training.steps_per_execution,
        warmup_steps=opt.warmup_steps,
        final_learning_rate_ratio=opt.final_learning_rate_ratio,
        weight_decay=opt.weight_decay,
        beta_2=opt.beta_2,
        clipnorm=opt.clipnorm,
        jit_compile={"auto": "auto", "true": True, "false": False}[config.training.jit_compile],
    )


def build_model(model_name, **model_kwargs):
    """A registered model; a bad builder argument is a `UsageError`."""
    try:
        return get_model(model_name, **model_kwargs)
    except ValueError as e:
        raise UsageError(str(e)) from None


def fit_and_evaluate(model, train_ds, test_ds, config, strategy, examples_per_epoch=None,
                     epochs=None, model_subdir=None):
    """Trains with the --model_dir callbacks, then evaluates.

    Args:
        epochs: int or None for `config.training.epochs`.
        model_subdir: str or None. For a later training stage (fine-tuning),
            the folder under --model_dir that holds its backups.

    Returns:
        `(metrics, throughput)`: the test metrics dict and the `Throughput`
        callback that timed the epochs.
    """
    model_dir = config.training.model_dir
    if model_dir and model_subdir:
        model_dir = storage.join(model_dir, model_subdir)
    if model_dir:
        storage.makedirs(model_dir)
    throughput = Throughput(examples_per_epoch)
    model.fit(
        train_ds,
        epochs=epochs or config.training.epochs,
        callbacks=[throughput,
                   *model_dir_callbacks(model_dir, strategy, config.training.fresh_start)],
        verbose=2,
    )
    if model_dir:
        distribute.remove_worker_dir(distribute.worker_dir(model_dir, strategy), model_dir)
    metrics = model.evaluate(test_ds, return_dict=True, verbose=0)
    return metrics, throughput


def make_model_dir(model_dir):
    """Creates --model_dir (if set); a folder that cannot be made is a `UsageError`."""
    if not model_dir:
        return
    try:
        storage.makedirs(model_dir)
    except OSError as e:
        raise UsageError(
            f"--model_dir={model_dir} cannot be created ({e.strerror}); pass a writable folder"
        ) from None


def count(ds):
    """Number of elements (batches, if batched) of `ds`, or None if unknown."""
    n = int(ds.cardinality())
    return n if n > 0 else None


def run(config, datasets_override=None, strategy_override=None):
    """Runs an experiment config through its task; returns the summary dict.

    Args:
        config: an `ExperimentConfig` (e.g. from `modelzoo.get_config`).
        datasets_override: injected data instead of TFDS, in the shape the
            task's `load` documents (tests use it).
        strategy_override: a `tf.distribute.Strategy` instead of
            `config.training.strategy`.

    Returns:
        The summary dict a recipe prints as its JSON line.

    Raises:
        UsageError: a bad config field, before any work.
    """
    try:
        return _run(config, datasets_override, strategy_override)
    finally:
        # Held for the run only: a notebook keeps no open lock after a failed run.
        release_model_dir(config.training.model_dir)


def _run(config, datasets_override, strategy_override):
    from modelzoo.tasks.base import task_for

    start = time.time()
    # Where the run's fixed cost goes: seconds per phase, in the summary.
    phases = PhaseClock()
    config = config.checked()
    task = task_for(config)
    task.check()
    task.check_init_preset()
    make_model_dir(config.training.model_dir)
    # Locked for this run: a second run sharing the folder fails now, not after an epoch.
    claim_model_dir(config.training.model_dir)
    set_up(config.training)
    strategy = make_strategy(config.training, strategy_override)
    task.check_target()
    phases.lap("set_up")
    data = task.load(datasets_override)
    phases.lap("load_data")
    if config.training.seed is not None:
        # Preparing a dataset (TFDS's builder, a first run) draws from the global
        # generators; seeding again makes the weights the same whether or not it ran.
        keras.utils.set_random_seed(config.training.seed)
    with strategy.scope():
        model, built = task.build(data)
        if data.initialize is not None:
            data.initialize(model)
        compile_model(model, **compile_args(config, count(data.train)))
    phases.lap("build")
    metrics, throughput, extras = task.fit(model, data, strategy)
    phases.lap("fit_and_evaluate")
    metrics = task.evaluate(model, data, metrics)
    phases.lap("task_evaluate")
    card = dict(model=built, metrics={k: float(v) for k, v in metrics.items()},
                dataset=task.dataset_facts(), config=config.as_dict(), flags=config.flat())
    artifact = task.publish(strategy, model, data, card)
    phases.lap("export_and_verify")
    summary = summarize(config, built["name"], metrics, artifact, start, throughput,
                        unit=task.unit, **extras)
    summary.update(task.report(artifact, data))
    phases.lap("export_metrics")
    if artifact is not None and summary.get("preset_path") is None:
        # A task that writes its own preset (masked_lm) has reported it.
        summary["preset_path"] = write_preset(task, model, data, card, artifact)
    phases.lap("preset")
    summary["phase_seconds"] = phases.seconds
    summary["wall_time_s"] = round(time.time() - start, 2)
    return summary


class PhaseClock:
    """Seconds between successive `lap(name)` calls, by name (in `seconds`)."""

    def __init__(self):
        self.seconds = {}
        self._last = time.perf_counter()

    def lap(self, name):
        now = time.perf_counter()
        self.seconds[name] = round(now - self._last, 3)
        self._last = now


def write_preset(task, model, data, card, export_path):
    """Writes the run's preset beside its export (see `modelzoo.presets`).

    Returns:
        The preset's path, or None: the task has no preprocessor for one, or
        that version exists already (a preset is never replaced).
    """
    from absl import logging

    from modelzoo import presets

    preprocessor = task.preprocessor(data)
    version = os.path.basename(os.path.normpath(export_path))
    if preprocessor is None or not version.isdigit():
        return None
    config = task.config
    metadata = dict(metrics=card["metrics"], model=card["model"], dataset=card["dataset"],
                    export_path=export_path if storage.is_remote(export_path)
                    else os.path.abspath(export_path),
                    init_preset=config.training.init_preset)
    try:
        return presets.write_preset(model, preprocessor, config, metadata, config.export_name(),
                                    int(version), config.export.preset_dir)
    except FileExistsError as exc:
        logging.warning("preset %s exists already; it is kept, not replaced", exc.filename)
        return None


def summarize(config, model_name, metrics, export_path, start, throughput=None,
              unit="examples", **extra):
    """The one-line JSON summary, as a dict.

    `unit` names what the throughput counts: `train_<unit>_per_s`.
    """
    summary = {
        "model": model_name,
        "dataset": config.data.dataset,
        "metrics": {k: round(float(v), 6) for k, v in metrics.items()},
        "export_path": export_path,
        "wall_time_s": round(time.time() - start, 2),
        # Fixed-shape training batches (TPU, --jit_compile=true): the last
        # partial batch of each epoch is not trained on.
        "drop_remainder": config.training.drop_remainder(),
    }
    if throughput is not None:
        summary["epochs_run"] = len(throughput.epoch_seconds)
        summary["train_time_s"] = round(sum(throughput.epoch_seconds), 2)
        # The first epoch's excess over the others is its tracing.
        summary["epoch_seconds"] = [round(t, 2) for t in throughput.epoch_seconds]
    if throughput is not None and throughput.examples_per_second():
        summary[f"train_{unit}_per_s"] = round(throughput.examples_per_second(), 1)
    summary.update(extra)
    return summary


def built_as(model_name, **model_kwargs):
    """The model card's `model` fact: the registered name and builder arguments."""
    return {"name": model_name, "builder_config": builder_config(model_name, **model_kwargs)}
