"""The recipes' shared flags and their checks; a bad flag is a `UsageError`."""

import math
import os

from absl import flags

from modelzoo import distribute, training
from modelzoo.errors import UsageError


def define_common_flags(
    dataset, datasets, epochs, batch_size, learning_rate, steps_per_execution=1,
    flag_values=flags.FLAGS,
):
    """Defines the flags every recipe has, with the recipe's defaults.

    Args:
        dataset: str. Default --dataset.
        datasets: tuple of str. The datasets the recipe supports.
        epochs, batch_size, learning_rate, steps_per_execution: defaults.
        flag_values: the `FlagValues` to define them in; tests pass a fresh
            one so several recipes can live in one process.
    """
    fv = dict(flag_values=flag_values)
    flags.DEFINE_string("dataset", dataset, f"TFDS dataset: one of {', '.join(datasets)}.", **fv)
    flags.DEFINE_string("data_dir", None, "TFDS data directory (default: TFDS's own).", **fv)
    flags.DEFINE_boolean("download", True, "Let TFDS download; false uses only prepared data.", **fv)
    flags.DEFINE_string(
        "manual_dir", None,
        "Folder with TFDS's original downloads: TFDS's own builder prepares the "
        "dataset from them (checking each sha256), with no network.", **fv)
    flags.DEFINE_integer("epochs", epochs, "Training epochs.", **fv)
    flags.DEFINE_integer("batch_size", batch_size, "Global batch size, split over replicas.", **fv)
    flags.DEFINE_float("learning_rate", learning_rate, "Peak Adam learning rate (cosine decay).", **fv)
    flags.DEFINE_integer("steps_per_execution", steps_per_execution, "Batches per graph call.", **fv)
    flags.DEFINE_integer("seed", None, "Random seed; set it to make a run repeatable.", **fv)
    flags.DEFINE_string(
        "strategy", "default",
        f"Distribution strategy: {', '.join(distribute.STRATEGY_NAMES)}.", **fv)
    flags.DEFINE_integer("cpu_replicas", None, "mirrored on a CPU-only machine: logical CPUs.", **fv)
    flags.DEFINE_string("tpu", None, "TPU name or address for --strategy=tpu.", **fv)
    flags.DEFINE_boolean("mixed_precision", False, "bfloat16 on CPU/TPU, float16 on GPU.", **fv)
    flags.DEFINE_string("model_dir", None, "Backups (resume), checkpoints, TensorBoard logs.", **fv)
    flags.DEFINE_boolean("fresh_start", False, "Set an existing --model_dir backup aside.", **fv)
    flags.DEFINE_string("export_dir", "saved_models", "Export root: <export_dir>/<name>/<version>.", **fv)
    flags.DEFINE_string("name", None, "Export name (default: <dataset>_<model>).", **fv)
    flags.DEFINE_integer("version", None, "Export version (default: the next free integer).", **fv)
    flags.DEFINE_integer("max_train_examples", None, "Use at most this many training examples.", **fv)
    flags.DEFINE_integer("max_eval_examples", None, "Use at most this many test examples.", **fv)
    flags.DEFINE_boolean("verbose", False, "Show tracebacks and Keras progress bars.", **fv)


def check_flags(flags_obj, datasets):
    """Raises `UsageError` naming the first bad flag, before any work."""
    if flags_obj.dataset not in datasets:
        raise UsageError(
            f"--dataset={flags_obj.dataset!r} is not supported; use one of: {', '.join(datasets)}"
        )
    if flags_obj.strategy not in distribute.STRATEGY_NAMES:
        raise UsageError(
            f"--strategy={flags_obj.strategy!r} is unknown; "
            f"use one of: {', '.join(distribute.STRATEGY_NAMES)}"
        )
    for name in ("epochs", "batch_size", "steps_per_execution"):
        if getattr(flags_obj, name) <= 0:
            raise UsageError(f"--{name}={getattr(flags_obj, name)} must be a positive integer")
    for name in ("max_train_examples", "max_eval_examples", "cpu_replicas", "version"):
        value = getattr(flags_obj, name)
        if value is not None and value <= 0:
            raise UsageError(f"--{name}={value} must be a positive integer")
    if not flags_obj.learning_rate > 0:
        raise UsageError(f"--learning_rate={flags_obj.learning_rate} must be > 0")
    check_optimizer_flags(flags_obj)
    if not math.isfinite(flags_obj.learning_rate):
        raise UsageError(f"--learning_rate={flags_obj.learning_rate} must be a finite number")
    check_model_dir(flags_obj.model_dir)
    training.claim_model_dir(flags_obj.model_dir)


