"""SQuAD-style windows and span decoding, shared by the QA task and its export.

`QaProcessor` turns raw question/context strings into model windows with
the WordPiece tokenizer of `modelzoo.text.wordpiece`, makes the training
labels, and decodes the model's span logits back into a substring of the
context. The training pipeline (`tf.data`) and the exported SavedModel run
this same code, so TF Serving sees exactly the tokens the model was
trained on.

Windows: `[CLS] question [SEP] context window [SEP]`, padded to the model's
`sequence_length`. A context longer than one window is read in several
windows `doc_stride` pieces apart (at most `max_windows`); the answer is
the best valid span over all of them.
"""

import numpy as np
import tensorflow as tf

from modelzoo.text import wordpiece
from modelzoo.text.wordpiece import CLS, PAD, SEP

# No Python control flow depends on tensors here: skipping AutoGraph's
# conversion makes tracing (tf.data, exports) several times faster.
_graph_only = tf.autograph.experimental.do_not_convert


class QaProcessor:
    """Tokenizes, windows and decodes spans; usable in tf.data and in exports.

    Args:
        vocabulary: sequence of str, a WordPiece vocabulary starting with
            `wordpiece.RESERVED`.
        sequence_length: int. Window length, the model's input length.
        max_question_tokens: int. Question pieces kept (from the start).
            Defaults to `32`.
        doc_stride: int. Context pieces between window starts; at most
            `sequence_length - max_question_tokens - 3`. Defaults to `128`.
        max_answer_tokens: int. Longest answer span, in pieces. Defaults to `30`.
        max_windows: int. Windows read per context. Defaults to `16`.
        max_context_bytes: int. Longest context a request may send.
            Defaults to `65536`.
        max_question_bytes: int. Longest question a request may send.
            Defaults to `4096`.

    Example:
    >>> vocab = wordpiece.RESERVED + ["who", "is", "bob", "?", "."]
    >>> processor = QaProcessor(vocab, 16, 4, 4)
    >>> processor.encode(tf.constant(["Who?"]), tf.constant(["Bob is."]))["token_ids"].shape
    TensorShape([1, 16])
    """

    def __init__(
        self,
        vocabulary,
        sequence_length,
        max_question_tokens=32,
        doc_stride=128,
        max_answer_tokens=30,
        max_windows=16,
        max_context_bytes=65536,
        max_question_bytes=4096,
    ):
        self.vocabulary = wordpiece.check_vocabulary(vocabulary)
        for arg, value in (
            ("sequence_length", sequence_length),
            ("max_question_tokens", max_question_tokens),
            ("doc_stride", doc_stride),
            ("max_answer_tokens", max_answer_tokens),
            ("max_windows", max_windows),
            ("max_context_bytes", max_context_bytes),
            ("max_question_bytes", max_question_bytes),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value!r}")
        room = sequence_length - max_question_tokens - 3
        if doc_stride > room:
            raise ValueError(
                "`doc_stride` must be at most sequence_length - max_question_tokens - 3 "
                f"= {room}, so that windows overlap or touch. Received: doc_stride={doc_stride}"
            )
        self.sequence_length = sequence_length
        self.max_question_tokens = max_question_tokens
        self.doc_stride = doc_stride
        self.max_answer_tokens = max_answer_tokens
        self.max_windows = max_windows
        self.max_context_bytes = max_context_bytes
        self.max_question_bytes = max_question_bytes
        self.tokenizer = wordpiece.tokenizer(self.vocabulary)

    def check_requests(self, question, context):
        """Raises `InvalidArgumentError` naming what is wrong with a request.

        Each question and context must be non-empty, valid UTF-8 and at most
        `max_question_bytes` / `max_context_bytes` long, and there must be
        one context per question.

        Returns:
            `(question, context)`, to be used after the checks ran.
        """
        checks = [
            tf.debugging.assert_equal(
                tf.shape(context)[0], tf.shape(question)[0],
                message="send one context per question (the batch sizes differ)",
            )
        ]
        for name, texts, limit in (
            ("question", question, self.max_question_bytes),
            ("context", context, self.max_context_bytes),
        ):
            length = tf.strings.length(texts)
            valid = tf.equal(
                tf.strings.unicode_transcode(
                    texts, "UTF-8", "UTF-8", errors="replace", replace_control_characters=False
                ),
                texts,
            )
            checks += [
                tf.debugging.assert_positive(length, message=f"every {name} must be non-empty"),
                tf.debugging.assert_less_equal(
                    length, limit,
                    message=f"a {name} may have at most {limit} bytes; send shorter text",
                ),
                tf.debugging.Assert(
                    tf.reduce_all(valid), [f"every {name} must be valid UTF-8"], summarize=1
                ),
            ]
        with tf.control_dependencies(checks):
            return tf.identity(question), tf.identity(context)

    @_graph_only
    def encode(self, question, context):
        """Windows of `[CLS] question [SEP] context [SEP]` for each pair.

        Args:
            question: string tensor `[batch]`.
            context: string tensor `[batch]`.

        Returns:
            A dict: `token_ids` int32 `[windows, sequence_length]`;
            `example`, `window_start` (context piece index of the first
            piece in the window), `offset` (position of that piece in the
            window) and `length` (context pieces in the window), int64
            `[windows]`; `context`, `starts` and `ends` (byte offsets of
            the context pieces, ragged `[batch, (pieces)]`). Every pair has
            at least one window.
        """
        question_pieces = self.tokenizer.tokenize(question)
        pieces, starts, ends = self.tokenizer.tokenize_with_offsets(context)
        # Dense index arithmetic on the flat ids: far fewer graph ops than
        # ragged slicing and concatenation.
        question_ids = _with_sentinel(question_pieces.flat_values)
        context_ids = _with_sentinel(pieces.flat_values)
        question_length = tf.minimum(question_pieces.row_lengths(), self.max_question_tokens)
        context_length = pieces.row_lengths()
        room = self.sequence_length - 3 - question_length
        extra = tf.maximum(context_length - room, 0)
        count = tf.minimum(1 + (extra + self.doc_stride - 1) // self.doc_stride, self.max_windows)
        example = tf.repeat(tf.range(tf.size(count, out_type=tf.int64)), count)
        number = tf.range(tf.size(example, out_type=tf.int64)) - tf.gather(
            tf.cumsum(count, exclusive=True), example
        )
        window_start = number * self.doc_stride
        length = tf.clip_by_value(
            tf.gather(context_length, example) - window_start, 0, tf.gather(room, example)
        )
        q_length = tf.gather(question_length, example)[:, None]
        c_length = length[:, None]
        position = tf.range(self.sequence_length, dtype=tf.int64)[None, :]
        in_question = (position >= 1) & (position <= q_length)
        in_context = (position >= q_length + 2) & (position < q_length + 2 + c_length)
        separator = (position == q_length + 1) | (position == q_length + 2 + c_length)
        question_index = (
            tf.gather(question_pieces.row_splits[:-1], example)[:, None] + position - 1
        )
        context_index = (
            tf.gather(pieces.row_splits[:-1], example)[:, None]
            + window_start[:, None] + position - q_length - 2
        )
        ids = _pick(in_question, question_ids, question_index, tf.constant(PAD, tf.int64))
        ids = _pick(in_context, context_ids, context_index, ids)
        ids = tf.where(separator, tf.constant(SEP, tf.int64), ids)
        ids = tf.where(position == 0, tf.constant(CLS, tf.int64), ids)
        return {
            "token_ids": tf.cast(ids, tf.int32),
            "example": example,
            "window_start": window_start,
            "offset": q_length[:, 0] + 2,
            "length": length,
            "context": context,
            "starts": starts,
            "ends": ends,
        }

    @_graph_only
    def labels(self, encoded, answer_start, answer_end):
        """Sparse span labels `[windows, 2]` for training.

        Args:
            encoded: `encode`'s output.
            answer_start: int64 `[batch]`, the answer's first byte in the
                context, or -1 for no locatable answer.
            answer_end: int64 `[batch]`, one past its last byte.

        Returns:
            int32 `[windows, 2]`: the start and end positions in each window,
            or `(0, 0)` (`[CLS]`) when the answer is not wholly inside it.
        """
        answer_start = tf.cast(answer_start, tf.int64)
        answer_end = tf.cast(answer_end, tf.int64)
        # The first piece ending after the answer's start, the last one
        # starting before its end.
        first = tf.reduce_sum(tf.cast(encoded["ends"] <= answer_start[:, None], tf.int64), axis=1)
        last = tf.reduce_sum(tf.cast(encoded["starts"] < answer_end[:, None], tf.int64), axis=1) - 1
        found = (answer_start >= 0) & (first <= last) & (last < encoded["starts"].row_lengths())
        example = encoded["example"]
        start = tf.gather(first, example) - encoded["window_start"]
        end = tf.gather(last, example) - encoded["window_start"]
        inside = tf.gather(found, example) & (start >= 0) & (end < encoded["length"])
        offset = encoded["offset"]
        labels = tf.stack(
            [tf.where(inside, offset + start, 0), tf.where(inside, offset + end, 0)], axis=1
        )
        return tf.cast(labels, tf.int32)

    @_graph_only
    def decode(self, encoded, logits):
        """The best span of each pair over its windows.

        A span is valid if it lies inside the window's context pieces, ends
        at or after its start, and has at most `max_answer_tokens` pieces.
        Within a window the best span maximizes start + end logit; its score
        is `softmax(start)[s] * softmax(end)[e]` over the window, and the
        window with the highest score wins (the first on ties).

        Args:
            encoded: `encode`'s output.
            logits: float `[windows, 2, sequence_length]` from the model.

        Returns:
            A dict with `answer` string `[batch]` (the context bytes of the
            span; "" if no valid span exists, e.g. a context of spaces) and
            `score` float32 `[batch]` (0 then).
        """
        logits = tf.cast(logits, tf.float32)
        start_logits, end_logits = logits[:, 0], logits[:, 1]
        length, span = self.sequence_length, self.max_answer_tokens
        positions = tf.range(length, dtype=tf.int64)
        offset = encoded["offset"][:, None]
        in_context = (positions[None, :] >= offset) & (
            positions[None, :] < offset + encoded["length"][:, None]
        )
        ends = positions[:, None] + tf.range(span, dtype=tf.int64)[None, :]
        clipped = tf.minimum(ends, length - 1)
        valid = in_context[:, :, None] & tf.gather(in_context, clipped, axis=1) & (
            ends < length
        )[None]
        pairs = start_logits[:, :, None] + tf.gather(end_logits, clipped, axis=1)
        pairs = tf.reshape(tf.where(valid, pairs, -np.inf), [-1, length * span])
        best = tf.reduce_max(pairs, axis=1)
        flat = tf.argmax(pairs, axis=1)
        start = flat // span
        end = start + flat % span
        normalizer = tf.reduce_logsumexp(start_logits, axis=1) + tf.reduce_logsumexp(
            end_logits, axis=1
        )
        found = best > -np.inf
        score = tf.where(found, tf.exp(best - normalizer), 0.0)

        example = encoded["example"]
        batch = tf.shape(encoded["context"])[0]
        windows = tf.shape(example, out_type=tf.int64)[0]
        top = tf.math.unsorted_segment_max(score, example, batch)
        index = tf.range(windows, dtype=tf.int64)
        chosen = tf.math.unsorted_segment_min(
            tf.where(score >= tf.gather(top, example), index, windows), example, batch
        )
        chosen = tf.minimum(chosen, tf.maximum(windows - 1, 0))
        has_span = tf.gather(found, chosen)
        base = encoded["starts"].row_splits[:-1] + tf.gather(encoded["window_start"], chosen)
        first = base + tf.gather(start, chosen) - tf.gather(encoded["offset"], chosen)
        last = base + tf.gather(end, chosen) - tf.gather(encoded["offset"], chosen)
        # A sentinel makes the gathers total when a context has no pieces.
        zero = tf.zeros([1], tf.int64)
        starts = tf.concat([encoded["starts"].flat_values, zero], 0)
        ends = tf.concat([encoded["ends"].flat_values, zero], 0)
        sentinel = tf.size(starts, out_type=tf.int64) - 1
        byte_start = tf.gather(starts, tf.where(has_span, first, sentinel))
        byte_end = tf.gather(ends, tf.where(has_span, last, sentinel))
        answer = tf.strings.substr(encoded["context"], byte_start, byte_end - byte_start)
        return {
            "answer": tf.where(has_span, answer, ""),
            "score": tf.where(has_span, tf.gather(score, chosen), 0.0),
        }

    @_graph_only
    def answer(self, model, question, context):
        """`encode` → `model` → `decode`: what the export serves."""
        encoded = self.encode(question, context)
        return self.decode(encoded, model(encoded["token_ids"], training=False))

    def predict(self, model, questions, contexts, batch_size=64):
        """`answer` run in this process, batch by batch, as the export runs it.

        Args:
            model: the in-memory `build_qa` model.
            questions, contexts: sequences of str or bytes, one context per
                question.
            batch_size: int. Questions per call.

        Returns:
            A dict: `answer` (object array of bytes), `score` (float32 array).
        """
        spec = tf.TensorSpec([None], tf.string)
        answer = tf.function(
            lambda q, c: self.answer(model, q, c), input_signature=[spec, spec]
        )
        outputs = [
            answer(tf.constant(_as_bytes(questions[i : i + batch_size])),
                   tf.constant(_as_bytes(contexts[i : i + batch_size])))
            for i in range(0, len(questions), batch_size)
        ]
        texts = np.empty(len(questions), dtype=object)
        texts[:] = [t for out in outputs for t in out["answer"].numpy().tolist()]
        scores = [out["score"].numpy() for out in outputs]
        return {
            "answer": texts,
            "score": np.concatenate(scores) if scores else np.zeros(0, "float32"),
        }


def _as_bytes(texts):
    return [t.encode("utf-8") if isinstance(t, str) else bytes(t) for t in texts]


def _pick(mask, values, index, otherwise):
    # values[index] where mask, else otherwise; masked-out reads hit the sentinel.
    sentinel = tf.size(values, out_type=tf.int64) - 1
    return tf.where(mask, tf.gather(values, tf.where(mask, index, sentinel)), otherwise)


def _with_sentinel(values):
    # One extra entry at the end makes gathers total when a text has no pieces.
    return tf.concat([values, tf.zeros([1], values.dtype)], 0)
