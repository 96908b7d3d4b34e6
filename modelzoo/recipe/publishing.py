"""Publishing a trained model into --export_dir/<name>/--version."""

from modelzoo import distribute, export


def check_export_target(flags_obj, name):
    """Fails before training if the export could not be published."""
    export.check_target(flags_obj.export_dir, name, flags_obj.version)


def publish(flags_obj, strategy, publish_fn, *args, **kwargs):
    """Runs an `export.publish_*` function into --export_dir at --version.

    The step every recipe publishes with; the `publish_*` functions below
    wrap it for their export kinds. Under multi_worker every worker runs the
    export (the variables are read collectively), but only the chief's lands
    in --export_dir; the others write to a hidden sibling folder
    (`distribute.worker_dir`) that is removed afterwards.

    Args:
        flags_obj: parsed flags (`export_dir`, `version`).
        strategy: the `tf.distribute.Strategy` trained under.
        publish_fn: a function of `modelzoo.export` that takes
            `export_dir=` and `version=`, e.g. `export.publish_qa`.
        *args, **kwargs: its other arguments (model, name, example, card...).

    Returns:
        The published path on the chief, None on the other workers.
    """
    export_dir = distribute.worker_dir(flags_obj.export_dir, strategy)
    try:
        path = publish_fn(*args, export_dir=export_dir, version=flags_obj.version, **kwargs)
    finally:
        distribute.remove_worker_dir(export_dir, flags_obj.export_dir)
    return path if distribute.is_chief(strategy) else None


def publish_image_classifier(flags_obj, name, model, class_names, images, strategy, card=None):
    """Publishes `<export_dir>/<name>/<version>`, checked on real `images`."""
    return publish(
        flags_obj, strategy, export.publish_image_classifier,
        model, class_names, name=name, example=images.numpy(), card=card,
    )


def publish_text_classifier(
    flags_obj, name, model, vectorizer, class_names, texts, strategy, card=None
):
    """Publishes `<export_dir>/<name>/<version>`, checked on real `texts`."""
    return publish(
        flags_obj, strategy, export.publish_text_classifier,
        model, vectorizer, class_names, name=name, example=texts.numpy(), card=card,
    )