def check_model_dir(model_dir):
    """Raises `UsageError` unless --model_dir is, or can become, a writable folder."""
    if not model_dir:
        return
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise UsageError(f"--model_dir={model_dir} is a file, not a directory; pass a folder")
    try:
        os.makedirs(model_dir, exist_ok=True)
    except OSError as e:
        raise UsageError(
            f"--model_dir={model_dir} cannot be created ({e.strerror}); pass a writable folder"
        ) from None
    if not os.access(model_dir, os.W_OK | os.X_OK):
        raise UsageError(f"--model_dir={model_dir} is not writable; pass a writable folder")


def int_list(flag_name, values):
    """Parses a list flag of integers, e.g. --hidden_units=256,128."""
    try:
        return tuple(int(v) for v in values)
    except ValueError:
        raise UsageError(
            f"--{flag_name}={','.join(values)} must be comma-separated integers"
        ) from None


TRANSFORMER_SIZE_FLAGS = ("embed_dim", "num_heads", "ff_dim", "num_layers", "dropout")


def define_transformer_size_flags(
    embed_dim, num_heads, ff_dim, num_layers, dropout=0.1, block="Encoder",
    flag_values=flags.FLAGS,
):
    """Defines --embed_dim, --num_heads, --ff_dim, --num_layers and --dropout."""
    fv = dict(flag_values=flag_values)
    flags.DEFINE_integer("embed_dim", embed_dim, "Embedding and hidden size.", **fv)
    flags.DEFINE_integer("num_heads", num_heads, "Attention heads.", **fv)
    flags.DEFINE_integer("ff_dim", ff_dim, "Feed-forward width.", **fv)
    flags.DEFINE_integer("num_layers", num_layers, f"{block} blocks.", **fv)
    flags.DEFINE_float("dropout", dropout, "Dropout rate, in [0, 1).", **fv)


def transformer_size(flags_obj):
    """The builder arguments of `define_transformer_size_flags`."""
    return {name: getattr(flags_obj, name) for name in TRANSFORMER_SIZE_FLAGS}


OPTIMIZER_FLAGS = ("warmup_steps", "final_learning_rate_ratio", "weight_decay", "beta_2", "clipnorm")


def define_optimizer_flags(
    warmup_steps=0, final_learning_rate_ratio=0.0, weight_decay=0.0, beta_2=0.999,
    clipnorm=None, flag_values=flags.FLAGS,
):
    """Defines the optimizer flags of `training.compile_model`, with a recipe's defaults."""
    fv = dict(flag_values=flag_values)
    flags.DEFINE_integer("warmup_steps", warmup_steps, "Linear learning-rate warm-up steps.", **fv)
    flags.DEFINE_float("final_learning_rate_ratio", final_learning_rate_ratio,
                       "End of the cosine decay, as a fraction of --learning_rate.", **fv)
    flags.DEFINE_float("weight_decay", weight_decay, "AdamW decay of matrices; 0 is Adam.", **fv)
    flags.DEFINE_float("beta_2", beta_2, "Adam's second-moment decay.", **fv)
    flags.DEFINE_float("clipnorm", clipnorm, "Clip each gradient to this norm; unset: no clipping.", **fv)


def check_optimizer_flags(flags_obj):
    """Raises `UsageError` naming a bad optimizer flag, if the recipe has them."""
    if "warmup_steps" not in flags_obj:
        return
    if flags_obj.warmup_steps < 0:
        raise UsageError(f"--warmup_steps={flags_obj.warmup_steps} must be >= 0")
    for name in ("final_learning_rate_ratio", "beta_2"):
        if not 0 <= getattr(flags_obj, name) < 1:
            raise UsageError(f"--{name}={getattr(flags_obj, name)} must be in [0, 1)")
    if not flags_obj.weight_decay >= 0:
        raise UsageError(f"--weight_decay={flags_obj.weight_decay} must be >= 0")
    if flags_obj.clipnorm is not None and not flags_obj.clipnorm > 0:
        raise UsageError(f"--clipnorm={flags_obj.clipnorm} must be > 0")
