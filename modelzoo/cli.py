"""The `modelzoo` command line.

Each subcommand is added by an `_add_*_commands` function and runs through
the function stored as its `run` default, so new groups (e.g. `demo`) plug in
without touching the others. Heavy imports (TensorFlow, TFDS) happen inside
the run functions, so `--help` and usage errors stay fast and never load
TensorFlow; when a command does load it, `modelzoo.quiet` drops its
start-up lines unless `--verbose` is given.
"""

import argparse
import json
import math
import sys

from modelzoo import quiet
from modelzoo.data import default_data_dir
from modelzoo.errors import UsageError, check_utf8, handle_sigterm, report

FLOAT32_MAX = 3.4028234663852886e38


class _ArgumentParser(argparse.ArgumentParser):
    """argparse with a usage error as one line on stderr (exit code 2), like every error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    """Builds the argument parser with all subcommands.

    Returns:
      An argparse.ArgumentParser whose leaf subcommands set `run`, a function
      taking the parsed args and returning a JSON-serialisable summary.
    """
    # Shared by every level so `--verbose` works before or after the
    # subcommand; SUPPRESS keeps a later level from resetting it to False.
    common = _ArgumentParser(add_help=False)
    common.add_argument(
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show a traceback on errors, and TensorFlow's start-up lines",
    )
    parser = _ArgumentParser(
        prog="modelzoo",
        description="Keras 3 / TensorFlow model zoo.",
        parents=[common],
    )
    parser.set_defaults(verbose=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_data_commands(commands, common)
    _add_predict_command(commands, common)
    _add_inspect_command(commands, common)
    _add_serving_config_command(commands, common)
    _add_presets_command(commands, common)
    return parser


def _add_presets_command(commands, common):
    """Adds `presets`: the presets under $MODELZOO_HOME/presets, with their metric."""
    presets = commands.add_parser(
        "presets", parents=[common], help="list the presets (trained models to load in Python)"
    )
    presets.add_argument("--preset_dir", default=None,
                         help="presets folder (default: $MODELZOO_HOME/presets, ~/.modelzoo)")
    presets.add_argument("--json", action="store_true", help="print JSON instead of text")
    presets.set_defaults(run=_run_presets)


def _run_presets(args):
    from modelzoo import presets

    rows = presets.list_presets(args.preset_dir)
    return rows if args.json else presets.render(rows)


def _add_inspect_command(commands, common):
    """Adds `inspect`: an export's model card, signatures and warm-up requests."""
    inspect = commands.add_parser(
        "inspect", parents=[common], help="show an export's model card and signatures"
    )
    inspect.add_argument(
        "export_dir", metavar="EXPORT_DIR",
        help="a version folder (saved_models/NAME/3) or a model folder (its latest version)",
    )
    inspect.add_argument("--json", action="store_true", help="print JSON instead of text")
    inspect.set_defaults(run=_run_inspect)


def _run_inspect(args):
    from modelzoo.inspect_export import inspect_export, render

    info = inspect_export(args.export_dir)
    return info if args.json else render(info)


def _add_serving_config_command(commands, common):
    """Adds `serving-config`: a TF Serving --model_config_file for every export."""
    from modelzoo.serving_config import LABELS_HELP, VERSIONS_HELP

    config = commands.add_parser(
        "serving-config", parents=[common],
        help="write a TF Serving model config file serving every export",
    )
    config.add_argument("--export_dir", default="saved_models",
                        help="the folder of <name>/<version> exports")
    config.add_argument("--out", required=True,
                        help="the file to write, e.g. saved_models/models.config")
    config.add_argument("--base_path", default=None,
                        help="the export folder as the server sees it, e.g. /models in a container "
                        "(default: its absolute path here)")
    config.add_argument("--versions", default="latest", help=f"versions to serve: {VERSIONS_HELP}")
    config.add_argument("--labels", default=None,
                        help=f"version labels for every model: {LABELS_HELP}")
    config.add_argument("--batching_parameters", default=None, metavar="FILE",
                        help="also write a TF Serving --batching_parameters_file whose "
                        "allowed_batch_sizes are the exports' warm-up batch sizes")
    config.add_argument("--force", action="store_true",
                        help="replace an existing --out (or --batching_parameters) file")
    config.set_defaults(run=_run_serving_config)


