"""modelzoo: Keras 3 models, training recipes and TF Serving exports."""

from modelzoo import layers
from modelzoo.models import (
    build_cnn,
    build_gpt,
    build_lstm_generator,
    build_mlp,
    build_qa,
    build_transfer_classifier,
    build_transformer,
)
from modelzoo.registry import get_model, list_models, register_model

__all__ = [
    "build_cnn",
    "build_gpt",
    "build_lstm_generator",
    "build_mlp",
    "build_qa",
    "build_transfer_classifier",
    "build_transformer",
    "get_model",
    "layers",
    "list_models",
    "register_model",
]
