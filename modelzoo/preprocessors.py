"""The preprocessing a preset carries: raw inputs in, model inputs out.

One small class per task, saved as `preprocessor.json` (its settings) and
files in `assets/` (vocabularies, class names), and attached to the loaded
model as `model.preprocessor`.
"""

import functools
import json
import os

from modelzoo.errors import UsageError


def _write_lines(path, lines):
    # A JSON list: any character (newlines, "\r") survives.
    with open(path, "w", encoding="utf-8") as f:
        json.dump(list(lines), f, ensure_ascii=False, indent=0)


def _read_lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except ValueError as exc:
        raise UsageError(f"preset asset {path} is not a JSON list ({exc}); "
                         "train the recipe again") from None
    except FileNotFoundError:
        raise UsageError(f"preset is incomplete: assets/{os.path.basename(path)} is missing "
                         f"({path}); train the recipe again or pass another preset") from None


class Preprocessor:
    """Base class: `kind`, settings in `to_json`, files in `save_assets`.

    Attributes:
        kind: str. The name `from_json` reads back.
        class_names: list of str or None.
    """

    kind = ""
    assets = ()

    def __init__(self, class_names=None):
        self.class_names = list(class_names) if class_names is not None else None

    def settings(self):
        """The JSON settings besides `kind` and the asset files."""
        return {}

    def to_json(self):
        """The dict `preprocessor.json` holds."""
        return dict(kind=self.kind, assets=list(self.assets), **self.settings())

    def save_assets(self, folder):
        """Writes the asset files into `folder`."""
        if self.class_names is not None:
            _write_lines(os.path.join(folder, "class_names.json"), self.class_names)

    def __call__(self, raw):
        """Model inputs of raw inputs."""
        raise NotImplementedError

    def attach(self, model):
        """Sets `model.preprocessor` (and conveniences)."""
        model.preprocessor = self


class TextClassifierPreprocessor(Preprocessor):
    """Raw review text → token ids `[batch, sequence_length]` (the last tokens).

    Args:
        vocabulary: list of str, the vectorizer's (padding "" and "[UNK]" first).
        sequence_length: int. Tokens per text.
        class_names: list of str.
    """

    kind = "text_classifier"
    assets = ("vocabulary.json", "class_names.json")

    def __init__(self, vocabulary, sequence_length, class_names=None):
        super().__init__(class_names)
        self.vocabulary = list(vocabulary)
        self.sequence_length = int(sequence_length)
        self._vectorizer = None

    @property
    def vectorizer(self):
        """The `TextVectorization` of the vocabulary (built on first use)."""
        if self._vectorizer is None:
            import keras

            from modelzoo.data.pipelines import standardize_review

            # The first two entries are the padding and OOV tokens Keras adds itself.
            self._vectorizer = keras.layers.TextVectorization(
                vocabulary=self.vocabulary[2:], output_mode="int", ragged=True,
                standardize=standardize_review, name="vectorizer")
        return self._vectorizer

    def settings(self):
        return dict(sequence_length=self.sequence_length)

    def save_assets(self, folder):
        super().save_assets(folder)
        _write_lines(os.path.join(folder, "vocabulary.json"), self.vocabulary)

    def __call__(self, raw):
        import tensorflow as tf

        from modelzoo.data.pipelines import text_ids

        return text_ids(self.vectorizer, tf.constant(raw, tf.string), self.sequence_length)

    def attach(self, model):
        super().attach(model)

        def predict_texts(texts, batch_size=64):
            """The model's outputs `[len(texts), classes]` (logits) of raw texts."""
            return model.predict(self(list(texts)), batch_size=batch_size, verbose=0)

        model.predict_texts = predict_texts


class ImagePreprocessor(Preprocessor):
    """uint8 images → float32 arrays (the model rescales them itself)."""

    kind = "image_classifier"
    assets = ("class_names.json",)

    def __call__(self, raw):
        import numpy as np

        return np.asarray(raw, dtype="float32")

    def attach(self, model):
        super().attach(model)
        model.predict_raw = lambda images, batch_size=256: model.predict(
            self(images), batch_size=batch_size, verbose=0)


class CharPreprocessor(Preprocessor):
    """Text → character ids (ragged); the generator models also keep `vocabulary`."""

    kind = "char_generator"
    assets = ("vocabulary.json",)

    def __init__(self, vocabulary, sequence_length):
        super().__init__(None)
        self.vocabulary = list(vocabulary)
        self.sequence_length = int(sequence_length)

    def settings(self):
        return dict(sequence_length=self.sequence_length)

    def save_assets(self, folder):
        _write_lines(os.path.join(folder, "vocabulary.json"), self.vocabulary)

    def __call__(self, raw):
        from modelzoo.text import chars

        return chars.char_ids(chars.char_table(self.vocabulary), list(raw))

    def attach(self, model):
        super().attach(model)
        if getattr(model, "vocabulary", None) is None:
            model.vocabulary = self.vocabulary


