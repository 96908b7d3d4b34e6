"""Character-level language modelling on a TFDS text corpus."""

import time

from modelzoo import recipe
from modelzoo.data import pipelines
from modelzoo.data.loading import load_splits
from modelzoo.errors import DataError, UsageError

DATASETS = ("tiny_shakespeare",)


def run(flags_obj, model_name, model_kwargs, datasets_override=None, strategy_override=None):
    """Trains a character model, evaluates, exports, and writes a sample.

    Args:
        flags_obj: parsed flags; besides the common ones, `sequence_length`,
            `sample_prompt`, `sample_chars` and `sample_temperature`.
        model_name: str. A registered generator, e.g. `"lstm_generator"`.
        model_kwargs: dict of builder arguments from the recipe's own flags.
        datasets_override: `((train, test), info)` as `load_splits` returns
            with `as_supervised=False` (examples are `{"text": string}`).
        strategy_override: a `tf.distribute.Strategy` instead of --strategy.

    Returns:
        The summary dict the recipe prints as JSON, with the sample text.
    """
    start = time.time()
    if flags_obj.sequence_length <= 1:
        raise UsageError(f"--sequence_length={flags_obj.sequence_length} must be an integer > 1")
    name = flags_obj.name or f"shakespeare_{model_name.removesuffix('_generator')}"
    strategy = recipe.prepare(flags_obj, DATASETS, name, strategy_override)
    (train, test), _ = datasets_override or load_splits(
        flags_obj.dataset, ["train", "test"], flags_obj.data_dir, flags_obj.download,
        as_supervised=False,
    )
    train_text, test_text = pipelines.read_text(train), pipelines.read_text(test)
    if len(train_text) <= flags_obj.sequence_length:
        raise DataError(
            f"the {flags_obj.dataset} train split has {len(train_text)} characters; "
            f"it needs more than --sequence_length={flags_obj.sequence_length}"
        )
    vocabulary = pipelines.char_vocabulary(train_text)
    sequences = dict(vocabulary=vocabulary, sequence_length=flags_obj.sequence_length,
                     batch_size=flags_obj.batch_size)
    train_ds = pipelines.char_sequences(
        train_text, training=True, seed=flags_obj.seed,
        max_examples=flags_obj.max_train_examples, **sequences,
    )
    test_ds = pipelines.char_sequences(
        test_text, training=False, max_examples=flags_obj.max_eval_examples, **sequences
    )
    model = recipe.build_and_compile(
        flags_obj, strategy, model_name, recipe.count(train_ds),
        vocab_size=len(vocabulary), **model_kwargs,
    )
    num_sequences = len(train_text) // (flags_obj.sequence_length + 1)
    if flags_obj.max_train_examples:
        num_sequences = min(num_sequences, flags_obj.max_train_examples)
    chars_per_epoch = num_sequences * flags_obj.sequence_length
    metrics, throughput = recipe.fit_and_evaluate(
        model, train_ds, test_ds, flags_obj, strategy, chars_per_epoch
    )
    export_path, sample = recipe.publish_text_generator(
        flags_obj, name, model, vocabulary, strategy,
        recipe.card_facts(flags_obj, model, metrics, ["train", "test"]),
    )
    summary = recipe.summarize(flags_obj, model_name, metrics, export_path, start, throughput,
                               sample=sample)
    summary["train_chars_per_s"] = summary.pop("train_examples_per_s", None)
    return summary
