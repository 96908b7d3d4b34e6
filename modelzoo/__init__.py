"""modelzoo: Keras 3 models, training recipes and TF Serving exports.

Every `build_*` builder of `modelzoo.models` is importable from here
(`from modelzoo import build_transformer`), as are the registry's
`get_model`, `list_models` and `register_model`, and the Python API of the
experiments: `train`, `experiments` and `get_config` (`modelzoo.api`), and
`from_preset` and `list_presets` (`modelzoo.presets`).

The names are loaded on first use (a module `__getattr__`), so `import
modelzoo`, and the `modelzoo` command's `--help`, do not import TensorFlow;
`modelzoo.models` and `modelzoo.layers` (and with them Keras) load when a
builder, a layer or the registry is first asked for.
"""

import importlib
import importlib.util

_SUBPACKAGES = ("layers", "models")
_REGISTRY_NAMES = ("get_model", "list_models", "register_model")
# Top-level functions defined in a submodule, loaded on first use: name -> (module, attribute).
_API = {
    "train": ("modelzoo.api", "train"),
    "experiments": ("modelzoo.api", "experiments"),
    "get_config": ("modelzoo.api", "get_config"),
    "from_preset": ("modelzoo.presets", "from_preset"),
    "list_presets": ("modelzoo.presets", "list_presets"),
}


def _api(name):
    module_name, attribute = _API[name]
    try:
        value = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        raise AttributeError(f"module 'modelzoo' has no attribute {name!r} "
                             f"({module_name}.{attribute} is not there)") from None
    globals()[name] = value
    return value


def __getattr__(name):
    if name in _API:
        return _api(name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"modelzoo.{name}")
    if name in _REGISTRY_NAMES:
        importlib.import_module("modelzoo.models")  # registers every builder
        return getattr(importlib.import_module("modelzoo.registry"), name)
    if name == "__all__":
        models = importlib.import_module("modelzoo.models")
        return sorted(models.__all__ + ["get_model", "layers", "list_models", "register_model",
                                        *_API])
    if not name.startswith("__") and importlib.util.find_spec(f"modelzoo.{name}") is None:
        # (A submodule, as in `from modelzoo import recipe`, is left to the import system.)
        models = importlib.import_module("modelzoo.models")
        if name in models.__all__:
            return getattr(models, name)
    raise AttributeError(f"module 'modelzoo' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__getattr__("__all__")))
