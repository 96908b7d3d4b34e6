"""Calling an exported model's `serving_default`, as TF Serving would."""

import os

from modelzoo import storage
from modelzoo.errors import DataError, ModelzooError, UsageError, first_line


def version_path(model_dir, version=None, argument="--model"):
    """Returns `<model_dir>/<version>`, by default the largest, as TF Serving picks.

    `model_dir` may also be a version folder itself (`<export_dir>/<name>/3`),
    as `inspect` takes it; then `version`, if given, must be its number.
    `argument` names the command-line argument in the error messages.

    Raises:
        UsageError: naming what is wrong with --model or --version.
    """
    if not os.path.exists(model_dir):
        raise UsageError(f"{argument} {model_dir} does not exist; pass <export_dir>/<name>"
                         f"{_exports_beside(model_dir)}")
    if not os.path.isdir(model_dir):
        raise UsageError(f"{argument} {model_dir} is a file; pass the folder <export_dir>/<name>")
    if os.path.isfile(os.path.join(model_dir, "saved_model.pb")):
        name = os.path.basename(os.path.normpath(model_dir))
        if version is not None and str(version) != name:
            raise UsageError(
                f"--version {version} does not match {argument} {model_dir}, a version folder; "
                f"pass --model {os.path.dirname(os.path.normpath(model_dir))} --version {version}"
            )
        return model_dir
    try:
        version, _ = storage.resolve_version(model_dir, version, argument)
    except UsageError:
        raise
    except ModelzooError as e:  # it cannot be listed
        raise UsageError(f"{argument} {model_dir} cannot be listed ({e.__cause__.strerror})") from None
    return os.path.join(model_dir, str(version))


def _exports_beside(model_dir):
    """"; <parent> holds the exports a, b" if the missing `model_dir`'s folder has some."""
    parent = os.path.dirname(os.path.normpath(model_dir)) or "."
    try:
        names = sorted(
            n for n in os.listdir(parent)
            if not n.startswith(".") and storage.list_versions(os.path.join(parent, n))
        )
    except (OSError, ModelzooError):
        return ""
    if not names:
        return ""
    return f"; {parent} holds the exports {', '.join(names)}"


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


def _card(path):
    # An unreadable card only loses its facts: the export still serves.
    from modelzoo.export.model_card import read_card

    try:
        return read_card(path) or {}
    except ValueError:
        return {}


def card_dataset(path):
    """The dataset name the export's model card records, or None."""
    name = (_card(path).get("dataset") or {}).get("name")
    return name if isinstance(name, str) and name else None


def card_kind(path):
    """The export kind its model card records, or None (no card, or an older one)."""
    kind = _card(path).get("kind")
    return kind if isinstance(kind, str) else None


def load_serving(path):
    """The `serving_default` of the SavedModel at `path`.

    Raises:
        DataError: the export cannot be loaded (a truncated or corrupt
            file), naming it and the fix.
    """
    import tensorflow as tf

    from modelzoo.export.verify import ServedSignature

    try:
        # As a TF Serving client sees it: the required inputs say what the export
        # is; optional ones (e.g. a generator's top_p, seed, stop) may be left out.
        return ServedSignature(path, loaded=tf.saved_model.load(path))
    except KeyError:
        raise DataError(f"{path}: the SavedModel has no serving_default signature") from None
    except Exception as exc:  # noqa: BLE001 - TF raises many types for a corrupt file
        raise DataError(
            f"{path}: cannot load the SavedModel ({type(exc).__name__}: {first_line(exc)}); "
            "it is corrupt: publish it again, or pass another --version"
        ) from None


def check_image_dataset(dataset, data_dir, count, images_spec):
    """Checks that TFDS `dataset` can feed `count` test images to a pixel export.

    Everything is read from the dataset's registered info, before its
    examples are.

    Args:
        dataset: str. The TFDS name.
        data_dir: str or None. The TFDS data directory.
        count: int. Test images asked for.
        images_spec: the export's `images` `tf.TensorSpec`.

    Raises:
        UsageError: an unknown dataset, one without images of the export's
            shape, or fewer test images than `count`.
        DataError: the dataset is not prepared in `data_dir`.
    """
    import tensorflow_datasets as tfds

    from modelzoo.data.loading import IMPORT_HINTS

    known = ", ".join(sorted(IMPORT_HINTS))
    try:
        builder = tfds.builder(dataset, data_dir=data_dir)
    except (tfds.core.registered.DatasetNotFoundError, ValueError):
        raise UsageError(
            f"--dataset={dataset!r} is not a TFDS dataset; modelzoo's datasets are: {known}"
        ) from None
    feature = builder.info.features["image"] if "image" in builder.info.features else None
    want = tuple(images_spec.shape[1:])
    if feature is None or len(feature.shape) != len(want) or any(
            w is not None and d is not None and w != d for d, w in zip(feature.shape, want)):
        has = "no images" if feature is None else f"images of shape {list(feature.shape)}"
        raise UsageError(
            f"--dataset={dataset} has {has}; this export takes images of shape "
            f"{[None if d is None else int(d) for d in want]}: pass the dataset it was trained on"
        )
    if not builder.is_prepared():
        hint = IMPORT_HINTS.get(dataset, f"tfds build {dataset} on a machine with network")
        raise DataError(
            f"dataset {dataset!r} is not prepared in {builder.data_dir}; import it with "
            f"`{hint} --data_dir DIR` and pass --data_dir DIR"
        )
    test = builder.info.splits["test"].num_examples if "test" in builder.info.splits else 0
    if count > test:
        raise UsageError(f"--count={count} is more than the {test} test images of {dataset}; "
                         f"pass at most {test}")


def predict(model, version=None, dataset=None, data_dir=None, count=1, text=None,
            prompt=None, num_chars=200, temperature=0.5, top_k=0, image=None,
            question=None, context=None):
    """Calls `serving_default` of an export on real inputs.

    A pixel image export without `dataset` takes the one its model card
    records, and the dataset is checked (known, images of the export's
    shape, prepared, at least `count` test images) before it is read.

    The export's inputs say what it is, as they do to a TF Serving client:
    the client whose `serves` recognises them (`modelzoo.clients`) reads the
    request. Pixel image classifiers take the first `count` test images of
    TFDS `dataset`; image-bytes classifiers take the files `image`; text
    classifiers take `text`; generators take `prompt`, `num_chars` and
    `temperature` (and `top_k` for a GPT); question answering takes
    `question` and `context`, one per question.

    Args:
        model: str. `<export_dir>/<name>`, the folder of versions, or one
            version folder.
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
    import tensorflow_text  # noqa: F401 - the ops a QA export's tokenizer uses

    from modelzoo.clients import client_for

    path = export_path(model, version)
    serve = load_serving(path)
    specs = serve.structured_input_signature[1]
    client = client_for(specs, card_kind(path))
    if client is None:
        raise DataError(f"{path}: unrecognised serving_default inputs {sorted(specs)}")
    if client.kind == "image":
        dataset = dataset or card_dataset(path)
        if dataset:
            check_image_dataset(dataset, data_dir, count, specs["images"])
    request = dict(dataset=dataset, data_dir=data_dir, count=count, text=text, prompt=prompt,
                   num_chars=num_chars, temperature=temperature, top_k=top_k, image=image,
                   question=question, context=context)
    return {"export_path": path, "predictions": client.predict(serve, request)}
