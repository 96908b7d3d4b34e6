"""Clients of the exports: what `modelzoo predict` sends each kind and how it reads the answer.

Each export kind has one client, named by the kind (`Client.kind`, the
`kind` an `export.base.ExportModule` names and the model card records). An
export is recognised by its card's `kind`, or, for exports without one, by
its `serving_default` inputs, as a TF Serving client sees them (`serves`). A
client
turns the command's arguments into a request and the outputs into records
(`predict`), and scores the export on raw test inputs (`score`, what
`modelzoo.scoring` calls). Nothing here imports training, tasks or models.
"""

import numpy as np
import tensorflow as tf

from modelzoo.data.loading import load_splits
from modelzoo.errors import DataError, UsageError


class Client:
    """One export kind's `modelzoo predict` adapter."""

    kind = None

    @classmethod
    def serves(cls, specs):
        """Whether an export whose `serving_default` takes `specs` (name →
        `tf.TensorSpec`) is this kind."""
        return False

    @classmethod
    def predict(cls, serve, request):
        """`modelzoo predict`'s records: `serve` called on the request.

        Args:
            serve: the export's `serving_default` concrete function.
            request: dict of the command's arguments (`text`, `prompt`,
                `num_chars`, `question`, `image`, `dataset`, ...).

        Raises:
            UsageError: an argument the export needs is missing or refused.
        """
        raise NotImplementedError

    @classmethod
    def score(cls, serve, inputs, targets, batch_size=256):
        """The export's metrics on raw test `inputs` against their `targets`.

        Args:
            serve: the export's `serving_default` (a `ServedSignature`).
            inputs: what a client sends, one per example (pixels, bytes,
                texts, prompts; for QA a `(questions, contexts)` pair).
            targets: the true class ids, next characters or answer lists.
            batch_size: int. Examples per call.

        Returns:
            dict of metric name → float.
        """
        raise NotImplementedError


class _Classifier(Client):
    """A classifier export: `class_ids` of its one input, scored by accuracy."""

    input_name = None

    @classmethod
    def score(cls, serve, inputs, targets, batch_size=512):
        predicted = np.concatenate([
            serve(**{cls.input_name: tf.constant(inputs[i : i + batch_size])})["class_ids"].numpy()
            for i in range(0, len(inputs), batch_size)
        ])
        return {"accuracy": float(np.mean(predicted == np.asarray(targets)))}


class ImageClient(_Classifier):
    """uint8 pixel images in, labels out."""

    kind = "image"
    input_name = "images"

    @classmethod
    def serves(cls, specs):
        return set(specs) == {"images"} and specs["images"].dtype != tf.string

    @classmethod
    def predict(cls, serve, request):
        """The first `count` test images of TFDS `dataset`, with their true labels."""
        if not request["dataset"]:
            raise UsageError("--dataset is needed to feed test images to an image model")
        (test,), info = load_splits(request["dataset"], [f"test[:{request['count']}]"],
                                    request["data_dir"], download=False)
        images, truth = next(iter(test.batch(request["count"])))
        out = serve(images=images)
        names = info.features["label"].names
        return [
            {"label": label.decode(), "true_label": names[int(t)],
             "probability": round(float(p.max()), 4)}
            for label, t, p in zip(out["labels"].numpy(), truth.numpy(),
                                   out["probabilities"].numpy())
        ]


class ImageBytesClient(_Classifier):
    """Encoded image files in, labels out."""

    kind = "image_bytes"
    input_name = "images"

    @classmethod
    def serves(cls, specs):
        return set(specs) == {"images"} and specs["images"].dtype == tf.string

    @classmethod
    def predict(cls, serve, request):
        """Each `image` file's label; a file that is no image is a `DataError`."""
        files = request["image"]
        if not files:
            raise UsageError("--image FILE is needed for a model that takes image bytes")
        contents = []
        for name in files:
            try:
                with open(name, "rb") as f:
                    contents.append(f.read())
            except OSError as e:
                raise UsageError(f"--image {name}: cannot be read ({e.strerror})") from None
        try:
            out = serve(images=tf.constant(contents))
        except tf.errors.InvalidArgumentError as e:
            raise DataError(
                f"--image: a file is not a JPEG, PNG, GIF or BMP image ({e.message})") from None
        return [
            {"image": name, "label": label.decode(), "probability": round(float(p.max()), 4)}
            for name, label, p in zip(files, out["labels"].numpy(), out["probabilities"].numpy())
        ]


