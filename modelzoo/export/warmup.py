"""TF Serving warm-up records: `assets.extra/tf_serving_warmup_requests`.

TF Serving replays these requests when it loads a version, before it serves
it, so the first real request does not pay for the graph's set-up (for the
generators: the first run of the sampling loop). The file is a TFRecord of
`PredictionLog` protos, as TF Serving's "SavedModel Warmup" guide describes.
"""

import os
import re

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from modelzoo.errors import first_line

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def warmup_inputs(example):
    """The inputs to warm up with: the whole example batch, then its first row.

    The first row alone is the usual online request; the batch is the shape a
    batching server sends.

    Args:
        example: dict input name → array `[batch, ...]`, the real examples
            the publish check uses.

    Returns:
        A list of dicts input name → numpy array.
    """
    arrays = {name: np.asarray(value) for name, value in example.items()}
    requests = [arrays]
    if min(len(value) for value in arrays.values()) > 1:
        requests.append({name: value[:1] for name, value in arrays.items()})
    return requests


def predict_request(inputs, model_name, signature="serving_default"):
    """A `PredictRequest` for `inputs`, as a gRPC client builds it.

    Args:
        inputs: dict input name → array (numbers, str or bytes).
        model_name: str. The name TF Serving serves the model under.
        signature: str. The signature to call.

    Returns:
        A `tensorflow_serving.apis.predict_pb2.PredictRequest`.
    """
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def write_warmup(saved_model_dir, requests, model_name, signature="serving_default"):
    """Writes `requests` as the SavedModel's warm-up records.

    Args:
        saved_model_dir: str. The SavedModel directory.
        requests: list of dicts input name → array (see `warmup_inputs`).
        model_name: str. The model's name in `model_spec`.
        signature: str. The signature every request calls.

    Returns:
        The path of the warm-up file.
    """
    path = os.path.join(saved_model_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for inputs in requests:
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(
                    request=predict_request(inputs, model_name, signature)
                )
            )
            writer.write(log.SerializeToString())
    return path


# A TFRecord's framing: its length (8 bytes) and two CRCs (4 each).
_RECORD_OVERHEAD = 16


def read_warmup(saved_model_dir):
    """The `PredictionLog` protos of a SavedModel's warm-up file ([] if none).

    Raises:
        ValueError: the file is truncated or holds a record that is not a
            `PredictionLog`, naming the file.
    """
    from google.protobuf.message import DecodeError

    # gfile: the export may be in a bucket (gs://...).
    path = os.path.join(saved_model_dir, WARMUP_FILE)
    if not tf.io.gfile.exists(path) or tf.io.gfile.isdir(path):
        return []
    logs, size = [], 0
    try:
        for i, record in enumerate(tf.data.TFRecordDataset(path).as_numpy_iterator()):
            size += len(record) + _RECORD_OVERHEAD
            try:
                logs.append(prediction_log_pb2.PredictionLog.FromString(record))
            except DecodeError as exc:
                raise ValueError(f"{path}: record {i} is not a PredictionLog ({exc}); "
                                 "publish the export again") from None
    except tf.errors.OpError as exc:
        # TF's text starts with the op's name in braces and ends with it in brackets.
        reason = re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:.*$", "", first_line(exc.message))
        raise ValueError(f"{path} is corrupt ({reason}); publish the export again") from None
    # TF's reader stops quietly at a record cut short, which would read as fewer requests.
    length = tf.io.gfile.stat(path).length
    if size != length:
        raise ValueError(
            f"{path} is truncated: {len(logs)} whole records in {size} of its "
            f"{length} bytes; publish the export again"
        )
    return logs
