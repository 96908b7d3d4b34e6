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

    The export's inputs say what it is: pixel image classifiers take the
    first `count` test images of TFDS `dataset`; image-bytes classifiers
    take the files `image`; text classifiers take `text`; generators take
    `prompt`, `num_chars` and `temperature` (and `top_k` for a GPT);
    question answering takes `question` and `context`, one per question.

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

    path = export_path(model, version)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    specs = serve.structured_input_signature[1]
    inputs = set(specs)
    if inputs == {"images"} and specs["images"].dtype == tf.string:
        records = _image_files(serve, image)
    elif inputs == {"images"}:
        records = _test_images(serve, dataset, data_dir, count)
    elif inputs == {"text"}:
        if not text:
            raise UsageError("--text is needed for a text classifier")
        out = serve(text=tf.constant(text))
        records = [
            {"text": t, "label": label.decode(), "probability": round(float(p.max()), 4)}
            for t, label, p in zip(text, out["labels"].numpy(), out["probabilities"].numpy())
        ]
    elif inputs in ({"prompt", "num_chars", "temperature"},
                    {"prompt", "num_chars", "temperature", "top_k"}):
        if not prompt:
            raise UsageError("--prompt is needed for a text generator")
        n = len(prompt)
        extra = {"top_k": tf.fill([n], tf.constant(top_k, tf.int32))} if "top_k" in inputs else {}
        out = serve(
            prompt=tf.constant(prompt),
            num_chars=tf.fill([n], tf.constant(num_chars, tf.int32)),
            temperature=tf.fill([n], tf.constant(temperature, tf.float32)),
            **extra,
        )
        records = [
            {"prompt": p, "text": t.decode("utf-8", "replace")}
            for p, t in zip(prompt, out["text"].numpy())
        ]
    elif inputs == {"question", "context"}:
        if not question or not context or len(question) != len(context):
            raise UsageError(
                "question answering needs one --context per --question; "
                f"got {len(question or [])} questions and {len(context or [])} contexts"
            )
        try:
            out = serve(question=tf.constant(question), context=tf.constant(context))
        except tf.errors.InvalidArgumentError as e:
            raise UsageError(f"the model refused the request: {_refusal(e)}") from None
        records = [
            {"question": q, "answer": a.decode("utf-8", "replace"), "score": round(float(s), 4)}
            for q, a, s in zip(question, out["answer"].numpy(), out["score"].numpy())
        ]
    else:
        raise DataError(f"{path}: unrecognised serving_default inputs {sorted(inputs)}")
    return {"export_path": path, "predictions": records}


def _refusal(error):
    # The export's checks put their message first: "assertion failed: [every
    # context must be non-empty] [Condition ...".
    text = error.message
    if "assertion failed: [" in text:
        text = text.split("assertion failed: [", 1)[1].split("]", 1)[0]
    # tf.debugging's messages may end in ". " before their condition.
    return text.strip().splitlines()[0].strip().rstrip(".")


def _test_images(serve, dataset, data_dir, count):
    if not dataset:
        raise UsageError("--dataset is needed to feed test images to an image model")
    from modelzoo.data.loading import load_splits

    (test,), info = load_splits(dataset, [f"test[:{count}]"], data_dir, download=False)
    images, truth = next(iter(test.batch(count)))
    out = serve(images=images)
    names = info.features["label"].names
    return [
        {"label": label.decode(), "true_label": names[int(t)],
         "probability": round(float(p.max()), 4)}
        for label, t, p in zip(out["labels"].numpy(), truth.numpy(), out["probabilities"].numpy())
    ]


def _image_files(serve, files):
    import tensorflow as tf

    if not files:
        raise UsageError("--image FILE is needed for a model that takes image bytes")
    contents = []
    for name in files:
        try:
            with open(name, "rb") as f:
                contents.append(f.read())
        except OSError as e:
            raise UsageError(f"--image {name}: cannot be read ({e.strerror})") from None
    try:
        out = serve(images=tf.constant(contents))
    except tf.errors.InvalidArgumentError as e:
        raise DataError(f"--image: a file is not a JPEG, PNG, GIF or BMP image ({e.message})") from None
    return [
        {"image": name, "label": label.decode(), "probability": round(float(p.max()), 4)}
        for name, label, p in zip(files, out["labels"].numpy(), out["probabilities"].numpy())
    ]
