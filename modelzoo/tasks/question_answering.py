"""Extractive question answering on SQuAD with a Transformer encoder."""

import collections
import time

import numpy as np
import tensorflow as tf
from absl import logging

from modelzoo import recipe, scoring
from modelzoo.data import pipelines
from modelzoo.data.loading import load_splits
from modelzoo.errors import UsageError
from modelzoo.export.qa import RESERVED, QaProcessor, publish_qa, tokenize
from modelzoo.squad_eval import squad_scores

DATASETS = ("squad",)


def locate_answer(context, answers, answer_starts):
    """Byte span `(start, end)` of the first answer found in `context`.

    An answer is taken where the dataset says (character offset) if the text
    matches there, else at its first occurrence; empty answers are ignored.

    Args:
        context: str.
        answers: list of str.
        answer_starts: list of int, character offsets, one per answer (the
            lists may differ in length; extra entries are ignored).

    Returns:
        `(start, end)` byte offsets, or `None` if no answer is in the context.
    """
    found = None
    for answer, char_start in zip(answers, answer_starts):
        if answer.strip() and context[char_start : char_start + len(answer)] == answer:
            found = char_start, answer
            break
    else:
        for answer in answers:
            at = context.find(answer) if answer.strip() else -1
            if at >= 0:
                found = at, answer
                break
    if found is None:
        return None
    start = len(context[: found[0]].encode("utf-8"))
    return start, start + len(found[1].encode("utf-8"))


def read_examples(ds, max_examples=None):
    """Reads a TFDS `squad` split into arrays, locating each answer.

    Returns:
        A dict of numpy arrays: `question`, `context` (bytes), `answer_start`
        and `answer_end` (byte offsets, -1 when not located), and `answers`
        (a list of the gold answer lists, str).
    """
    columns = collections.defaultdict(list)
    for example in pipelines.take(ds, max_examples).as_numpy_iterator():
        context = example["context"].decode("utf-8")
        answers = [a.decode("utf-8") for a in example["answers"]["text"]]
        span = locate_answer(context, answers, example["answers"]["answer_start"].tolist())
        columns["question"].append(example["question"])
        columns["context"].append(example["context"])
        columns["answer_start"].append(-1 if span is None else span[0])
        columns["answer_end"].append(-1 if span is None else span[1])
        columns["answers"].append(answers)
    examples = {}
    for key in ("question", "context"):
        examples[key] = np.empty(len(columns[key]), dtype=object)
        examples[key][:] = columns[key]
    for key in ("answer_start", "answer_end"):
        examples[key] = np.asarray(columns[key], "int64")
    examples["answers"] = columns["answers"]
    return examples


def keep_located(examples):
    """Drops examples whose answer was not located; returns `(examples, dropped)`.

    If no answer at all was located (as in mock data), every example is
    kept with its answer at `[CLS]`, so the pipeline still has data.
    """
    located = examples["answer_start"] >= 0
    if not located.any():
        logging.warning("no answer could be located in its context; training on [CLS] labels")
        return examples, 0
    kept = {k: v[located] for k, v in examples.items() if k != "answers"}
    kept["answers"] = [a for a, ok in zip(examples["answers"], located) if ok]
    return kept, int((~located).sum())


def learn_vocabulary(examples, vocab_size):
    """The `vocab_size` most frequent tokens of the questions and contexts.

    Each distinct context counts once. Ties are broken by the token bytes,
    so the vocabulary is the same on every run.

    Returns:
        A list of str: `RESERVED`, then the words.
    """
    texts = list(dict.fromkeys(examples["context"].tolist())) + examples["question"].tolist()
    counts = collections.Counter()
    ds = tf.data.Dataset.from_tensor_slices(np.asarray(texts, dtype=object)).batch(512)
    for tokens in ds.map(lambda t: tokenize(t)[0].flat_values).as_numpy_iterator():
        counts.update(tokens.tolist())
    words = sorted(counts, key=lambda w: (-counts[w], w))[: vocab_size - len(RESERVED)]
    return RESERVED + [w.decode("utf-8") for w in words]


