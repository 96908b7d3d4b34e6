"""Character-level language modelling on a TFDS text corpus."""

import math
import time

import numpy as np
import tensorflow as tf

from modelzoo import recipe, scoring
from modelzoo.data import pipelines
from modelzoo.data.loading import load_splits
from modelzoo.errors import DataError, UsageError, check_utf8
from modelzoo.text import chars

DATASETS = ("tiny_shakespeare",)


def greedy_next_char_accuracy(model, vocabulary, prompts, next_chars, batch_size=256):
    """Fraction of `prompts` whose likeliest next character is `next_chars`.

    What the export's greedy generator returns as its first character, from
    the in-memory model; prompts all have the same length.
    """
    ids = chars.char_ids(chars.char_table(vocabulary), prompts)
    logits = model.predict(ids.to_tensor(), batch_size=batch_size, verbose=0)
    predicted = [vocabulary[i] for i in np.argmax(logits[:, -1], axis=-1)]
    return float(np.mean([p == c for p, c in zip(predicted, next_chars)]))


def check_task_flags(flags_obj):
    """Raises `UsageError` for a bad generation flag, before any work.

    The sample flags are checked here, not by the export's call after
    training and publishing.
    """
    if flags_obj.sequence_length <= 1:
        raise UsageError(f"--sequence_length={flags_obj.sequence_length} must be an integer > 1")
    if math.isnan(flags_obj.sample_temperature):
        raise UsageError("--sample_temperature=nan must be a number; <= 0 is greedy")
    if flags_obj.sample_chars < 0:
        raise UsageError(f"--sample_chars={flags_obj.sample_chars} must be >= 0")
    if "sample_top_k" in flags_obj and flags_obj.sample_top_k < 0:
        raise UsageError(f"--sample_top_k={flags_obj.sample_top_k} must be >= 0; 0 is all")
    check_utf8("sample_prompt", flags_obj.sample_prompt)


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
    check_task_flags(flags_obj)
    name = flags_obj.name or f"shakespeare_{model_name.removesuffix('_generator')}"
    strategy = recipe.prepare(flags_obj, DATASETS, name, strategy_override)
    (train, test), _ = datasets_override or load_splits(
        flags_obj.dataset, ["train", "test"], flags_obj.data_dir, flags_obj.download,
        manual_dir=flags_obj.manual_dir,
        as_supervised=False,
    )
    train_text, test_text = pipelines.read_text(train), pipelines.read_text(test)
    # A split shorter than one sequence gives no example: training would
    # not run, or the metrics would be empty.
    for split, text in (("train", train_text), ("test", test_text)):
        if len(text) <= flags_obj.sequence_length:
            raise DataError(
                f"the {flags_obj.dataset} {split} split has {len(text)} characters; "
                f"it needs more than --sequence_length={flags_obj.sequence_length}"
            )
    vocabulary = chars.char_vocabulary(train_text)
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
    prompts, next_chars = scoring.next_char_windows(test_text, flags_obj.sequence_length, 1000)
    if prompts:
        metrics["next_char_accuracy"] = greedy_next_char_accuracy(
            model, vocabulary, prompts, next_chars)
    export_path, sample = recipe.publish_text_generator(
        flags_obj, name, model, vocabulary, strategy,
        recipe.card_facts(flags_obj, model, metrics, ["train", "test"]),
    )
    export_metrics = None
    if export_path and prompts:
        export_metrics = {"next_char_accuracy": scoring.generator_next_char_accuracy(
            export_path, prompts, next_chars)}
    summary = recipe.summarize(flags_obj, model_name, metrics, export_path, start, throughput,
                               sample=sample, export_metrics=export_metrics)
    summary["train_chars_per_s"] = summary.pop("train_examples_per_s", None)
    return summary
