"""Masked-language-model pre-training of the QA encoder, BERT's objective.

Unlabelled text (IMDB reviews, SQuAD train contexts) → a WordPiece
vocabulary learned from it → documents joined by `[SEP]` and cut into
`[CLS] ... [SEP]` rows of `sequence_length` pieces → BERT's masking (TF
Text's `mask_language_model`: 15 % of the pieces chosen, of which 80 %
become `[MASK]`, 10 % a random piece and 10 % stay) → `build_masked_lm`
around `build_bert_backbone`. Then span selection: cloze questions made
from the same text (`modelzoo.text.cloze`) teach the encoder, through a
span head, to point at what a question leaves out. The result is a
checkpoint folder that `recipes/squad_qa.py --init_checkpoint` fine-tunes.
"""

import math
import os
import time

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from modelzoo import distribute, recipe
from modelzoo.data import pipelines
from modelzoo.data.loading import load_splits
from modelzoo.errors import UsageError
from modelzoo.models import bert, qa
from modelzoo.tasks import question_answering
from modelzoo.text import cloze, wordpiece
from modelzoo.text.qa_processor import QaProcessor
from modelzoo.training import compile_model

# The text field each corpus is read from; SQuAD's contexts repeat once per
# question, so each distinct one counts once.
TEXT_FIELDS = {"imdb_reviews": "text", "squad": "context"}
DATASETS = ("imdb_reviews,squad", "imdb_reviews", "squad")


