"""The task contract: one model kind's data, evaluation and export, and the flow around it.

A task (Model Garden's word) is everything a kind of recipe does that the
others do not: which TFDS datasets it reads and how (`load`), what it
measures beyond Keras's metrics (`evaluate`), and how it publishes and scores
its export (`publish`, `report`). `run_task` is the one flow every
task runs: check flags → seed, strategy and export target → load → build and
compile the registered model inside `strategy.scope()` → fit → evaluate →
publish → the JSON summary.
"""

import dataclasses
import importlib
import pkgutil
import time
from typing import Any, Callable, Optional

from modelzoo import recipe
from modelzoo.data.loading import load_splits


@dataclasses.dataclass
class Data:
    """What `Task.load` returns.

    Attributes:
        train: the batched training `tf.data.Dataset`.
        test: the batched evaluation `tf.data.Dataset`.
        examples: examples (or characters) per epoch, for the throughput.
        model_kwargs: builder arguments the data decides (e.g. `vocab_size`).
        initialize: None, or a function of the built model that loads
            weights before compiling.
        state: whatever else the task's later steps need (raw test inputs,
            a vocabulary, a processor).
    """

    train: Any
    test: Any
    examples: Optional[int]
    model_kwargs: dict = dataclasses.field(default_factory=dict)
    initialize: Optional[Callable] = None
    state: Any = None


class Task:
    """One model kind. Subclasses set `datasets` and implement the steps.

    Attributes:
        datasets: tuple of str. The TFDS names `--dataset` accepts.
        unit: str. What `Data.examples` counts, for the summary's
            `train_<unit>_per_s`.
    """

    datasets = ()
    unit = "examples"

    def check_flags(self, flags_obj):
        """Raises `UsageError` for a bad task flag, before any work."""

    def export_name(self, flags_obj, model_name):
        """The export's name when --name is not given."""
        raise NotImplementedError

    def splits(self, flags_obj):
        """The split specs the model card records."""
        return ["train", "test"]

    def load(self, flags_obj, datasets_override):
        """Reads the data; returns a `Data`."""
        raise NotImplementedError

    def fit(self, model, data, flags_obj, strategy):
        """Trains and evaluates; returns `(metrics, throughput, summary extras)`."""
        metrics, throughput = recipe.fit_and_evaluate(
            model, data.train, data.test, flags_obj, strategy, data.examples
        )
        return metrics, throughput, {}

    def evaluate(self, model, data, metrics):
        """Adds the task's own metrics of the in-memory model to `metrics`."""
        return metrics

    def publish(self, flags_obj, strategy, name, model, data, card):
        """Publishes the export; returns its path (None on a non-chief worker)."""
        raise NotImplementedError

    def report(self, path, data, flags_obj):
        """More fields for the JSON summary, e.g. the published export's
        metrics on the raw test inputs (`path` is None on a non-chief worker)."""
        return {}

    # === `modelzoo predict`'s adapter ===

    @classmethod
    def serves(cls, specs):
        """Whether an export whose `serving_default` takes `specs` (name →
        `tf.TensorSpec`) is this task's. What a TF Serving client sees."""
        return False

    @classmethod
    def predict(cls, serve, request):
        """`modelzoo predict`'s records: `serve` called on the request.

        Args:
            serve: the export's `serving_default` concrete function.
            request: dict of the command's arguments (`text`, `prompt`,
                `num_chars`, `question`, `image`, `dataset`, ...).

        Raises:
            UsageError: an argument the task needs is missing or refused.
        """
        raise NotImplementedError


def read_splits(flags_obj, splits, datasets_override=None, **kwargs):
    """`(datasets, info)` of --dataset's `splits`, as `load_splits` gives them.

    Read from --data_dir (--download, --manual_dir), unless a test injects
    `datasets_override` in that same shape. `kwargs` go to `load_splits`.
    """
    return datasets_override or load_splits(
        flags_obj.dataset, splits, flags_obj.data_dir, flags_obj.download,
        manual_dir=flags_obj.manual_dir, **kwargs,
    )


def run_task(task, flags_obj, model_name, model_kwargs, datasets_override=None,
             strategy_override=None):
    """Runs `task` with the registered model `model_name`: the shared recipe flow.

    Args:
        task: a `Task`.
        flags_obj: parsed flags (see `recipe.define_common_flags`).
        model_name: str. A registered model, e.g. `"cnn"`.
        model_kwargs: dict of builder arguments from the recipe's own flags.
        datasets_override: injected data instead of TFDS, as the task's
            `load` takes it.
        strategy_override: a `tf.distribute.Strategy` instead of --strategy.

    Returns:
        The summary dict the recipe prints as JSON.
    """
    start = time.time()
    task.check_flags(flags_obj)
    name = flags_obj.name or task.export_name(flags_obj, model_name)
    strategy = recipe.prepare(flags_obj, task.datasets, name, strategy_override)
    data = task.load(flags_obj, datasets_override)
    model = recipe.build_and_compile(
        flags_obj, strategy, model_name, recipe.count(data.train), initialize=data.initialize,
        **{**model_kwargs, **data.model_kwargs},
    )
    metrics, throughput, extras = task.fit(model, data, flags_obj, strategy)
    metrics = task.evaluate(model, data, metrics)
    card = recipe.card_facts(flags_obj, model, metrics, task.splits(flags_obj))
    export_path = task.publish(flags_obj, strategy, name, model, data, card)
    return recipe.summarize(
        flags_obj, model_name, metrics, export_path, start, throughput, unit=task.unit,
        **extras, **task.report(export_path, data, flags_obj),
    )


def task_serving(specs):
    """The `Task` subclass whose `serves(specs)` is true, or None.

    Every module of `modelzoo.tasks` is imported first, so a new task is
    found without being listed anywhere.
    """
    from modelzoo import tasks

    for info in pkgutil.iter_modules(tasks.__path__):
        importlib.import_module(f"{tasks.__name__}.{info.name}")
    return next((task for task in _subclasses(Task) if task.serves(specs)), None)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)
