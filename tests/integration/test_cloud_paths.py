"""--export_dir and --model_dir on a remote file system, on TensorFlow's in-memory `ram://`.

`ram://` lives in this process only, so everything here runs in process
(the publish check's own process never reads it: a remote version is
verified locally before it is copied).
"""

import json
import os
import secrets
import sys

import pytest
import tensorflow as tf

from modelzoo import serving_config, storage, training
from modelzoo.errors import ModelzooError, UsageError
from modelzoo.export.publish import check_target
from tests.commands import run_command
from tests.recipe_helpers import run_recipe, run_script

MARKER = storage.COMPLETE_MARKER


@pytest.fixture
def bucket(monkeypatch, tmp_path):
    """A fresh `ram://` root; the test runs in `tmp_path`, to see no `./ram:` appear."""
    monkeypatch.chdir(tmp_path)
    root = f"ram://bucket-{secrets.token_hex(4)}"
    tf.io.gfile.makedirs(root)  # a bucket is created before it is used
    yield root
    assert not os.path.exists(tmp_path / "ram:"), "a remote path became a local folder"


def _files(root):
    found = {}
    for folder, _, names in tf.io.gfile.walk(root):
        for name in names:
            path = f"{folder}/{name}"
            with tf.io.gfile.GFile(path, "rb") as f:
                found[path[len(root) + 1:]] = f.read()
    return found


def _local_version(tmp_path):
    """A local folder shaped like a SavedModel, for the storage-level tests."""
    local = tmp_path / "local"
    (local / "variables").mkdir(parents=True)
    (local / "saved_model.pb").write_bytes(b"graph")
    (local / "variables" / "variables.index").write_bytes(b"index")
    (local / "variables" / "variables.data-00000-of-00001").write_bytes(b"data")
    return str(local)


def test_a_recipe_publishes_to_a_bucket_and_a_taken_version_is_refused(bucket, tmp_path):
    exports = f"{bucket}/exports"
    summary = run_recipe("mnist_mlp", f"--export_dir={exports}", "--version=1")
    version = f"{exports}/mnist_mlp/1"
    assert summary["export_path"] == version
    # The published export was read back from the bucket and scored.
    assert summary["export_metrics"]["accuracy"] == pytest.approx(
        summary["metrics"]["accuracy"], abs=0.002)
    files = _files(f"{exports}/mnist_mlp")
    assert {"1/saved_model.pb", "1/variables/variables.index", f"1/{MARKER}",
            "1/assets.extra/model_card.json",
            "1/assets.extra/tf_serving_warmup_requests"} <= set(files)
    # Nothing else: no staging prefix left in the bucket.
    assert {path.split("/")[0] for path in files} == {"1"}
    marker = json.loads(files[f"1/{MARKER}"])
    assert marker == {"files": len(files) - 1,
                      "bytes": sum(len(v) for p, v in files.items() if p != f"1/{MARKER}")}
    assert storage.list_versions(f"{exports}/mnist_mlp") == [1]

    # The same version again: refused before training, the first untouched.
    with pytest.raises(UsageError, match=f"--version 1 already exists at {version}; "
                       "versions are never overwritten, the next free one is 2"):
        run_recipe("mnist_mlp", f"--export_dir={exports}", "--version=1")
    # And if it appears only while the run trains, the upload refuses it.
    with pytest.raises(UsageError, match="--version 1 already exists"):
        storage.upload_version(str(os.getcwd()), f"{exports}/mnist_mlp", 1, explicit=True)
    assert _files(f"{exports}/mnist_mlp") == files

    again = run_recipe("mnist_mlp", f"--export_dir={exports}")
    assert again["export_path"] == f"{exports}/mnist_mlp/2"
    # The batching file reads the warm-up requests from the bucket.
    summary = serving_config.serving_config(
        exports, str(tmp_path / "models.config"), versions="all",
        batching_parameters=str(tmp_path / "batching.config"))
    assert summary["specific_versions"] == {"mnist_mlp": [1, 2]}
    assert summary["allowed_batch_sizes"]


