"""Model builders, one module per model kind.

Importing this package imports every module in it, which registers its
builders with `register_model`; the names in each module's `__all__` are
re-exported here and from `modelzoo`. A new model kind is one new module:
nothing here lists it.
"""

import importlib
import pkgutil

__all__ = []
for _info in pkgutil.iter_modules(__path__):
    if _info.name.endswith("_test"):
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name in _module.__all__:
        globals()[_name] = getattr(_module, _name)
    __all__ += _module.__all__
__all__.sort()