def read_texts(flags_obj, datasets_override=None):
    """The train-split texts of each corpus named by --dataset, as bytes.

    Args:
        flags_obj: parsed flags (`dataset`, `data_dir`, `download`,
            `manual_dir`, `max_train_examples` per corpus).
        datasets_override: dict corpus name → its train `tf.data.Dataset`
            of feature dicts, instead of TFDS.

    Returns:
        A list of bytes, one per document.
    """
    texts = []
    for name in flags_obj.dataset.split(","):
        if datasets_override and name in datasets_override:
            train = datasets_override[name]
        else:
            (train,), _ = load_splits(
                name, ["train"], flags_obj.data_dir, flags_obj.download,
                manual_dir=flags_obj.manual_dir, as_supervised=False,
            )
        field = TEXT_FIELDS[name]
        # IMDB's reviews break lines with HTML; keras-io strips it the same way.
        column = train.map(lambda example: tf.strings.regex_replace(
            example[field], "<br\\s*/?>", " "))
        texts += list(dict.fromkeys(pipelines.take(column, flags_obj.max_train_examples)
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


def cloze_questions(texts, flags_obj):
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
    rng = np.random.default_rng(flags_obj.seed)
    distinct = list(dict.fromkeys(texts))
    rows = []
    for index in rng.permutation(len(distinct)):
        if len(rows) >= flags_obj.span_questions:
            break
        rows += cloze.make_questions(distinct[index].decode("utf-8", "replace"), rng,
                                     per_passage=flags_obj.span_questions_per_text)
    rows = rows[:flags_obj.span_questions]
    held_out = max(1, int(len(rows) * flags_obj.validation_fraction))
    if len(rows) - held_out < flags_obj.batch_size:
        raise UsageError(
            f"the text gives {len(rows)} cloze questions, {held_out} held out: fewer than one "
            f"--batch_size={flags_obj.batch_size} batch; use more text or --span_questions=0"
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


def pretrain_span_selection(backbone, vocabulary, questions, flags_obj, strategy):
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
    length = flags_obj.sequence_length
    question_tokens = min(32, length // 4)
    processor = QaProcessor(vocabulary, length, max_question_tokens=question_tokens,
                            doc_stride=min(128, length - question_tokens - 3))
    train, test = (
        question_answering.windows_dataset(
            processor, examples, flags_obj.batch_size, training, flags_obj.seed)
        for examples, training in zip(questions, (True, False))
    )
    steps = recipe.count(train)
    with strategy.scope():
        model = qa.span_extractor(backbone)
        compile_model(model, **dict(
            recipe.compile_args(flags_obj, steps), learning_rate=flags_obj.span_learning_rate,
            decay_steps=steps * flags_obj.span_epochs))
    initial = model.evaluate(test, return_dict=True, verbose=0)
    train_questions = len(questions[0]["question"])
    metrics, throughput = recipe.fit_and_evaluate(
        model, train, test, flags_obj, strategy, train_questions,
        epochs=flags_obj.span_epochs, model_subdir="span_selection",
    )
    return dict(
        initial_metrics={k: round(float(v), 6) for k, v in initial.items()},
        metrics={k: round(float(v), 6) for k, v in metrics.items()},
        train_questions=train_questions, validation_questions=len(questions[1]["question"]),
        train_time_s=round(sum(throughput.epoch_seconds), 1),
    )


def run(flags_obj, datasets_override=None, strategy_override=None):
    """Learns the vocabulary, pre-trains, and writes the checkpoint folder.

    Args:
        flags_obj: parsed flags: the common ones, the size and optimizer
            flags, `output_dir`, `vocab_size`, `sequence_length`,
            `mask_selection_rate` and `validation_fraction`.
        datasets_override: see `read_texts`.
        strategy_override: a `tf.distribute.Strategy` instead of --strategy.

    Returns:
        The summary dict the recipe prints as JSON.
    """
    start = time.time()
    output_dir = flags_obj.output_dir
    if os.path.exists(output_dir):
        raise UsageError(
            f"--output_dir={output_dir} already exists; a checkpoint is never overwritten, "
            "pass a new folder"
        )
    if flags_obj.vocab_size <= len(wordpiece.RESERVED):
        raise UsageError(
            f"--vocab_size={flags_obj.vocab_size} must be an integer > {len(wordpiece.RESERVED)}"
        )
    if not 0 < flags_obj.mask_selection_rate < 1:
        raise UsageError(f"--mask_selection_rate={flags_obj.mask_selection_rate} must be in (0, 1)")
    if flags_obj.span_questions < 0:
        raise UsageError(
            f"--span_questions={flags_obj.span_questions} must be >= 0 (0 skips span selection)")
    if flags_obj.span_questions_per_text < 1:
        raise UsageError(
            f"--span_questions_per_text={flags_obj.span_questions_per_text} must be >= 1")
    if flags_obj.span_epochs < 1:
        raise UsageError(f"--span_epochs={flags_obj.span_epochs} must be >= 1")
    if not 0 < flags_obj.validation_fraction < 1:
        raise UsageError(
            f"--validation_fraction={flags_obj.validation_fraction} must be in (0, 1)"
        )
    # No SavedModel is published, so there is no export target to check.
    recipe.check_flags(flags_obj, DATASETS)
    recipe.set_up(flags_obj)
    strategy = recipe.make_strategy(flags_obj, strategy_override)
    texts = read_texts(flags_obj, datasets_override)
    span_questions = flags_obj.span_questions and cloze_questions(texts, flags_obj)
    vocab_start = time.time()
    vocabulary = wordpiece.learn_vocabulary(
        tf.data.Dataset.from_tensor_slices(np.asarray(texts, dtype=object)), flags_obj.vocab_size
    )
    vocab_seconds = time.time() - vocab_start
    rows = pack(wordpiece.tokenizer(vocabulary), texts, flags_obj.sequence_length)
    # Rows are shuffled once with the seed, so the held-out rows are a fair sample.
    rows = rows[np.random.default_rng(flags_obj.seed).permutation(len(rows))]
    held_out = max(1, int(len(rows) * flags_obj.validation_fraction))
    if len(rows) - held_out < flags_obj.batch_size:
        raise UsageError(
            f"the text gives {len(rows)} rows of {flags_obj.sequence_length} pieces, {held_out} "
            f"of them held out: fewer than one --batch_size={flags_obj.batch_size} batch to "
            "train on; use more text (--max_train_examples) or a shorter --sequence_length"
        )
    selection = math.ceil(flags_obj.sequence_length * flags_obj.mask_selection_rate) + 1
    mask = masker(len(vocabulary), selection, flags_obj.mask_selection_rate)
    batch = flags_obj.batch_size
    # Masking is sequential so that a seed fixes it; the validation masks are
    # drawn once and cached, so every evaluation scores the same positions.
    train_ds = distribute.shard_options(
        tf.data.Dataset.from_tensor_slices(rows[held_out:])
        .shuffle(len(rows) - held_out, seed=flags_obj.seed)
        .batch(batch, drop_remainder=True)
        .map(mask)
        .prefetch(tf.data.AUTOTUNE)
    )
    validation_ds = distribute.shard_options(
        tf.data.Dataset.from_tensor_slices(rows[:held_out]).batch(batch).map(mask).cache()
    )
    with strategy.scope():
        try:
            backbone = bert.build_bert_backbone(
                len(vocabulary), flags_obj.sequence_length, token_match=flags_obj.token_match,
                **recipe.transformer_size(flags_obj),
            )
        except ValueError as e:
            raise UsageError(str(e)) from None
        model = bert.build_masked_lm(backbone, selection)
        compile_model(model, **recipe.compile_args(flags_obj, (len(rows) - held_out) // batch))
    initial = model.evaluate(validation_ds, return_dict=True, verbose=0)
    metrics, throughput = recipe.fit_and_evaluate(
        model, train_ds, validation_ds, flags_obj, strategy, len(rows) - held_out
    )
    span_selection = None
    if span_questions:
        span_selection = pretrain_span_selection(
            backbone, vocabulary, span_questions, flags_obj, strategy)
    path = None
    if distribute.is_chief(strategy):
        path = bert.save_checkpoint(backbone, vocabulary, output_dir)
    return recipe.summarize(
        flags_obj, "bert_backbone", metrics, None, start, throughput,
        initial_metrics={k: round(float(v), 6) for k, v in initial.items()},
        checkpoint=path, vocab_size=len(vocabulary), vocab_seconds=round(vocab_seconds, 1),
        documents=len(texts), train_rows=len(rows) - held_out, validation_rows=held_out,
        span_selection=span_selection,
    )
