"""Calling an exported model's `serving_default`, as TF Serving would."""

import os

from modelzoo.errors import DataError, UsageError


def latest_version(model_dir):
    """Returns `<model_dir>/<largest integer version>`, as TF Serving picks."""
    try:
        versions = [int(n) for n in os.listdir(model_dir) if n.isdigit()]
    except OSError:
        versions = []
    if not versions:
        raise UsageError(f"--model {model_dir} holds no exported version; run a recipe first")
    return os.path.join(model_dir, str(max(versions)))


def predict(model, version=None, dataset=None, data_dir=None, count=1, text=None,
            prompt=None, num_chars=200, temperature=0.5):
    """Calls `serving_default` of an export on real inputs.

    Image exports take the first `count` test images of TFDS `dataset`; text
    classifiers take `text`; generators take `prompt`, `num_chars` and
    `temperature`.

    Args:
        model: str. `<export_dir>/<name>`, the folder of versions.
        version: int or None for the latest.
        dataset: str. TFDS dataset of test images, for image exports.
        data_dir: str or None. TFDS data directory.
        count: int. Number of test images.
        text: list of str, for text classifiers.
        prompt: list of str, for generators.
        num_chars: int. Characters to generate.
        temperature: float. Sampling temperature; <= 0 is greedy.

    Returns:
        A dict with the export path and one record per input.
    """
    import tensorflow as tf

    path = os.path.join(model, str(version)) if version else latest_version(model)
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise UsageError(f"--model/--version: {path} is not a SavedModel")
    serve = tf.saved_model.load(path).signatures["serving_default"]
    inputs = set(serve.structured_input_signature[1])
    if inputs == {"images"}:
        if not dataset:
            raise UsageError("--dataset is needed to feed test images to an image model")
        from modelzoo.data.loading import load_splits

        (test,), info = load_splits(dataset, [f"test[:{count}]"], data_dir, download=False)
        images, truth = next(iter(test.batch(count)))
        out = serve(images=images)
        names = info.features["label"].names
        records = [
            {"label": label.decode(), "true_label": names[int(t)],
             "probability": round(float(p.max()), 4)}
            for label, t, p in zip(out["labels"].numpy(), truth.numpy(), out["probabilities"].numpy())
        ]
    elif inputs == {"text"}:
        if not text:
            raise UsageError("--text is needed for a text classifier")
        out = serve(text=tf.constant(text))
        records = [
            {"text": t, "label": label.decode(), "probability": round(float(p.max()), 4)}
            for t, label, p in zip(text, out["labels"].numpy(), out["probabilities"].numpy())
        ]
    elif inputs == {"prompt", "num_chars", "temperature"}:
        if not prompt:
            raise UsageError("--prompt is needed for a text generator")
        n = len(prompt)
        out = serve(
            prompt=tf.constant(prompt),
            num_chars=tf.fill([n], tf.constant(num_chars, tf.int32)),
            temperature=tf.fill([n], tf.constant(temperature, tf.float32)),
        )
        records = [
            {"prompt": p, "text": t.decode("utf-8", "replace")}
            for p, t in zip(prompt, out["text"].numpy())
        ]
    else:
        raise DataError(f"{path}: unrecognised serving_default inputs {sorted(inputs)}")
    return {"export_path": path, "predictions": records}
