"""Model builders. Importing this package registers them."""

from modelzoo.models.bert import build_bert_backbone, build_masked_lm
from modelzoo.models.cnn import build_cnn
from modelzoo.models.gpt import build_gpt
from modelzoo.models.lstm_generator import build_lstm_generator
from modelzoo.models.mlp import build_mlp
from modelzoo.models.qa import build_qa
from modelzoo.models.transfer import build_transfer_classifier
from modelzoo.models.transformer import build_transformer

__all__ = [
    "build_bert_backbone",
    "build_cnn",
    "build_gpt",
    "build_lstm_generator",
    "build_masked_lm",
    "build_mlp",
    "build_qa",
    "build_transfer_classifier",
    "build_transformer",
]
