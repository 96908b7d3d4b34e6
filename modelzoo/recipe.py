"""The shared body of the recipes: flags, checks, strategy, fit, summary.

A recipe script defines its flags with `define_common_flags` plus its own,
implements `run(flags_obj, datasets_override=None, strategy_override=None)`
from the steps here, and starts with `recipe.app_run(run)`.
"""

import json
import math
import os
import sys
import time
import weakref

import keras
import tensorflow as tf
from absl import app, flags, logging

from modelzoo import distribute
from modelzoo.errors import UsageError, report
from modelzoo.training import Throughput, compile_model, model_dir_callbacks

# Model → its registered name and builder arguments, for the model card.
_BUILT = weakref.WeakKeyDictionary()


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


def set_up(flags_obj):
    """Seeds every random generator and sets the precision policy."""
    if flags_obj.seed is not None:
        keras.utils.set_random_seed(flags_obj.seed)
        tf.config.experimental.enable_op_determinism()
    if flags_obj.mixed_precision:
        gpu = bool(tf.config.list_physical_devices("GPU"))
        keras.mixed_precision.set_global_policy("mixed_float16" if gpu else "mixed_bfloat16")
    else:
        keras.mixed_precision.set_global_policy("float32")


def make_strategy(flags_obj, strategy_override=None):
    """The strategy named by --strategy, unless a test injects one."""
    if strategy_override is not None:
        return strategy_override
    strategy = distribute.get_distribution_strategy(
        flags_obj.strategy, cpu_replicas=flags_obj.cpu_replicas, tpu=flags_obj.tpu
    )
    distribute.per_replica_batch_size(flags_obj.batch_size, strategy)
    return strategy


def prepare(flags_obj, datasets, export_name, strategy_override=None):
    """Checks the flags, seeds, picks the strategy, checks the export target.

    Everything a user can get wrong fails here, before data is loaded.

    Returns:
        The `tf.distribute.Strategy` to train under.
    """
    check_flags(flags_obj, datasets)
    set_up(flags_obj)
    strategy = make_strategy(flags_obj, strategy_override)
    check_export_target(flags_obj, export_name)
    return strategy


def build_and_compile(
    flags_obj, strategy, model_name, train_steps, initialize=None, **model_kwargs
):
    """Builds a registered model and compiles it inside `strategy.scope()`.

    Args:
        flags_obj: parsed flags (learning rate, epochs, steps per execution).
        strategy: the `tf.distribute.Strategy`.
        model_name: str. A registered model name.
        train_steps: int or None. Batches per epoch, for the LR decay.
        initialize: None, or a function of the built model that loads
            weights (a pre-trained checkpoint) before compiling.
        **model_kwargs: builder arguments; a bad one is a `UsageError`.

    Returns:
        The compiled `keras.Model`.
    """
    from modelzoo.registry import builder_config, get_model

    with strategy.scope():
        try:
            model = get_model(model_name, **model_kwargs)
        except ValueError as e:
            raise UsageError(str(e)) from None
        _BUILT[model] = {
            "name": model_name, "builder_config": builder_config(model_name, **model_kwargs)
        }
        if initialize is not None:
            initialize(model)
        compile_model(model, **compile_args(flags_obj, train_steps))
    return model


def compile_args(flags_obj, train_steps):
    """`training.compile_model`'s arguments from the common and optimizer flags."""
    return dict(
        learning_rate=flags_obj.learning_rate,
        decay_steps=train_steps and train_steps * flags_obj.epochs,
        steps_per_execution=flags_obj.steps_per_execution,
        **{name: getattr(flags_obj, name) for name in OPTIMIZER_FLAGS if name in flags_obj},
    )


def fit_and_evaluate(
    model, train_ds, test_ds, flags_obj, strategy, examples_per_epoch=None, callbacks=()
):
    """Trains for --epochs with the --model_dir callbacks, then evaluates.

    Returns:
        `(metrics, throughput)`: the test metrics dict and the `Throughput`
        callback that timed the epochs.
    """
    throughput = Throughput(examples_per_epoch)
    model.fit(
        train_ds,
        epochs=flags_obj.epochs,
        callbacks=[
            throughput,
            *model_dir_callbacks(flags_obj.model_dir, strategy, flags_obj.fresh_start),
            *callbacks,
        ],
        verbose=2,
    )
    if flags_obj.model_dir:
        out_dir = distribute.worker_dir(flags_obj.model_dir, strategy)
        distribute.remove_worker_dir(out_dir, flags_obj.model_dir)
    metrics = model.evaluate(test_ds, return_dict=True, verbose=0)
    return metrics, throughput


def check_export_target(flags_obj, name):
    """Fails before training if the export could not be published."""
    from modelzoo import export

    export.check_target(flags_obj.export_dir, name, flags_obj.version)