def test_a_partial_version_is_neither_served_nor_reused(bucket, tmp_path, caplog):
    local, model_dir = _local_version(tmp_path), f"{bucket}/exports/m"
    assert storage.upload_version(local, model_dir, 1, explicit=True) == f"{model_dir}/1"
    # Version 2 as a killed copy leaves it: files but no marker.
    storage.copy_tree(local, f"{model_dir}/2")
    partial = _files(f"{model_dir}/2")

    assert storage.list_versions(model_dir) == [1]
    assert storage.claimed_versions(model_dir) == [1, 2]
    config = serving_config.build_config(f"{bucket}/exports")
    (model,) = config.model_config_list.config
    assert model.base_path == model_dir
    # By number, so the server never takes version 2 by itself.
    assert list(model.model_version_policy.specific.versions) == [1]
    with pytest.raises(UsageError, match=f"{model_dir} has no version 2 \\(it has 1\\)"):
        serving_config.build_config(f"{bucket}/exports", versions="specific:2")
    with pytest.raises(UsageError, match="--labels canary=2: .* has no version 2"):
        serving_config.build_config(f"{bucket}/exports", labels="canary=2")

    message = (f"--version 2 exists at {model_dir}/2 without its {MARKER} marker \\(a copy "
               "that did not finish\\); it is never replaced: delete that folder or pass a "
               "free --version, e.g. 3")
    with pytest.raises(UsageError, match=message):
        check_target(f"{bucket}/exports", "m", 2)
    with pytest.raises(UsageError, match=message):
        storage.upload_version(local, model_dir, 2, explicit=True)
    assert _files(f"{model_dir}/2") == partial
    # Without --version, the next free one: the partial one is not reused.
    # A staging copy a killed publish left is named, and kept.
    storage.copy_tree(local, f"{model_dir}/.tmp-9-1-deadbeef")
    assert storage.upload_version(local, model_dir, 2, explicit=False) == f"{model_dir}/3"
    assert storage.list_versions(model_dir) == [1, 3]
    assert f"{model_dir}/.tmp-9-1-deadbeef is a staging copy another publish left" in caplog.text
    assert tf.io.gfile.exists(f"{model_dir}/.tmp-9-1-deadbeef/saved_model.pb")


def test_serving_config_command_on_a_bucket(bucket, tmp_path):
    local, model_dir = _local_version(tmp_path), f"{bucket}/exports/m"
    storage.upload_version(local, model_dir, 1, explicit=True)
    storage.upload_version(local, model_dir, 2, explicit=True)
    storage.copy_tree(local, f"{model_dir}/3")  # partial
    out = tmp_path / "models.config"
    run = run_command([sys.executable, "-m", "modelzoo", "serving-config",
                       f"--export_dir={bucket}/exports", f"--out={out}", "--versions=latest:2"])
    assert run.returncode == 0, run.stderr
    text = out.read_text()
    assert f'base_path: "{model_dir}"' in text
    assert "specific {\n        versions: 1\n        versions: 2\n" in text
    assert "versions: 3" not in text
    assert json.loads(run.stdout.strip().splitlines()[-1])["specific_versions"] == {"m": [1, 2]}


def test_the_copy_puts_saved_model_pb_last_and_a_failed_copy_leaves_no_version(
        bucket, tmp_path, monkeypatch):
    local, model_dir = _local_version(tmp_path), f"{bucket}/exports/m"
    copied, real_copy = [], tf.io.gfile.copy

    def copy(source, target, overwrite=False):
        copied.append(target[len(model_dir) + 1:])
        return real_copy(source, target, overwrite)

    monkeypatch.setattr(tf.io.gfile, "copy", copy)
    storage.upload_version(local, model_dir, 1, explicit=True)
    staged = [c for c in copied if c.startswith(".tmp-1-")]
    final = [c for c in copied if c.startswith("1/")]
    # First the staging prefix, all of it; then the version, saved_model.pb last.
    assert copied == staged + final and len(staged) == len(final) == 3
    assert final[-1] == "1/saved_model.pb"
    assert tf.io.gfile.exists(f"{model_dir}/1/{MARKER}")

    def fail_on_the_graph(source, target, overwrite=False):
        if target.endswith("/2/saved_model.pb"):
            raise tf.errors.UnavailableError(None, None, "connection reset")
        return real_copy(source, target, overwrite)

    monkeypatch.setattr(tf.io.gfile, "copy", fail_on_the_graph)
    with pytest.raises(OSError, match="connection reset"):
        storage.upload_version(local, model_dir, 2, explicit=True)
    # Its version folder and staging prefix are gone; version 1 is untouched.
    assert tf.io.gfile.listdir(model_dir) == ["1/"] or tf.io.gfile.listdir(model_dir) == ["1"]
    assert storage.list_versions(model_dir) == [1]


