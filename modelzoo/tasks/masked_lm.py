"""Masked-language-model pre-training of the QA encoder, BERT's objective.

Unlabelled text (IMDB reviews, SQuAD train contexts) → a WordPiece
vocabulary learned from it → documents joined by `[SEP]` and cut into
`[CLS] ... [SEP]` rows of `sequence_length` pieces → BERT's masking (TF
Text's `mask_language_model`: 15 % of the pieces chosen, of which 80 %
become `[MASK]`, 10 % a random piece and 10 % stay) → `build_masked_lm`
around `build_bert_backbone`. Then span selection: cloze questions made
from the same text (`modelzoo.text.cloze`) teach the encoder, through a
span head, to point at what a question leaves out. The result is a
preset (`modelzoo.presets`: `<preset_dir>/bert_pretrain/<version>`, the
backbone, its WordPiece vocabulary, the experiment config and the metrics)
that `squad_qa --init_preset` fine-tunes, and the older checkpoint folder
`--output_dir` that `squad_qa --init_checkpoint` still reads.
"""

import dataclasses
import math
import os
import time
from typing import Optional

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from modelzoo import distribute, presets, storage
from modelzoo.config import Config, field
from modelzoo.data import pipelines
from modelzoo.data.loading import load_splits
from modelzoo.preprocessors import WordPiecePreprocessor
from modelzoo.errors import UsageError
from modelzoo.experiment_config import DataConfig, ExperimentConfig
from modelzoo.models import bert, qa
from modelzoo.models.bert import BackboneConfig
from modelzoo.tasks import question_answering
from modelzoo.tasks.base import Data, Task
from modelzoo.text import cloze, wordpiece
from modelzoo.text.qa_processor import QaProcessor
from modelzoo.trainer import compile_args, count, fit_and_evaluate
from modelzoo.training import compile_model

# The text field each corpus is read from; SQuAD's contexts repeat once per
# question, so each distinct one counts once.
TEXT_FIELDS = {"imdb_reviews": "text", "squad": "context"}
DATASETS = ("imdb_reviews,squad", "imdb_reviews", "squad")
# The presets folder's name for a pre-trained backbone.
PRESET_NAME = "bert_pretrain"


@dataclasses.dataclass
class CorpusConfig(DataConfig):
    """The unlabelled text and how it becomes masked rows."""

    dataset: str = field("imdb_reviews", "TFDS corpus, or corpora joined by a comma.")
    vocab_size: int = field(8000, "WordPiece vocabulary size, learned from the text.",
                            minimum=len(wordpiece.RESERVED) + 1)
    sequence_length: int = field(256, "WordPiece pieces per row.", minimum=3)
    mask_selection_rate: float = field(
        0.15, "Fraction of pieces predicted (BERT: 0.15).", above=0, below=1)
    validation_fraction: float = field(
        0.01, "Rows held out to score the masked LM.", above=0, below=1)


@dataclasses.dataclass
class SpanSelectionConfig(Config):
    """The second stage: span selection on cloze questions made from the text."""

    span_questions: int = field(
        60000, "Cloze questions made from the text for span-selection pre-training after "
        "the masked LM; 0 skips it.", minimum=0)
    span_questions_per_text: int = field(
        2, "Most cloze questions made from one document.", minimum=1)
    span_epochs: int = field(1, "Epochs over the cloze questions.", minimum=1)
    span_learning_rate: float = field(5e-4, "Peak learning rate of span selection.", above=0)


@dataclasses.dataclass
class CheckpointConfig(Config):
    """Where the pre-trained encoder is written."""

    output_dir: str = field(
        "checkpoints/bert_pretrain",
        "Checkpoint folder to write (a new one: it is never overwritten).")
    preset_dir: Optional[str] = field(
        None, "Presets folder: the preset is written <preset_dir>/bert_pretrain/<version> "
        "(default: $MODELZOO_HOME/presets, MODELZOO_HOME defaulting to ~/.modelzoo).")

    def check(self):
        if not self.output_dir:
            raise UsageError("--output_dir is empty; pass a new folder for the checkpoint")


@dataclasses.dataclass
class MaskedLmConfig(ExperimentConfig):
    """Masked-LM, then span-selection pre-training; its artifact is a checkpoint."""

    task_name = "masked_lm"
    datasets = DATASETS

    data: CorpusConfig = dataclasses.field(default_factory=CorpusConfig)
    model: BackboneConfig = dataclasses.field(default_factory=BackboneConfig)
    span: SpanSelectionConfig = dataclasses.field(default_factory=SpanSelectionConfig)
    export: CheckpointConfig = dataclasses.field(default_factory=CheckpointConfig)


