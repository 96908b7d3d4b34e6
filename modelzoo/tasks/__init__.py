"""One module per kind of experiment: its config class and its `Task` (see `base.py`).

Importing this package imports every module in it, so a new task is found
by `base.task_for` without being listed anywhere.
"""

import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")
