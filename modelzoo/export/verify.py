"""Checks a SavedModel the way TF Serving will see it, in a fresh process.

Run as a script so that only TensorFlow and TF Text are imported (no
modelzoo; TF 2.21's own `import tensorflow` pulls in parts of Keras, TF
Serving has neither). TF Text is imported for its ops, which TF Serving
links too (its `SUPPORTED_TENSORFLOW_OPS`):

    python modelzoo/export/verify.py SAVED_MODEL_DIR SPEC_JSON

`SPEC_JSON` holds the signature contract, an example request and the outputs
the in-memory Keras model gave for it (see `encode_array`), the number of
warm-up requests and the model card that were written. Every warm-up
request is parsed with TF Serving's protos and replayed; the card must read
back as written and its signature contracts must be the SavedModel's. On
success the
script prints one JSON line and exits 0; on any mismatch it prints one line
starting with `verify failed:` to stderr and exits 1.

This module must not import Keras or any modelzoo module (only TensorFlow,
TF Text's ops and TF Serving's protos, which a server has): the point of the
check is that the artifact works without them. It calls the signature twice,
through `tf.saved_model.load` and through a TF1-style session fed by tensor
names, as TF Serving's C++ loader does.
"""

import base64
import ctypes
import json
import os
import signal
import sys

import numpy as np


class VerifyError(Exception):
    """The SavedModel does not match its contract or the expected outputs."""


def encode_array(value):
    """Encodes an array (numbers or strings) as a JSON-ready dict.

    Strings travel as base64 of their bytes so that non-UTF-8 bytes and NUL
    characters survive; numpy's own string dtypes would need pickle.

    Args:
        value: array-like of numbers, `str` or `bytes`.

    Returns:
        A dict with `dtype`, `shape` and `data` (a flat list).
    """
    array = np.asarray(value)
    if array.dtype.kind in "OUS":
        flat = [_to_bytes(v) for v in array.reshape(-1).tolist()]
        data = [base64.b64encode(v).decode("ascii") for v in flat]
        return {"dtype": "string", "shape": list(array.shape), "data": data}
    return {
        "dtype": array.dtype.name,
        "shape": list(array.shape),
        "data": array.reshape(-1).tolist(),
    }


def decode_array(encoded):
    """Inverse of `encode_array`: strings come back as an object array of bytes."""
    shape = tuple(encoded["shape"])
    if encoded["dtype"] == "string":
        flat = [base64.b64decode(v) for v in encoded["data"]]
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
        return array.reshape(shape)
    return np.asarray(encoded["data"], dtype=encoded["dtype"]).reshape(shape)


