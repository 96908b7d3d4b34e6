"""Extractive question answering on SQuAD with a Transformer encoder."""

import collections
import functools

import numpy as np
import tensorflow as tf
from absl import logging

from modelzoo import recipe, scoring
from modelzoo.data import pipelines
from modelzoo.errors import UsageError
from modelzoo.export.qa import publish_qa
from modelzoo.models import bert
from modelzoo.squad_eval import squad_scores
from modelzoo.tasks.base import Data, Task, read_splits, run_task
from modelzoo.text import wordpiece
from modelzoo.text.qa_processor import QaProcessor

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
    """A WordPiece vocabulary learned from the questions and contexts.

    Each distinct context counts once. TF Text's learner is deterministic,
    so the vocabulary is the same on every run.

    Returns:
        A list of str: `wordpiece.RESERVED`, then the pieces.
    """
    texts = list(dict.fromkeys(examples["context"].tolist())) + examples["question"].tolist()
    return wordpiece.learn_vocabulary(
        tf.data.Dataset.from_tensor_slices(np.asarray(texts, dtype=object)), vocab_size
    )


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


def read_pretrained(flags_obj):
    """`(vocabulary, encoder sizes)` of --init_checkpoint, or None without one.

    The encoder's sizes come from the checkpoint; --dropout stays a
    fine-tuning choice.

    Raises:
        UsageError: the checkpoint is unreadable, or a size flag given on
            the command line (or --sequence_length) differs from it.
    """
    if not flags_obj.init_checkpoint:
        return None
    try:
        config, vocabulary = bert.read_checkpoint(flags_obj.init_checkpoint)
    except ValueError as e:
        raise UsageError(f"--init_checkpoint: {e}") from None
    if config["sequence_length"] != flags_obj.sequence_length:
        raise UsageError(
            f"--sequence_length={flags_obj.sequence_length} differs from the checkpoint's "
            f"{config['sequence_length']}; drop the flag or pre-train at that length"
        )
    sizes = {}
    for key in ("embed_dim", "num_heads", "ff_dim", "num_layers", "token_match"):
        if flags_obj[key].present and flags_obj[key].value != config.get(key, False):
            raise UsageError(
                f"--{key}={flags_obj[key].value} differs from the checkpoint's {config.get(key)}; "
                "the encoder's sizes come from --init_checkpoint, drop the flag"
            )
        sizes[key] = config.get(key, False)
    return vocabulary, sizes


