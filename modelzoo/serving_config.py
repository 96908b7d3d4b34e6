"""`modelzoo serving-config`: one TF Serving model config for every export.

TF Serving serves several models from one `--model_config_file`, a
`ModelServerConfig` text proto listing each model's name, base path,
platform and version policy. This writes it for the folders of
`<export_dir>/<name>/<version>` that the recipes publish.
"""

import os
import posixpath

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
    if not os.path.isdir(export_dir):
        raise UsageError(f"--export_dir {export_dir} is not a directory; run a recipe first "
                         "or pass the folder its --export_dir wrote")
    models = {}
    for name in sorted(_visible_folders(export_dir)):
        model_dir = os.path.join(export_dir, name)
        versions = []
        for child in _visible_folders(model_dir):
            if not storage.is_version_name(child):
                raise UsageError(
                    f"{os.path.join(model_dir, child)} is not an integer version folder; "
                    f"TF Serving would skip it: move it out of {model_dir}"
                )
            versions.append(int(child))
        if not versions:
            raise UsageError(f"{model_dir} holds no version folder (1, 2, ...); "
                             "publish one or move the folder out of --export_dir")
        models[name] = sorted(versions)
    if not models:
        raise UsageError(f"--export_dir {export_dir} holds no exported model; run a recipe first")
    return models


def build_config(export_dir, base_path=None, versions="latest"):
    """The `ModelServerConfig` serving every model under `export_dir`.

    Args:
        export_dir: str. The folder of `<name>/<version>` exports.
        base_path: str or None. Where the server sees `export_dir` (e.g.
            `/models` in a container); None uses its absolute path here.
        versions: str. The version policy, see `VERSIONS_HELP`.

    Returns:
        A `model_server_config_pb2.ModelServerConfig`.
    """
    from tensorflow_serving.config import model_server_config_pb2

    kind, value = parse_versions(versions)
    if base_path is not None and not base_path.strip():
        raise UsageError("--base_path is empty; pass the folder the server sees, e.g. /models")
    config = model_server_config_pb2.ModelServerConfig()
    for name, found in exported_models(export_dir).items():
        missing = sorted(set(value) - set(found)) if kind == "specific" else []
        if missing:
            raise UsageError(f"--versions={versions}: {os.path.join(export_dir, name)} has no "
                             f"version {missing[0]} (it has {', '.join(map(str, found))})")
        model = config.model_config_list.config.add()
        model.name = name
        model.base_path = (
            os.path.abspath(os.path.join(export_dir, name)) if base_path is None
            else posixpath.join(base_path, name)
        )
        model.model_platform = "tensorflow"
        policy = model.model_version_policy
        if kind == "latest":
            policy.latest.num_versions = value
        elif kind == "all":
            policy.all.SetInParent()
        else:
            policy.specific.versions.extend(value)
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


def check_out(out, force=False):
    """Fails if `out` cannot be written (or exists, unless `force`); returns its folder."""
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise UsageError(f"--out {out}: the folder {folder} does not exist")
    if os.path.isdir(out):
        raise UsageError(f"--out {out} is a directory; pass a file name, e.g. {out}/models.config")
    if os.path.lexists(out) and not force:
        raise _exists(out)
    return folder


def serving_config(export_dir, out, base_path=None, versions="latest", force=False):
    """Builds and writes the config; returns a summary dict for the command."""
    # --out first: nothing is scanned for a file that would not be written.
    check_out(out, force)
    config = build_config(export_dir, base_path, versions)
    write_config(config, out, force)
    return {
        "out": out,
        "models": {m.name: m.base_path for m in config.model_config_list.config},
        "versions": versions,
    }


def _exists(out):
    return UsageError(f"--out {out} already exists; pass --force to replace it")


def _visible_folders(path):
    return [
        name for name in os.listdir(path)
        if not name.startswith(".") and os.path.isdir(os.path.join(path, name))
    ]
