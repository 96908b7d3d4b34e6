"""Calling an exported model's `serving_default`, as TF Serving would."""

import os

from modelzoo.errors import DataError, UsageError


def version_path(model_dir, version=None, argument="--model"):
    """Returns `<model_dir>/<version>`, by default the largest, as TF Serving picks.

    `argument` names the command-line argument in the error messages.

    Raises:
        UsageError: naming what is wrong with --model or --version.
    """
    if not os.path.exists(model_dir):
        raise UsageError(f"{argument} {model_dir} does not exist; pass <export_dir>/<name>")
    if not os.path.isdir(model_dir):
        raise UsageError(f"{argument} {model_dir} is a file; pass the folder <export_dir>/<name>")
    if os.path.isfile(os.path.join(model_dir, "saved_model.pb")):
        parent, name = os.path.split(os.path.normpath(model_dir))
        hint = f"--model {parent} --version {name}" if name.isdigit() else f"--model {parent}"
        raise UsageError(
            f"{argument} {model_dir} is a version folder, not the folder of versions; pass {hint}"
        )
    try:
        versions = sorted(int(n) for n in os.listdir(model_dir) if n.isascii() and n.isdigit())
    except OSError as e:
        raise UsageError(f"{argument} {model_dir} cannot be listed ({e.strerror})") from None
    if not versions:
        raise UsageError(f"{argument} {model_dir} holds no exported version; run a recipe first")
    if version is None:
        version = versions[-1]
    elif version not in versions:
        raise UsageError(
            f"--version {version} does not exist in {model_dir}; it holds "
            f"{', '.join(map(str, versions))}"
        )
    return os.path.join(model_dir, str(version))


def export_path(model, version=None):
    """The SavedModel `predict` calls: `<model>/<version>`, or the latest."""
    path = version_path(model, version)
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise UsageError(f"--model/--version: {path} is not a SavedModel")
    return path


def card_summary(path):
    """The one-line summary of the export's model card, never failing."""
    from modelzoo.export.model_card import read_card, summary_line

    try:
        return summary_line(read_card(path))
    except ValueError as exc:
        return f"unreadable model card ({exc})"


def predict(model, version=None, dataset=None, data_dir=None, count=1, text=None,
            prompt=None, num_chars=200, temperature=0.5, top_k=0, image=None,
            question=None, context=None):
    """Calls `serving_default` of an export on real inputs.

    The export's inputs say what it is, as they do to a TF Serving client:
    the task whose `serves` recognises them (`modelzoo.tasks`) reads the
    request. Pixel image classifiers take the first `count` test images of
    TFDS `dataset`; image-bytes classifiers take the files `image`; text
    classifiers take `text`; generators take `prompt`, `num_chars` and
    `temperature` (and `top_k` for a GPT); question answering takes
    `question` and `context`, one per question.

    Args:
        model: str. `<export_dir>/<name>`, the folder of versions.
        version: int or None for the latest.
        dataset: str. TFDS dataset of test images, for pixel image exports.
        data_dir: str or None. TFDS data directory.
        count: int. Number of test images.
        text: list of str, for text classifiers.
        prompt: list of str, for generators.
        num_chars: int. Characters to generate.
        temperature: float. Sampling temperature; <= 0 is greedy.
        top_k: int. GPT only: sample among the k likeliest; 0 is all.
        image: list of image file paths (JPEG, PNG, GIF, BMP), for
            image-bytes classifiers.
        question: list of str, for question answering.
        context: list of str, one per question.

    Returns:
        A dict with the export path and one record per input.
    """
    import tensorflow as tf
    import tensorflow_text  # noqa: F401 - the ops a QA export's tokenizer uses

    from modelzoo.export.verify import ServedSignature
    from modelzoo.tasks.base import task_serving

    path = export_path(model, version)
    # As a TF Serving client sees it: the required inputs say what the export
    # is; optional ones (e.g. a generator's top_p, seed, stop) may be left out.
    serve = ServedSignature(path, loaded=tf.saved_model.load(path))
    specs = serve.structured_input_signature[1]
    task = task_serving(specs)
    if task is None:
        raise DataError(f"{path}: unrecognised serving_default inputs {sorted(specs)}")
    request = dict(dataset=dataset, data_dir=data_dir, count=count, text=text, prompt=prompt,
                   num_chars=num_chars, temperature=temperature, top_k=top_k, image=image,
                   question=question, context=context)
    return {"export_path": path, "predictions": task.predict(serve, request)}
