"""The command-line layer of the recipes: flags generated from an experiment's config.

A recipe script is `from modelzoo.recipe import main; main("<experiment>")`.

- `flags.py`: one flag per config field, and the flags back into a config.
- `runner.py`: `main`, the command around `modelzoo.trainer.run`.
"""

from modelzoo.recipe.runner import main

__all__ = ["main"]
