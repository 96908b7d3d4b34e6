"""Custom Keras layers, one per file, registered as serializable."""

from modelzoo.layers.token_and_position_embedding import TokenAndPositionEmbedding
from modelzoo.layers.cached_multi_head_attention import CachedMultiHeadAttention
from modelzoo.layers.image_net_preprocessing import ImageNetPreprocessing
from modelzoo.layers.masked_lm_head import MaskedLMHead
from modelzoo.layers.segment_embedding import SegmentEmbedding
from modelzoo.layers.span_head import SpanHead
from modelzoo.layers.token_match_embedding import TokenMatchEmbedding
from modelzoo.layers.transformer_decoder import TransformerDecoder
from modelzoo.layers.transformer_encoder import TransformerEncoder

__all__ = [
    "CachedMultiHeadAttention",
    "ImageNetPreprocessing",
    "MaskedLMHead",
    "SegmentEmbedding",
    "SpanHead",
    "TokenAndPositionEmbedding",
    "TokenMatchEmbedding",
    "TransformerDecoder",
    "TransformerEncoder",
]