def read_texts(data, datasets_override=None):
    """The train-split texts of each corpus named by `data.dataset`, as bytes.

    Args:
        data: the `CorpusConfig` (`dataset`, `data_dir`, `download`,
            `manual_dir`, `max_train_examples` per corpus).
        datasets_override: dict corpus name → its train `tf.data.Dataset`
            of feature dicts, instead of TFDS.

    Returns:
        A list of bytes, one per document.
    """
    texts = []
    for name in data.dataset.split(","):
        if datasets_override and name in datasets_override:
            train = datasets_override[name]
        else:
            (train,), _ = load_splits(
                name, ["train"], data.data_dir, data.download,
                manual_dir=data.manual_dir, as_supervised=False,
            )
        field = TEXT_FIELDS[name]
        # IMDB's reviews break lines with HTML; keras-io strips it the same way.
        column = train.map(lambda example: tf.strings.regex_replace(
            example[field], "<br\\s*/?>", " "))
        texts += list(dict.fromkeys(pipelines.take(column, data.max_train_examples)
                                    .as_numpy_iterator()))
    return texts


def pack(tokenizer, texts, sequence_length):
    """Rows `[CLS] pieces [SEP]` of `sequence_length` ids, documents joined by `[SEP]`.

    Returns:
        int32 `[rows, sequence_length]`; the last partial row is dropped.
    """
    stream = []
    ds = tf.data.Dataset.from_tensor_slices(np.asarray(texts, dtype=object)).batch(256)
    for ids in ds.map(tokenizer.tokenize).as_numpy_iterator():
        for row in ids:
            stream += [row, [wordpiece.SEP]]
    body = sequence_length - 2
    flat = np.concatenate(stream).astype("int32") if stream else np.zeros(0, "int32")
    rows = flat[: len(flat) // body * body].reshape(-1, body)
    return np.concatenate([
        np.full((len(rows), 1), wordpiece.CLS, "int32"),
        rows,
        np.full((len(rows), 1), wordpiece.SEP, "int32"),
    ], axis=1)


def masker(vocab_size, mask_selection_length, selection_rate=0.15):
    """A function of an id batch `[batch, length]` → `(features, labels, weights)`.

    BERT's rule through TF Text: `selection_rate` of the pieces (never
    `[PAD]`, `[CLS]` or `[SEP]`), at most `mask_selection_length` per row,
    are chosen; 80 % of them become `[MASK]`, 10 % a random id, 10 % stay.

    Returns:
        The function. Its `features` are `token_ids` (the masked ids) and
        `mask_positions` `[batch, mask_selection_length]`; `labels` are the
        original ids there and `weights` 1 for a chosen position, 0 for padding.
    """
    chooser = tf_text.MaskValuesChooser(vocab_size, wordpiece.MASK, 0.8, 0.1)
    shape = [None, mask_selection_length]

    def mask(token_ids):
        # TF Text shuffles each row inside a parallel `map_fn`; a stateful
        # shuffle there draws in thread order, so a seed would not fix the
        # masks. A stateless shuffle keyed by one draw per batch and by the
        # row's first flat position (distinct per row) does.
        batch_seed = tf.random.uniform([], maxval=2**31 - 1, dtype=tf.int64)

        def shuffle(positions):
            first = tf.concat([positions[:1], tf.zeros([1], positions.dtype)], 0)[0]
            seed = tf.stack([batch_seed, tf.cast(first, tf.int64)])
            return tf.random.experimental.stateless_shuffle(positions, seed)

        selector = tf_text.RandomItemSelector(
            max_selections_per_batch=mask_selection_length,
            selection_rate=selection_rate,
            unselectable_ids=[wordpiece.PAD, wordpiece.CLS, wordpiece.SEP],
            shuffle_fn=shuffle,
        )
        masked, positions, originals = tf_text.mask_language_model(
            tf.RaggedTensor.from_tensor(token_ids), selector, chooser
        )
        features = {
            "token_ids": masked.to_tensor(),
            "mask_positions": tf.cast(positions.to_tensor(shape=shape), tf.int32),
        }
        weights = tf.ones_like(originals, tf.float32).to_tensor(shape=shape)
        return features, originals.to_tensor(shape=shape), weights

    return mask


def cloze_questions(texts, config):
    """`--span_questions` cloze questions (`modelzoo.text.cloze`), at most
    `--span_questions_per_text` per text, the texts taken in an order drawn
    from --seed.

    Returns:
        `(train, held_out)`: the QA task's example arrays, `question`,
        `context` (bytes), `answer_start` and `answer_end` (byte offsets into
        the context); `held_out` is the first --validation_fraction of them.

    Raises:
        UsageError: too few questions for one training batch.
    """
    span, batch_size = config.span, config.training.batch_size
    rng = np.random.default_rng(config.training.seed)
    distinct = list(dict.fromkeys(texts))
    rows = []
    for index in rng.permutation(len(distinct)):
        if len(rows) >= span.span_questions:
            break
        rows += cloze.make_questions(distinct[index].decode("utf-8", "replace"), rng,
                                     per_passage=span.span_questions_per_text)
    rows = rows[:span.span_questions]
    held_out = max(1, int(len(rows) * config.data.validation_fraction))
    if len(rows) - held_out < batch_size:
        raise UsageError(
            f"the text gives {len(rows)} cloze questions, {held_out} held out: fewer than one "
            f"--batch_size={batch_size} batch; use more text or --span_questions=0"
        )
    examples = {k: np.empty(len(rows), dtype=object) for k in ("question", "context")}
    examples["question"][:] = [q.encode("utf-8") for q, _, _, _ in rows]
    examples["context"][:] = [c.encode("utf-8") for _, c, _, _ in rows]
    examples["answer_start"] = np.asarray(
        [len(c[:at].encode("utf-8")) for _, c, at, _ in rows], "int64")
    examples["answer_end"] = examples["answer_start"] + np.asarray(
        [len(a.encode("utf-8")) for _, _, _, a in rows], "int64")
    return ({k: v[held_out:] for k, v in examples.items()},
            {k: v[:held_out] for k, v in examples.items()})


def pretrain_span_selection(backbone, vocabulary, questions, config, strategy):
    """Trains `backbone` to answer cloze questions (`cloze_questions`).

    Span selection (Glass et al. 2020): the questions are read as SQuAD
    windows by the QA task's own pipeline and answered by a span head on
    the backbone; `squad_qa.py` fine-tunes the backbone with a head afresh.

    Args:
        questions: `(train, held_out)` as `cloze_questions` returns.

    Returns:
        A dict: the held-out span accuracy and loss before and after, the
        number of questions and the training time.
    """
    # squad_qa.py's default windows, shrunk to fit a short --sequence_length.
    length, span = config.data.sequence_length, config.span
    batch_size, seed = config.training.batch_size, config.training.seed
    question_tokens = min(32, length // 4)
    processor = QaProcessor(vocabulary, length, max_question_tokens=question_tokens,
                            doc_stride=min(128, length - question_tokens - 3))
    train, test = (
        question_answering.windows_dataset(
            processor, examples, batch_size, training, seed,
            training and config.training.drop_remainder())
        for examples, training in zip(questions, (True, False))
    )
    steps = count(train)
    with strategy.scope():
        model = qa.span_extractor(backbone)
        compile_model(model, **compile_args(
            config, steps, epochs=span.span_epochs, learning_rate=span.span_learning_rate))
    initial = model.evaluate(test, return_dict=True, verbose=0)
    train_questions = len(questions[0]["question"])
    metrics, throughput = fit_and_evaluate(
        model, train, test, config, strategy, train_questions,
        epochs=span.span_epochs, model_subdir="span_selection",
    )
    return dict(
        initial_metrics={k: round(float(v), 6) for k, v in initial.items()},
        metrics={k: round(float(v), 6) for k, v in metrics.items()},
        train_questions=train_questions, validation_questions=len(questions[1]["question"]),
        train_time_s=round(sum(throughput.epoch_seconds), 1),
    )


def write_backbone_preset(backbone, vocabulary, config, card):
    """Writes the backbone as the next version of the `bert_pretrain` preset.

    Returns:
        The preset's path. A version written meanwhile by another run is
        never replaced: the next one is taken.
    """
    parent = os.path.join(presets.presets_home(config.export.preset_dir), PRESET_NAME)
    preprocessor = WordPiecePreprocessor(vocabulary, config.data.sequence_length)
    metadata = dict(metrics=card["metrics"], model=card["model"], dataset=card["dataset"],
                    checkpoint=os.path.abspath(config.export.output_dir))
    for _ in range(10):
        versions = storage.list_versions(parent) if os.path.isdir(parent) else []
        try:
            return presets.write_preset(backbone, preprocessor, config, metadata, PRESET_NAME,
                                        (versions[-1] if versions else 0) + 1,
                                        config.export.preset_dir)
        except FileExistsError:
            continue
    raise UsageError(f"cannot write a new version under {parent}: other runs keep taking "
                     "them; pass another --preset_dir")


class MaskedLm(Task):
    """Learns the vocabulary, pre-trains, and writes the checkpoint folder."""

    config_class = MaskedLmConfig

    def check_target(self):
        """Fails before training if the checkpoint folder exists: it is never overwritten."""
        output_dir = self.config.export.output_dir
        if os.path.exists(output_dir):
            raise UsageError(
                f"--output_dir={output_dir} already exists; a checkpoint is never "
                "overwritten, pass a new folder")

    def load(self, datasets_override):
        """`datasets_override`: dict corpus name → its train `tf.data.Dataset`
        of feature dicts (see `read_texts`)."""
        data, batch = self.config.data, self.config.training.batch_size
        seed = self.config.training.seed
        texts = read_texts(data, datasets_override)
        span_questions = self.config.span.span_questions and cloze_questions(texts, self.config)
        vocab_start = time.time()
        vocabulary = wordpiece.learn_vocabulary(
            tf.data.Dataset.from_tensor_slices(np.asarray(texts, dtype=object)), data.vocab_size)
        vocab_seconds = time.time() - vocab_start
        rows = pack(wordpiece.tokenizer(vocabulary), texts, data.sequence_length)
        # Rows are shuffled once with the seed, so the held-out rows are a fair sample.
        rows = rows[np.random.default_rng(seed).permutation(len(rows))]
        held_out = max(1, int(len(rows) * data.validation_fraction))
        if len(rows) - held_out < batch:
            raise UsageError(
                f"the text gives {len(rows)} rows of {data.sequence_length} pieces, {held_out} "
                f"of them held out: fewer than one --batch_size={batch} batch to "
                "train on; use more text (--max_train_examples) or a shorter --sequence_length"
            )
        selection = math.ceil(data.sequence_length * data.mask_selection_rate) + 1
        mask = masker(len(vocabulary), selection, data.mask_selection_rate)
        # Masking is sequential so that a seed fixes it; the validation masks are
        # drawn once and cached, so every evaluation scores the same positions.
        train = distribute.shard_options(
            tf.data.Dataset.from_tensor_slices(rows[held_out:])
            .shuffle(len(rows) - held_out, seed=seed)
            .batch(batch, drop_remainder=True)
            .map(mask)
            .prefetch(tf.data.AUTOTUNE)
        )
        validation = distribute.shard_options(
            tf.data.Dataset.from_tensor_slices(rows[:held_out]).batch(batch).map(mask).cache()
        )
        return Data(
            train=train, test=validation, examples=len(rows) - held_out,
            model_kwargs=dict(vocab_size=len(vocabulary), sequence_length=data.sequence_length),
            state=dict(vocabulary=vocabulary, selection=selection, span_questions=span_questions,
                       extras=dict(vocab_size=len(vocabulary), vocab_seconds=round(vocab_seconds, 1),
                                   documents=len(texts), train_rows=len(rows) - held_out,
                                   validation_rows=held_out)),
        )

    def build(self, data):
        sizes = self.config.model.builder_kwargs()
        try:
            self.backbone = bert.build_bert_backbone(**data.model_kwargs, **sizes)
        except ValueError as e:
            raise UsageError(str(e)) from None
        model = bert.build_masked_lm(self.backbone, data.state["selection"])
        builder_config = dict(data.model_kwargs, **sizes)
        return model, {"name": "bert_backbone", "builder_config": builder_config}

    def fit(self, model, data, strategy):
        initial = model.evaluate(data.test, return_dict=True, verbose=0)
        metrics, throughput, _ = super().fit(model, data, strategy)
        span_selection = None
        if data.state["span_questions"]:
            span_selection = pretrain_span_selection(
                self.backbone, data.state["vocabulary"], data.state["span_questions"],
                self.config, strategy)
        extras = dict(initial_metrics={k: round(float(v), 6) for k, v in initial.items()},
                      span_selection=span_selection, **data.state["extras"])
        return metrics, throughput, extras

    def publish(self, strategy, model, data, card):
        """Writes the checkpoint and the preset on the chief; returns the
        checkpoint's path (None elsewhere)."""
        if not distribute.is_chief(strategy):
            return None
        path = bert.save_checkpoint(self.backbone, data.state["vocabulary"],
                                    self.config.export.output_dir)
        self.preset_path = write_backbone_preset(self.backbone, data.state["vocabulary"],
                                                 self.config, card)
        return path

    def report(self, path, data):
        # A checkpoint is not an export: the summary names it as such.
        return {"export_path": None, "checkpoint": path,
                "preset_path": getattr(self, "preset_path", None)}

    def dataset_facts(self):
        return {"name": self.config.data.dataset, "version": None, "splits": {}}
