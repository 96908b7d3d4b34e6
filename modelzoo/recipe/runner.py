"""A recipe as a command: flags in, JSON summary out, one-line errors."""

import json
import os
import sys

from modelzoo.errors import UsageError, handle_sigterm, report


def main(name, argv=None):
    """Runs experiment `name` as a command, its flags generated from its config.

    `--help` prints the recipe's own flags and exits 0; a bad flag or value
    is one line on stderr and exit 2; the summary is one JSON line.

    Args:
        name: str. A registered experiment (`modelzoo.configs`).
        argv: list of str, or None for `sys.argv`.
    """
    argv = list(sys.argv if argv is None else argv)
    prog = os.path.basename(argv[0])
    from modelzoo import quiet

    quiet.start(argv)  # before TensorFlow loads: its start-up lines off unless --verbose
    from absl import flags, logging

    from modelzoo import configs, trainer
    from modelzoo.recipe import flags as recipe_flags

    handle_sigterm()
    config = configs.get_config(name)
    if any(arg in ("--help", "-h", "--helpfull", "-?") for arg in argv[1:]):
        print(recipe_flags.help_text(name, config))
        sys.exit(0)
    flag_values = flags.FlagValues()
    recipe_flags.define_flags(config, flag_values)
    try:
        extra = flag_values(argv)[1:]
    except flags.Error as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(2)
    verbose = flag_values.verbose
    if not verbose:
        logging.set_verbosity(logging.WARNING)
        import tensorflow as tf

        tf.get_logger().setLevel("WARNING")
    try:
        if extra:
            raise UsageError(f"unexpected arguments {extra}; flags look like --epochs=5")
        summary = trainer.run(recipe_flags.config_from_flags(config, flag_values))
    except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 - every failure is one line
        sys.exit(report(prog, e, verbose))
    print(json.dumps(summary))
