"""TF Serving's REST predict bodies turned into tensors, as its handler does.

TF Serving's `json_tensor.cc` reads two request formats:

- row (`{"instances": [...]}`): a list of instances, each an object of the
  named inputs (or a bare value when the signature has one input); each
  input's values are stacked along a new first dimension.
- columnar (`{"inputs": {...}}`, or a bare value for one input): each input
  is given whole, batch dimension included.

Binary strings travel as `{"b64": "..."}` in both. Values are converted to
the signature's dtypes.
"""

import base64
import json

import numpy as np
import tensorflow as tf


def _decode(value):
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value.encode("utf-8") if isinstance(value, str) else value


def _tensor(value, spec):
    if spec.dtype == tf.string:
        array = np.asarray(_decode(value), dtype=object)
        return tf.constant(array, tf.string)
    return tf.constant(np.asarray(value), spec.dtype)


def request_tensors(body, specs):
    """The tensors TF Serving feeds for a REST predict `body` (a JSON str).

    Args:
        body: str. The request's JSON.
        specs: dict input name → `tf.TensorSpec`, the signature's inputs.

    Returns:
        A dict input name → tensor.
    """
    request = json.loads(body)
    if "instances" in request:
        rows = request["instances"]
        if not all(isinstance(row, dict) and "b64" not in row for row in rows):
            (name,) = specs
            rows = [{name: row} for row in rows]
        names = rows[0].keys()
        return {name: _tensor([_decode(row[name]) for row in rows], specs[name])
                for name in names}
    inputs = request["inputs"]
    if not isinstance(inputs, dict) or "b64" in inputs:
        (name,) = specs
        inputs = {name: inputs}
    return {name: _tensor(value, specs[name]) for name, value in inputs.items()}


def _json_value(value):
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    return value


def bodies(inputs, binary=(), named=True):
    """The row and the columnar JSON body of one batch of inputs.

    Args:
        inputs: dict input name → array `[batch, ...]`.
        binary: input names sent base64-encoded (`{"b64": ...}`).
        named: False leaves the input's name out (one input only), as
            `{"instances": [v, ...]}` and `{"inputs": [v, ...]}`.

    Returns:
        `(row, columnar)`, two JSON strings.
    """
    def encode(name, value):
        if name in binary:
            return {"b64": base64.b64encode(value).decode("ascii")}
        return _json_value(value)

    def column(name, array):
        return [encode(name, v) if not isinstance(v, list) else v
                for v in np.asarray(array).tolist()]

    columns = {name: column(name, value) for name, value in inputs.items()}
    batch = len(next(iter(columns.values())))
    if not named:
        (values,) = columns.values()
        return json.dumps({"instances": values}), json.dumps({"inputs": values})
    rows = [{name: values[i] for name, values in columns.items()} for i in range(batch)]
    return json.dumps({"instances": rows}), json.dumps({"inputs": columns})
