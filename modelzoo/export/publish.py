"""Atomic, verified publishing of SavedModels into a TF Serving model base path.

Layout: `<export_dir>/<name>/<version>/` with integer versions, as TF Serving
expects. A new version is written into a hidden sibling `.tmp-<version>-*`
(TF Serving ignores names that are not integers), verified in a fresh Python
process that imports only TensorFlow and TF Text's ops, then renamed into place. Nothing is
ever written into, or renamed over, an existing version.

The steps are the module functions `write_step`, `assets_step`,
`verify_step` and `commit_step`; tests replace them to inject failures.

Every version ships, in `assets.extra/`, TF Serving's warm-up requests
(built from the real examples the check uses) and a model card; the check
replays every warm-up request and compares the card with the signatures.

The `.tmp-*` folder is a `storage.staged_dir`: locked while it is written,
removed on any failure (Ctrl-C and SIGTERM included), and, if a killed run
left it, removed by the next publish into the same model folder.

An `export_dir` on a remote file system (`gs://...`, any `tf.io.gfile`
scheme) has no atomic rename: the version is written and verified in a
local staging folder (the verify process cannot see an in-process `ram://`
file system, and an upload is only worth making once verified), then
copied by `storage.upload_version` (`upload_step`): a hidden staging
prefix in the bucket, then `<version>/` with `saved_model.pb` last and a
completion marker last of all.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile

import numpy as np

from modelzoo import storage
from modelzoo.errors import ModelzooError, UsageError
from modelzoo.export import model_card, warmup
from modelzoo.export.verify import encode_array
from modelzoo.storage import next_version, rename_no_replace  # noqa: F401 - re-exported

VERIFY_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "verify.py")

_TEMP_PREFIX = ".tmp-"
# A remote export's local staging folder, in the system's temporary folder.
_LOCAL_PREFIX = "modelzoo-publish-"

# bfloat16 keeps about 3 significant digits, and graph and eager code round
# differently, so a 16-bit model's export matches it only this closely.
LOW_PRECISION_TOLERANCE = 2e-2


def publish(
    write_fn,
    export_dir,
    name,
    version=None,
    contract=None,
    example=None,
    expected=None,
    rtol=1e-5,
    atol=1e-6,
    timeout=600,
    model=None,
    card=None,
    prefixes=None,
):
    """Writes, verifies and atomically publishes one SavedModel version.

    Args:
        write_fn: callable taking a directory path (existing and empty) and
            writing a SavedModel there.
        export_dir: str. The root holding one folder per model name.
        name: str. Model name, a single path component.
        version: positive int, or None for the next free version (1 if there
            is none, else the largest integer version + 1).
        contract: dict with `inputs` and `outputs` of the `serving_default`
            signature (see `verify.check_signature`); None skips that check.
        example: dict input name → array to call `serving_default` with, or
            None to only load the SavedModel. The warm-up requests are
            built from it (none without it).
        expected: dict output name → array the in-memory model gave for
            `example`; floats are compared with `rtol`/`atol`, the rest
            exactly. Names left out are not compared.
        rtol: float. Relative tolerance for float outputs.
        atol: float. Absolute tolerance for float outputs.
        timeout: float. Seconds allowed for the verification process.
        model: the `keras.Model` being exported, or None. If any of its
            layers computes in 16 bits (mixed precision), `rtol` and `atol`
            are raised to at least `LOW_PRECISION_TOLERANCE`, so every
            exporter gets the same mixed-precision check.
        card: dict of the model card's facts about the run (see
            `model_card.build_card`), or None for none.
        prefixes: dict string output name → list of byte counts, one per
            example row: only that much of each expected string is compared
            (see `verify.compare_outputs`); None compares whole strings.

    Returns:
        The path of the new version directory.

    Raises:
        UsageError: bad `name` or `version`, an existing `version`, or an
            `export_dir` that is a file.
        ModelzooError: any failure to write, verify or rename; the temporary
            directory is removed and existing versions are untouched.
    """
    version = _check_version(version)
    if model is not None and is_low_precision(model):
        rtol = max(rtol, LOW_PRECISION_TOLERANCE)
        atol = max(atol, LOW_PRECISION_TOLERANCE)
    spec = {
        "signature": "serving_default",
        "contract": contract,
        "example": _encode(example),
        "expected": _encode(expected),
        "rtol": rtol,
        "atol": atol,
        "prefixes": prefixes,
    }
    check_target(export_dir, name, version)
    if storage.is_remote(export_dir):
        return _publish_remote(write_fn, os.fspath(export_dir), name, version, spec, timeout,
                               example, card)
    created = _missing_folders(os.path.join(os.fspath(export_dir), name))
    model_dir = _model_dir(os.fspath(export_dir), name)
    number = version or next_version(existing_versions(model_dir))
    try:
        with storage.staged_dir(model_dir, f"{_TEMP_PREFIX}{number}-",
                                sweep_prefix=_TEMP_PREFIX) as staged:
            temp_dir = staged.path
            _step("write", model_dir, write_step, write_fn, temp_dir)
            spec.update(_step("write", model_dir, assets_step, temp_dir, name, example, card))
            _step("verify", model_dir, verify_step, temp_dir, spec, timeout)
            return _step("rename", model_dir, commit_step, temp_dir, model_dir, version)
    finally:
        _remove_empty(created)


def _publish_remote(write_fn, export_dir, name, version, spec, timeout, example, card):
    model_dir = storage.join(export_dir, name)
    number = version or next_version(storage.claimed_versions(model_dir))
    with storage.staged_dir(tempfile.gettempdir(), f"{_LOCAL_PREFIX}{number}-",
                            sweep_prefix=_LOCAL_PREFIX) as staged:
        temp_dir = staged.path
        _step("write", model_dir, write_step, write_fn, temp_dir)
        spec.update(_step("write", model_dir, assets_step, temp_dir, name, example, card))
        _step("verify", model_dir, verify_step, temp_dir, spec, timeout)
        return _step("upload", model_dir, upload_step, temp_dir, model_dir, number,
                     version is not None)


def publish_export(export_fn, args, example, expected, export_dir, name, **options):
    """`publish` of `export_fn(*args, path)`, checked on `example`.

    The step every `publish_*` function ends with.

    Args:
        export_fn: an `export_*` function, called as `export_fn(*args, path)`.
        args: tuple of its arguments before the path; `args[0]` is the model.
        example: dict input name → array of real examples to check with.
        expected: dict output name → array, what the in-memory model gives
            for `example`.
        export_dir, name: see `publish`.
        **options: `version`, `contract`, `rtol`, `atol`, `timeout`, `card`
            (see `publish`).

    Returns:
        The path of the new version directory.
    """
    return publish(
        lambda path: export_fn(*args, path), export_dir, name, example=example,
        expected=expected, model=args[0], **options,
    )


def string_array(texts):
    """`texts` (str, encoded as UTF-8, or bytes) as a 1-D object array of bytes."""
    array = np.empty(len(texts), dtype=object)
    array[:] = [t.encode("utf-8") if isinstance(t, str) else bytes(t) for t in texts]
    return array


def is_low_precision(model):
    """Whether `model` or one of its layers computes in float16 or bfloat16."""
    layers = [model, *getattr(model, "layers", ())]
    return any(getattr(layer, "compute_dtype", None) in ("float16", "bfloat16") for layer in layers)


def remove_stale_temp_dirs(model_dir):
    """Removes the `.tmp-*` folders of publishers that died (e.g. SIGKILL).

    A folder is stale when no live publisher holds its lock and it is older
    than this process or its publisher is gone; each one removed is logged.

    Returns:
        The list of removed paths.
    """
    return storage.sweep(model_dir, _TEMP_PREFIX)


def check_target(export_dir, name, version=None):
    """Fails early, e.g. before training, if publishing there would fail.

    Nothing is left behind: folders it creates to check that they can be
    created are removed again, so a run that fails later leaves no empty
    `<export_dir>/<name>`.

    Args:
        export_dir: str. The root holding one folder per model name.
        name: str. Model name, a single path component.
        version: positive int or None.

    Returns:
        The model directory `<export_dir>/<name>`.

    Raises:
        UsageError: bad `name` or `version`, an existing `version`, or an
            `export_dir` that is a file.
        ModelzooError: the directory cannot be created or written.
    """
    version = _check_version(version)
    export_dir = os.fspath(export_dir)
    if storage.is_remote(export_dir):
        return _check_remote_target(export_dir, name, version)
    model_dir = _checked_model_dir(export_dir, name)
    if version is not None and version in existing_versions(model_dir):
        raise UsageError(_taken_message(version, model_dir))
    created = _missing_folders(model_dir)
    try:
        _make_dirs(model_dir)
        if not os.access(model_dir, os.W_OK | os.X_OK):
            raise ModelzooError(f"cannot write in {model_dir}: permission denied")
    finally:
        _remove_empty(created)
    return model_dir


def _check_remote_target(export_dir, name, version):
    # Only looks: an object store needs no folder made in advance.
    _check_name(name)
    storage.check_remote_dir(export_dir, "--export_dir")
    model_dir = storage.join(export_dir, name)
    storage.check_remote_dir(model_dir, "--export_dir")
    if version is not None and version in storage.claimed_versions(model_dir):
        raise UsageError(_taken_message(version, model_dir))
    return model_dir


def existing_versions(model_dir):
    """Returns the set of integer versions under `model_dir` (empty if none)."""
    return set(storage.list_versions(model_dir))


def write_step(write_fn, temp_dir):
    """Step 1: writes the SavedModel into `temp_dir`."""
    write_fn(temp_dir)
    if not os.path.isfile(os.path.join(temp_dir, "saved_model.pb")):
        raise ModelzooError(f"the export wrote no saved_model.pb into {temp_dir}")


def assets_step(temp_dir, name, example, card):
    """Step 1b: writes the warm-up requests and the model card into `temp_dir`.

    Returns:
        The verify spec's `warmup_requests` (how many were written) and
        `card` (as written).
    """
    requests = warmup.warmup_inputs(example) if example else []
    if requests:
        warmup.write_warmup(temp_dir, requests, name)
    written = model_card.build_card(name, card, temp_dir)
    model_card.write_card(temp_dir, written)
    return {"warmup_requests": len(requests), "card": written}


def verify_step(temp_dir, spec, timeout):
    """Step 2: checks the SavedModel in a fresh process (`verify.py`).

    Running it as a script file, not `-m modelzoo...`, keeps Keras and
    modelzoo out of that process, as in TF Serving.
    """
    with tempfile.TemporaryDirectory(prefix="modelzoo-verify-") as scratch:
        spec_path = os.path.join(scratch, "spec.json")
        with open(spec_path, "w", encoding="utf-8") as f:
            json.dump(spec, f)
        env = verify_environment(os.environ)
        try:
            result = _run_check([temp_dir, spec_path], env, timeout)
        except (subprocess.TimeoutExpired, TimeoutError):
            raise ModelzooError(
                f"verifying {temp_dir} took more than {timeout:g} s"
            ) from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        failed = [line for line in lines if line.startswith("verify failed:")]
        detail = (failed or lines or [f"exit code {result.returncode}"])[-1]
        raise ModelzooError(f"the SavedModel in {temp_dir} failed verification: {detail}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _run_check(argv, env, timeout):
    """Runs `verify.py argv` in a fresh process; returns a `CompletedProcess`.

    With `MODELZOO_VERIFY_SERVER` set (a socket of `verify_server.py`), the
    process is forked from that warm server, which saves the TensorFlow
    import; if the server cannot be reached, a new process is started.
    """
    server = env.get("MODELZOO_VERIFY_SERVER")
    if server:
        try:
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            connection.connect(server)
        except OSError:
            connection = None
        if connection is not None:
            with connection:
                connection.settimeout(timeout)
                connection.sendall(json.dumps({"argv": argv, "env": env}).encode() + b"\n")
                reply = b""
                while not reply.endswith(b"\n"):
                    chunk = connection.recv(65536)
                    if not chunk:
                        raise ModelzooError(f"the check server {server} closed the connection")
                    reply += chunk
            reply = json.loads(reply)
            return subprocess.CompletedProcess(argv, reply["returncode"], reply["stdout"],
                                               reply["stderr"])
    # -P: do not put this package's folder on sys.path.
    return subprocess.run([sys.executable, "-P", VERIFY_SCRIPT, *argv], capture_output=True,
                          text=True, timeout=timeout, env=env)


def verify_environment(base):
    """The environment the verification process runs in.

    It sees no GPU: the training process on an accelerator host holds
    nearly all of the GPU's memory (TensorFlow reserves it up front), so a
    second process that initialised CUDA could run out of memory or fail to
    load cuDNN, failing a publish after training succeeded. The check runs
    one small request, for which the CPU is enough; `verify.py` also sets
    memory growth in case a GPU is still visible (e.g. the variable is
    overridden by a wrapper).

    Args:
        base: mapping, the publisher's environment.

    Returns:
        A new dict of environment variables.
    """
    env = dict(base)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["MODELZOO_VERIFY_PARENT"] = str(os.getpid())
    env["CUDA_VISIBLE_DEVICES"] = "-1"
    env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    return env


def upload_step(temp_dir, model_dir, version, explicit):
    """Step 3 on a remote file system: `storage.upload_version`.

    Returns:
        The final path.
    """
    return storage.upload_version(temp_dir, model_dir, version, explicit, _TEMP_PREFIX)


def commit_step(temp_dir, model_dir, version):
    """Step 3: renames `temp_dir` to `model_dir/<version>`, never replacing.

    With `version=None`, a version that appeared meanwhile is skipped and the
    next free one taken; an explicit version that appeared is a UsageError.

    Returns:
        The final path.
    """
    for _ in range(100):
        number = version or next_version(existing_versions(model_dir))
        final = os.path.join(model_dir, str(number))
        try:
            rename_no_replace(temp_dir, final)
            return final
        except FileExistsError:
            if version is not None:
                raise UsageError(_taken_message(version, model_dir)) from None
    raise ModelzooError(f"could not claim a free version under {model_dir}")


def _step(label, model_dir, function, *args):
    # One line per failure: the CLI prints it as is.
    try:
        return function(*args)
    except ModelzooError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line.
        raise ModelzooError(
            f"publishing into {model_dir} failed at the {label} step: "
            f"{type(exc).__name__}: {_one_line(exc)}"
        ) from exc


def _check_version(version):
    if version is None:
        return None
    if isinstance(version, bool) or not isinstance(version, int) or version <= 0:
        raise UsageError(f"--version must be a positive integer, got {version!r}")
    return storage.check_version(version)


def _checked_model_dir(export_dir, name):
    _check_name(name)
    if os.path.exists(export_dir) and not os.path.isdir(export_dir):
        raise UsageError(f"--export_dir {export_dir} is a file, not a directory")
    model_dir = os.path.join(export_dir, name)
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise UsageError(f"--export_dir {export_dir}: {model_dir} is a file, not a directory")
    return model_dir


def _check_name(name):
    if not isinstance(name, str) or not name or name.startswith(".") or os.sep in name or (
        os.altsep and os.altsep in name
    ):
        raise UsageError(
            f"the model name must be one path component not starting with '.', got {name!r}"
        )


def _model_dir(export_dir, name):
    model_dir = _checked_model_dir(export_dir, name)
    _make_dirs(model_dir)
    return model_dir


def _make_dirs(path):
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise ModelzooError(f"cannot create {path}: {_one_line(exc)}") from exc


def _missing_folders(path):
    """The folders `os.makedirs(path)` would create, deepest first."""
    missing = []
    while path and not os.path.lexists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def _remove_empty(created):
    # The folders this run created go again if they are still empty, so a
    # failed run leaves no empty model folder, which `serving-config` would
    # refuse; rmdir removes nothing anyone wrote.
    for folder in created:
        try:
            os.rmdir(folder)
        except OSError:
            break


def _taken_message(version, model_dir):
    return storage.taken_message(model_dir, version)


def _encode(arrays):
    if arrays is None:
        return None
    return {name: encode_array(value) for name, value in arrays.items()}


def _one_line(exc):
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
