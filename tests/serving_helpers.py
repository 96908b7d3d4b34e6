"""Serving exports in a fresh TensorFlow-only process, for every test that needs it.

`serve` and `serve_many` run `tests/serve_worker.py` with `python -P`, pass it
the requests in `modelzoo.export.verify`'s array encoding and return the
outputs as numpy arrays (strings as object arrays of `bytes`), with the
dtypes the signatures returned. They fail the test if the process fails or
imported one of the `forbidden` top-level modules.
"""

import atexit
import json
import os
import subprocess
import sys
import tempfile
import threading

import numpy as np
import tensorflow as tf

from modelzoo.export import model_card, verify, warmup

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "serve_worker.py")


def strings(values):
    """A 1-D object array of `bytes`; str values are UTF-8 encoded.

    numpy's own `S` dtype would drop trailing NUL bytes.
    """
    array = np.empty(len(values), dtype=object)
    array[:] = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in values]
    return array


def texts(array):
    """Decodes a served string output (an array of `bytes`) as a list of str."""
    return [value.decode("utf-8") for value in np.asarray(array).reshape(-1).tolist()]


def _as_array(value):
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (str, bytes)):
        return strings(value)
    return np.asarray(value)


def serve_many(requests, forbidden=("modelzoo",), tf_text=False, timeout=300):
    """Calls each request's signature in a process with TensorFlow only.

    The process is this test process's long-lived serving worker for
    `tf_text` (started on first use): it never imports modelzoo or Keras,
    so what it serves, TF Serving serves.

    Args:
        requests: list of `(saved_model_dir, inputs)` or
            `(saved_model_dir, inputs, signature)`; `inputs` maps an input name
            to an array-like (a list of str or bytes becomes a string tensor).
            Values are converted to the signature's dtypes, as
            `modelzoo.export.verify` does.
        forbidden: top-level module names the process must not have imported
            by the end.
        tf_text: import `tensorflow_text` first, for its ops (TF Serving links
            them).
        timeout: seconds.

    Returns:
        One dict output name → numpy array per request.
    """
    job = {"tf_text": tf_text, "requests": []}
    for request in requests:
        saved_model_dir, inputs, *signature = request
        job["requests"].append({
            "dir": str(saved_model_dir),
            "signature": signature[0] if signature else "serving_default",
            "inputs": {name: verify.encode_array(_as_array(v)) for name, v in inputs.items()},
        })
    with tempfile.TemporaryDirectory(prefix="modelzoo-serve-") as scratch:
        job_path = os.path.join(scratch, "job.json")
        results_path = os.path.join(scratch, "results.json")
        with open(job_path, "w", encoding="utf-8") as f:
            json.dump(job, f)
        _worker(tf_text).run(job_path, results_path, timeout)
        with open(results_path, encoding="utf-8") as f:
            results = json.load(f)
    imported = sorted(set(forbidden) & set(results["modules"]))
    assert not imported, f"the serving process imported {imported}"
    return [
        {name: verify.decode_array(value) for name, value in outputs.items()}
        for outputs in results["outputs"]
    ]


class _Worker:
    """One long-lived `serve_worker.py --loop` process."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-P", WORKER, verify.__file__, "--loop"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        atexit.register(self.process.kill)

    def run(self, job_path, results_path, timeout):
        timer = threading.Timer(timeout, self.process.kill)
        timer.start()
        try:
            self.process.stdin.write(f"{job_path} {results_path}\n")
            self.process.stdin.flush()
            answer = self.process.stdout.readline().strip()
        finally:
            timer.cancel()
        if not answer:
            raise AssertionError(f"the serving process died: {self.process.stderr.read()[-2000:]}")
        assert answer == "ok", answer


_WORKERS = {}


def _worker(tf_text):
    worker = _WORKERS.get(tf_text)
    if worker is None or worker.process.poll() is not None:
        worker = _WORKERS[tf_text] = _Worker()
    return worker


def serve(saved_model_dir, inputs, signature="serving_default", **kwargs):
    """`serve_many` for one request; returns its dict of outputs."""
    return serve_many([(saved_model_dir, inputs, signature)], **kwargs)[0]


def saved_model_cli_show(path):
    """What TF's own `saved_model_cli show` prints of the export's `serving_default`."""
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    return subprocess.run(
        [cli, "show", "--dir", path, "--tag_set", "serve", "--signature_def", "serving_default"],
        capture_output=True, text=True, timeout=120,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    ).stdout


def write_tiny_saved_model(path):
    module = tf.Module()
    module.f = tf.function(
        lambda x: {"y": x * 2}, input_signature=[tf.TensorSpec([None], tf.float32, name="x")]
    )
    tf.saved_model.save(module, path, signatures={"serving_default": module.f})
    return path


def as_stored(value):
    # What tf.make_ndarray gives back: strings as bytes.
    array = np.asarray(value)
    if array.dtype.kind in "OUS":
        return np.asarray([v.encode() if isinstance(v, str) else bytes(v) for v in array.ravel()],
                          dtype=object).reshape(array.shape)
    return array


def check_serving_assets(path, name, example=None):
    """Checks a published export's warm-up records and model card.

    The records must be the example batch (`example` if given), then its
    first row, each a `PredictRequest` for `serving_default` that the loaded
    SavedModel answers; the card must name the export and hold its
    signatures.

    Returns:
        The model card, with the warm-up batch under `"warmup"`.
    """
    logs = warmup.read_warmup(path)
    assert [log.WhichOneof("log_type") for log in logs] == ["predict_log"] * 2
    requests = [log.predict_log.request for log in logs]
    batch = {k: tf.make_ndarray(v) for k, v in requests[0].inputs.items()}
    if example is not None:
        assert sorted(batch) == sorted(example)
        for key, value in example.items():
            np.testing.assert_array_equal(batch[key], as_stored(value))
            assert batch[key].dtype == as_stored(value).dtype
    for key, value in requests[1].inputs.items():
        np.testing.assert_array_equal(tf.make_ndarray(value), batch[key][:1])
    loaded = tf.saved_model.load(path)
    for request, rows in zip(requests, (len(next(iter(batch.values()))), 1)):
        assert (request.model_spec.name, request.model_spec.signature_name) == (
            name, "serving_default")
        # As TF Serving: inputs with a SignatureDef default may be left out.
        outputs = verify.run_request(loaded, request, verify.signature_defaults(path))
        assert all(len(v) == rows for v in outputs.values())
    card = model_card.read_card(path)
    assert card["name"] == name
    assert card["signatures"] == model_card.signature_contracts(path)
    assert card["versions"]["tensorflow"] == tf.__version__
    return {**card, "warmup": batch}