def _run_serving_config(args):
    from modelzoo.serving_config import serving_config

    return serving_config(args.export_dir, args.out, args.base_path, args.versions, args.force,
                          args.labels, args.batching_parameters)


def _add_predict_command(commands, common):
    """Adds `predict`: call an export's serving_default on real inputs."""
    predict = commands.add_parser(
        "predict", parents=[common], help="call an export's serving_default, as TF Serving would"
    )
    predict.add_argument("--model", required=True,
                         help="<export_dir>/<name> (its latest version) or a version folder, "
                         "e.g. saved_models/fashion_mnist_mlp")
    predict.add_argument("--version", type=int, default=None, help="version (default: the latest)")
    predict.add_argument("--dataset", help="image models: TFDS dataset whose test images to use "
                         "(default: the one the model card records)")
    predict.add_argument("--data_dir", default=None, help="TFDS data directory")
    predict.add_argument("--count", type=int, default=1, help="image models: number of test images")
    predict.add_argument("--text", action="append", help="text classifiers: a text; repeatable")
    predict.add_argument("--prompt", action="append", help="generators: a prompt; repeatable")
    predict.add_argument("--num_chars", type=int, default=200, help="generators: characters")
    predict.add_argument("--temperature", type=float, default=0.5, help="generators: <= 0 is greedy")
    predict.add_argument("--top_k", type=int, default=0, help="GPT generators: sample among the k likeliest; 0 is all")
    predict.add_argument("--image", action="append", help="image-bytes classifiers: an image file; repeatable")
    predict.add_argument("--question", action="append", help="question answering: a question; repeatable")
    predict.add_argument("--context", action="append", help="question answering: the context of each --question")
    predict.set_defaults(run=_run_predict)


def _run_predict(args):
    from modelzoo.predict import card_summary, export_path, predict

    from modelzoo import storage

    if args.count <= 0:
        raise UsageError(f"--count={args.count} must be a positive integer")
    storage.check_version(args.version)
    # The export's tensors are int32 and float32: a larger number would wrap.
    for flag in ("count", "num_chars", "top_k"):
        storage.check_int_range(f"--{flag}", getattr(args, flag))
    if math.isnan(args.temperature):
        raise UsageError("--temperature=nan must be a number; <= 0 is greedy")
    if math.isfinite(args.temperature) and abs(args.temperature) > FLOAT32_MAX:
        raise UsageError(f"--temperature={args.temperature} is out of range: float32 holds "
                         f"at most {FLOAT32_MAX:.6g}")
    for flag in ("text", "prompt", "question", "context"):
        for value in getattr(args, flag) or ():
            check_utf8(flag, value)
    # On stderr, so stdout stays one JSON line for scripts.
    print(f"model: {card_summary(export_path(args.model, args.version))}", file=sys.stderr)
    return predict(
        args.model, args.version, args.dataset, args.data_dir or default_data_dir(), args.count,
        args.text, args.prompt, args.num_chars, args.temperature, args.top_k, args.image,
        args.question, args.context,
    )


