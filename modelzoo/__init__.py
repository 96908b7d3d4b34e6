"""modelzoo: Keras 3 models, training recipes and TF Serving exports.

Every `build_*` builder of `modelzoo.models` is importable from here
(`from modelzoo import build_transformer`), as are the registry's
`get_model`, `list_models` and `register_model`, and the Python API of the
experiments: `train`, `experiments` and `get_config`.
"""

from modelzoo import layers, models
from modelzoo.api import experiments, get_config, train
from modelzoo.models import *  # noqa: F401,F403 - each model module's __all__
from modelzoo.registry import get_model, list_models, register_model

__all__ = sorted(models.__all__ + [
    "experiments", "get_config", "get_model", "layers", "list_models", "register_model", "train"])
