"""Calls SavedModel signatures in a fresh process, as TF Serving would.

Run by `tests.serving_helpers.serve_many`, never imported by the tests:

    python -P tests/serve_worker.py VERIFY_PY JOB_JSON RESULTS_JSON
    python -P tests/serve_worker.py VERIFY_PY --loop

With `--loop` it stays up (one per test process and TF Text setting, so
TensorFlow is imported once, not once per job): each stdin line is
`JOB_JSON RESULTS_JSON`, and it answers each with one stdout line, `ok` or
`error: <why>`.

Only TensorFlow is imported (and TF Text's ops when the job asks for them,
as TF Serving links them); no Keras model, no modelzoo package. Arrays travel
in the encoding of `modelzoo/export/verify.py`, which is loaded from its file
(it imports only numpy and the standard library) so that the `modelzoo`
package itself stays out of this process. The results file lists every
top-level module the process ended up importing, for the caller to check.
"""

import importlib.util
import json
import sys


def load_verify(path):
    spec = importlib.util.spec_from_file_location("verify", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(verify_path, job_path, results_path):
    verify = load_verify(verify_path)
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    if job["tf_text"]:
        import tensorflow_text  # noqa: F401 - registers the TF Text ops TF Serving links.
    import tensorflow as tf

    outputs = []
    for request in job["requests"]:
        loaded = tf.saved_model.load(request["dir"], tags=["serve"])
        # As TF Serving: inputs with a SignatureDef default may be left out.
        function = verify.ServedSignature(request["dir"], request["signature"], loaded)
        specs = function.specs
        if not set(function.structured_input_signature[1]) <= set(request["inputs"]) <= set(specs):
            sys.exit(f"inputs {sorted(request['inputs'])}, the signature takes {sorted(specs)}")
        inputs = {
            name: tf.constant(verify.decode_array(value), dtype=specs[name].dtype)
            for name, value in request["inputs"].items()
        }
        served = function(**inputs)
        outputs.append({name: verify.encode_array(value.numpy()) for name, value in served.items()})
    modules = sorted({name.split(".")[0] for name in sys.modules})
    with open(results_path, "w", encoding="utf-8") as f:
        json.dump({"outputs": outputs, "modules": modules}, f)


def loop(verify_path):
    for line in sys.stdin:
        job_path, results_path = line.split()
        try:
            main(verify_path, job_path, results_path)
            answer = "ok"
        except SystemExit as e:
            answer = f"error: {e.code}"
        except Exception as e:  # noqa: BLE001 - the caller fails the test with it
            answer = f"error: {type(e).__name__}: {e}"
        print(" ".join(answer.splitlines()), flush=True)


if __name__ == "__main__":
    if sys.argv[2:] == ["--loop"]:
        loop(sys.argv[1])
    else:
        main(*sys.argv[1:])
