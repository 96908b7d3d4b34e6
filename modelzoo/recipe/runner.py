"""A recipe as a command: parsed flags in, JSON summary out, one-line errors."""

import json
import os
import sys

import tensorflow as tf
from absl import app, flags, logging

from modelzoo.errors import UsageError, handle_sigterm, report


def _parse_flags(argv):
    try:
        return flags.FLAGS(argv)
    except flags.Error as e:
        print(f"{os.path.basename(argv[0])}: error: {e}", file=sys.stderr)
        sys.exit(2)


def app_run(run):
    """Runs `run(FLAGS)` as a command: JSON summary out, one-line errors."""

    def main(argv):
        prog = os.path.basename(argv[0])
        handle_sigterm()
        if not flags.FLAGS.verbose:
            logging.set_verbosity(logging.WARNING)
            tf.get_logger().setLevel("WARNING")
        try:
            if len(argv) > 1:
                raise UsageError(f"unexpected arguments {argv[1:]}; flags look like --epochs=5")
            summary = run(flags.FLAGS)
        except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 - every failure is one line
            sys.exit(report(prog, e, flags.FLAGS.verbose))
        print(json.dumps(summary))

    app.run(main, flags_parser=_parse_flags)
