"""A BERT-style Transformer encoder, its masked-LM pre-training model and checkpoints."""

import dataclasses
import json
import os

import keras

from modelzoo import checks, storage
from modelzoo.config import field
from modelzoo.experiment_config import TransformerSizes
from modelzoo.layers import (
    MaskedLMHead,
    SegmentEmbedding,
    TokenAndPositionEmbedding,
    TokenMatchEmbedding,
)
from modelzoo.models.common import FunctionalModel, encoder_stack
from modelzoo.text import wordpiece

__all__ = ["build_bert_backbone", "build_masked_lm"]

WEIGHTS_FILE = "backbone.weights.h5"
CONFIG_FILE = "backbone.json"


def build_bert_backbone(vocab_size, sequence_length, *, name="backbone", **kwargs):
    """Builds the encoder shared by masked-LM pre-training and QA fine-tuning.

    Token ids `[batch, sequence_length]`, 0 = padding → token and position
    embedding + segment embedding (segment ids counted from the `[SEP]`
    positions) → layer norm → dropout → `num_layers` encoder blocks with
    padding masked.

    Args:
        vocab_size: int. Number of token ids, including 0 (padding).
        sequence_length: int. Length of the id sequences.
        embed_dim: int. Hidden size; divisible by `num_heads`. Defaults to `128`.
        num_heads: int. Attention heads. Defaults to `4`.
        ff_dim: int. Feed-forward width. Defaults to `256`.
        num_layers: int. Encoder blocks. Defaults to `2`.
        dropout: float in [0, 1). Dropout of the embeddings, the residual
            branches and the attention probabilities, as in BERT. Defaults
            to `0.1`.
        separator_id: int. The `[SEP]` id. Defaults to
            `modelzoo.text.wordpiece.SEP`.
        token_match: bool. Also add a `TokenMatchEmbedding` (does the token
            occur in the other segment; DrQA's exact-match feature).
            Defaults to `False`, as in BERT.
        name: str. Defaults to `"backbone"`.
        dtype: dtype or policy of the layers.

    Returns:
        A `BertBackbone` (a functional `keras.Model`) mapping int ids to
        hidden states `[batch, sequence_length, embed_dim]`.

    Example:
    >>> backbone = build_bert_backbone(100, 16, embed_dim=8, num_heads=2, ff_dim=16)
    >>> tuple(backbone(np.array([[2, 9, 3, 7, 3] + [0] * 11])).shape)
    (1, 16, 8)
    """
    return BertBackbone(vocab_size, sequence_length, name=name, **kwargs)


@keras.saving.register_keras_serializable(package="modelzoo")
class BertBackbone(FunctionalModel):
    """The model `build_bert_backbone` returns; its config holds the builder's arguments.

    `embedding` is its `TokenAndPositionEmbedding`, whose token table the
    masked-LM head reuses in reverse (tied input and output embeddings).
    """

    def __init__(
        self,
        vocab_size,
        sequence_length,
        embed_dim=128,
        num_heads=4,
        ff_dim=256,
        num_layers=2,
        dropout=0.1,
        separator_id=wordpiece.SEP,
        token_match=False,
        name=None,
        trainable=True,
        dtype=None,
    ):
        checks.positive_int("vocab_size", vocab_size)
        checks.positive_int("sequence_length", sequence_length)
        checks.transformer_sizes(embed_dim, num_heads, ff_dim, num_layers, dropout)
        if isinstance(separator_id, bool) or not isinstance(separator_id, int) or not (
            0 < separator_id < vocab_size
        ):
            raise ValueError(
                f"`separator_id` must be an id in [1, vocab_size). Received: "
                f"separator_id={separator_id!r}, vocab_size={vocab_size}"
            )
        if not isinstance(token_match, bool):
            raise ValueError(f"`token_match` must be a bool. Received: token_match={token_match!r}")

        # === Layers ===
        self.embedding = TokenAndPositionEmbedding(
            vocab_size, sequence_length, embed_dim, dtype=dtype, name="embedding"
        )
        segment_embedding = SegmentEmbedding(
            separator_id, embed_dim, dtype=dtype, name="segment_embedding"
        )

        # === Functional Model ===
        token_ids = keras.Input(shape=(sequence_length,), dtype="int32", name="token_ids")
        embedded = [self.embedding(token_ids), segment_embedding(token_ids)]
        if token_match:
            embedded.append(
                TokenMatchEmbedding(separator_id, embed_dim, first_word_id=len(wordpiece.RESERVED),
                                    dtype=dtype, name="token_match_embedding")(token_ids)
            )
        x = keras.layers.Add(dtype=dtype, name="add_segments")(embedded)
        x = keras.layers.LayerNormalization(epsilon=1e-5, dtype=dtype, name="embedding_norm")(x)
        x = keras.layers.Dropout(dropout, dtype=dtype, name="embedding_dropout")(x)
        # BERT drops attention probabilities at the same rate.
        x = encoder_stack(x, num_layers, intermediate_dim=ff_dim, num_heads=num_heads,
                          dropout=dropout, attention_dropout=dropout, dtype=dtype)
        super().__init__(token_ids, x, name=name, trainable=trainable, dtype=dtype)

        # === Config ===
        self.vocab_size = vocab_size
        self.sequence_length = sequence_length
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.ff_dim = ff_dim
        self.num_layers = num_layers
        self.dropout = dropout
        self.separator_id = separator_id
        self.token_match = token_match

    def get_config(self):
        return {
            "vocab_size": self.vocab_size,
            "sequence_length": self.sequence_length,
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "separator_id": self.separator_id,
            "token_match": self.token_match,
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
        }


