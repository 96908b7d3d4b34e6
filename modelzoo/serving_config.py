"""`modelzoo serving-config`: one TF Serving model config for every export.

TF Serving serves several models from one `--model_config_file`, a
`ModelServerConfig` text proto listing each model's name, base path,
platform and version policy. This writes it for the folders of
`<export_dir>/<name>/<version>` that the recipes publish.

An `export_dir` on a remote file system (`gs://...`) lists only the
versions whose completion marker exists (`storage.COMPLETE_MARKER`), and
its config names them as `specific` versions whatever `--versions` says:
TF Serving takes any integer folder as a version as soon as one of its
files exists, so a `latest` policy would load a version still being
copied.
"""

import os
import posixpath

from absl import logging

from modelzoo import storage
from modelzoo.errors import UsageError

VERSIONS_HELP = "latest (the default), latest:N, all, or specific:V1,V2,..."


# TF Serving's `latest.num_versions` is a uint32; a version is an int64.
MAX_NUM_VERSIONS = 2**32 - 1


def parse_versions(text):
    """Parses --versions into `(kind, value)`.

    Every number is range-checked against the type TF Serving stores it in.

    Returns:
        `("latest", N)`, `("all", None)` or `("specific", [versions])`.

    Raises:
        UsageError: anything else.
    """
    kind, colon, argument = text.partition(":")
    try:
        if kind == "latest" and not colon:
            return "latest", 1
        if kind == "latest" and int(argument) > 0:
            if int(argument) > MAX_NUM_VERSIONS:
                raise _out_of_range(text, f"latest:N is at most {MAX_NUM_VERSIONS} (uint32)")
            return "latest", int(argument)
        if kind == "all" and not colon:
            return "all", None
        if kind == "specific":
            versions = sorted({int(v) for v in argument.split(",")})
            if versions and versions[-1] > storage.MAX_VERSION:
                raise _out_of_range(text, f"a version is at most {storage.MAX_VERSION} (int64)")
            if versions and versions[0] > 0:
                return "specific", versions
    except ValueError:
        pass
    raise UsageError(f"--versions={text!r} is not valid; use {VERSIONS_HELP}")


LABELS_HELP = "comma-separated LABEL=VERSION, e.g. stable=1,canary=2"


def parse_labels(text):
    """Parses --labels into a dict label → version.

    Returns:
        A dict (empty for None or "").

    Raises:
        UsageError: a malformed pair, a repeated label or a bad version.
    """
    labels = {}
    for pair in (text or "").split(","):
        if not pair and not text:
            continue
        label, equals, version = pair.partition("=")
        if not (equals and label.strip() and version.strip().isdigit()):
            raise UsageError(f"--labels={text!r} is not valid; use {LABELS_HELP}")
        if label.strip() in labels:
            raise UsageError(f"--labels={text!r} names {label.strip()!r} twice; give each "
                             "label one version")
        labels[label.strip()] = storage.check_version(int(version), "--labels")
    return labels


def served_versions(kind, value, found):
    """The versions a policy `(kind, value)` serves out of `found` (sorted)."""
    if kind == "latest":
        return found[-value:]
    return found if kind == "all" else list(value)


def _check_labels(labels, name, model_dir, found, served, versions):
    # TF Serving refuses to load a config whose label points at a version it
    # does not serve, so such a config is refused here, before the server.
    for label, version in labels.items():
        if version not in found:
            raise UsageError(f"--labels {label}={version}: {model_dir} has no version "
                             f"{version} (it has {', '.join(map(str, found))})")
        if version not in served:
            raise UsageError(f"--labels {label}={version}: --versions={versions} does not serve "
                             f"version {version} of {name}; add it, e.g. "
                             f"--versions=specific:{','.join(map(str, sorted({*served, version})))}")


def _out_of_range(text, bound):
    return UsageError(f"--versions={text!r} is out of range: {bound}")


def exported_models(export_dir):
    """The exported models under `export_dir` and their versions.

    Hidden folders (publishing in progress, other workers' scratch) and
    files are skipped, as TF Serving skips them.

    Returns:
        A dict model name → sorted list of integer versions.

    Raises:
        UsageError: `export_dir` is missing or holds no model, a model folder
            holds no version, or a folder inside a model is not an integer
            version.
    """
    remote = storage.is_remote(export_dir)
    if remote:
        storage.check_remote_dir(export_dir, "--export_dir")
    if not storage.isdir(export_dir):
        raise UsageError(f"--export_dir {export_dir} is not a directory; run a recipe first "
                         "or pass the folder its --export_dir wrote")
    models = {}
    for name in sorted(_visible_folders(export_dir)):
        model_dir = storage.join(export_dir, name)
        versions = []
        for child in _visible_folders(model_dir):
            if not storage.is_version_name(child):
                raise UsageError(
                    f"{storage.join(model_dir, child)} is not an integer version folder; "
                    f"TF Serving would skip it: move it out of {model_dir}"
                )
            if remote and not storage.exists(
                    storage.join(model_dir, child, storage.COMPLETE_MARKER)):
                logging.warning("%s left out: it has no %s marker (its copy is still running "
                                "or did not finish)", storage.join(model_dir, child),
                                storage.COMPLETE_MARKER)
                continue
            versions.append(int(child))
        if not versions:
            raise UsageError(f"{model_dir} holds no {'complete ' if remote else ''}version "
                             "folder (1, 2, ...); "
                             "publish one or move the folder out of --export_dir")
        models[name] = sorted(versions)
    if not models:
        raise UsageError(f"--export_dir {export_dir} holds no exported model; run a recipe first")
    return models


