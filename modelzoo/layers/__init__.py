"""Custom Keras layers, one per file (its test beside it), registered as serializable.

Importing this package imports every layer module in it; the names in each
module's `__all__` are re-exported here. A new layer is one new module.
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