class WordPiecePreprocessor(Preprocessor):
    """Text → WordPiece ids; the BERT backbone of `bert_pretrain` keeps `vocabulary`.

    The vocabulary is `assets/vocab.txt`, one piece a line (BERT's format).
    """

    kind = "wordpiece"
    assets = ("vocab.txt",)

    def __init__(self, vocabulary, sequence_length):
        super().__init__(None)
        self.vocabulary = list(vocabulary)
        self.sequence_length = int(sequence_length)

    def settings(self):
        return dict(sequence_length=self.sequence_length)

    def save_assets(self, folder):
        from modelzoo.text import wordpiece

        wordpiece.save_vocabulary(self.vocabulary, folder)

    def __call__(self, raw):
        from modelzoo.text import wordpiece

        return wordpiece.tokenizer(self.vocabulary).tokenize(list(raw))

    def attach(self, model):
        super().attach(model)
        model.vocabulary = self.vocabulary


class ImageBytesPreprocessor(Preprocessor):
    """Encoded image files (JPEG, PNG, GIF, BMP) → float32 pixels `[batch, s, s, 3]`.

    Decoded and resized by `modelzoo.pixels.decode_and_resize`, as the
    image-bytes export and the transfer pipelines do.

    Args:
        image_size: int. The model's input height and width.
        class_names: list of str.
    """

    kind = "image_bytes_classifier"
    assets = ("class_names.json",)

    def __init__(self, image_size, class_names=None):
        super().__init__(class_names)
        self.image_size = int(image_size)

    def settings(self):
        return dict(image_size=self.image_size)

    def __call__(self, raw):
        import numpy as np
        import tensorflow as tf

        from modelzoo.pixels import decode_and_resize

        size = (self.image_size, self.image_size)
        return np.stack([decode_and_resize(tf.constant(data), size).numpy() for data in raw])

    def attach(self, model):
        super().attach(model)
        model.predict_raw = lambda images, batch_size=64: model.predict(
            self(images), batch_size=batch_size, verbose=0)


class QaPreprocessor(WordPiecePreprocessor):
    """Question and context text → windows of WordPiece ids, and back to answers.

    Wraps the `QaProcessor` the reader was trained with (its vocabulary is
    `assets/vocab.txt`, its window settings `preprocessor.json`), so a preset
    answers as the export does.

    Args:
        vocabulary: list of str, the WordPiece vocabulary.
        windowing: dict of the `QaProcessor` window arguments besides the
            vocabulary (`sequence_length`, `max_question_tokens`, ...).
    """

    kind = "question_answering"

    def __init__(self, vocabulary, windowing):
        self.windowing = dict(windowing)
        super().__init__(vocabulary, self.windowing["sequence_length"])

    @functools.cached_property
    def processor(self):
        """The `QaProcessor` of the vocabulary and windowing (built once)."""
        from modelzoo.text.qa_processor import QaProcessor

        return QaProcessor(self.vocabulary, **self.windowing)

    def settings(self):
        return dict(windowing=self.windowing)

    def __call__(self, raw):
        """The model's `token_ids` of `(questions, contexts)`, one window per pair."""
        import tensorflow as tf

        questions, contexts = raw
        encoded = self.processor.encode(tf.constant(list(questions)), tf.constant(list(contexts)))
        return encoded["token_ids"]

    def attach(self, model):
        super().attach(model)
        processor = self.processor

        def answer(questions, contexts, batch_size=64):
            """`{"answer": bytes array, "score": float32 array}` for each question."""
            return processor.predict(model, list(questions), list(contexts), batch_size)

        model.answer = answer


def _read_vocabulary(folder):
    from modelzoo.text import wordpiece

    if not os.path.isfile(os.path.join(folder, wordpiece.VOCAB_FILE)):
        raise UsageError(f"preset is incomplete: assets/{wordpiece.VOCAB_FILE} is missing "
                         f"({folder}); train the recipe again or pass another preset")
    return wordpiece.load_vocabulary(folder)


# kind → reader of (preprocessor.json's dict, the assets folder).
_READERS = {
    TextClassifierPreprocessor.kind: lambda spec, folder: TextClassifierPreprocessor(
        _read_lines(os.path.join(folder, "vocabulary.json")), spec["sequence_length"],
        _read_lines(os.path.join(folder, "class_names.json"))),
    ImagePreprocessor.kind: lambda spec, folder: ImagePreprocessor(
        _read_lines(os.path.join(folder, "class_names.json"))),
    ImageBytesPreprocessor.kind: lambda spec, folder: ImageBytesPreprocessor(
        spec["image_size"], _read_lines(os.path.join(folder, "class_names.json"))),
    CharPreprocessor.kind: lambda spec, folder: CharPreprocessor(
        _read_lines(os.path.join(folder, "vocabulary.json")), spec["sequence_length"]),
    WordPiecePreprocessor.kind: lambda spec, folder: WordPiecePreprocessor(
        _read_vocabulary(folder), spec["sequence_length"]),
    QaPreprocessor.kind: lambda spec, folder: QaPreprocessor(
        _read_vocabulary(folder), spec["windowing"]),
}


def from_json(spec, folder):
    """The `Preprocessor` of a `preprocessor.json` dict and its `assets/` folder.

    Raises:
        UsageError: an unknown kind or a missing asset file.
    """
    kind = spec.get("kind")
    if kind not in _READERS:
        raise UsageError(f"preprocessor.json names kind {kind!r}, which modelzoo does not know; "
                         "use a preset this version of modelzoo wrote")
    try:
        return _READERS[kind](spec, folder)
    except KeyError as exc:
        raise UsageError(f"preprocessor.json of kind {kind!r} has no {exc.args[0]!r} "
                         f"({folder}); train the recipe again or pass another preset") from None
