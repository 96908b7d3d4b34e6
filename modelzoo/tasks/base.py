"""The task contract: one kind of experiment's data, model, evaluation and artifact.

A task (Model Garden's word) is built from its config (`Task(config)`) and
does what one kind of experiment does that the others do not: which TFDS
datasets it reads and how (`load`), which model it builds (`build`), what it
measures beyond Keras's metrics (`evaluate`), and the artifact it leaves
(`publish`: an export, or a checkpoint). `modelzoo.trainer.run` is the one
flow every task runs.

Each task module defines its config class (an `ExperimentConfig`
subclass) and a `Task` subclass whose `config_class` names it; that pairing
is the registry `task_for` reads.
"""

import dataclasses
from typing import Any, Callable, Optional

from modelzoo import distribute, export, trainer
from modelzoo.data.loading import load_splits
from modelzoo.errors import UsageError
from modelzoo.export import base as export_base


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


_TASKS = {}


class Task:
    """One kind of experiment, built from its config.

    Attributes:
        config_class: the `ExperimentConfig` subclass this task runs.
        unit: str. What `Data.examples` counts, for the summary's
            `train_<unit>_per_s`.
    """

    config_class = None
    unit = "examples"
    # The `Preprocessor.kind` of this task's presets; None: it writes none and
    # cannot start from one.
    preset_kind = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.config_class is not None:
            _TASKS[cls.config_class] = cls

    def __init__(self, config):
        self.config = config
        self._preset = None

    def init_preset(self):
        """The `--init_preset` model (loaded once, with its preprocessor), or None."""
        name = self.config.training.init_preset
        if name and self._preset is None:
            from modelzoo import presets

            self._preset = presets.from_preset(name, self.config.export.preset_dir)
        return self._preset

    def check_init_preset(self):
        """Raises `UsageError` unless `--init_preset` (if set) is a whole preset of this task's kind."""
        name = self.config.training.init_preset
        if not name:
            return
        if self.preset_kind is None:
            raise UsageError(f"--init_preset is not supported by {self.config.task_name} yet; "
                             "leave it out")
        kind = self.init_preprocessor().kind
        if kind != self.preset_kind:
            raise UsageError(f"--init_preset={name} is a {kind} preset; "
                             f"{self.config.task_name} needs a {self.preset_kind} one")

    def init_preprocessor(self):
        """The `--init_preset`'s preprocessor (its vocabulary etc.), or None.

        Read without the model, so `load` can use it before the strategy's scope.
        """
        name = self.config.training.init_preset
        if not name:
            return None
        from modelzoo import presets

        path = presets.resolve(name, self.config.export.preset_dir)
        presets.check_files(path)
        return presets.load_preprocessor(path)

    def preprocessor(self, data):
        """The `preprocessors.Preprocessor` a preset of this run carries, or None
        (no preset is written)."""
        return None

    def check(self):
        """Raises `UsageError` for what the config's own checks cannot see
        (files to read, other fields' combinations), before any work."""

    def check_target(self):
        """Fails before training if the artifact could not be written."""
        export.check_target(self.config.export.export_dir, self.config.export_name(),
                            self.config.export.version)

    def splits(self):
        """The split specs the model card records."""
        return ["train", "test"]

    def read_splits(self, splits, datasets_override=None, **kwargs):
        """`(datasets, info)` of the config's dataset splits, as `load_splits` gives them.

        Read from `data_dir` (`download`, `manual_dir`), unless a test
        injects `datasets_override` in that same shape.
        """
        data = self.config.data
        return datasets_override or load_splits(
            data.dataset, splits, data.data_dir, data.download, manual_dir=data.manual_dir,
            **kwargs)

    def load(self, datasets_override):
        """Reads the data; returns a `Data`."""
        raise NotImplementedError

    def build(self, data):
        """The model (built inside the strategy's scope) and its card fact.

        Returns:
            `(model, built)`: the uncompiled `keras.Model`, and `{"name",
            "builder_config"}` for the model card.
        """
        model_config = self.config.model
        preset = self.init_preset()
        if preset is not None:
            # Its config and weights, not the config's sizes.
            return preset, preset.preset.get("model") or trainer.built_as(
                model_config.registered_name)
        offered = data.model_kwargs
        if model_config.data_args is not None:
            offered = {k: v for k, v in offered.items() if k in model_config.data_args}
        kwargs = {**model_config.builder_kwargs(), **offered}
        model = trainer.build_model(model_config.registered_name, **kwargs)
        return model, trainer.built_as(model_config.registered_name, **kwargs)

    def fit(self, model, data, strategy):
        """Trains and evaluates; returns `(metrics, throughput, summary extras)`."""
        metrics, throughput = trainer.fit_and_evaluate(
            model, data.train, data.test, self.config, strategy, data.examples)
        return metrics, throughput, {}

    def evaluate(self, model, data, metrics):
        """Adds the task's own metrics of the in-memory model to `metrics`."""
        return metrics

    def publish(self, strategy, model, data, card):
        """Writes the artifact; returns its path (None on a non-chief worker)."""
        raise NotImplementedError

    def report(self, path, data):
        """More fields for the JSON summary, e.g. the published export's
        metrics on the raw test inputs (`path` is None on a non-chief worker)."""
        return {}

    def dataset_facts(self):
        """The model card's `dataset` fact: name, TFDS version, split sizes."""
        import tensorflow_datasets as tfds

        data = self.config.data
        # A model card never fails a run: facts TFDS cannot give are null.
        try:
            info = tfds.builder(data.dataset, data_dir=data.data_dir).info
        except Exception:  # noqa: BLE001
            info = None

        def size(split):
            try:
                return int(info.splits[split].num_examples)
            except Exception:  # noqa: BLE001
                return None

        return {
            "name": data.dataset,
            "version": str(info.version) if info is not None else None,
            "splits": {split: size(split) for split in self.splits()},
        }

    def publish_export(self, strategy, module, card=None):
        """Publishes `module` (an `export.base.ExportModule`) into
        `<export_dir>/<name>/<version>` with `export.base.publish`.

        Under multi_worker every worker runs the export (the variables are
        read collectively), but only the chief's lands in the export folder;
        the others write to a hidden sibling (`distribute.worker_dir`) that
        is removed afterwards.

        Returns:
            The published path on the chief, None on the other workers.
        """
        target = self.config.export
        export_dir = distribute.worker_dir(target.export_dir, strategy)
        try:
            path = export_base.publish(
                module, export_base.Target(export_dir, self.config.export_name(), target.version),
                card)
        finally:
            distribute.remove_worker_dir(export_dir, target.export_dir)
        return path if distribute.is_chief(strategy) else None


def task_for(config):
    """The task that runs `config`, built from it.

    Raises:
        TypeError: `config` is no registered task's config.
    """
    from modelzoo import tasks  # noqa: F401 - imports every task module

    for cls in type(config).__mro__:
        if cls in _TASKS:
            return _TASKS[cls](config)
    raise TypeError(f"{type(config).__name__} is not the config of any task")
