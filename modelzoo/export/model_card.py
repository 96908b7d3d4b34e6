"""The model card of an export: `assets.extra/model_card.json`.

It says what a version directory is: the model and its builder config, the
dataset, the metrics measured when it was published, the training flags,
the software versions and git commit, the date, and the signature contract
read back from the SavedModel itself. TF Serving copies `assets.extra` with
the version and ignores it otherwise.
"""

import datetime
import importlib.metadata
import json
import math
import os
import platform
import subprocess

import numpy as np

MODEL_CARD_FILE = os.path.join("assets.extra", "model_card.json")
FACTS = ("kind", "model", "dataset", "metrics", "config", "flags")


def build_card(name, facts, saved_model_dir):
    """The model card of the SavedModel in `saved_model_dir`.

    Args:
        name: str. The export name (`<export_dir>/<name>/<version>`).
        facts: dict with any of `kind` (the export kind, a key of
            `modelzoo.clients.CLIENTS`), `model` (`{"name", "builder_config"}`),
            `dataset` (`{"name", "version", "splits"}`), `metrics`,
            `config` (the experiment config's sections) and `flags` (its
            fields by flag name), as `modelzoo.trainer.run` makes them; None (a
            direct library call) records none of them.
        saved_model_dir: str. The written SavedModel.

    Returns:
        A JSON-ready dict; values that are not finite numbers become None.

    Raises:
        ValueError: `facts` has a key not in `FACTS`.
    """
    facts = dict(facts or {})
    unknown = sorted(set(facts) - set(FACTS))
    if unknown:
        raise ValueError(f"unknown model card facts {unknown}; expected some of {list(FACTS)}")
    card = {"name": name, **{key: facts.get(key) for key in FACTS}}
    card.update(
        versions=software_versions(),
        git_commit=git_commit(),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        signatures=signature_contracts(saved_model_dir),
    )
    return json.loads(json.dumps(_finite(card), default=_plain))


def write_card(saved_model_dir, card):
    """Writes `card` to `assets.extra/model_card.json`; returns its path."""
    path = os.path.join(saved_model_dir, MODEL_CARD_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(card, f, indent=2, allow_nan=False)
        f.write("\n")
    return path


def read_card(saved_model_dir):
    """The model card of an export, or None if it has none.

    Raises:
        ValueError: the file is not a JSON object.
    """
    path = os.path.join(saved_model_dir, MODEL_CARD_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            card = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a readable JSON model card ({exc})") from None
    if not isinstance(card, dict):
        raise ValueError(f"{path} is not a JSON object")
    for key, kind in _CARD_TYPES.items():
        value = card.get(key)
        if value is not None and not isinstance(value, kind):
            expected = "an object" if kind is dict else "a string"
            raise ValueError(
                f"{path}: {key!r} is {json.dumps(value)[:60]}, not {expected}; "
                "it is not a model card modelzoo wrote: publish the export again"
            )
    return card


# What each field of a card modelzoo writes is; a card read back must agree.
_CARD_TYPES = {
    "name": str, "model": dict, "dataset": dict, "metrics": dict, "flags": dict,
    "versions": dict, "git_commit": str, "date": str,
}


def summary_line(card):
    """One line: what the export is, how well it did, when and from what."""
    if card is None:
        return "no model card (exported without one)"
    model = card.get("model") or {}
    dataset = card.get("dataset") or {}
    parts = [card.get("name") or "?"]
    if model.get("name"):
        parts.append(f"{model['name']} on {dataset.get('name') or '?'}")
        if dataset.get("version"):
            parts[-1] += f" {dataset['version']}"
    metrics = card.get("metrics") or {}
    if metrics:
        parts.append(", ".join(f"{k} {short_number(v)}" for k, v in sorted(metrics.items())))
    versions = card.get("versions") or {}
    made = f"published {str(card.get('date'))[:10]} by modelzoo {versions.get('modelzoo')}"
    made += f", tensorflow {versions.get('tensorflow')}"
    commit = card.get("git_commit")
    made += f", commit {commit[:12]}" if commit else ", commit unknown"
    parts.append(made)
    return ": ".join(parts[:2]) + "".join(f"; {p}" for p in parts[2:])


def software_versions(packages=("tensorflow", "keras", "tensorflow-datasets", "modelzoo")):
    """Versions of python and `packages` (None for one not installed)."""
    versions = {"python": platform.python_version()}
    for package in packages:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def git_commit():
    """The commit of the modelzoo checkout in use, or None if not known."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "HEAD"], capture_output=True, text=True,
            timeout=10, cwd=os.path.dirname(os.path.abspath(__file__)),
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def signature_contracts(saved_model_dir):
    """Each signature's input and output names, dtypes and shapes.

    Read from `saved_model.pb`, the SignatureDefs TF Serving reads, in the
    format of `verify.check_signature` (None for an unknown dimension).

    Returns:
        A dict signature name → `{"inputs": {...}, "outputs": {...}}`.

    Raises:
        ValueError: the file is not a SavedModel with a `serve` graph.
    """
    import tensorflow as tf
    from google.protobuf import message
    from tensorflow.core.protobuf import saved_model_pb2

    path = os.path.join(saved_model_dir, "saved_model.pb")
    saved_model = saved_model_pb2.SavedModel()
    with open(path, "rb") as f:
        try:
            saved_model.ParseFromString(f.read())
        except message.DecodeError as exc:
            raise ValueError(f"{path} is not a SavedModel ({exc})") from None
    serving = [m for m in saved_model.meta_graphs if "serve" in m.meta_info_def.tags]
    if not serving:
        raise ValueError(f"{path} has no graph tagged 'serve'")
    meta_graph = serving[0]

    def tensors(infos):
        return {
            name: {
                "dtype": tf.dtypes.as_dtype(info.dtype).name,
                "shape": None if info.tensor_shape.unknown_rank else [
                    None if d.size < 0 else d.size for d in info.tensor_shape.dim
                ],
            }
            for name, info in sorted(infos.items())
        }

    return {
        key: {"inputs": tensors(sig.inputs), "outputs": tensors(sig.outputs)}
        for key, sig in sorted(meta_graph.signature_def.items())
        if not key.startswith("__")
    }


def _finite(value):
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _plain(value):
    # numpy scalars and arrays, TFDS versions, dtypes: their plain form.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return _finite(value.tolist())
    return str(value)


def short_number(value):
    """A metric for people to read: 4 significant digits, n/a for None."""
    if value is None:
        return "n/a"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
