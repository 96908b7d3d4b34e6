"""Custom Keras layers, one per file, registered as serializable."""

from modelzoo.layers.token_and_position_embedding import TokenAndPositionEmbedding
from modelzoo.layers.transformer_encoder import TransformerEncoder

__all__ = ["TokenAndPositionEmbedding", "TransformerEncoder"]