class QuestionAnswering(Task):
    """Question and context in, answer span out; tokenizing and windowing are in the export.

    The vocabulary is learned from the train contexts and questions, or read
    from --init_checkpoint with the encoder's sizes and weights.
    """

    datasets = DATASETS

    def check_flags(self, flags_obj):
        self.windowing = dict(
            sequence_length=flags_obj.sequence_length,
            max_question_tokens=flags_obj.max_question_tokens,
            doc_stride=flags_obj.doc_stride,
            max_answer_tokens=flags_obj.max_answer_tokens,
        )
        try:  # Checks the windowing flags before any data is read.
            QaProcessor(wordpiece.RESERVED + ["a"], **self.windowing)
        except ValueError as e:
            raise UsageError(str(e)) from None
        self.pretrained = read_pretrained(flags_obj)
        if self.pretrained is None and flags_obj.vocab_size <= len(wordpiece.RESERVED):
            raise UsageError(
                f"--vocab_size={flags_obj.vocab_size} must be an integer > {len(wordpiece.RESERVED)}"
            )

    def export_name(self, flags_obj, model_name):
        return f"squad_{model_name}"

    def splits(self, flags_obj):
        return ["train", "validation"]

    def load(self, flags_obj, datasets_override):
        """`datasets_override`: `((train, validation), info)` as `load_splits`
        returns with `as_supervised=False`."""
        (train, test), _ = read_splits(
            flags_obj, ["train", "validation"], datasets_override, as_supervised=False)
        train_examples, skipped = keep_located(read_examples(train, flags_obj.max_train_examples))
        test_examples = read_examples(test, flags_obj.max_eval_examples)
        model_kwargs, initialize = {}, None
        if self.pretrained is None:
            vocabulary = learn_vocabulary(train_examples, flags_obj.vocab_size)
        else:
            vocabulary, model_kwargs = self.pretrained
            initialize = functools.partial(
                bert.load_checkpoint, directory=flags_obj.init_checkpoint)

        processor = QaProcessor(vocabulary, **self.windowing)
        return Data(
            train=windows_dataset(
                processor, train_examples, flags_obj.batch_size, True, flags_obj.seed),
            test=windows_dataset(processor, test_examples, flags_obj.batch_size, False),
            examples=len(train_examples["question"]),
            model_kwargs=dict(model_kwargs, vocab_size=len(vocabulary),
                              sequence_length=flags_obj.sequence_length),
            initialize=initialize,
            state=dict(processor=processor, test=test_examples, skipped=skipped),
        )

    def evaluate(self, model, data, metrics):
        """The official SQuAD v1.1 EM and F1 of the in-memory model's answers."""
        test = data.state["test"]
        answers = data.state["processor"].predict(model, test["question"], test["context"])
        predictions = [a.decode("utf-8") for a in answers["answer"]]
        return {**metrics, **squad_scores(predictions, test["answers"])}

    def publish(self, flags_obj, strategy, name, model, data, card):
        test = data.state["test"]
        example = [[t.decode("utf-8") for t in texts[:8]]
                   for texts in (test["question"], test["context"])]
        return recipe.publish(flags_obj, strategy, publish_qa, model, data.state["processor"],
                              name=name, example=example, card=card)

    def report(self, path, data, flags_obj):
        test = data.state["test"]
        export_metrics = None
        if path:
            answers = scoring.qa_answers(path, test["question"], test["context"])
            export_metrics = squad_scores(answers, test["answers"])
        return dict(
            skipped_examples=data.state["skipped"],
            vocab_size=len(data.state["processor"].vocabulary),
            init_checkpoint=flags_obj.init_checkpoint, export_metrics=export_metrics,
        )

    @classmethod
    def serves(cls, specs):
        return set(specs) == {"question", "context"}

    @classmethod
    def predict(cls, serve, request):
        """Each `question`'s answer in its `context`; a refused request is a `UsageError`."""
        question, context = request["question"], request["context"]
        if not question or not context or len(question) != len(context):
            raise UsageError(
                "question answering needs one --context per --question; "
                f"got {len(question or [])} questions and {len(context or [])} contexts"
            )
        try:
            out = serve(question=tf.constant(question), context=tf.constant(context))
        except tf.errors.InvalidArgumentError as e:
            raise UsageError(f"the model refused the request: {refusal(e)}") from None
        return [
            {"question": q, "answer": a.decode("utf-8", "replace"), "score": round(float(s), 4)}
            for q, a, s in zip(question, out["answer"].numpy(), out["score"].numpy())
        ]


def refusal(error):
    """The reason an export's request check gave, from its `InvalidArgumentError`."""
    # The export's checks put their message first: "assertion failed: [every
    # context must be non-empty] [Condition ...".
    text = error.message
    if "assertion failed: [" in text:
        text = text.split("assertion failed: [", 1)[1].split("]", 1)[0]
    # tf.debugging's messages may end in ". " before their condition.
    return text.strip().splitlines()[0].strip().rstrip(".")


def run(flags_obj, model_name, model_kwargs, datasets_override=None, strategy_override=None):
    """Learns a vocabulary (or reads --init_checkpoint's), trains `model_name`
    (e.g. `"qa"`), evaluates (EM/F1), exports; see `run_task`."""
    return run_task(QuestionAnswering(), flags_obj, model_name, model_kwargs,
                    datasets_override, strategy_override)
