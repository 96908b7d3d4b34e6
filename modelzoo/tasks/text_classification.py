"""Text classification on IMDB reviews with a Transformer encoder."""

import time

from modelzoo import recipe, scoring
from modelzoo.data import pipelines
from modelzoo.data.loading import load_splits
from modelzoo.errors import UsageError

DATASETS = ("imdb_reviews",)


def run(flags_obj, model_name, model_kwargs, datasets_override=None, strategy_override=None):
    """Learns a vocabulary, trains, evaluates, exports, and summarizes.

    Args:
        flags_obj: parsed flags; besides the common ones, `vocab_size` and
            `sequence_length`.
        model_name: str. A registered text classifier, e.g. `"transformer"`.
        model_kwargs: dict of builder arguments from the recipe's own flags.
        datasets_override: `((train, test), info)` as `load_splits` returns.
        strategy_override: a `tf.distribute.Strategy` instead of --strategy.

    Returns:
        The summary dict the recipe prints as JSON.
    """
    start = time.time()
    for flag in ("vocab_size", "sequence_length"):
        if getattr(flags_obj, flag) <= 2:
            raise UsageError(f"--{flag}={getattr(flags_obj, flag)} must be an integer > 2")
    name = flags_obj.name or f"imdb_{model_name}"
    strategy = recipe.prepare(flags_obj, DATASETS, name, strategy_override)
    (train, test), info = datasets_override or load_splits(
        flags_obj.dataset, ["train", "test"], flags_obj.data_dir, flags_obj.download,
        manual_dir=flags_obj.manual_dir,
    )
    class_names = info.features["label"].names
    train = pipelines.take(train, flags_obj.max_train_examples)
    # The vocabulary comes from the training split only.
    vectorizer = pipelines.make_vectorizer(
        train.map(lambda text, label: text), flags_obj.vocab_size
    )
    pipeline_args = dict(vectorizer=vectorizer, sequence_length=flags_obj.sequence_length,
                         batch_size=flags_obj.batch_size)
    train_ds = pipelines.text_classification_pipeline(
        train, training=True, seed=flags_obj.seed, **pipeline_args
    )
    test_ds = pipelines.text_classification_pipeline(
        test, training=False, max_examples=flags_obj.max_eval_examples, **pipeline_args
    )
    model = recipe.build_and_compile(
        flags_obj, strategy, model_name, recipe.count(train_ds),
        vocab_size=vectorizer.vocabulary_size(),
        sequence_length=flags_obj.sequence_length,
        num_classes=len(class_names),
        **model_kwargs,
    )
    metrics, throughput = recipe.fit_and_evaluate(
        model, train_ds, test_ds, flags_obj, strategy, recipe.count(train)
    )
    texts, _ = next(iter(test.batch(8)))
    export_path = recipe.publish_text_classifier(
        flags_obj, name, model, vectorizer, class_names, texts, strategy,
        recipe.card_facts(flags_obj, model, metrics, ["train", "test"]),
    )
    export_metrics = scoring.classifier_export_metrics(
        export_path, "text", test, flags_obj.max_eval_examples)
    return recipe.summarize(flags_obj, model_name, metrics, export_path, start, throughput,
                            export_metrics=export_metrics)