def _to_bytes(value):
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def signature_defaults(saved_model_dir, signature="serving_default"):
    """The default values a SavedModel's SignatureDef records for its inputs.

    TF Serving accepts a request without an input that has one (the graph
    feeds the default), so these inputs are optional.

    Args:
        saved_model_dir: str. The SavedModel directory.
        signature: str. Signature key.

    Returns:
        A dict input name → numpy array ({} when there is none).
    """
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    # gfile: a published export may be read back from a bucket (gs://...).
    with tf.io.gfile.GFile(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    for meta_graph in proto.meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags and signature in meta_graph.signature_def:
            defaults = meta_graph.signature_def[signature].defaults
            return {name: tf.make_ndarray(value) for name, value in defaults.items()}
    return {}


class ServedSignature:
    """A loaded signature called as TF Serving calls it.

    An input the SignatureDef has a default for may be left out; the call
    then feeds the default, as TF Serving's graph does. Its
    `structured_input_signature` lists only the required inputs, the ones a
    client must send (what tells an export's kind apart); `specs` lists all.

    Args:
        saved_model_dir: str. The SavedModel directory.
        signature: str. Signature key.
        loaded: the object `tf.saved_model.load` returned, or None to load it.
    """

    def __init__(self, saved_model_dir, signature="serving_default", loaded=None):
        import tensorflow as tf

        loaded = loaded if loaded is not None else tf.saved_model.load(saved_model_dir)
        self.function = loaded.signatures[signature]
        self.defaults = signature_defaults(saved_model_dir, signature)
        _, self.specs = self.function.structured_input_signature
        required = {k: v for k, v in self.specs.items() if k not in self.defaults}
        self.structured_input_signature = ((), required)
        self.structured_outputs = self.function.structured_outputs

    def __call__(self, **inputs):
        import tensorflow as tf

        inputs = dict(inputs)
        missing = sorted(set(self.specs) - set(inputs) - set(self.defaults))
        if missing:
            raise TypeError(f"missing required inputs {missing}")
        for name, value in self.defaults.items():
            if name not in inputs:
                inputs[name] = tf.constant(value, dtype=self.specs[name].dtype)
        return self.function(**inputs)


def check_signature(function, contract):
    """Checks a signature's input and output names, dtypes and shapes.

    Args:
        function: a concrete function from `loaded.signatures[...]`.
        contract: dict with `inputs` and `outputs`, each mapping a name to
            `{"dtype": str, "shape": list with None for unknown dims}`.

    Raises:
        VerifyError: on the first difference.
    """
    _, input_specs = function.structured_input_signature
    _compare_specs("input", input_specs, contract["inputs"])
    _compare_specs("output", function.structured_outputs, contract["outputs"])


def _compare_specs(kind, specs, wanted):
    if sorted(specs) != sorted(wanted):
        raise VerifyError(f"{kind} names are {sorted(specs)}, expected {sorted(wanted)}")
    for name, want in wanted.items():
        spec = specs[name]
        if spec.dtype.name != want["dtype"]:
            raise VerifyError(
                f"{kind} {name!r} has dtype {spec.dtype.name}, expected {want['dtype']}"
            )
        shape = spec.shape.as_list() if spec.shape.rank is not None else None
        if shape != want["shape"]:
            raise VerifyError(f"{kind} {name!r} has shape {shape}, expected {want['shape']}")


def compare_outputs(actual, expected, rtol, atol, prefixes=None):
    """Compares served outputs with expected ones.

    Floats must be allclose; ints and strings must be equal, except that a
    string output listed in `prefixes` is compared on its first bytes only,
    and that a row may differ where a `[rows, k]` float output (the scores a
    class id is taken from) has its two largest values tied within the
    tolerance.

    Args:
        actual: dict name → numpy array from the SavedModel.
        expected: dict name → numpy array from the in-memory model; only these
            names are compared.
        rtol: float. Relative tolerance for floats.
        atol: float. Absolute tolerance for floats.
        prefixes: dict name → list of byte counts, one per element (flat
            order): how much of each expected string must match. A
            mixed-precision generator's text is only checked up to its first
            near-tie (see `char_sampling.reliable_prefixes`). None: all.

    Raises:
        VerifyError: on the first difference.
    """
    for name, want in expected.items():
        if name not in actual:
            raise VerifyError(f"output {name!r} is missing")
        got = actual[name]
        if got.shape != want.shape:
            raise VerifyError(f"output {name!r} has shape {got.shape}, expected {want.shape}")
        if prefixes and name in prefixes and want.dtype.kind in "OSU":
            got, want = _cut(got, prefixes[name]), _cut(want, prefixes[name])
        if want.dtype.kind == "f":
            ok = np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
            worst = float(np.nanmax(np.abs(got - want))) if got.size else 0.0
            detail = f"max abs difference {worst:.3g}"
        else:
            bad = np.argwhere(got != want)
            # A class id (or its label) may differ only where the scores it was
            # taken from are tied within the float tolerance: rounding decides there.
            if len(bad) and bad.ndim == 2:
                tied = _tied_rows(expected, len(want), rtol, atol)
                bad = bad[~tied[bad[:, 0]]] if tied is not None else bad
            ok = not len(bad)
            detail = f"first difference at {tuple(bad[0])}" if len(bad) else ""
        if not ok:
            raise VerifyError(f"output {name!r} differs from the in-memory model ({detail})")


def _tied_rows(expected, rows, rtol, atol):
    """Rows whose two largest scores, in any `[rows, k]` float output, are
    within the tolerance of each other; None if no output has such scores."""
    tied = None
    for value in expected.values():
        if value.dtype.kind != "f" or value.ndim != 2 or len(value) != rows or value.shape[1] < 2:
            continue
        top = np.sort(value, axis=1)[:, -2:]
        near = top[:, 1] - top[:, 0] <= atol + rtol * np.abs(top[:, 1])
        tied = near if tied is None else tied | near
    return tied


def _cut(strings, lengths):
    flat = [_to_bytes(v)[:n] for v, n in zip(strings.reshape(-1).tolist(), lengths)]
    cut = np.empty(len(flat), dtype=object)
    cut[:] = flat
    return cut.reshape(strings.shape)


def run_request(loaded, request, defaults=None):
    """Calls the signature a `PredictRequest` names, as TF Serving does.

    Each input `TensorProto` becomes an array with `tf.make_ndarray`; the
    request must name every required input of the signature, with its
    dtype, and may leave out those with a default (then fed the default).

    Args:
        loaded: the object `tf.saved_model.load` returned.
        request: a `tensorflow_serving.apis.predict_pb2.PredictRequest`.
        defaults: dict input name → array, `signature_defaults` of the
            request's signature.

    Returns:
        A dict output name → tensor.

    Raises:
        VerifyError: the request does not fit the signature.
    """
    import tensorflow as tf

    signature = request.model_spec.signature_name or "serving_default"
    if signature not in loaded.signatures:
        raise VerifyError(f"no {signature!r} signature (found {sorted(loaded.signatures)})")
    function = loaded.signatures[signature]
    _, specs = function.structured_input_signature
    defaults = defaults or {}
    required = sorted(name for name in specs if name not in defaults)
    given = sorted(request.inputs)
    if not set(required) <= set(given) <= set(specs):
        raise VerifyError(f"inputs {given}, the signature takes {sorted(specs)} "
                          f"(optional: {sorted(defaults)})")
    inputs = {name: tf.constant(value, dtype=specs[name].dtype)
              for name, value in defaults.items() if name not in request.inputs}
    for name, proto in request.inputs.items():
        dtype = tf.dtypes.as_dtype(proto.dtype)
        if dtype != specs[name].dtype:
            raise VerifyError(f"input {name!r} is {dtype.name}, the signature takes "
                              f"{specs[name].dtype.name}")
        inputs[name] = tf.constant(tf.make_ndarray(proto), dtype=dtype)
    return function(**inputs)


def replay_warmup(saved_model_dir, loaded, count):
    """Replays every warm-up record through `loaded`; returns how many.

    Raises:
        VerifyError: the file is missing, unreadable, holds another number
            of records than `count`, or a request fails.
    """
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(saved_model_dir, "assets.extra", "tf_serving_warmup_requests")
    if not os.path.isfile(path):
        raise VerifyError(f"no warm-up file {path}")
    try:
        records = list(tf.data.TFRecordDataset(path).as_numpy_iterator())
    except Exception as exc:  # noqa: BLE001
        raise VerifyError(f"the warm-up file is not a TFRecord file: {_first_line(exc)}") from exc
    if len(records) != count:
        raise VerifyError(f"the warm-up file holds {len(records)} records, {count} were written")
    for number, record in enumerate(records, 1):
        try:
            log = prediction_log_pb2.PredictionLog.FromString(record)
            if log.WhichOneof("log_type") != "predict_log":
                raise VerifyError(f"it is a {log.WhichOneof('log_type')}, not a predict_log")
            request = log.predict_log.request
            signature = request.model_spec.signature_name or "serving_default"
            run_request(loaded, request, signature_defaults(saved_model_dir, signature))
        except Exception as exc:  # noqa: BLE001
            raise VerifyError(f"warm-up request {number} failed: {_first_line(exc)}") from exc
    return len(records)


def check_card(saved_model_dir, loaded, card):
    """Checks the model card file reads back as `card` and fits the signatures.

    Raises:
        VerifyError: on the first difference.
    """
    path = os.path.join(saved_model_dir, "assets.extra", "model_card.json")
    try:
        with open(path, encoding="utf-8") as f:
            written = json.load(f)
    except (OSError, ValueError) as exc:
        raise VerifyError(f"cannot read the model card: {_first_line(exc)}") from exc
    if written != card:
        raise VerifyError("the model card on disk differs from the one written")
    contracts = written.get("signatures") or {}
    if sorted(contracts) != sorted(loaded.signatures):
        raise VerifyError(
            f"the model card lists signatures {sorted(contracts)}, the SavedModel has "
            f"{sorted(loaded.signatures)}"
        )
    for name, contract in contracts.items():
        check_signature(loaded.signatures[name], contract)


def verify(saved_model_dir, spec):
    """Loads a SavedModel, checks its contract and compares one request.

    Args:
        saved_model_dir: str. The SavedModel directory.
        spec: dict with `signature` (name), `contract` (see `check_signature`),
            and optional `example` and `expected` (name → encoded array, see
            `encode_array`), `rtol`, `atol` and `prefixes` (see
            `compare_outputs`).

    Returns:
        A dict summary: signature name and output shapes.

    Raises:
        VerifyError: if anything differs or fails.
    """
    import tensorflow as tf

    signature = spec.get("signature", "serving_default")
    try:
        loaded = tf.saved_model.load(saved_model_dir, tags=["serve"])
    except Exception as exc:  # noqa: BLE001 - any load failure is a verify failure.
        raise VerifyError(f"cannot load the SavedModel: {_first_line(exc)}") from exc
    if signature not in loaded.signatures:
        raise VerifyError(f"no {signature!r} signature (found {sorted(loaded.signatures)})")
    function = loaded.signatures[signature]
    contract = spec.get("contract")
    if contract is not None:
        check_signature(function, contract)
    if spec.get("card") is not None:
        check_card(saved_model_dir, loaded, spec["card"])

    summary = {"signature": signature, "outputs": {}, "warmup_requests": 0}
    if spec.get("warmup_requests"):
        summary["warmup_requests"] = replay_warmup(
            saved_model_dir, loaded, spec["warmup_requests"]
        )
    if spec.get("example") is None:
        return summary
    inputs = {}
    _, input_specs = function.structured_input_signature
    for name, encoded in spec["example"].items():
        if name not in input_specs:
            raise VerifyError(f"the example has input {name!r}, the signature does not")
        inputs[name] = tf.constant(decode_array(encoded), dtype=input_specs[name].dtype)
    try:
        outputs = ServedSignature(saved_model_dir, signature, loaded)(**inputs)
    except Exception as exc:  # noqa: BLE001
        raise VerifyError(f"calling {signature!r} failed: {_first_line(exc)}") from exc
    actual = {name: value.numpy() for name, value in outputs.items()}
    expected = {name: decode_array(v) for name, v in (spec.get("expected") or {}).items()}
    rtol, atol = spec.get("rtol", 1e-5), spec.get("atol", 1e-6)
    prefixes = spec.get("prefixes")
    compare_outputs(actual, expected, rtol, atol, prefixes)
    try:
        in_session = run_in_session(
            saved_model_dir, signature, {k: v.numpy() for k, v in inputs.items()}
        )
    except Exception as exc:  # noqa: BLE001
        raise VerifyError(f"session-style run of {signature!r} failed: {_first_line(exc)}") from exc
    compare_outputs(in_session, expected, rtol, atol, prefixes)
    summary["outputs"] = {name: list(value.shape) for name, value in actual.items()}
    return summary


def run_in_session(saved_model_dir, signature, inputs):
    """Runs a signature the way TF Serving does: a graph session fed by name.

    This exercises the SignatureDef tensor names and the table initializers
    (the SavedModel's init op), which `tf.saved_model.load` handles
    differently.

    Args:
        saved_model_dir: str.
        signature: str. Signature key.
        inputs: dict input name → numpy array.

    Returns:
        A dict output name → numpy array.
    """
    import tensorflow as tf

    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], saved_model_dir)
        signature_def = meta_graph.signature_def[signature]
        feed = {signature_def.inputs[name].name: value for name, value in inputs.items()}
        fetch = {name: info.name for name, info in signature_def.outputs.items()}
        return session.run(fetch, feed)


