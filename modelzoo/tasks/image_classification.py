"""Image classification on MNIST-like TFDS datasets."""

import time

from modelzoo import recipe, scoring
from modelzoo.data import pipelines
from modelzoo.data.loading import load_splits

DATASETS = ("mnist", "fashion_mnist")


def run(flags_obj, model_name, model_kwargs, datasets_override=None, strategy_override=None):
    """Trains `model_name` on --dataset, evaluates, exports, and summarizes.

    Args:
        flags_obj: parsed flags (see `recipe.define_common_flags`).
        model_name: str. A registered image model, e.g. `"mlp"`.
        model_kwargs: dict of builder arguments from the recipe's own flags.
        datasets_override: `((train, test), info)` as `load_splits` returns,
            to train on injected data.
        strategy_override: a `tf.distribute.Strategy` to use instead of
            --strategy.

    Returns:
        The summary dict the recipe prints as JSON.
    """
    start = time.time()
    name = flags_obj.name or f"{flags_obj.dataset}_{model_name}"
    strategy = recipe.prepare(flags_obj, DATASETS, name, strategy_override)
    (train, test), info = datasets_override or load_splits(
        flags_obj.dataset, ["train", "test"], flags_obj.data_dir, flags_obj.download,
        manual_dir=flags_obj.manual_dir,
    )
    class_names = info.features["label"].names
    train_ds = pipelines.image_pipeline(
        train, flags_obj.batch_size, True, flags_obj.seed, flags_obj.max_train_examples
    )
    test_ds = pipelines.image_pipeline(
        test, flags_obj.batch_size, False, max_examples=flags_obj.max_eval_examples
    )
    model = recipe.build_and_compile(
        flags_obj, strategy, model_name, recipe.count(train_ds),
        input_shape=info.features["image"].shape,
        num_classes=len(class_names),
        rescale=1 / 255,
        **model_kwargs,
    )
    examples = recipe.count(pipelines.take(train, flags_obj.max_train_examples))
    metrics, throughput = recipe.fit_and_evaluate(
        model, train_ds, test_ds, flags_obj, strategy, examples
    )
    images, _ = next(iter(test.batch(8)))
    card = recipe.card_facts(flags_obj, model, metrics, ["train", "test"])
    export_path = recipe.publish_image_classifier(
        flags_obj, name, model, class_names, images, strategy, card)
    export_metrics = scoring.classifier_export_metrics(
        export_path, "images", test, flags_obj.max_eval_examples)
    return recipe.summarize(flags_obj, model_name, metrics, export_path, start, throughput,
                            export_metrics=export_metrics)
