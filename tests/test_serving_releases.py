"""docs/serving.md's table of the TF Serving releases each export kind loads in.

Each kind's export is written, the ops of its graph are read from
`saved_model.pb`, core TensorFlow's are taken away, and what is left must
be the table's TF Text ops and be in the TF Text release of every TF
Serving release the table names (`tests/data/tf_text_<version>_ops.txt`).
"""

import os
import re
import subprocess
import sys

import pytest

from tests import export_helpers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")

# The TF Text release each TF Serving release links (their workspace.bzl).
TF_TEXT_OF_SERVING = {"2.16-2.19": "2.12.1", "2.20": "2.20.0"}

CORE_OPS = """
from tensorflow.core.framework import op_def_pb2
from tensorflow.python.client import pywrap_tf_session as session
ops = op_def_pb2.OpList()
ops.ParseFromString(session.TF_GetBuffer(session.TF_GetAllOpList()))
print(" ".join(op.name for op in ops.op))
"""


MODULES = {
    "`image`": lambda: export_helpers.image_module("pixels"),
    "`image_bytes`": lambda: export_helpers.image_module("bytes"),
    "`text_classifier`": export_helpers.text_module,
    "`generator` (LSTM)": export_helpers.generator_module,
    "`generator` (GPT)": export_helpers.gpt_module,
    "`qa`": export_helpers.qa_module,
}


def documented_rows():
    """docs/serving.md's table: kind → (set of TF Text ops, list of TF Serving releases)."""
    with open(os.path.join(ROOT, "docs", "serving.md"), encoding="utf-8") as f:
        text = f.read()
    table = re.search(r"<!-- serving-releases -->\n(.*?)<!-- /serving-releases -->", text,
                      re.S).group(1)
    rows = {}
    for line in table.splitlines()[2:]:
        kind, ops, releases = [cell.strip() for cell in line.strip("|").split("|")]
        rows[kind] = (set() if ops == "none" else {o.strip(" `") for o in ops.split(",")},
                      [r.strip() for r in releases.split(",")])
    return rows


def tf_text_ops(version):
    """The op names in `tests/data/tf_text_<version>_ops.txt`."""
    with open(os.path.join(DATA, f"tf_text_{version}_ops.txt"), encoding="utf-8") as f:
        return {line.strip() for line in f if line.strip() and not line.startswith("#")}


def graph_ops(path):
    """Every op the SavedModel at `path` uses, its functions' included."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        saved.ParseFromString(f.read())
    graph = saved.meta_graphs[0].graph_def
    return {node.op for node in graph.node} | {
        node.op for function in graph.library.function for node in function.node_def}


@pytest.fixture(scope="module")
def core_ops():
    # A fresh process: this one may have imported TF Text's ops.
    run = subprocess.run([sys.executable, "-c", CORE_OPS], capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert run.returncode == 0, run.stderr[-2000:]
    return set(run.stdout.split())


def test_the_table_covers_every_kind_and_the_lists_are_sound():
    assert set(documented_rows()) == set(MODULES)
    for version in TF_TEXT_OF_SERVING.values():
        assert {"FastBertNormalize", "FastWordpieceTokenizeWithOffsets", "CaseFoldUTF8"} <= (
            tf_text_ops(version))


@pytest.mark.parametrize("kind", list(MODULES))
def test_each_kind_loads_in_the_tf_serving_releases_the_docs_name(kind, core_ops, tmp_path):
    ops, releases = documented_rows()[kind]
    path = str(tmp_path / "export")
    os.makedirs(path)
    MODULES[kind]().write(path)
    not_core = graph_ops(path) - core_ops
    assert not_core == ops
    for release in releases:
        missing = not_core - tf_text_ops(TF_TEXT_OF_SERVING[release])
        assert not missing, f"TF Serving {release} lacks {missing}"
