"""`modelzoo serving-config`: a ModelServerConfig for every export, parsed back."""

import os

import numpy as np
import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from modelzoo import cli


def export_tree(root, models):
    # TF Serving reads only the folder names; a marker file stands for each SavedModel.
    for name, versions in models.items():
        for version in versions:
            os.makedirs(root / name / str(version))
            (root / name / str(version) / "saved_model.pb").write_bytes(b"")
    return root


def run(capsys, *argv):
    code = cli.main(["serving-config", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def parse(path):
    return text_format.Parse(open(path).read(), model_server_config_pb2.ModelServerConfig())


def test_writes_one_entry_per_export_with_absolute_base_paths(tmp_path, capsys):
    root = export_tree(tmp_path / "saved_models", {"mlp": [1, 2], "gpt": [3]})
    (root / "README.md").write_text("not a model")
    os.makedirs(root / ".mlp-worker1")  # hidden scratch: skipped, as TF Serving does
    os.makedirs(root / "mlp" / ".tmp-3-abcd")  # a publish in progress: skipped
    out = tmp_path / "models.config"
    code, stdout, _ = run(capsys, "--export_dir", str(root), "--out", str(out))
    assert code == 0 and '"gpt"' in stdout
    models = parse(out).model_config_list.config
    assert [m.name for m in models] == ["gpt", "mlp"]
    assert [m.base_path for m in models] == [str(root / "gpt"), str(root / "mlp")]
    assert {m.model_platform for m in models} == {"tensorflow"}
    assert [m.model_version_policy.latest.num_versions for m in models] == [1, 1]
    assert oct(os.stat(out).st_mode & 0o777) == "0o644"


@pytest.mark.parametrize(
    "versions, policy, value",
    [
        ("latest:2", "latest", 2),
        ("all", "all", None),
        ("specific:3,1", "specific", [1, 3]),
    ],
)
def test_version_policies_and_container_base_path(tmp_path, capsys, versions, policy, value):
    root = export_tree(tmp_path / "exports", {"mlp": [1, 2, 3]})
    out = tmp_path / "models.config"
    code, _, err = run(capsys, "--export_dir", str(root), "--out", str(out),
                       "--base_path", "/models/", f"--versions={versions}")
    assert code == 0, err
    (model,) = parse(out).model_config_list.config
    assert model.base_path == "/models/mlp"
    assert model.model_version_policy.WhichOneof("policy_choice") == policy
    if policy == "latest":
        assert model.model_version_policy.latest.num_versions == value
    if policy == "specific":
        assert list(model.model_version_policy.specific.versions) == value


@pytest.mark.parametrize(
    "setup, args, needle",
    [
        ("missing", [], "--export_dir {root} is not a directory"),
        ("empty", [], "--export_dir {root} holds no exported model"),
        ("bad_version", [], "{root}/mlp/best is not an integer version folder"),
        ("no_versions", [], "{root}/gpt holds no version folder"),
        ("ok", ["--versions=latest:0"], "--versions='latest:0' is not valid"),
        ("ok", ["--versions=newest"], "--versions='newest' is not valid"),
        ("ok", ["--versions=specific:1,x"], "--versions='specific:1,x' is not valid"),
        ("ok", ["--versions=all:2"], "--versions='all:2' is not valid"),
        ("ok", ["--versions=specific:2,5"], "{root}/mlp has no version 5 (it has 1, 2)"),
        ("ok", ["--base_path="], "--base_path is empty"),
        ("ok", ["--out={tmp}/no/such/models.config"], "the folder {tmp}/no/such does not exist"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, setup, args, needle):
    root = tmp_path / "saved_models"
    if setup != "missing":
        os.makedirs(root)
    if setup in ("bad_version", "ok"):
        export_tree(root, {"mlp": [1, 2]})
    if setup == "bad_version":
        os.makedirs(root / "mlp" / "best")
    if setup == "no_versions":
        os.makedirs(root / "gpt")
    out = tmp_path / "models.config"
    args = [a.format(tmp=tmp_path) for a in args]
    code, stdout, err = run(capsys, "--export_dir", str(root), "--out", str(out), *args)
    assert code == 2 and stdout == ""
    assert err == f"modelzoo: error: {needle.format(root=root, tmp=tmp_path)}\n" or (
        needle.format(root=root, tmp=tmp_path) in err and err.count("\n") == 1), err
    assert not out.exists()
    assert [n for n in os.listdir(tmp_path) if n.startswith(".models.config")] == []


def test_an_existing_out_file_is_kept_unless_force(tmp_path, capsys):
    root = export_tree(tmp_path / "saved_models", {"mlp": [1]})
    out = tmp_path / "models.config"
    out.write_text("# my hand-written config\n")
    code, _, err = run(capsys, "--export_dir", str(root), "--out", str(out))
    assert code == 2 and err.count("\n") == 1
    assert f"--out {out} already exists; pass --force to replace it" in err
    assert out.read_text() == "# my hand-written config\n"
    code, _, _ = run(capsys, "--export_dir", str(root), "--out", str(out), "--force")
    assert code == 0 and [m.name for m in parse(out).model_config_list.config] == ["mlp"]
    assert sorted(os.listdir(tmp_path)) == ["models.config", "saved_models"]


# Version labels.


def test_labels_are_written_per_model(tmp_path, capsys):
    root = export_tree(tmp_path / "saved_models", {"mlp": [1, 2]})
    out = tmp_path / "models.config"
    code, _, err = run(capsys, "--export_dir", str(root), "--out", str(out),
                       "--versions=specific:1,2", "--labels", "stable=1,canary=2")
    assert code == 0, err
    (model,) = parse(out).model_config_list.config
    assert dict(model.version_labels) == {"stable": 1, "canary": 2}


@pytest.mark.parametrize("args, needle", [
    (["--versions=all", "--labels=stable=1,canary=3"],
     "--labels canary=3: {root}/mlp has no version 3 (it has 1, 2)"),
    (["--labels=stable=1"],
     "--labels stable=1: --versions=latest does not serve version 1 of mlp; add it, "
     "e.g. --versions=specific:1,2"),
    (["--labels=stable"], "--labels='stable' is not valid"),
    (["--labels=a=1,a=2"], "names 'a' twice"),
])
def test_a_label_for_a_missing_or_unserved_version_is_refused(tmp_path, capsys, args, needle):
    root = export_tree(tmp_path / "saved_models", {"mlp": [1, 2]})
    out = tmp_path / "models.config"
    code, stdout, err = run(capsys, "--export_dir", str(root), "--out", str(out), *args)
    assert code == 2 and stdout == "" and err.count("\n") == 1, err
    assert needle.format(root=root) in err
    assert not out.exists()


# The batching parameters file.


def _batching_parameters_class():
    # BatchingParameters (TF Serving's session_bundle_config.proto) is not in
    # tensorflow-serving-api: the same fields, numbered as upstream, built here
    # so the written text is parsed by protobuf's own text format.
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    file = descriptor_pb2.FileDescriptorProto(
        name="batching_test.proto", package="tensorflow.serving",
        dependency=["google/protobuf/wrappers.proto"], syntax="proto3")
    message = file.message_type.add(name="BatchingParameters")
    field = descriptor_pb2.FieldDescriptorProto
    for number, name in [(1, "max_batch_size"), (2, "batch_timeout_micros"),
                         (3, "max_enqueued_batches"), (4, "num_batch_threads")]:
        message.field.add(name=name, number=number, type=field.TYPE_MESSAGE,
                          type_name=".google.protobuf.Int64Value", label=field.LABEL_OPTIONAL)
    message.field.add(name="allowed_batch_sizes", number=6, type=field.TYPE_INT64,
                      label=field.LABEL_REPEATED)
    pool.Add(file)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


def _warm_tree(root, models):
    from modelzoo.export import warmup

    for name, (versions, batch) in models.items():
        for version in versions:
            path = root / name / str(version)
            os.makedirs(path)
            (path / "saved_model.pb").write_bytes(b"")
            inputs = {"x": np.zeros((batch, 2), "float32")}
            warmup.write_warmup(str(path), warmup.warmup_inputs(inputs), name)
    return root


def test_batching_parameters_match_the_warmup_batch_sizes(tmp_path, capsys):
    # mlp ships batches of 3 and 1; gpt's old version 1 (not served) of 8.
    root = _warm_tree(tmp_path / "saved_models", {"mlp": ([1], 3), "gpt": ([1], 8)})
    _warm_tree(tmp_path / "newer", {"gpt": ([2], 5)})
    os.rename(tmp_path / "newer" / "gpt" / "2", root / "gpt" / "2")
    out, batching = tmp_path / "models.config", tmp_path / "batching.config"
    code, stdout, err = run(capsys, "--export_dir", str(root), "--out", str(out),
                            "--batching_parameters", str(batching))
    assert code == 0, err
    assert '"allowed_batch_sizes": [1, 3, 5]' in stdout
    params = text_format.Parse(batching.read_text(), _batching_parameters_class()())
    assert list(params.allowed_batch_sizes) == [1, 3, 5]
    assert params.max_batch_size.value == 5
    assert params.batch_timeout_micros.value > 0 and params.num_batch_threads.value > 0
    code, _, err = run(capsys, "--export_dir", str(root), "--out", str(tmp_path / "b.config"),
                       "--batching_parameters", str(batching))
    assert code == 2 and "--batching_parameters" in err and "already exists" in err
