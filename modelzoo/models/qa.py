"""Extractive question answering: a BERT-style encoder with a span head."""

import dataclasses

import keras

from modelzoo import checks
from modelzoo.config import field
from modelzoo.layers import SpanHead
from modelzoo.models.bert import BackboneConfig, build_bert_backbone
from modelzoo.registry import register_model
from modelzoo.text import wordpiece

__all__ = ["build_qa", "span_extractor"]


@register_model("qa", vocab_size=8000, sequence_length=256)
def build_qa(vocab_size, sequence_length, *, reader_layers=0, name="qa", **kwargs):
    """Builds a BERT-style span extractor over `[CLS] question [SEP] context [SEP]`.

    Token ids `[batch, sequence_length]`, 0 = padding → `BertBackbone`
    (`build_bert_backbone`, the encoder that `recipes/bert_pretrain.py`
    pre-trains) → `reader_layers` bidirectional LSTMs → `SpanHead`: a start
    and an end logit per position, padding set to -1e9. Train it with sparse
    labels `[batch, 2]` (start, end positions) and
    `SparseCategoricalCrossentropy(from_logits=True)`; position 0 (`[CLS]`)
    stands for "no answer in this window".

    The recurrent reader is DrQA's (Chen et al. 2017): it gives each token
    its neighbours in order, the locality that a small encoder trained on
    few questions does not learn from absolute positions (see `squad_qa.py`
    for the measured effect).

    Args:
        vocab_size: int. Number of token ids, including 0 (padding).
        sequence_length: int. Length of the id sequences.
        embed_dim: int. Embedding and hidden size; divisible by `num_heads`.
            Defaults to `128`.
        num_heads: int. Attention heads. Defaults to `4`.
        ff_dim: int. Feed-forward width. Defaults to `256`.
        num_layers: int. Encoder blocks. Defaults to `2`.
        dropout: float in [0, 1). Dropout of the embeddings, the residual
            branches and the attention probabilities, as in BERT. Defaults to
            `0.1`.
        separator_id: int. The `[SEP]` token id. Defaults to
            `modelzoo.text.wordpiece.SEP`.
        token_match: bool. Give the encoder DrQA's exact-match feature (see
            `build_bert_backbone`). Defaults to `False`.
        reader_layers: int >= 0. Bidirectional LSTM layers between the
            encoder and the span head, `embed_dim // 2` units each way.
            Defaults to `0` (BERT's linear head on the encoder).
        name: str. Model name. Defaults to `"qa"`.
        dtype: dtype or policy for the hidden layers; the logits stay float32.

    Returns:
        An uncompiled `keras.Model` mapping int ids `[batch, sequence_length]`
        to logits `[batch, 2, sequence_length]`: `[:, 0]` are the start
        logits, `[:, 1]` the end logits. `modelzoo.models.bert.backbone_of`
        returns its backbone.

    Example:
    >>> model = build_qa(1000, 32, embed_dim=16, num_heads=2, ff_dim=32)
    >>> tuple(model(np.array([[2, 9, 3, 7, 8, 3] + [0] * 26])).shape)
    (1, 2, 32)
    """
    return span_extractor(build_bert_backbone(vocab_size, sequence_length, **kwargs),
                          reader_layers=reader_layers, name=name)


def span_extractor(backbone, reader_layers=0, name="qa"):
    """The span extractor of `build_qa` around an existing `BertBackbone`.

    Span-selection pre-training (`modelzoo.tasks.masked_lm`) trains the
    backbone it is given through this model.

    Args:
        backbone: a `BertBackbone`.
        reader_layers: int >= 0. Bidirectional LSTM layers before the span
            head (see `build_qa`). Defaults to `0`.
        name: str. Model name. Defaults to `"qa"`.

    Returns:
        An uncompiled `keras.Model` as `build_qa` returns, sharing `backbone`.

    Example:
    >>> backbone = build_bert_backbone(100, 16, embed_dim=8, num_heads=2, ff_dim=16)
    >>> tuple(span_extractor(backbone)(np.array([[2, 9, 3, 7, 3] + [0] * 11])).shape)
    (1, 2, 16)
    """
    token_ids = keras.Input(shape=(backbone.sequence_length,), dtype="int32", name="token_ids")
    padding_mask = keras.ops.not_equal(token_ids, wordpiece.PAD)
    hidden = backbone(token_ids)
    for index in range(checks.non_negative_int("reader_layers", reader_layers)):
        lstm = keras.layers.LSTM(hidden.shape[-1] // 2, return_sequences=True,
                                 dtype=backbone.dtype_policy)
        hidden = keras.layers.Bidirectional(lstm, name=f"reader_{index}")(
            hidden, mask=padding_mask)
    logits = SpanHead(dtype="float32", name="span_logits")(hidden, padding_mask=padding_mask)
    return keras.Model(token_ids, logits, name=name)


@dataclasses.dataclass
class QaConfig(BackboneConfig):
    """`build_qa`'s arguments a recipe sets: the encoder's, and the reader's."""

    registered_name = "qa"
    reader_layers: int = field(
        0, "Bidirectional LSTM layers between the encoder and the span head (DrQA's "
        "reader); 0: BERT's linear head.", minimum=0)
