"""Extractive QA on raw text: tokenizing, windowing and span decoding in the graph.

The same `QaProcessor` prepares the training windows and runs inside the
exported SavedModel, with core TensorFlow ops only (no TF Text), so the
tokens TF Serving sees are exactly the ones the model was trained on.

Tokens: a word is a maximal run of characters that are neither spaces nor
punctuation; each punctuation character is a token of its own. Tokens are
lowercased (`tf.strings.lower(..., encoding="utf-8")`) and looked up in a
vocabulary whose first ids are `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`. Each token
keeps the byte offsets of its text, so an answer is a substring of the
original context, not a re-joined string of tokens.

Windows: `[CLS] question [SEP] context window [SEP]`, padded to the model's
`sequence_length`. A context longer than one window is read in several
windows `doc_stride` tokens apart (at most `max_windows`); the answer is the
best span over all of them.
"""

import keras
import numpy as np
import tensorflow as tf

from modelzoo.export.publish import publish

PAD, UNK, CLS, SEP = 0, 1, 2, 3
RESERVED = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]

# Inclusive code point ranges. Anything else is part of a word.
SPACE_RANGES = (
    (0, 32), (127, 160), (0x1680, 0x1680), (0x2000, 0x200B), (0x2028, 0x2029),
    (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF),
)
PUNCTUATION_RANGES = (
    (33, 47), (58, 64), (91, 96), (123, 126), (0xA1, 0xA1), (0xA7, 0xA7), (0xAB, 0xAB),
    (0xB6, 0xB7), (0xBB, 0xBB), (0xBF, 0xBF), (0x2010, 0x2027), (0x2030, 0x205E),
    (0x3001, 0x303F),
)

QA_CONTRACT = {
    "inputs": {
        "question": {"dtype": "string", "shape": [None]},
        "context": {"dtype": "string", "shape": [None]},
    },
    "outputs": {
        "answer": {"dtype": "string", "shape": [None]},
        "score": {"dtype": "float32", "shape": [None]},
    },
}


# No Python control flow depends on tensors here: skipping AutoGraph's
# conversion makes tracing (tf.data, exports) several times faster.
_graph_only = tf.autograph.experimental.do_not_convert


def _in_ranges(codepoints, ranges):
    low = tf.constant([r[0] for r in ranges], tf.int32)
    high = tf.constant([r[1] for r in ranges], tf.int32)
    codepoints = codepoints[:, None]
    return tf.reduce_any((codepoints >= low) & (codepoints <= high), axis=1)


@_graph_only
def tokenize(texts):
    """Splits strings into lowercased tokens with their byte offsets.

    Invalid UTF-8 bytes read as U+FFFD (a word character); offsets still
    point into the original bytes.

    Args:
        texts: string tensor `[batch]`.

    Returns:
        `(tokens, starts, ends)`: RaggedTensors `[batch, (tokens)]`; token j
        of row i is the lowercased `texts[i][starts[i, j]:ends[i, j]]`
        (int64 byte offsets).
    """
    chars, offsets = tf.strings.unicode_decode_with_offsets(texts, "UTF-8", errors="replace")
    codepoints, char_starts = chars.flat_values, offsets.flat_values
    rows = chars.value_rowids()
    index = tf.range(tf.size(codepoints, out_type=tf.int64), dtype=tf.int64)
    first = tf.equal(index, tf.gather(chars.row_splits[:-1], rows))
    last = tf.equal(index, tf.gather(chars.row_splits[1:], rows) - 1)
    lengths = tf.cast(tf.strings.length(texts), tf.int64)
    next_starts = tf.concat([char_starts, tf.zeros([1], tf.int64)], 0)[1:]
    char_ends = tf.where(last, tf.gather(lengths, rows), next_starts)
    punctuation = _in_ranges(codepoints, PUNCTUATION_RANGES)
    word = ~_in_ranges(codepoints, SPACE_RANGES) & ~punctuation
    previous_word = tf.concat([[False], word], 0)[:-1] & ~first
    next_word = tf.concat([word, [False]], 0)[1:] & ~last
    begins = tf.where(punctuation | (word & ~previous_word))[:, 0]
    finals = tf.where(punctuation | (word & ~next_word))[:, 0]
    token_rows = tf.gather(rows, begins)
    starts = tf.gather(char_starts, begins)
    ends = tf.gather(char_ends, finals)
    pieces = tf.strings.substr(tf.gather(texts, token_rows), starts, ends - starts)
    pieces = tf.strings.lower(pieces, encoding="utf-8")
    nrows = tf.shape(texts, out_type=tf.int64)[0]

    def ragged(values):
        return tf.RaggedTensor.from_value_rowids(values, token_rows, nrows=nrows, validate=False)

    return ragged(pieces), ragged(starts), ragged(ends)


