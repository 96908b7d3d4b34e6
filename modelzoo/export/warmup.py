"""TF Serving warm-up records: `assets.extra/tf_serving_warmup_requests`.

TF Serving replays these requests when it loads a version, before it serves
it, so the first real request does not pay for the graph's set-up (for the
generators: the first run of the sampling loop). The file is a TFRecord of
`PredictionLog` protos, as TF Serving's "SavedModel Warmup" guide describes.
"""

import os

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

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


def read_warmup(saved_model_dir):
    """The `PredictionLog` protos of a SavedModel's warm-up file ([] if none)."""
    path = os.path.join(saved_model_dir, WARMUP_FILE)
    if not os.path.isfile(path):
        return []
    return [
        prediction_log_pb2.PredictionLog.FromString(record)
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator()
    ]