def _first_line(exc):
    # TF errors start with boilerplate ("Graph execution error:", "Detected
    # at node ...") before the line that says what went wrong.
    noise = ("Graph execution error", "Detected at node", "<stack traces", "File ", "[[")
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(noise)]
    return (useful or lines or [type(exc).__name__])[0]


def die_with_parent(sig=signal.SIGKILL, parent=None):
    """Has Linux send `sig` to this process when its parent dies.

    A publisher killed with SIGKILL cannot stop its check (or its check
    server) itself; Linux does (PR_SET_PDEATHSIG), so no orphan keeps
    running under pid 1. Elsewhere this does nothing.

    Args:
        sig: the signal to receive.
        parent: int pid the parent should have, or None for
            `$MODELZOO_VERIFY_PARENT`: if it has died already, before the
            request took effect, this process exits now.
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, sig)  # 1: PR_SET_PDEATHSIG
    except (AttributeError, OSError):
        return
    if parent is None:
        named = os.environ.get("MODELZOO_VERIFY_PARENT", "")
        parent = int(named) if named.isdigit() else None
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def hide_accelerators():
    """Keeps this process off any GPU, before TensorFlow initialises one.

    The publisher already sets `CUDA_VISIBLE_DEVICES=-1`
    (`publish.verify_environment`); this is the second guard, for a GPU
    that is still visible: it is hidden, or else grows memory on demand.

    Returns:
        The list of GPUs TensorFlow still sees (normally empty).
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # Devices already initialised: memory growth instead.
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
    return tf.config.get_visible_devices("GPU")


