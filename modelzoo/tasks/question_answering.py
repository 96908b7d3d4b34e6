"""Extractive question answering on SQuAD with a Transformer encoder."""

import collections
import dataclasses
import functools
from typing import Optional

import numpy as np
import tensorflow as tf
from absl import logging

from modelzoo import presets, scoring
from modelzoo.config import field
from modelzoo.data import pipelines
from modelzoo.errors import UsageError
from modelzoo.experiment_config import DataConfig, ExperimentConfig, TrainingConfig
from modelzoo.export.qa import QaExport
from modelzoo.models import bert
from modelzoo.models.qa import QaConfig
from modelzoo.squad_eval import squad_scores
from modelzoo.tasks.base import Data, Task
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


def windows_dataset(processor, examples, batch_size, training, seed=None, drop_remainder=False):
    """Batches of `(token_ids [b, L], span labels [b, 2])`, several windows per example.

    `drop_remainder`: see `pipelines.finish`.
    """

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
    return pipelines.finish(ds, batch_size, training, seed, drop_remainder=drop_remainder)


@dataclasses.dataclass
class QaDataConfig(DataConfig):
    """SQuAD, its vocabulary and how questions and contexts become windows."""

    dataset: str = field("squad", "TFDS dataset.")
    vocab_size: int = field(
        8000, "WordPiece vocabulary size, learned from the train split "
        "(without --init_checkpoint).", minimum=len(wordpiece.RESERVED) + 1)
    sequence_length: int = field(256, "WordPiece tokens per window.", minimum=1)
    max_question_tokens: int = field(32, "Question tokens kept.", minimum=1)
    doc_stride: int = field(128, "Context tokens between window starts.", minimum=1)
    max_answer_tokens: int = field(30, "Longest answer span, in tokens.", minimum=1)

    def windowing(self):
        """`QaProcessor`'s window arguments."""
        return dict(sequence_length=self.sequence_length,
                    max_question_tokens=self.max_question_tokens,
                    doc_stride=self.doc_stride, max_answer_tokens=self.max_answer_tokens)

    def check(self):
        try:  # The processor's own checks, before any data is read.
            QaProcessor(wordpiece.RESERVED + ["a"], **self.windowing())
        except ValueError as e:
            raise UsageError(str(e)) from None


@dataclasses.dataclass
class QaTrainingConfig(TrainingConfig):
    """Training, optionally from a pre-trained encoder."""

    init_checkpoint: Optional[str] = field(
        None, "Checkpoint folder written by recipes/bert_pretrain.py --output_dir: its "
        "encoder weights, sizes and WordPiece vocabulary (--init_preset reads the same "
        "from its preset). Unset: train from scratch with a vocabulary learned "
        "from the train split.")


@dataclasses.dataclass
class QuestionAnsweringConfig(ExperimentConfig):
    """Question and context in, answer span out."""

    task_name = "question_answering"
    datasets = DATASETS

    data: QaDataConfig = dataclasses.field(default_factory=QaDataConfig)
    model: QaConfig = dataclasses.field(default_factory=QaConfig)
    training: QaTrainingConfig = dataclasses.field(default_factory=QaTrainingConfig)

    def default_export_name(self):
        return f"squad_{self.model.registered_name}"


# The encoder's sizes, which a pre-trained checkpoint decides.
ENCODER_SIZES = ("embed_dim", "num_heads", "ff_dim", "num_layers", "token_match")


def read_pretrained(config):
    """`(vocabulary, encoder sizes, initialize)` of the pre-trained encoder, or None.

    The encoder is `init_preset` (a `bert_pretrain` preset) or the older
    checkpoint folder `init_checkpoint`. Its sizes come from its own
    config; `dropout` stays a fine-tuning choice. A size left at the
    `squad_qa` experiment's default takes the encoder's.

    Returns:
        None without either, else the vocabulary, the sizes, and a function
        of the built reader that loads the encoder's weights into its backbone.

    Raises:
        UsageError: the preset or checkpoint is unreadable or
            partial (naming the missing file); a size set away from that
            default (or `sequence_length`) differs from the encoder's.
    """
    from modelzoo.configs import get_config

    training = config.training
    if training.init_preset:
        flag = "--init_preset"
        backbone = presets.from_preset(training.init_preset, config.export.preset_dir)
        saved, vocabulary = backbone.get_config(), backbone.vocabulary
        initialize = functools.partial(_copy_backbone, backbone)
    elif training.init_checkpoint:
        flag = "--init_checkpoint"
        try:
            saved, vocabulary = bert.read_checkpoint(training.init_checkpoint)
        except ValueError as e:
            raise UsageError(f"--init_checkpoint: {e}") from None
        initialize = functools.partial(bert.load_checkpoint, directory=training.init_checkpoint)
    else:
        return None
    length = config.data.sequence_length
    if saved["sequence_length"] != length:
        raise UsageError(
            f"--sequence_length={length} differs from the {flag} encoder's "
            f"{saved['sequence_length']}; drop the flag or pre-train at that length")
    defaults = get_config("squad_qa").model
    sizes = {}
    for key in ENCODER_SIZES:
        value, theirs = getattr(config.model, key), saved.get(key, False)
        if value != getattr(defaults, key) and value != theirs:
            raise UsageError(
                f"--{key}={value} differs from the {flag} encoder's {saved.get(key)}; "
                f"the encoder's sizes come from {flag}, drop the flag")
        sizes[key] = theirs
    return vocabulary, sizes, initialize


