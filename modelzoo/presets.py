"""Presets: a trained Keras model with its preprocessing, loadable in Python.

A preset is a folder, KerasHub's style, written by `trainer.run` after a
successful publish as `<preset_dir>/<export name>/<export version>/`:

- `model.keras`: the Keras model (config and weights), loaded in safe mode;
- `preprocessor.json` and `assets/`: the task's preprocessing (the
  vectorizer's vocabulary and sequence length, the character vocabulary,
  the class names);
- `experiment.json`: the experiment config (`ExperimentConfig.as_dict()`)
  and its class, so the run can be rebuilt;
- `metadata.json`: metrics, the export's path, versions, date.

It is staged and renamed into place without replacing anything
(`modelzoo.storage`), so a preset is whole or absent and never overwritten.
`preset_dir` defaults to `$MODELZOO_HOME/presets` (`~/.modelzoo/presets`).
"""

import datetime
import errno
import importlib
import json
import os

from modelzoo import storage
from modelzoo.errors import UsageError

FILES = ("model.keras", "preprocessor.json", "experiment.json", "metadata.json")
_STAGE = ".preset-"


def presets_home(preset_dir=None):
    """The presets folder: `preset_dir`, else `$MODELZOO_HOME/presets` (default `~/.modelzoo`)."""
    if preset_dir:
        return preset_dir
    home = os.environ.get("MODELZOO_HOME") or os.path.expanduser("~/.modelzoo")
    return os.path.join(home, "presets")


def write_preset(model, preprocessor, config, metadata, name, version, preset_dir=None):
    """Writes a preset folder atomically; returns its path.

    Args:
        model: the trained `keras.Model`.
        preprocessor: a `Preprocessor` (see `modelzoo.preprocessors`).
        config: the `ExperimentConfig` it was trained with.
        metadata: dict, JSON-ready (metrics, export path, ...).
        name: str. The export's name.
        version: int. The export's version.
        preset_dir: str or None. The presets folder (see `presets_home`).

    Returns:
        str: `<preset_dir>/<name>/<version>`.

    Raises:
        FileExistsError: that version already exists (it is never replaced).
    """
    import keras
    import tensorflow as tf

    parent = os.path.join(presets_home(preset_dir), name)
    target = os.path.join(parent, str(version))
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, "preset exists", target)
    experiment = dict(config_class=f"{type(config).__module__}.{type(config).__qualname__}",
                      task=type(config).task_name, config=config.as_dict())
    metadata = dict(metadata, name=name, version=int(version),
                    date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                    versions=dict(keras=keras.__version__, tensorflow=tf.__version__))
    with storage.staged_dir(parent, _STAGE) as staged:
        model.save(os.path.join(staged.path, "model.keras"))
        os.makedirs(os.path.join(staged.path, "assets"))
        preprocessor.save_assets(os.path.join(staged.path, "assets"))
        for file, value in (("preprocessor.json", preprocessor.to_json()),
                            ("experiment.json", experiment), ("metadata.json", metadata)):
            with open(os.path.join(staged.path, file), "w", encoding="utf-8") as f:
                json.dump(value, f, indent=2, sort_keys=True, default=str)
        os.chmod(staged.path, 0o755)
        return staged.commit(target)


def resolve(path_or_name, preset_dir=None):
    """The preset folder of a path, a `<name>` (its latest version) or `<name>/<version>`.

    Raises:
        UsageError: nothing of that name or path.
    """
    home = presets_home(preset_dir)
    for folder in (path_or_name, os.path.join(home, path_or_name)):
        if os.path.isdir(folder):
            versions = storage.list_versions(folder)
            return os.path.join(folder, str(versions[-1])) if versions else folder
    known = ", ".join(sorted({p["name"] for p in list_presets(preset_dir)})) or "none"
    raise UsageError(f"no preset {path_or_name!r} in {home} (presets there: {known}); "
                     "pass a preset folder or a listed name")


def check_files(path):
    """Raises `UsageError` naming the first file a preset folder lacks."""
    for file in FILES:
        if not os.path.isfile(os.path.join(path, file)):
            raise UsageError(f"preset {path} is incomplete: {file} is missing; "
                             "train the recipe again or pass another preset")


