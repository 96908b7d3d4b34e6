"""The shared training flow: seed, strategy, build and compile in scope, fit."""

import os
import weakref

import keras
import tensorflow as tf

from modelzoo import distribute
from modelzoo.errors import UsageError
from modelzoo.recipe.flags import OPTIMIZER_FLAGS, check_flags
from modelzoo.recipe.publishing import check_export_target
from modelzoo.registry import builder_config, get_model
from modelzoo.training import Throughput, compile_model, model_dir_callbacks


# Model → its registered name and builder arguments, for the model card.
_BUILT = weakref.WeakKeyDictionary()


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


def built_as(model):
    """The registered name and builder arguments `model` was built with, or None."""
    return _BUILT.get(model)


def compile_args(flags_obj, train_steps):
    """`training.compile_model`'s arguments from the common and optimizer flags."""
    return dict(
        learning_rate=flags_obj.learning_rate,
        decay_steps=train_steps and train_steps * flags_obj.epochs,
        steps_per_execution=flags_obj.steps_per_execution,
        **{name: getattr(flags_obj, name) for name in OPTIMIZER_FLAGS if name in flags_obj},
    )


def fit_and_evaluate(
    model, train_ds, test_ds, flags_obj, strategy, examples_per_epoch=None, callbacks=(),
    epochs=None, model_subdir=None,
):
    """Trains for --epochs with the --model_dir callbacks, then evaluates.

    Args:
        epochs: int or None for --epochs.
        model_subdir: str or None. For a later training stage (fine-tuning),
            the folder under --model_dir that holds its backups.

    Returns:
        `(metrics, throughput)`: the test metrics dict and the `Throughput`
        callback that timed the epochs.
    """
    model_dir = flags_obj.model_dir
    if model_dir and model_subdir:
        model_dir = os.path.join(model_dir, model_subdir)
    throughput = Throughput(examples_per_epoch)
    model.fit(
        train_ds,
        epochs=epochs or flags_obj.epochs,
        callbacks=[
            throughput,
            *model_dir_callbacks(model_dir, strategy, flags_obj.fresh_start),
            *callbacks,
        ],
        verbose=2,
    )
    if model_dir:
        out_dir = distribute.worker_dir(model_dir, strategy)
        distribute.remove_worker_dir(out_dir, model_dir)
    metrics = model.evaluate(test_ds, return_dict=True, verbose=0)
    return metrics, throughput


def count(ds):
    """Number of elements (batches, if batched) of `ds`, or None if unknown."""
    n = int(ds.cardinality())
    return n if n > 0 else None