def main(argv=None, watch_parent=True):
    """Command-line entry: `verify.py SAVED_MODEL_DIR SPEC_JSON`.

    `watch_parent=False` is for a check forked by `verify_server.py`, whose
    parent is the server: the server kills it if the publisher goes away.
    """
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: verify.py SAVED_MODEL_DIR SPEC_JSON", file=sys.stderr)
        return 2
    saved_model_dir, spec_path = argv
    if watch_parent:
        die_with_parent()
    try:
        gpus = hide_accelerators()
        import tensorflow_text  # noqa: F401 - registers the TF Text ops TF Serving links.

        with open(spec_path, encoding="utf-8") as f:
            spec = json.load(f)
        summary = verify(saved_model_dir, spec)
    except Exception as exc:  # noqa: BLE001 - the caller reads one line.
        print(f"verify failed: {type(exc).__name__}: {_first_line(exc)}", file=sys.stderr)
        return 1
    # Reported so callers can see the artifact needed no modelzoo code. (Not
    # Keras: `import tensorflow` itself imports parts of it.)
    # Reported so the publisher's tests can see this process used no GPU.
    summary["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
    summary["visible_gpus"] = len(gpus)
    summary["modelzoo_imported"] = any(m.split(".")[0] == "modelzoo" for m in sys.modules)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