def read_json(path, file):
    """A preset's JSON file as a dict; `UsageError` if it is missing or not JSON."""
    try:
        with open(os.path.join(path, file), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise UsageError(f"preset {path} is incomplete: {file} is missing; "
                         "train the recipe again or pass another preset") from None
    except ValueError as exc:
        raise UsageError(f"preset {path}: {file} is not valid JSON ({exc})") from None


def load_preprocessor(path):
    """The preset's `Preprocessor`, rebuilt from `preprocessor.json` and `assets/`."""
    from modelzoo import preprocessors

    spec = read_json(path, "preprocessor.json")
    return preprocessors.from_json(spec, os.path.join(path, "assets"))


def from_preset(path_or_name, preset_dir=None):
    """The Keras model of a preset with its preprocessor attached.

    Loaded in safe mode with no `custom_objects`. The model's
    `preprocessor` turns raw inputs into model inputs (`model.preprocessor(
    ["a review"])`); a classifier also gets `predict_texts` or
    `predict_raw`, and a generator keeps its `vocabulary` for `generate`.

    Args:
        path_or_name: str. A preset folder, an export name (its latest
            version) or `<name>/<version>`.
        preset_dir: str or None. The presets folder (see `presets_home`).

    Returns:
        The `keras.Model`, with `preprocessor` and `preset` (dict of its
        metadata, with `path`) set.

    Raises:
        UsageError: no such preset, or one with a missing or bad file.

    Example:
    >>> model = modelzoo.from_preset("imdb_transformer")  # doctest: +SKIP
    >>> model.predict_texts(["A wonderful film."])  # doctest: +SKIP
    """
    import keras

    importlib.import_module("modelzoo.models")  # registers every layer and model
    path = resolve(path_or_name, preset_dir)
    check_files(path)
    preprocessor = load_preprocessor(path)
    metadata = read_json(path, "metadata.json")
    try:
        model = keras.saving.load_model(os.path.join(path, "model.keras"), safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - any reading failure is the file's
        raise UsageError(f"preset {path}: model.keras cannot be loaded "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
    preprocessor.attach(model)
    model.preset = dict(metadata, path=path)
    return model


def experiment_config(path):
    """The `ExperimentConfig` a preset was trained with, rebuilt from `experiment.json`."""
    from modelzoo.tasks import base  # noqa: F401 - imports the task modules

    spec = read_json(path, "experiment.json")
    module, _, qualname = spec["config_class"].rpartition(".")
    cls = getattr(importlib.import_module(module), qualname)
    return _build(cls, spec["config"])


def _build(cls, values):
    import dataclasses
    import typing

    from modelzoo.config import Config

    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        value = values[f.name]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        if isinstance(default, Config):
            kwargs[f.name] = _build(type(default), value)
        elif isinstance(hints.get(f.name), type) and issubclass(hints[f.name], Config):
            kwargs[f.name] = _build(hints[f.name], value)
        else:
            kwargs[f.name] = value
    return cls(**kwargs)


def headline(metrics):
    """`(name, value)` of the metric a listing shows: accuracy first, else F1, else loss."""
    for key in ("accuracy", "f1", "next_char_accuracy", "loss"):
        if key in (metrics or {}):
            return key, metrics[key]
    return None, None


def list_presets(preset_dir=None):
    """Every preset version in the presets folder, sorted by name and version.

    Returns:
        list of dicts: `name`, `version`, `path`, `metric`, `value`,
        `complete` (all files there).
    """
    home = presets_home(preset_dir)
    try:
        names = sorted(n for n in os.listdir(home) if not n.startswith("."))
    except OSError:
        return []
    out = []
    for name in names:
        for version in storage.list_versions(os.path.join(home, name)):
            path = os.path.join(home, name, str(version))
            complete = all(os.path.isfile(os.path.join(path, f)) for f in FILES)
            metric, value = None, None
            if complete:
                try:
                    metric, value = headline(read_json(path, "metadata.json").get("metrics"))
                except UsageError:
                    complete = False
            out.append(dict(name=name, version=version, path=path, metric=metric,
                            value=value, complete=complete))
    return out


def render(rows):
    """The listing as text, one line a preset."""
    if not rows:
        return "no presets (train a recipe: it writes one)"
    lines = []
    for row in rows:
        what = (f"{row['metric']}={row['value']:.4f}" if row["metric"] else
                "incomplete" if not row["complete"] else "no metric")
        lines.append(f"{row['name']}/{row['version']}  {what}  {row['path']}")
    return "\n".join(lines)
