"""The sections every experiment has: data, model, optimizer, training, export.

An `ExperimentConfig` is what `modelzoo.train` runs and what a recipe's
flags are generated from (`modelzoo.recipe.flags_from_config`). Each task
subclasses it with its own sections (`modelzoo/tasks/*.py`), and each model
kind declares its own `ModelConfig`, the builder arguments a user sets,
beside its builder (`modelzoo/models/*.py`).

Example:
>>> from modelzoo import configs
>>> config = configs.get_config("mnist_mlp", epochs=3)
>>> config.training.epochs, config.model.hidden_units
(3, (128,))
"""

import dataclasses
import os
from typing import ClassVar, Optional

from modelzoo import storage
from modelzoo.config import INT64_MAX, Config, field
from modelzoo.distribute import STRATEGY_NAMES
from modelzoo.errors import UsageError


@dataclasses.dataclass
class DataConfig(Config):
    """Where the TFDS data comes from and how much of it is used."""

    dataset: str = field("", "TFDS dataset.")
    data_dir: Optional[str] = field(None, "TFDS data directory (default: TFDS's own).")
    download: bool = field(True, "Let TFDS download; false uses only prepared data.")
    manual_dir: Optional[str] = field(
        None, "Folder with TFDS's original downloads: TFDS's own builder prepares the "
        "dataset from them (checking each sha256), with no network.")
    max_train_examples: Optional[int] = field(
        None, "Use at most this many training examples.", minimum=1)
    max_eval_examples: Optional[int] = field(
        None, "Use at most this many test examples.", minimum=1)


