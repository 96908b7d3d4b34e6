"""Writing the `serving_default` SavedModel, the step every exporter ends with."""

import keras
import tensorflow as tf


def write_archive(path, model, serve, inputs, resources=()):
    """Writes `serve` as the `serving_default` signature of a SavedModel.

    Args:
        path: str. Directory to write; it must be empty or not exist.
        model: the Keras model whose variables `serve` uses.
        serve: the function to export, taking one tensor per input.
        inputs: sequence of `(name, tf.DType, shape)`, `serve`'s arguments.
        resources: other objects `serve` uses that the archive must track,
            e.g. lookup tables (resources, not variables: without this the
            save fails with "untracked resource", keras-hub#2015).

    Returns:
        `path`.
    """
    signature = [tf.TensorSpec(shape, dtype, name=name) for name, dtype, shape in inputs]
    return write_endpoints(path, model, {"serving_default": (serve, signature)}, resources)


def write_endpoints(path, model, endpoints, resources=()):
    """Writes each of `endpoints` as a signature of one SavedModel.

    Args:
        path: str. Directory to write; it must be empty or not exist.
        model: the Keras model whose variables the functions use.
        endpoints: dict signature name → `(function, input_signature)`, the
            signature a list of named `tf.TensorSpec`. Parameters of the
            function with tensor defaults become optional inputs: the
            SignatureDef records the defaults, and TF Serving accepts
            requests without them.
        resources: see `write_archive`.

    Returns:
        `path`.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    for resource in resources:
        archive.track(resource)
    for name, (function, signature) in endpoints.items():
        archive.add_endpoint(name, function, input_signature=signature)
    archive.write_out(path, verbose=False)
    return path
