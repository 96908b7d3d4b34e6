"""Model builders. Importing this package registers them."""

from modelzoo.models.cnn import build_cnn
from modelzoo.models.lstm_generator import build_lstm_generator
from modelzoo.models.mlp import build_mlp
from modelzoo.models.transformer import build_transformer

__all__ = ["build_cnn", "build_lstm_generator", "build_mlp", "build_transformer"]