def _copy_backbone(pretrained, model):
    bert.backbone_of(model).set_weights(pretrained.get_weights())


class QuestionAnswering(Task):
    """Tokenizing and windowing are in the export.

    The vocabulary is learned from the train contexts and questions, or read
    from `init_checkpoint` with the encoder's sizes and weights.
    """

    config_class = QuestionAnsweringConfig
    preset_kind = "wordpiece"

    def init_preset(self):
        """None: a `--init_preset` starts the reader's backbone only (see
        `read_pretrained`), not the whole model."""
        return None

    def check(self):
        training = self.config.training
        if training.init_preset and training.init_checkpoint:  # before either is read
            raise UsageError("--init_preset and --init_checkpoint are both set; pass one "
                             "(--init_checkpoint is the older checkpoint folder)")
        # The preset's kind first: its backbone is loaded next.
        self.check_init_preset()
        self.pretrained = read_pretrained(self.config)

    def splits(self):
        return ["train", "validation"]

    def load(self, datasets_override):
        """`datasets_override`: `((train, validation), info)` as `load_splits`
        returns with `as_supervised=False`."""
        data, training = self.config.data, self.config.training
        (train, test), _ = self.read_splits(["train", "validation"], datasets_override,
                                            as_supervised=False)
        train_examples, skipped = keep_located(read_examples(train, data.max_train_examples))
        test_examples = read_examples(test, data.max_eval_examples)
        model_kwargs, initialize = {}, None
        if self.pretrained is None:
            vocabulary = learn_vocabulary(train_examples, data.vocab_size)
        else:
            vocabulary, model_kwargs, initialize = self.pretrained
        processor = QaProcessor(vocabulary, **data.windowing())
        return Data(
            train=windows_dataset(
                processor, train_examples, training.batch_size, True, training.seed,
                training.drop_remainder()),
            test=windows_dataset(processor, test_examples, training.batch_size, False),
            examples=len(train_examples["question"]),
            model_kwargs=dict(model_kwargs, vocab_size=len(vocabulary),
                              sequence_length=data.sequence_length),
            initialize=initialize,
            state=dict(processor=processor, test=test_examples, skipped=skipped),
        )

    def evaluate(self, model, data, metrics):
        """The official SQuAD v1.1 EM and F1 of the in-memory model's answers."""
        test = data.state["test"]
        answers = data.state["processor"].predict(model, test["question"], test["context"])
        predictions = [a.decode("utf-8") for a in answers["answer"]]
        return {**metrics, **squad_scores(predictions, test["answers"])}

    def preprocessor(self, data):
        from modelzoo.preprocessors import QaPreprocessor

        processor = data.state["processor"]
        windowing = {arg: getattr(processor, arg) for arg in (
            "sequence_length", "max_question_tokens", "doc_stride", "max_answer_tokens",
            "max_windows", "max_context_bytes", "max_question_bytes")}
        return QaPreprocessor(processor.vocabulary, windowing)

    def publish(self, strategy, model, data, card):
        test = data.state["test"]
        example = [[t.decode("utf-8") for t in texts[:8]]
                   for texts in (test["question"], test["context"])]
        return self.publish_export(
            strategy, QaExport(model, data.state["processor"], example=example), card)

    def report(self, path, data):
        test = data.state["test"]
        export_metrics = None
        if path:
            export_metrics = scoring.export_metrics(
                path, (test["question"], test["context"]), test["answers"])
        return dict(
            skipped_examples=data.state["skipped"],
            vocab_size=len(data.state["processor"].vocabulary),
            init_checkpoint=self.config.training.init_checkpoint,
            init_preset=self.config.training.init_preset, export_metrics=export_metrics,
        )