def publish(flags_obj, strategy, publish_fn, *args, **kwargs):
    """Runs an `export.publish_*` function into --export_dir at --version.

    The step every recipe publishes with; the `publish_*` functions below
    wrap it for their export kinds. Under multi_worker every worker runs the
    export (the variables are read collectively), but only the chief's lands
    in --export_dir; the others write to a hidden sibling folder
    (`distribute.worker_dir`) that is removed afterwards.

    Args:
        flags_obj: parsed flags (`export_dir`, `version`).
        strategy: the `tf.distribute.Strategy` trained under.
        publish_fn: a function of `modelzoo.export` that takes
            `export_dir=` and `version=`, e.g. `export.publish_qa`.
        *args, **kwargs: its other arguments (model, name, example, card...).

    Returns:
        The published path on the chief, None on the other workers.
    """
    export_dir = distribute.worker_dir(flags_obj.export_dir, strategy)
    try:
        path = publish_fn(*args, export_dir=export_dir, version=flags_obj.version, **kwargs)
    finally:
        distribute.remove_worker_dir(export_dir, flags_obj.export_dir)
    return path if distribute.is_chief(strategy) else None


def publish_image_classifier(flags_obj, name, model, class_names, images, strategy, card=None):
    """Publishes `<export_dir>/<name>/<version>`, checked on real `images`."""
    from modelzoo import export

    return publish(
        flags_obj, strategy, export.publish_image_classifier,
        model, class_names, name=name, example=images.numpy(), card=card,
    )


def publish_text_classifier(
    flags_obj, name, model, vectorizer, class_names, texts, strategy, card=None
):
    """Publishes `<export_dir>/<name>/<version>`, checked on real `texts`."""
    from modelzoo import export

    return publish(
        flags_obj, strategy, export.publish_text_classifier,
        model, vectorizer, class_names, name=name, example=texts.numpy(), card=card,
    )


def card_facts(flags_obj, model, metrics, splits):
    """What the export's model card records about this run.

    Args:
        flags_obj: parsed flags; all the recipe's own are recorded.
        model: the model `build_and_compile` built (its registered name and
            builder arguments are recorded).
        metrics: dict. The test metrics measured before publishing.
        splits: list of str. The split specs trained and evaluated on.

    Returns:
        The `card` dict `export.publish` takes.
    """
    foreign = ("absl", "tensorflow", "tensorflow_datasets", "keras")
    theirs = {
        name
        for module, module_flags in flags_obj.flags_by_module_dict().items()
        if module.split(".")[0] in foreign
        for flag in module_flags
        for name in (flag.name, flag.short_name)
    }
    return {
        "model": _BUILT.get(model),
        "dataset": _dataset_facts(flags_obj, splits),
        "metrics": {k: float(v) for k, v in metrics.items()},
        "flags": {k: v for k, v in flags_obj.flag_values_dict().items() if k not in theirs},
    }


def _dataset_facts(flags_obj, splits):
    if getattr(flags_obj, "image_dir", None):
        return {"name": flags_obj.image_dir, "version": None, "splits": dict.fromkeys(splits)}
    import tensorflow_datasets as tfds

    # A model card never fails a run: facts TFDS cannot give are null.
    try:
        info = tfds.builder(flags_obj.dataset, data_dir=flags_obj.data_dir).info
    except Exception:  # noqa: BLE001
        info = None

    def size(split):
        try:
            return int(info.splits[split].num_examples)
        except Exception:  # noqa: BLE001
            return None

    return {
        "name": flags_obj.dataset,
        "version": str(info.version) if info is not None else None,
        "splits": {split: size(split) for split in splits},
    }


def count(ds):
    """Number of elements (batches, if batched) of `ds`, or None if unknown."""
    n = int(ds.cardinality())
    return n if n > 0 else None


def summarize(flags_obj, model_name, metrics, export_path, start, throughput=None, **extra):
    """The recipe's one-line JSON summary, as a dict."""
    summary = {
        "model": model_name,
        "dataset": flags_obj.dataset,
        "metrics": {k: round(float(v), 6) for k, v in metrics.items()},
        "export_path": export_path,
        "wall_time_s": round(time.time() - start, 2),
    }
    if throughput is not None:
        summary["epochs_run"] = len(throughput.epoch_seconds)
        summary["train_time_s"] = round(sum(throughput.epoch_seconds), 2)
    if throughput is not None and throughput.examples_per_second():
        summary["train_examples_per_s"] = round(throughput.examples_per_second(), 1)
    summary.update(extra)
    return summary


def _parse_flags(argv):
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        print(f"{os.path.basename(argv[0])}: error: {e}", file=sys.stderr)
        sys.exit(2)


def app_run(run):
    """Runs `run(FLAGS)` as a command: JSON summary out, one-line errors."""

    def main(argv):
        prog = os.path.basename(argv[0])
        if not flags.FLAGS.verbose:
            logging.set_verbosity(logging.WARNING)
            tf.get_logger().setLevel("WARNING")
        try:
            if len(argv) > 1:
                raise UsageError(f"unexpected arguments {argv[1:]}; flags look like --epochs=5")
            summary = run(flags.FLAGS)
        except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 - every failure is one line
            sys.exit(report(prog, e, flags.FLAGS.verbose))
        print(json.dumps(summary))

    app.run(main, flags_parser=_parse_flags)
