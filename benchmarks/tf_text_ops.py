"""Writes the op list of a TF Text wheel, as `tests/data/tf_text_<version>_ops.txt`.

TF Serving links one TF Text release into its binary, and an export that
uses a TF Text op the server's release lacks does not load. The op names
are what the installed TF Text registers beyond core TensorFlow; each one
is looked for as a whole word in the wheel's op libraries
(`tensorflow_text/python/ops/*.so` and `python/metrics/*.so`, the ones
TF Text loads with `tf.load_op_library`), where its `REGISTER_OP` name is
stored as a string. An op the installed release has and the wheel lacks is
left out and named in the header. Loading the wheel's libraries instead
would need the TensorFlow they were built against.

    pip download tensorflow-text==2.20.0 --no-deps -d /tmp/tft220
    python benchmarks/tf_text_ops.py /tmp/tft220/tensorflow_text-2.20.0-*.whl \\
        --serving "TF Serving 2.20 embeds TF Text 2.20.0."
"""

import argparse
import os
import re
import subprocess
import sys
import zipfile

_OP_LIBRARIES = ("tensorflow_text/python/ops/", "tensorflow_text/python/metrics/")
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(HERE), "tests", "data")

# Run in a fresh process: the op lists before and after `import tensorflow_text`.
_REGISTERED = """
from tensorflow.core.framework import op_def_pb2
from tensorflow.python.client import pywrap_tf_session as session

def names():
    ops = op_def_pb2.OpList()
    ops.ParseFromString(session.TF_GetBuffer(session.TF_GetAllOpList()))
    return {op.name for op in ops.op}

core = names()
import tensorflow_text
print(tensorflow_text.__version__)
print(" ".join(sorted(names() - core)))
"""


def installed_tf_text_ops():
    """`(version, names)`: the installed TF Text and the ops it adds to TensorFlow."""
    run = subprocess.run([sys.executable, "-c", _REGISTERED], capture_output=True, text=True,
                         check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    version, names = run.stdout.strip().splitlines()[-2:]
    return version, names.split()


def wheel_ops(wheel, names):
    """The `names` found as whole words in `wheel`'s op libraries.

    Args:
        wheel: str. A `tensorflow_text-*.whl`.
        names: iterable of op names.

    Returns:
        A sorted list.
    """
    blobs = []
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if member.startswith(_OP_LIBRARIES) and member.endswith(".so"):
                blobs.append(archive.read(member))
    if not blobs:
        raise SystemExit(f"{wheel} has no tensorflow_text/python/ops/*.so")
    # A name is a whole word when neither neighbour could continue an op name.
    found = []
    for name in names:
        word = re.compile(rb"(?<![A-Za-z0-9_>])" + re.escape(name.encode()) + rb"(?![A-Za-z0-9_])")
        if any(word.search(blob) for blob in blobs):
            found.append(name)
    return sorted(found)


def main(argv=None):
    """Writes the list; returns its path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel")
    parser.add_argument("--serving", default="", help="a sentence on which TF Serving embeds it")
    args = parser.parse_args(argv)
    match = re.match(r"tensorflow_text-([0-9.]+)-", os.path.basename(args.wheel))
    if not match:
        raise SystemExit(f"{args.wheel} is not named like a tensorflow_text wheel")
    version = match.group(1)
    installed, names = installed_tf_text_ops()
    found = wheel_ops(args.wheel, names)
    missing = sorted(set(names) - set(found))
    header = [
        f"The ops TF Text {version} registers, found in its wheel's op libraries",
        f"({os.path.basename(args.wheel)},",
        "tensorflow_text/python/{ops,metrics}/*.so) by",
        f"benchmarks/tf_text_ops.py: each name TF Text {installed} registers was looked for",
        "as a whole word there; "
        + (f"the {installed} ops not found ({', '.join(missing)}) are left out."
           if missing else f"all {len(names)} were found."),
    ]
    if args.serving:
        header.append(args.serving)
    path = os.path.join(DATA, f"tf_text_{version}_ops.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(f"# {line}\n" for line in header) + "".join(f"{n}\n" for n in found))
    print(path)
    return path


if __name__ == "__main__":
    main()
