"""The shared body of the recipes, one step per module.

A recipe script defines its flags with `define_common_flags` plus its own,
implements `run(flags_obj, datasets_override=None, strategy_override=None)`
from the steps here (usually through its task in `modelzoo.tasks`), and
starts with `recipe.app_run(run)`.

- `flags.py`: the common, size and optimizer flags and their checks.
- `steps.py`: seed, strategy, build and compile in `strategy.scope()`, fit.
- `publishing.py`: publishing into --export_dir/<name>/--version.
- `summary.py`: the model card's facts and the JSON summary.
- `runner.py`: `app_run`, the command around `run`.
"""

from modelzoo.recipe.flags import (
    OPTIMIZER_FLAGS,
    TRANSFORMER_SIZE_FLAGS,
    check_flags,
    check_model_dir,
    check_optimizer_flags,
    define_common_flags,
    define_optimizer_flags,
    define_transformer_size_flags,
    int_list,
    transformer_size,
)
from modelzoo.recipe.publishing import (
    check_export_target,
    publish,
    publish_image_classifier,
    publish_text_classifier,
)
from modelzoo.recipe.runner import app_run
from modelzoo.recipe.steps import (
    build_and_compile,
    built_as,
    compile_args,
    count,
    fit_and_evaluate,
    make_strategy,
    prepare,
    set_up,
)
from modelzoo.recipe.summary import card_facts, summarize

__all__ = [
    "OPTIMIZER_FLAGS",
    "TRANSFORMER_SIZE_FLAGS",
    "app_run",
    "build_and_compile",
    "built_as",
    "card_facts",
    "check_export_target",
    "check_flags",
    "check_model_dir",
    "check_optimizer_flags",
    "compile_args",
    "count",
    "define_common_flags",
    "define_optimizer_flags",
    "define_transformer_size_flags",
    "fit_and_evaluate",
    "int_list",
    "make_strategy",
    "prepare",
    "publish",
    "publish_image_classifier",
    "publish_text_classifier",
    "set_up",
    "summarize",
    "transformer_size",
]