def build_config(export_dir, base_path=None, versions="latest", labels=None):
    """The `ModelServerConfig` serving every model under `export_dir`.

    Args:
        export_dir: str. The folder of `<name>/<version>` exports.
        base_path: str or None. Where the server sees `export_dir` (e.g.
            `/models` in a container); None uses its absolute path here.
        versions: str. The version policy, see `VERSIONS_HELP`.
        labels: str or None. Version labels for every model, see
            `LABELS_HELP`; each must name a version the policy serves.

    Returns:
        A `model_server_config_pb2.ModelServerConfig`.
    """
    from tensorflow_serving.config import model_server_config_pb2

    kind, value = parse_versions(versions)
    labels = parse_labels(labels)
    if base_path is not None and not base_path.strip():
        raise UsageError("--base_path is empty; pass the folder the server sees, e.g. /models")
    config = model_server_config_pb2.ModelServerConfig()
    for name, found in exported_models(export_dir).items():
        missing = sorted(set(value) - set(found)) if kind == "specific" else []
        if missing:
            raise UsageError(f"--versions={versions}: {os.path.join(export_dir, name)} has no "
                             f"version {missing[0]} (it has {', '.join(map(str, found))})")
        model_dir = storage.join(export_dir, name)
        served = served_versions(kind, value, found)
        _check_labels(labels, name, model_dir, found, served, versions)
        model = config.model_config_list.config.add()
        model.name = name
        if base_path is not None:
            model.base_path = posixpath.join(base_path, name)
        else:
            model.base_path = model_dir if storage.is_remote(model_dir) else os.path.abspath(
                model_dir)
        model.model_platform = "tensorflow"
        policy = model.model_version_policy
        if storage.is_remote(export_dir):
            # Only the complete versions, by number: see the module's docstring.
            policy.specific.versions.extend(served)
        elif kind == "latest":
            policy.latest.num_versions = value
        elif kind == "all":
            policy.all.SetInParent()
        else:
            policy.specific.versions.extend(value)
        for label, version in labels.items():
            model.version_labels[label] = version
    return config


def write_config(config, out, force=False):
    """Writes `config` as a text proto to `out`, atomically.

    An existing `out` is kept unless `force`.
    """
    from google.protobuf import text_format

    check_out(out, force)
    try:
        storage.write_file(out, text_format.MessageToString(config), replace_existing=force)
    except FileExistsError:  # written meanwhile by someone else
        raise _exists(out) from None


def check_out(out, force=False, flag="--out"):
    """Fails if `out` cannot be written (or exists, unless `force`); returns its folder."""
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise UsageError(f"{flag} {out}: the folder {folder} does not exist")
    if os.path.isdir(out):
        raise UsageError(f"{flag} {out} is a directory; pass a file name in it")
    if os.path.lexists(out) and not force:
        raise _exists(out, flag)
    return folder


def serving_config(export_dir, out, base_path=None, versions="latest", force=False,
                   labels=None, batching_parameters=None):
    """Builds and writes the config; returns a summary dict for the command.

    Args:
        export_dir, base_path, versions, labels: see `build_config`.
        out: str. The model config file to write.
        force: bool. Replace existing files.
        batching_parameters: str or None. Also write TF Serving's
            `--batching_parameters_file` there (see `serving_batching`).

    Returns:
        A dict: the files written, the models, versions and labels.
    """
    from modelzoo import serving_batching

    # The outputs first: nothing is scanned for a file that would not be written.
    check_out(out, force)
    if batching_parameters is not None:
        check_out(batching_parameters, force, "--batching_parameters")
    config = build_config(export_dir, base_path, versions, labels)
    summary = {
        "out": out,
        "models": {m.name: m.base_path for m in config.model_config_list.config},
        "versions": versions,
    }
    if storage.is_remote(export_dir):
        summary["specific_versions"] = {
            m.name: list(m.model_version_policy.specific.versions)
            for m in config.model_config_list.config}
    if labels:
        summary["labels"] = parse_labels(labels)
    if batching_parameters is not None:
        kind, value = parse_versions(versions)
        served = {name: served_versions(kind, value, found)
                  for name, found in exported_models(export_dir).items()}
        summary["batching_parameters"] = batching_parameters
        summary["allowed_batch_sizes"] = serving_batching.write_batching(
            batching_parameters, export_dir, served, force)
    write_config(config, out, force)
    return summary


def _exists(out, flag="--out"):
    return UsageError(f"{flag} {out} already exists; pass --force to replace it")


def _visible_folders(path):
    return [
        name for name in storage.listdir(path)
        if not name.startswith(".") and storage.isdir(storage.join(path, name))
    ]
