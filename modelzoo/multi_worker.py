"""Makes Keras 3 `model.fit` work under `MultiWorkerMirroredStrategy`.

Keras 3.15.1 with TF 2.21 cannot `fit` or `evaluate` under
`tf.distribute.MultiWorkerMirroredStrategy` (MWMS) once there is more than one
worker (keras-team/keras#20585). Two defects in
`keras/src/backend/tensorflow/trainer.py` are in the way, the second hidden
behind the first:

1. `TensorFlowTrainer._maybe_symbolic_build` (lines 713-740). Before
   training, `fit`/`evaluate` peek at the first batch of the distributed
   iterator, only to learn the input shapes and dtypes for
   `Trainer._symbolic_build`. When every leaf is a `DistributedValues` it
   "merges" the replicas with `strategy.reduce("MEAN", batch, axis=None)`
   (line 731), passing the whole `(x, y)` tuple. Under one-worker strategies
   the tuple is not a `DistributedValues`, so TF's
   `reduce_non_distributed_value` returns it unchanged and the call is a
   harmless no-op. Under MWMS with several workers,
   `CollectiveAllReduceExtended._reduce_to` instead hands the tuple to
   `CollectiveAllReduce.reduce`, whose `_make_tensor_into_per_replica` calls
   `convert_to_tensor((PerReplica, PerReplica))` and fails with
   "Attempt to convert a value (PerReplica:{...}) with an unsupported type".
   (Had it worked, it would have averaged the workers' input batches over
   the network just to read a shape.)

2. `reduce_per_replica` (line 778; the branch at lines 827-841), which
   `_make_function` calls on every step's logs.
   `reduction="auto"` means "mean", and for multi-worker MWMS it runs
   `strategy.reduce("MEAN", v, axis=0)`. The logs are scalars (loss and
   metric results), which have no axis 0, so tracing the train function
   fails with "Invalid reduction dimension 0 for input with 0 dimensions".
   The single-worker branch means the same thing by
   `tf.reduce_mean(local_results, axis=0)`: the mean over replicas.

The fix, applied by `prepare_model` to one model instance and only when the
model's strategy is MWMS in multi-worker mode (the same condition Keras tests
in `_collective_all_reduce_multi_worker`), overrides two attributes on that
instance; no Keras class or module is patched:

- `_maybe_symbolic_build` takes this worker's first local replica's slice of
  the peeked batch (`strategy.experimental_local_results(v)[0]`) instead of
  reducing it: `_symbolic_build` needs only shapes and dtypes, which all
  replicas share, and no collective runs outside the train function.
- `train_step` and `test_step` return each log with a leading axis of
  length 1, so `strategy.reduce("MEAN", v, axis=0)` computes exactly the mean
  over all replicas of all workers: sum over the axis (itself), all-reduce,
  divide by the count of replicas.

Limits, not fixed here: `steps_per_execution > 1` fails with any strategy
of more than one replica, Mirrored included ("You must feed a value for
placeholder tensor", keras-team/keras#19246), so use 1. `predict` needs no
fix; `train_on_batch` and `test_on_batch` are untested. Keras 3 callbacks are not chief-aware:
point `ModelCheckpoint`, `TensorBoard` and `BackupAndRestore` at
`modelzoo.distribute.worker_dir` (or a per-worker backup directory).

Gradients are untouched: Keras scales each replica's loss by
`1 / num_replicas_in_sync` and the optimizer all-reduces (sums) gradients,
so a global batch split over workers gives the single-process gradient.
`modelzoo/distribute_test.py` checks weights and logged loss against a
one-process run, and holds an xfail(strict=True) test that runs `fit`
WITHOUT this module: when a Keras release fixes both defects that test
passes, fails as XPASS, and says to delete this module.
"""

import functools
import types

import keras
import tensorflow as tf

from modelzoo.errors import ModelzooError


def needs_fix(strategy):
    """Returns whether `strategy` is MWMS running with more than one worker.

    Args:
        strategy: a `tf.distribute.Strategy`.

    Returns:
        bool. The condition under which Keras takes its broken branches.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return False
    # Keras's own test (trainer.py `_collective_all_reduce_multi_worker`).
    return bool(strategy.extended._in_multi_worker_mode())


def prepare_model(model, strategy=None):
    """Fixes `model` for `fit` and `evaluate` under multi-worker MWMS.

    Call it once per model, after building it inside `strategy.scope()` and
    before the first `fit`, `evaluate` or `predict` (before or after
    `compile`). It does nothing unless `needs_fix(strategy)`, so shared
    training code can call it for every strategy. Calling it twice is fine.

    Args:
        model: a `keras.Model` (functional, sequential or subclassed) whose
            variables were created under `strategy.scope()`.
        strategy: a `tf.distribute.Strategy`, or None for the model's own.

    Returns:
        `model`, changed in place.

    Raises:
        ModelzooError: if the model was not built under `strategy.scope()`.
    """
    strategy = strategy or model.distribute_strategy
    if not needs_fix(strategy):
        return model
    if model._distribute_strategy is not strategy:
        raise ModelzooError(
            "multi_worker: build and compile the model inside strategy.scope()"
        )
    if getattr(model, "_modelzoo_multi_worker", False):
        return model
    model._maybe_symbolic_build = types.MethodType(_maybe_symbolic_build, model)
    model.train_step = _with_replica_axis(model.train_step)
    model.test_step = _with_replica_axis(model.test_step)
    # Step functions already traced from the unfixed steps must be rebuilt.
    model.train_function = None
    model.test_function = None
    model._modelzoo_multi_worker = True
    return model


def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    """`TensorFlowTrainer._maybe_symbolic_build` without the cross-worker reduce."""
    if self._distribute_strategy is None:
        return
    strategy = self.distribute_strategy
    if iterator is not None:
        for _, _, it in iterator:
            data_batch = keras.tree.map_structure(
                lambda v: None if v is None else strategy.experimental_local_results(v)[0],
                next(it),
            )
            break
    with strategy.scope():
        self._symbolic_build(data_batch=data_batch)


def _with_replica_axis(step):
    """Wraps a train/test step so every log gets a leading axis of length 1."""

    @functools.wraps(step)
    def step_with_replica_axis(data):
        logs = step(data)
        return keras.tree.map_structure(
            lambda v: None if v is None else tf.expand_dims(v, 0), logs
        )

    return step_with_replica_axis
