"""The `Example:` blocks of the docstrings run, and show what they claim."""

import doctest
import importlib

import numpy as np
import pytest
import tensorflow as tf

# Modules whose examples are checked (more join as their examples are fixed).
MODULES = [
    "modelzoo.text.wordpiece",
    "modelzoo.text.qa_processor",
    "modelzoo.models.bert",
    "modelzoo.models.qa",
    "modelzoo.layers.masked_lm_head",
    "modelzoo.layers.token_match_embedding",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"np": np, "tf": tf},
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