def windows_dataset(processor, examples, batch_size, training, seed=None):
    """Batches of `(token_ids [b, L], span labels [b, 2])`, several windows per example."""

    def encode(question, context, answer_start, answer_end):
        encoded = processor.encode(question, context)
        return encoded["token_ids"], processor.labels(encoded, answer_start, answer_end)

    ds = tf.data.Dataset.from_tensor_slices(
        tuple(examples[k] for k in ("question", "context", "answer_start", "answer_end"))
    )
    ds = ds.batch(256).map(encode, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    # Counting the windows once gives Keras the epoch length (and the
    # learning rate schedule its number of steps).
    windows = int(ds.reduce(np.int64(0), lambda count, _: count + 1))
    ds = ds.apply(tf.data.experimental.assert_cardinality(windows))
    return pipelines.finish(ds, batch_size, training, seed)


def predict_answers(model, processor, questions, contexts, batch_size=64):
    """The exported computation, run in process: answers as str."""
    spec = tf.TensorSpec([None], tf.string)
    answer = tf.function(lambda q, c: processor.answer(model, q, c)["answer"],
                         input_signature=[spec, spec])
    out = []
    for i in range(0, len(questions), batch_size):
        texts = answer(tf.constant(questions[i : i + batch_size]),
                       tf.constant(contexts[i : i + batch_size]))
        out += [t.decode("utf-8", "replace") for t in texts.numpy()]
    return out


def run(flags_obj, model_name, model_kwargs, datasets_override=None, strategy_override=None):
    """Learns a vocabulary, trains, evaluates (EM/F1), exports, and summarizes.

    Args:
        flags_obj: parsed flags; besides the common ones, `vocab_size`,
            `sequence_length`, `max_question_tokens`, `doc_stride` and
            `max_answer_tokens`.
        model_name: str. A registered span model, e.g. `"qa"`.
        model_kwargs: dict of builder arguments from the recipe's own flags.
        datasets_override: `((train, validation), info)` as `load_splits`
            returns with `as_supervised=False`.
        strategy_override: a `tf.distribute.Strategy` instead of --strategy.

    Returns:
        The summary dict the recipe prints as JSON.
    """
    start = time.time()
    if flags_obj.vocab_size <= len(RESERVED):
        raise UsageError(f"--vocab_size={flags_obj.vocab_size} must be an integer > 4")
    windowing = dict(
        sequence_length=flags_obj.sequence_length,
        max_question_tokens=flags_obj.max_question_tokens,
        doc_stride=flags_obj.doc_stride,
        max_answer_tokens=flags_obj.max_answer_tokens,
    )
    try:  # Checks the windowing flags before any data is read.
        QaProcessor(RESERVED + ["a"], **windowing)
    except ValueError as e:
        raise UsageError(str(e)) from None
    name = flags_obj.name or f"squad_{model_name}"
    strategy = recipe.prepare(flags_obj, DATASETS, name, strategy_override)
    (train, test), _ = datasets_override or load_splits(
        flags_obj.dataset, ["train", "validation"], flags_obj.data_dir, flags_obj.download,
        manual_dir=flags_obj.manual_dir,
        as_supervised=False,
    )
    train_examples, skipped = keep_located(read_examples(train, flags_obj.max_train_examples))
    test_examples = read_examples(test, flags_obj.max_eval_examples)
    processor = QaProcessor(learn_vocabulary(train_examples, flags_obj.vocab_size), **windowing)
    train_ds = windows_dataset(processor, train_examples, flags_obj.batch_size, True, flags_obj.seed)
    test_ds = windows_dataset(processor, test_examples, flags_obj.batch_size, False)
    model = recipe.build_and_compile(
        flags_obj, strategy, model_name, recipe.count(train_ds),
        vocab_size=len(processor.vocabulary), sequence_length=flags_obj.sequence_length,
        **model_kwargs,
    )
    metrics, throughput = recipe.fit_and_evaluate(
        model, train_ds, test_ds, flags_obj, strategy, len(train_examples["question"])
    )
    questions, contexts = test_examples["question"], test_examples["context"]
    predictions = predict_answers(model, processor, questions, contexts)
    metrics.update(squad_scores(predictions, test_examples["answers"]))
    example = [[t.decode("utf-8") for t in texts[:8]] for texts in (questions, contexts)]
    export_path = recipe._publish(
        flags_obj, strategy, publish_qa, model, processor, name=name, example=example,
        card=recipe.card_facts(flags_obj, model, metrics, ["train", "validation"]),
    )
    export_metrics = None
    if export_path:
        answers = scoring.qa_answers(export_path, questions, contexts)
        export_metrics = squad_scores(answers, test_examples["answers"])
    return recipe.summarize(
        flags_obj, model_name, metrics, export_path, start, throughput,
        skipped_examples=skipped, vocab_size=len(processor.vocabulary),
        export_metrics=export_metrics,
    )