class TextClassifierClient(_Classifier):
    """Raw text in, labels out."""

    kind = "text_classifier"
    input_name = "text"

    @classmethod
    def serves(cls, specs):
        return set(specs) == {"text"}

    @classmethod
    def predict(cls, serve, request):
        """Each `text`'s label and its probability."""
        text = request["text"]
        if not text:
            raise UsageError("--text is needed for a text classifier")
        out = serve(text=tf.constant(text))
        return [
            {"text": t, "label": label.decode(), "probability": round(float(p.max()), 4)}
            for t, label, p in zip(text, out["labels"].numpy(), out["probabilities"].numpy())
        ]


class GeneratorClient(Client):
    """A prompt in, its continuation out (the LSTM's and the GPT's generators)."""

    kind = "generator"

    REQUIRED = {"prompt", "num_chars", "temperature"}

    @classmethod
    def serves(cls, specs):
        return cls.REQUIRED <= set(specs) and "question" not in specs

    # Optional inputs sent where the export takes them and the request sets them.
    OPTIONAL = ("top_k", "top_p", "seed")

    @classmethod
    def generate(cls, serve, prompts, num_chars, temperature, **optional):
        """The continuations (bytes) of `prompts`; `optional` holds `top_k`,
        `top_p`, `seed` (None: the export's default)."""
        n = len(prompts)
        # Every input, optional ones included (a `ServedSignature` lists them in `specs`).
        specs = getattr(serve, "specs", serve.structured_input_signature[1])
        extra = {
            name: tf.fill([n], tf.constant(optional[name], specs[name].dtype))
            for name in cls.OPTIONAL if name in specs and optional.get(name) is not None
        }
        return serve(
            prompt=tf.constant(prompts),
            num_chars=tf.fill([n], tf.constant(num_chars, tf.int32)),
            temperature=tf.fill([n], tf.constant(temperature, tf.float32)),
            **extra,
        )["text"].numpy()

    @classmethod
    def predict(cls, serve, request):
        """Each `prompt`'s continuation (`top_k` where the export takes it)."""
        prompt = request["prompt"]
        if not prompt:
            raise UsageError("--prompt is needed for a text generator")
        texts = cls.generate(serve, prompt, request["num_chars"], request["temperature"],
                             **{name: request.get(name) for name in cls.OPTIONAL})
        return [
            {"prompt": p, "text": t.decode("utf-8", "replace")} for p, t in zip(prompt, texts)
        ]

    @classmethod
    def score(cls, serve, inputs, targets, batch_size=256):
        """`next_char_accuracy`: how often the greedy first character of each
        prompt is its target."""
        hits = 0
        for i in range(0, len(inputs), batch_size):
            texts = cls.generate(serve, list(inputs[i : i + batch_size]), 1, 0.0, top_k=0)
            hits += sum(t.decode("utf-8", "replace") == c
                        for t, c in zip(texts, targets[i : i + batch_size]))
        return {"next_char_accuracy": hits / max(len(inputs), 1)}


class QaClient(Client):
    """A question and its context in, the answer span out."""

    kind = "qa"

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

    @classmethod
    def score(cls, serve, inputs, targets, batch_size=64):
        """SQuAD's `exact_match` and `f1` of the answers to `inputs`
        (`(questions, contexts)`) against `targets` (gold answer lists)."""
        from modelzoo.squad_eval import squad_scores

        questions, contexts = inputs
        answers = []
        for i in range(0, len(questions), batch_size):
            out = serve(question=tf.constant(questions[i : i + batch_size]),
                        context=tf.constant(contexts[i : i + batch_size]))
            answers += [a.decode("utf-8", "replace") for a in out["answer"].numpy()]
        return squad_scores(answers, targets)


def refusal(error):
    """The reason an export's request check gave, from its `InvalidArgumentError`."""
    # The export's checks put their message first: "assertion failed: [every
    # context must be non-empty] [Condition ...".
    text = error.message
    if "assertion failed: [" in text:
        text = text.split("assertion failed: [", 1)[1].split("]", 1)[0]
    # tf.debugging's messages may end in ". " before their condition.
    return text.strip().splitlines()[0].strip().rstrip(".")


CLIENTS = {c.kind: c for c in (ImageClient, ImageBytesClient, TextClassifierClient,
                                GeneratorClient, QaClient)}


def client_for(specs, kind=None):
    """The client of an export: the one named `kind`, else the one whose
    `serves(specs)` is true, or None.

    Args:
        specs: dict name → `tf.TensorSpec`, the `serving_default` inputs.
        kind: str or None, the `kind` of the export's model card; exports
            published before cards recorded it have none.

    Returns:
        A `Client` subclass, or None.

    Example:
        >>> client_for({"text": tf.TensorSpec([None], tf.string)}).kind
        'text_classifier'
    """
    if kind in CLIENTS:
        return CLIENTS[kind]
    return next((c for c in CLIENTS.values() if c.serves(specs)), None)