@dataclasses.dataclass
class ModelConfig(Config):
    """A registered model's builder arguments that a user sets.

    Subclasses set `registered_name` (the `register_model` name) and one
    field per builder argument; the data decides the rest (vocabulary size,
    input shape, classes). `builder_kwargs` is what the builder is given.
    """

    registered_name: ClassVar[str] = ""
    # The builder arguments the data decides, or None for all the task offers.
    data_args: ClassVar[Optional[tuple]] = None

    def builder_kwargs(self):
        """The fields as builder keyword arguments."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclasses.dataclass
class OptimizerConfig(Config):
    """Adam or AdamW with a warm-up and a cosine decay (`training.compile_model`)."""

    learning_rate: float = field(1e-3, "Peak Adam learning rate (cosine decay).", above=0)
    warmup_steps: int = field(0, "Linear learning-rate warm-up steps.", minimum=0)
    final_learning_rate_ratio: float = field(
        0.0, "End of the cosine decay, as a fraction of --learning_rate.", minimum=0, below=1)
    weight_decay: float = field(0.0, "AdamW decay of matrices; 0 is Adam.", minimum=0)
    beta_2: float = field(0.999, "Adam's second-moment decay.", minimum=0, below=1)
    clipnorm: Optional[float] = field(
        None, "Clip each gradient to this norm; unset: no clipping.", above=0)


@dataclasses.dataclass
class TrainingConfig(Config):
    """How long and where training runs."""

    epochs: int = field(1, "Training epochs.", minimum=1)
    batch_size: int = field(32, "Global batch size, split over replicas.", minimum=1)
    steps_per_execution: int = field(1, "Batches per graph call.", minimum=1)
    seed: Optional[int] = field(
        None, "Random seed; set it to make a run repeatable.", minimum=0, maximum=2**32 - 1)
    strategy: str = field(
        "default", f"Distribution strategy: {', '.join(STRATEGY_NAMES)}.",
        choices=STRATEGY_NAMES)
    cpu_replicas: Optional[int] = field(
        None, "mirrored on a CPU-only machine: logical CPUs.", minimum=1)
    tpu: Optional[str] = field(None, "TPU name or address for --strategy=tpu.")
    deterministic: Optional[bool] = field(
        None, "Deterministic ops (tf.config.experimental.enable_op_determinism). Unset: on "
        "with --seed on a CPU, off on GPU and TPU, where some ops have no deterministic "
        "kernel or run slower with one.")
    jit_compile: str = field(
        "auto", "XLA-compile the train step: auto (Keras decides), true or false.",
        choices=("auto", "true", "false"))
    mixed_precision: bool = field(False, "bfloat16 on CPU/TPU, float16 on GPU.")
    model_dir: Optional[str] = field(None, "Backups (resume), checkpoints, TensorBoard logs.")
    fresh_start: bool = field(False, "Set an existing --model_dir backup aside.")
    init_preset: Optional[str] = field(
        None, "Start from this preset (a folder, a name or name/version under the presets "
        "folder, --preset_dir): its model, weights and preprocessing, instead of from scratch.")

    def check(self):
        if self.deterministic and self.jit_compile == "true":
            raise UsageError(
                "--deterministic and --jit_compile=true exclude each other: Keras compiles "
                "no XLA step under op determinism; drop one of them")
        check_model_dir(self.model_dir)

    def drop_remainder(self):
        """Whether training batches drop the last, smaller one.

        On a TPU and under `--jit_compile=true` every new batch shape is a
        new XLA compilation, so training batches keep one static shape.
        Evaluation batches keep every example.

        Returns:
            bool.
        """
        return self.strategy == "tpu" or self.jit_compile == "true"


@dataclasses.dataclass
class ExportConfig(Config):
    """Where the SavedModel is published: `<export_dir>/<name>/<version>`."""

    export_dir: str = field("saved_models", "Export root: <export_dir>/<name>/<version>.")
    name: Optional[str] = field(
        None, "Export name (default: the recipe's, e.g. imdb_transformer).")
    version: Optional[int] = field(
        None, "Export version (default: the next free integer).", minimum=1, maximum=INT64_MAX)
    preset_dir: Optional[str] = field(
        None, "Presets folder, written <preset_dir>/<name>/<version> after the export "
        "(default: $MODELZOO_HOME/presets, MODELZOO_HOME defaulting to ~/.modelzoo).")

    def check(self):
        if not self.export_dir:
            raise UsageError("--export_dir is empty; pass the folder to publish into")
        if self.name is not None and not self.name.strip():
            raise UsageError("--name is empty; pass a name or leave the flag out")
        if self.name is not None and (os.sep in self.name or self.name in (".", "..")):
            raise UsageError(f"--name={self.name!r} must be a plain folder name, not a path")


@dataclasses.dataclass
class ExperimentConfig(Config):
    """One run: its task's sections. Subclasses (one per task) name the task
    (`task_name`), the datasets it reads (`datasets`), and add sections.
    """

    task_name: ClassVar[str] = ""
    datasets: ClassVar[tuple] = ()

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)

    def check(self):
        if self.datasets and self.data.dataset not in self.datasets:
            raise UsageError(
                f"--dataset={self.data.dataset!r} is not supported; "
                f"use one of: {', '.join(self.datasets)}")

    def default_export_name(self):
        """The export's name when --name is not given."""
        raise NotImplementedError

    def export_name(self):
        """`--name`, or the task's default for this run."""
        return self.export.name or self.default_export_name()


def check_model_dir(model_dir):
    """Raises `UsageError` unless --model_dir is, or can become, a writable folder.

    Only checks; the folder is made when training starts. A remote path
    (`gs://...`) is only looked at, never created here.
    """
    if not model_dir:
        return
    if storage.is_remote(model_dir):
        storage.check_remote_dir(model_dir, "--model_dir")
        return
    if os.path.exists(model_dir):
        if not os.path.isdir(model_dir):
            raise UsageError(f"--model_dir={model_dir} is a file, not a directory; pass a folder")
        if not os.access(model_dir, os.W_OK | os.X_OK):
            raise UsageError(f"--model_dir={model_dir} is not writable; pass a writable folder")
        return
    parent = os.path.dirname(os.path.abspath(model_dir))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(
            f"--model_dir={model_dir} cannot be created ({parent} is not a writable folder); "
            "pass a writable folder")


@dataclasses.dataclass
class TransformerSizes(ModelConfig):
    """The sizes every Transformer builder takes."""

    embed_dim: int = field(64, "Embedding and hidden size.", minimum=1)
    num_heads: int = field(4, "Attention heads; divides --embed_dim.", minimum=1)
    ff_dim: int = field(128, "Feed-forward width.", minimum=1)
    num_layers: int = field(2, "Encoder blocks.", minimum=1)
    dropout: float = field(0.1, "Dropout rate, in [0, 1).", minimum=0, below=1)
