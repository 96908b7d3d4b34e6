"""The preprocessing a preset carries: raw inputs in, model inputs out.

One small class per task, saved as `preprocessor.json` (its settings) and
files in `assets/` (vocabularies, class names), and attached to the loaded
model as `model.preprocessor`.
"""

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


def from_json(spec, folder):
    """The `Preprocessor` of a `preprocessor.json` dict and its `assets/` folder.

    Raises:
        UsageError: an unknown kind or a missing asset file.
    """
    kind = spec.get("kind")
    names = os.path.join(folder, "class_names.json")
    if kind == TextClassifierPreprocessor.kind:
        return TextClassifierPreprocessor(
            _read_lines(os.path.join(folder, "vocabulary.json")), spec["sequence_length"],
            _read_lines(names))
    if kind == ImagePreprocessor.kind:
        return ImagePreprocessor(_read_lines(names))
    if kind == CharPreprocessor.kind:
        return CharPreprocessor(_read_lines(os.path.join(folder, "vocabulary.json")),
                                spec["sequence_length"])
    if kind == WordPiecePreprocessor.kind:
        from modelzoo.text import wordpiece

        if not os.path.isfile(os.path.join(folder, wordpiece.VOCAB_FILE)):
            raise UsageError(f"preset is incomplete: assets/{wordpiece.VOCAB_FILE} is missing "
                             f"({folder}); train the recipe again or pass another preset")
        return WordPiecePreprocessor(wordpiece.load_vocabulary(folder), spec["sequence_length"])
    raise UsageError(f"preprocessor.json names kind {kind!r}, which modelzoo does not know; "
                     "use a preset this version of modelzoo wrote")