def _add_data_commands(commands, common):
    """Adds `data import-idx`, `import-text`, `import-imdb` and `import-squad`."""
    data = commands.add_parser(
        "data", parents=[common], help="import datasets as TFDS datasets, offline"
    )
    actions = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    idx = actions.add_parser(
        "import-idx",
        parents=[common],
        help="import MNIST-format IDX files (mnist, fashion_mnist)",
    )
    idx.add_argument(
        "--name", required=True, help="TFDS dataset name, e.g. fashion_mnist"
    )
    idx.add_argument(
        "--src",
        required=True,
        help="folder with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz",
    )
    _add_target_args(idx)
    idx.set_defaults(run=_run_import_idx)

    text = actions.add_parser(
        "import-text",
        parents=[common],
        help="import UTF-8 text files (tiny_shakespeare)",
    )
    text.add_argument(
        "--name", required=True, help="TFDS dataset name, e.g. tiny_shakespeare"
    )
    text.add_argument(
        "--src",
        required=True,
        action="append",
        help="a UTF-8 text file; repeat to concatenate several",
    )
    text.add_argument(
        "--fortune",
        action="store_true",
        help="the files are Debian `fortune` files: "
        "'%%' separator lines become blank lines",
    )
    _add_target_args(text)
    text.set_defaults(run=_run_import_text)

    prepare = actions.add_parser(
        "prepare",
        parents=[common],
        help="prepare a dataset with TFDS's own builder from its original downloads",
    )
    prepare.add_argument("--name", required=True, help="TFDS dataset name, e.g. mnist")
    prepare.add_argument(
        "--manual_dir",
        required=True,
        help="folder with TFDS's original downloads under their registered names",
    )
    prepare.add_argument(
        "--data_dir",
        default=None,
        help="TFDS data directory (default: $TFDS_DATA_DIR or ~/tensorflow_datasets)",
    )
    prepare.set_defaults(run=_run_prepare)

    _add_import_command(
        actions, common, "import-imdb",
        "import the aclImdb/ movie reviews (folder or tar.gz) as imdb_reviews",
        "the aclImdb folder, or a tar.gz of it", _run_import_imdb,
    )
    _add_import_command(
        actions, common, "import-squad",
        "import SQuAD v1.1 JSON files (dev, optionally train) as squad/v1.1",
        "dev-v1.1.json, and train-v1.1.json if you have it (repeat --src)", _run_import_squad,
        repeat=True,
    )


def _add_import_command(actions, common, command, help, src_help, run, repeat=False):
    """Adds an importer whose only input is --src (one, or several if `repeat`)."""
    parser = actions.add_parser(command, parents=[common], help=help)
    parser.add_argument("--src", required=True, action="append" if repeat else "store", help=src_help)
    _add_target_args(parser)
    parser.set_defaults(run=run)


def _add_target_args(parser):
    parser.add_argument(
        "--data_dir",
        default=None,
        help="TFDS data directory (default: $TFDS_DATA_DIR or ~/tensorflow_datasets)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace an already imported dataset"
    )


def _run_import_idx(args):
    from modelzoo.data import importer

    return importer.import_idx(
        args.name, args.src, args.data_dir or default_data_dir(), force=args.force
    )


def _run_prepare(args):
    from modelzoo.data import manual

    return manual.prepare(args.name, args.data_dir or default_data_dir(), args.manual_dir)


def _run_import_text(args):
    from modelzoo.data import importer

    return importer.import_text(
        args.name,
        args.src,
        args.data_dir or default_data_dir(),
        fortune=args.fortune,
        force=args.force,
    )


def _run_import_imdb(args):
    from modelzoo.data import imdb

    return imdb.import_imdb(args.src, args.data_dir or default_data_dir(), force=args.force)


def _run_import_squad(args):
    from modelzoo.data import squad

    summary = squad.import_squad(args.src, args.data_dir or default_data_dir(), force=args.force)
    if "note" in summary:
        print(f"modelzoo: note: {summary['note']}", file=sys.stderr)
    return summary


def main(argv=None):
    """Runs the command line.

    Args:
      argv: the arguments without the program name; sys.argv[1:] if None.

    Returns:
      The process exit code: 0 on success, else that of `errors.report`:
      the error's exit_code on a ModelzooError, 1 on any other error, 130
      on Ctrl-C, 143 on SIGTERM (argparse exits with 2 itself on usage errors).
    """
    args = build_parser().parse_args(argv)
    if args.verbose:
        quiet.uninstall()
    else:
        quiet.install()
    handle_sigterm()
    try:
        summary = args.run(args)
    except (Exception, KeyboardInterrupt) as err:  # noqa: BLE001 - every failure is one line
        return report("modelzoo", err, args.verbose)
    print(summary if isinstance(summary, str) else json.dumps(summary))
    return 0
