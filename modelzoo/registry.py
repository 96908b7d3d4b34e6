"""A name → builder registry, in the style of timm's `register_model`.

Each entry is a builder function plus the default arguments of its canonical
configuration, so `get_model("mlp")` builds the MNIST MLP and
`get_model("mlp", hidden_units=(256, 128))` overrides one field. Those
defaults may differ from the builder's own (`rescale=1/255` for the MNIST
models); and, as timm's `create_model(pretrained=False)`, a registered name
never downloads weights unless asked: `transfer_classifier` registers
`weights=None` while `build_transfer_classifier` defaults to `"imagenet"`.
"""

import fnmatch
import importlib

_REGISTRY = {}


def _load_builders():
    """Imports `modelzoo.models`, whose modules register every builder (once)."""
    importlib.import_module("modelzoo.models")


def register_model(name, **defaults):
    """Registers a builder under `name` with default keyword arguments.

    Args:
        name: str. The public name, e.g. `"mlp"`.
        **defaults: keyword arguments `get_model` passes unless overridden.

    Returns:
        A decorator that registers and returns the builder unchanged.
    """

    def decorator(builder):
        if name in _REGISTRY:
            raise ValueError(f"Model name {name!r} is already registered.")
        _REGISTRY[name] = (builder, defaults)
        return builder

    return decorator


def list_models(pattern="*"):
    """Returns the sorted registered names that match an fnmatch `pattern`."""
    _load_builders()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern))


def builder_config(name, **overrides):
    """The arguments `get_model(name, **overrides)` passes to the builder."""
    kwargs = dict(_lookup(name)[1])
    kwargs.update({k: v for k, v in overrides.items() if v is not None})
    return kwargs


def get_model(name, **overrides):
    """Builds the registered model `name`.

    Args:
        name: str. A name from `list_models()`.
        **overrides: builder arguments. `None` values are dropped, so unset
            command-line flags do not override the model's defaults.

    Returns:
        An uncompiled `keras.Model` that outputs logits.

    Raises:
        ValueError: if `name` is not registered; the message lists the names.
    """
    return _lookup(name)[0](**builder_config(name, **overrides))


def _lookup(name):
    _load_builders()
    if name not in _REGISTRY:
        raise ValueError(
            f"Unknown model name {name!r}. Known models: {', '.join(list_models())}"
        )
    return _REGISTRY[name]