def backbone_of(model):
    """The `BertBackbone` inside `model` (a QA or masked-LM model)."""
    found = [layer for layer in model.layers if isinstance(layer, BertBackbone)]
    if len(found) != 1:
        raise ValueError(
            f"`model` must hold exactly one BertBackbone; {model.name!r} holds {len(found)}."
        )
    return found[0]


def build_masked_lm(backbone, mask_selection_length, dtype=None):
    """The masked-language-model pre-training model around `backbone`.

    Args:
        backbone: a `BertBackbone`.
        mask_selection_length: int. Masked positions per sequence (padded).
        dtype: dtype or policy of the head; its logits stay float32.

    Returns:
        A `keras.Model` taking `{"token_ids": int [batch, sequence_length],
        "mask_positions": int [batch, mask_selection_length]}` and returning
        float32 logits `[batch, mask_selection_length, vocab_size]`, the
        output embedding tied to the backbone's token table.

    Example:
    >>> backbone = build_bert_backbone(100, 16, embed_dim=8, num_heads=2, ff_dim=16)
    >>> mlm = build_masked_lm(backbone, 3)
    >>> tuple(mlm({"token_ids": np.ones((1, 16), "int32"),
    ...            "mask_positions": np.array([[1, 2, 0]])}).shape)
    (1, 3, 100)
    """
    checks.positive_int("mask_selection_length", mask_selection_length)
    token_ids = keras.Input(shape=(backbone.sequence_length,), dtype="int32", name="token_ids")
    positions = keras.Input(shape=(mask_selection_length,), dtype="int32", name="mask_positions")
    logits = MaskedLMHead(
        vocabulary_size=backbone.vocab_size,
        token_embedding=backbone.embedding,
        dtype=dtype,
        name="mlm_head",
    )(backbone(token_ids), mask_positions=positions)
    return keras.Model({"token_ids": token_ids, "mask_positions": positions}, logits,
                       name="masked_lm")


def save_checkpoint(backbone, vocabulary, directory):
    """Writes a pre-trained backbone for `load_checkpoint`, never over an existing one.

    The folder holds `backbone.json` (the builder's arguments),
    `backbone.weights.h5` and `vocab.txt`; it is written to a temporary
    folder beside `directory` and renamed into place.

    Raises:
        FileExistsError: `directory` already exists.
    """
    directory = os.path.abspath(directory)
    if os.path.exists(directory):
        raise FileExistsError(f"{directory} already exists")
    # Renamed with no-replace semantics: a folder that appears meanwhile is
    # never replaced (FileExistsError then).
    with storage.staged_dir(os.path.dirname(directory), ".modelzoo-checkpoint-",
                            target=directory) as staged:
        config = {k: v for k, v in backbone.get_config().items() if k not in ("name", "trainable")}
        config["dtype"] = None
        with open(os.path.join(staged.path, CONFIG_FILE), "w") as f:
            json.dump(config, f, indent=1)
        backbone.save_weights(os.path.join(staged.path, WEIGHTS_FILE))
        wordpiece.save_vocabulary(vocabulary, staged.path)
    return directory


def read_checkpoint(directory):
    """`(builder arguments, vocabulary)` of a `save_checkpoint` folder.

    Raises:
        ValueError: a file is missing or unreadable, naming it.
    """
    for name in (CONFIG_FILE, WEIGHTS_FILE, wordpiece.VOCAB_FILE):
        if not os.path.isfile(os.path.join(directory, name)):
            raise ValueError(
                f"{directory} is not a pre-training checkpoint: {name} is missing; "
                "pass the folder recipes/bert_pretrain.py wrote"
            )
    try:
        with open(os.path.join(directory, CONFIG_FILE)) as f:
            config = json.load(f)
        vocabulary = wordpiece.load_vocabulary(directory)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{directory}: cannot read the checkpoint ({err})") from None
    return config, vocabulary


def load_checkpoint(model, directory):
    """Loads a pre-trained backbone's weights into `model`'s backbone."""
    backbone_of(model).load_weights(os.path.join(directory, WEIGHTS_FILE))


@dataclasses.dataclass
class BackboneConfig(TransformerSizes):
    """`build_bert_backbone`'s arguments a recipe sets."""

    registered_name = "bert_backbone"
    embed_dim: int = field(128, "Embedding and hidden size.", minimum=1)
    ff_dim: int = field(256, "Feed-forward width.", minimum=1)
    token_match: bool = field(
        False, "Give the encoder DrQA's exact-match feature (whether each token also "
        "occurs in the other segment).")