def reference_tokenize(text):
    """`tokenize` for one valid UTF-8 text, in plain Python (for checks).

    Args:
        text: str or bytes (valid UTF-8).

    Returns:
        A list of `(token, byte_start, byte_end)` with `token` a str.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")

    def kind(char):
        code = ord(char)
        if any(lo <= code <= hi for lo, hi in SPACE_RANGES):
            return "space"
        if any(lo <= code <= hi for lo, hi in PUNCTUATION_RANGES):
            return "punct"
        return "word"

    tokens, position, current = [], 0, None
    for char in text:
        size, sort = len(char.encode("utf-8")), kind(char)
        if sort == "word" and current is not None:
            current[2] += size
        elif sort == "word":
            current = [None, position, position + size]
            tokens.append(current)
        else:
            current = None
            if sort == "punct":
                tokens.append([None, position, position + size])
        position += size
    raw = text.encode("utf-8")
    return [(raw[s:e].decode("utf-8").lower(), s, e) for _, s, e in tokens]


def check_vocabulary(vocabulary):
    """Returns `vocabulary` as a list of str: the reserved tokens, then words.

    Raises:
        ValueError: if it does not start with `RESERVED`, has duplicates or
            non-str entries.
    """
    vocabulary = list(vocabulary)
    if vocabulary[: len(RESERVED)] != RESERVED or len(vocabulary) <= len(RESERVED):
        raise ValueError(
            f"`vocabulary` must start with {RESERVED} and hold at least one word."
        )
    if not all(isinstance(v, str) and v for v in vocabulary) or len(set(vocabulary)) != len(
        vocabulary
    ):
        raise ValueError("`vocabulary` entries must be distinct non-empty str.")
    return vocabulary


class QaProcessor:
    """Tokenizes, windows and decodes spans; usable in tf.data and in exports.

    Args:
        vocabulary: sequence of str starting with `RESERVED`.
        sequence_length: int. Window length, the model's input length.
        max_question_tokens: int. Question tokens kept (from the start).
            Defaults to `32`.
        doc_stride: int. Context tokens between window starts; at most
            `sequence_length - max_question_tokens - 3`. Defaults to `128`.
        max_answer_tokens: int. Longest answer span. Defaults to `30`.
        max_windows: int. Windows read per context. Defaults to `16`.
        max_context_bytes: int. Context bytes read (from the start).
            Defaults to `65536`.
        max_question_bytes: int. Question bytes read. Defaults to `4096`.

    Example:
    >>> processor = QaProcessor(RESERVED + ["who", "is", "bob", "?"], 16, 4, 4)
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
        self.vocabulary = check_vocabulary(vocabulary)
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
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(self.vocabulary[len(RESERVED):], tf.string),
                tf.range(len(RESERVED), len(self.vocabulary), dtype=tf.int64),
            ),
            default_value=UNK,
        )

    def config(self):
        """The constructor arguments except `vocabulary`, as a dict."""
        return {
            name: getattr(self, name)
            for name in (
                "sequence_length", "max_question_tokens", "doc_stride", "max_answer_tokens",
                "max_windows", "max_context_bytes", "max_question_bytes",
            )
        }

    def lookup(self, tokens):
        """Token ids of a RaggedTensor of tokens (unknown → `UNK`)."""
        return tf.ragged.map_flat_values(self.table.lookup, tokens)

    @_graph_only
    def encode(self, question, context):
        """Windows of `[CLS] question [SEP] context [SEP]` for each pair.

        Args:
            question: string tensor `[batch]`.
            context: string tensor `[batch]`.

        Returns:
            A dict: `token_ids` int32 `[windows, sequence_length]`;
            `example`, `window_start` (context token index of the first
            token in the window), `offset` (position of that token in the
            window) and `length` (context tokens in the window), int64
            `[windows]`; `context` (as read), `starts` and `ends` (byte
            offsets of the context tokens, ragged `[batch, (tokens)]`).
            Every pair has at least one window.
        """
        question = tf.strings.substr(question, 0, self.max_question_bytes)
        context = tf.strings.substr(context, 0, self.max_context_bytes)
        question_tokens = tokenize(question)[0]
        tokens, starts, ends = tokenize(context)
        # Dense index arithmetic on the flat token ids: far fewer graph ops
        # than ragged slicing and concatenation.
        question_ids = _with_sentinel(self.table.lookup(question_tokens.flat_values))
        context_ids = _with_sentinel(self.table.lookup(tokens.flat_values))
        question_length = tf.minimum(question_tokens.row_lengths(), self.max_question_tokens)
        context_length = tokens.row_lengths()
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
        question_index = tf.gather(question_tokens.row_splits[:-1], example)[:, None] + position - 1
        context_index = (
            tf.gather(tokens.row_splits[:-1], example)[:, None]
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
        # The first token ending after the answer's start, the last one
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

        A span is valid if it lies inside the window's context tokens, ends
        at or after its start, and has at most `max_answer_tokens` tokens.
        Within a window the best span maximizes start + end logit; its score
        is `softmax(start)[s] * softmax(end)[e]` over the window, and the
        window with the highest score wins (the first on ties).

        Args:
            encoded: `encode`'s output.
            logits: float `[windows, 2, sequence_length]` from the model.

        Returns:
            A dict with `answer` string `[batch]` (the context bytes of the
            span; "" if no valid span exists, e.g. an empty context) and
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
        # A sentinel makes the gathers total when a context has no tokens.
        zero = tf.zeros([1], tf.int64)
        starts = tf.concat([encoded["starts"].flat_values, zero], 0)
        ends = tf.concat([encoded["ends"].flat_values, zero], 0)
        sentinel = tf.size(starts, out_type=tf.int64) - 1
        byte_start = tf.gather(starts, tf.where(has_span, first, sentinel))
        byte_end = tf.gather(ends, tf.where(has_span, last, sentinel))
        answer = tf.strings.substr(encoded["context"], byte_start, byte_end - byte_start)
        # A span of a context that is not UTF-8 holds its invalid bytes; the
        # answer replaces them with U+FFFD, as the generators do.
        answer = tf.strings.unicode_transcode(
            answer, "UTF-8", "UTF-8", errors="replace", replace_control_characters=False
        )
        return {
            "answer": tf.where(has_span, answer, ""),
            "score": tf.where(has_span, tf.gather(score, chosen), 0.0),
        }

    @_graph_only
    def answer(self, model, question, context):
        """`encode` → `model` → `decode`: what the export serves."""
        encoded = self.encode(question, context)
        return self.decode(encoded, model(encoded["token_ids"], training=False))


def check_model(model, processor):
    """Raises `ValueError` unless `model` takes `processor`'s windows."""
    if tuple(model.input_shape[1:]) != (processor.sequence_length,) or tuple(
        model.output_shape[1:]
    ) != (2, processor.sequence_length):
        raise ValueError(
            f"The model must map ids [batch, {processor.sequence_length}] to logits "
            f"[batch, 2, {processor.sequence_length}] (the processor's sequence_length). "
            f"Received input {model.input_shape}, output {model.output_shape}."
        )
    embedding = model.get_layer("embedding")
    if getattr(embedding, "vocabulary_size", None) != len(processor.vocabulary):
        raise ValueError(
            f"`vocabulary` has {len(processor.vocabulary)} entries but the model embeds "
            f"{getattr(embedding, 'vocabulary_size', None)} ids; they must match."
        )


def export_qa(model, processor, path):
    """Writes a TF Serving SavedModel that answers questions about a text.

    The `serving_default` signature takes `question` and `context`, string
    `[batch]`, and returns `answer` string `[batch]` (a substring of the
    context) and `score` float32 `[batch]` (the span's probability under
    the model, in [0, 1]). Tokenizing, windowing (contexts longer than a
    window are read with a stride) and picking the best valid span all run
    in the graph with core TF ops (see `QaProcessor`). The model always
    answers with some span of a non-empty context; an empty context gives
    "" with score 0. Invalid UTF-8 is read as U+FFFD, and an answer has
    U+FFFD where its context has invalid bytes, so answers are always
    UTF-8; only the first `max_context_bytes` / `max_question_bytes` are
    read. The two inputs must
    have the same batch size (InvalidArgument otherwise).

    A TF Serving REST request names both inputs in each instance:
    `{"instances": [{"question": "Who?", "context": "Bob did."}]}`.

    Args:
        model: a built `build_qa` model.
        processor: the `QaProcessor` the model was trained with.
        path: str. Directory to write; it must be empty or not exist.

    Returns:
        `path`.
    """
    check_model(model, processor)

    def serve(question, context):
        question = tf.ensure_shape(question, [None])
        context = tf.ensure_shape(context, [None])
        check = tf.debugging.assert_equal(
            tf.shape(context)[0], tf.shape(question)[0],
            message="context needs one value per question",
        )
        with tf.control_dependencies([check]):
            question = tf.identity(question)
        return processor.answer(model, question, context)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(processor.table)
    archive.add_endpoint(
        "serving_default",
        serve,
        input_signature=[
            tf.TensorSpec([None], tf.string, name="question"),
            tf.TensorSpec([None], tf.string, name="context"),
        ],
    )
    archive.write_out(path, verbose=False)
    return path


def reference_answers(model, processor, questions, contexts):
    """What the export must answer, computed in Python and numpy.

    The tokenizing, windowing and span search are written again here, the
    plain way, so a SavedModel is checked against code other than its own.
    Inputs must be valid UTF-8.

    Args:
        model: the in-memory `build_qa` model.
        processor: its `QaProcessor`.
        questions: sequence of str or bytes.
        contexts: sequence of str or bytes.

    Returns:
        A dict: `answer` (object array of bytes), `score` (float32 array).
    """
    p = processor
    index = {word: i for i, word in enumerate(p.vocabulary)}
    windows, places = [], []
    for i, (question, context) in enumerate(zip(questions, contexts)):
        question = _as_bytes(question)[: p.max_question_bytes]
        context = _as_bytes(context)[: p.max_context_bytes]
        q_ids = [index.get(t, UNK) for t, _, _ in reference_tokenize(question)]
        q_ids = q_ids[: p.max_question_tokens]
        c_tokens = reference_tokenize(context)
        room = p.sequence_length - 3 - len(q_ids)
        begin = 0
        for _ in range(p.max_windows):
            part = c_tokens[begin : begin + room]
            ids = [CLS] + q_ids + [SEP] + [index.get(t, UNK) for t, _, _ in part] + [SEP]
            windows.append(ids + [PAD] * (p.sequence_length - len(ids)))
            places.append((i, len(q_ids) + 2, part, context))
            if begin + room >= len(c_tokens):
                break
            begin += p.doc_stride
    logits = keras.ops.convert_to_numpy(
        model(np.asarray(windows, "int32").reshape(-1, p.sequence_length), training=False)
    ).astype("float64")
    best = {}
    for (i, offset, part, context), (start_logits, end_logits) in zip(places, logits):
        norm = _logsumexp(start_logits) + _logsumexp(end_logits)
        top = None
        for s in range(offset, offset + len(part)):
            for e in range(s, min(s + p.max_answer_tokens, offset + len(part))):
                if top is None or start_logits[s] + end_logits[e] > top[0]:
                    top = (start_logits[s] + end_logits[e], s, e)
        if top is None:
            candidate = (0.0, b"")
        else:
            text = context[part[top[1] - offset][1] : part[top[2] - offset][2]]
            candidate = (float(np.exp(top[0] - norm)), text)
        if i not in best or candidate[0] > best[i][0]:
            best[i] = candidate
    answers = np.empty(len(best), dtype=object)
    answers[:] = [best[i][1] for i in range(len(best))]
    return {
        "answer": answers,
        "score": np.asarray([best[i][0] for i in range(len(best))], "float32"),
    }


def _pick(mask, values, index, otherwise):
    # values[index] where mask, else otherwise; masked-out reads hit the sentinel.
    sentinel = tf.size(values, out_type=tf.int64) - 1
    return tf.where(mask, tf.gather(values, tf.where(mask, index, sentinel)), otherwise)


def _with_sentinel(values):
    # One extra entry at the end makes gathers total when a text has no tokens.
    return tf.concat([values, tf.zeros([1], values.dtype)], 0)


def _logsumexp(values):
    top = values.max()
    return top + np.log(np.exp(values - top).sum())


def _as_bytes(value):
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def publish_qa(
    model, processor, export_dir, name, version=None, example=None, timeout=600, card=None
):
    """Exports, verifies in a fresh process and publishes a QA model.

    Args:
        model: see `export_qa`.
        processor: see `export_qa`.
        export_dir: str. Root of the TF Serving model base paths.
        name: str. Model name; the export lands in `export_dir/name/version`.
        version: positive int or None for the next free version.
        example: `(questions, contexts)`, sequences of valid UTF-8 str (real
            examples) to check the export with; defaults to texts made of
            the vocabulary, one long enough for several windows, and an
            empty context.
        timeout: float. Seconds allowed for the verification process.
        card: dict of the model card's facts (see `model_card.build_card`),
            or None.

    Returns:
        The path of the published version directory.
    """
    check_model(model, processor)
    if example is None:
        words = processor.vocabulary[len(RESERVED) :][:40]
        long_context = " ".join(words * (1 + 3 * processor.sequence_length // len(words)))
        example = (
            [" ".join(words[:3]), " ".join(words[2:6]) + "?", "what?"],
            [" ".join(words), long_context, ""],
        )
    questions, contexts = (np.asarray([_as_bytes(t) for t in x], dtype=object) for x in example)
    return publish(
        lambda path: export_qa(model, processor, path),
        export_dir,
        name,
        version=version,
        contract=QA_CONTRACT,
        example={"question": questions, "context": contexts},
        expected=reference_answers(model, processor, questions, contexts),
        rtol=1e-4,
        atol=1e-6,
        timeout=timeout,
        model=model,
        card=card,
    )
