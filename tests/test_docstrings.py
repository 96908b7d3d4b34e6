"""The `Example:` blocks of the docstrings run, and show what they claim."""

import doctest
import importlib
import pkgutil

import numpy as np
import pytest
import tensorflow as tf

import modelzoo


def _modules():
    return sorted(
        info.name for info in pkgutil.walk_packages(modelzoo.__path__, "modelzoo.")
        if not info.name.endswith(("_test", "__main__"))
    )


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"np": np, "tf": tf},
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    # Every builder and every layer shows how it is called (KerasHub's rule).
    if name.startswith(("modelzoo.models.", "modelzoo.layers.")):
        assert result.attempted > 0, f"{name} has no Example: block"
