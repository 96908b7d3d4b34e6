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
    archive = keras.export.ExportArchive()
    archive.track(model)
    for resource in resources:
        archive.track(resource)
    archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[tf.TensorSpec(shape, dtype, name=name) for name, dtype, shape in inputs],
    )
    archive.write_out(path, verbose=False)
    return path