@pytest.mark.parametrize("flag", ["--export_dir", "--model_dir"])
def test_an_unknown_scheme_is_one_line_without_a_traceback(flag, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = run_script("mnist_mlp", f"{flag}=nofs://bucket/x", f"--export_dir={tmp_path}"
                     if flag == "--model_dir" else "--epochs=1")
    assert run.returncode != 0
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert "Traceback" not in run.stderr
    assert any(f"{flag}=nofs://bucket/x: TensorFlow has no file system for nofs:// here"
               in line for line in lines), run.stderr[-2000:]
    assert not os.path.exists(tmp_path / "nofs:")


def test_an_unreachable_bucket_is_one_line(monkeypatch):
    def unreachable(path):
        raise tf.errors.FailedPreconditionError(
            None, None, "Error executing an HTTP request: could not resolve host\n details")

    monkeypatch.setattr(tf.io.gfile, "exists", unreachable)
    with pytest.raises(ModelzooError, match=r"^--export_dir=gs://nobucket/x cannot be reached "
                       r"\(FailedPreconditionError: Error executing an HTTP request: could not "
                       r"resolve host\); check the bucket's name, the credentials and the "
                       r"network$"):
        check_target("gs://nobucket/x", "m")


def test_a_missing_bucket_is_one_line_before_training(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = f"ram://nobucket-{secrets.token_hex(4)}"
    with pytest.raises(ModelzooError, match=f"^--model_dir={missing}/run: the bucket {missing} "
                       "does not exist or cannot be seen with these credentials; create it or "
                       "fix the name$"):
        run_recipe("mnist_mlp", f"--model_dir={missing}/run", f"--export_dir={tmp_path}")
    with pytest.raises(ModelzooError, match=f"--export_dir={missing}/x: the bucket {missing} "):
        check_target(f"{missing}/x", "m")
    assert not tf.io.gfile.exists(missing)


class _Preempted(Exception):
    pass


def test_a_run_in_a_bucket_model_dir_resumes_after_it_was_stopped(bucket, monkeypatch):
    run_dir = f"{bucket}/runs/r1"
    original = training.Throughput.on_epoch_begin

    def stop_at_the_second_epoch(self, epoch, logs=None):
        if epoch == 1:
            raise _Preempted
        original(self, epoch, logs)

    monkeypatch.setattr(training.Throughput, "on_epoch_begin", stop_at_the_second_epoch)
    with pytest.raises(_Preempted):
        run_recipe("mnist_mlp", f"--model_dir={run_dir}", "--epochs=2",
                   f"--export_dir={os.getcwd()}/exports")
    backup = json.loads(_files(run_dir)["backup/training_metadata.json"])
    assert backup["epoch"] == 1  # one finished epoch
    monkeypatch.setattr(training.Throughput, "on_epoch_begin", original)

    summary = run_recipe("mnist_mlp", f"--model_dir={run_dir}", "--epochs=2",
                         f"--export_dir={os.getcwd()}/exports")
    assert summary["epochs_run"] == 1
    files = _files(run_dir)
    assert {"checkpoints/epoch-001.weights.h5", "checkpoints/epoch-002.weights.h5"} <= set(files)
    assert any(path.startswith("logs/") for path in files)
    # No lock file: an object store has no lock (one run per --model_dir is the user's job).
    assert not any(".modelzoo-run" in path for path in files)


def test_a_worker_scratch_folder_stays_in_the_bucket(monkeypatch):
    from modelzoo import distribute

    monkeypatch.setattr(distribute, "_task", lambda strategy: ("worker", 1, {"worker": [1, 2]}))
    assert distribute.worker_dir("gs://b/exports/", None) == "gs://b/.exports.workertemp_worker_1"
    assert distribute.worker_dir("/data/exports", None) == "/data/.exports.workertemp_worker_1"


def test_a_local_publish_is_unchanged_no_marker(tmp_path):
    from modelzoo.export import base
    from tests.export_helpers import image_module

    path = base.publish(image_module("pixels"), base.Target(str(tmp_path), "m"))
    assert path == str(tmp_path / "m" / "1")
    assert not os.path.exists(os.path.join(path, MARKER))
    assert storage.list_versions(str(tmp_path / "m")) == [1]


def test_a_file_url_is_refused_for_the_plain_path(tmp_path):
    with pytest.raises(UsageError, match=f"^--model_dir=file://{tmp_path}: pass a local folder "
                       f"as a plain path, {tmp_path}$"):
        storage.check_remote_dir(f"file://{tmp_path}", "--model_dir")
