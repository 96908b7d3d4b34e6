"""Unit tests of `modelzoo.storage`."""

import os
import subprocess
import sys

import pytest

from modelzoo import storage
from modelzoo.errors import UsageError


def test_versions_are_integer_folders_within_int64(tmp_path):
    for name in ["1", "3", "10", str(storage.MAX_VERSION + 1), ".tmp-11-ab", "abc", "4x", "٣"]:
        (tmp_path / name).mkdir()
    (tmp_path / "7").write_text("a file is not a version")
    assert storage.list_versions(tmp_path) == [1, 3, 10]
    assert storage.list_versions(tmp_path / "missing") == []
    assert storage.next_version([1, 3, 10]) == 11 and storage.next_version([]) == 1


def test_no_version_beyond_int64(tmp_path):
    with pytest.raises(UsageError, match="int64"):
        storage.next_version([storage.MAX_VERSION])
    assert storage.check_version(storage.MAX_VERSION) == storage.MAX_VERSION
    with pytest.raises(UsageError, match=r"--version=9223372036854775808 is out of range"):
        storage.check_version(storage.MAX_VERSION + 1)
    for bad in (0, -1, True, "2"):
        with pytest.raises(UsageError, match="must be a positive integer"):
            storage.check_version(bad)


def test_resolve_version(tmp_path):
    for name in ["2", "5"]:
        (tmp_path / name).mkdir()
    assert storage.resolve_version(tmp_path) == (5, [2, 5])
    assert storage.resolve_version(tmp_path, 2) == (2, [2, 5])
    with pytest.raises(UsageError, match="--version 3 does not exist .* it holds 2, 5"):
        storage.resolve_version(tmp_path, 3)
    with pytest.raises(UsageError, match="holds no exported version"):
        storage.resolve_version(tmp_path / "2")


def test_int_ranges_name_the_flag_and_the_type():
    assert storage.check_int_range("--num_chars", storage.MAX_INT32) == storage.MAX_INT32
    with pytest.raises(UsageError, match=r"--num_chars=4294967299 is out of range.*int32"):
        storage.check_int_range("--num_chars", 4294967299)
    with pytest.raises(UsageError, match=r"--top_k=-1 is out of range"):
        storage.check_int_range("--top_k", -1)


def test_rename_no_replace_never_replaces(tmp_path):
    (tmp_path / "source").mkdir()
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("kept")
    for target in ("empty", "file"):
        with pytest.raises(FileExistsError):
            storage.rename_no_replace(tmp_path / "source", tmp_path / target)
    assert (tmp_path / "file").read_text() == "kept"
    storage.rename_no_replace(tmp_path / "source", tmp_path / "new")
    assert (tmp_path / "new").is_dir() and not (tmp_path / "source").exists()


def test_write_file(tmp_path):
    path = tmp_path / "models.config"
    storage.write_file(path, "one")
    with pytest.raises(FileExistsError):
        storage.write_file(path, "two")
    assert path.read_text() == "one"
    storage.write_file(path, "three", replace_existing=True)
    assert path.read_text() == "three" and os.listdir(tmp_path) == ["models.config"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_staged_dir_is_renamed_into_place(tmp_path):
    target = tmp_path / "out"
    with storage.staged_dir(tmp_path, ".stage-", target=target) as staged:
        assert os.path.basename(staged.path).startswith(f".stage-{os.getpid()}-")
        (tmp_path / staged.path / "a").write_text("x")
    assert (target / "a").read_text() == "x" and os.listdir(tmp_path) == ["out"]
    # Its mode is not mkdtemp's 0700, which would hide it from another user.
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o777 & ~umask


def test_staged_dir_never_replaces_and_is_removed_on_failure(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(FileExistsError):
        with storage.staged_dir(tmp_path, ".stage-", target=target) as staged:
            (tmp_path / staged.path / "a").write_text("x")
    with pytest.raises(KeyboardInterrupt):
        with storage.staged_dir(tmp_path, ".stage-", target=tmp_path / "other"):
            raise KeyboardInterrupt
    assert sorted(os.listdir(tmp_path)) == ["out"] and os.listdir(target) == []


def test_staged_dir_commits_a_member(tmp_path):
    with storage.staged_dir(tmp_path, ".stage-") as staged:
        os.makedirs(os.path.join(staged.path, "name", "1.0.0"))
        staged.commit(tmp_path / "1.0.0", member=os.path.join("name", "1.0.0"))
    assert sorted(os.listdir(tmp_path)) == ["1.0.0"]


def test_sweep_removes_only_dead_writers_folders(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stale = tmp_path / f".stage-{dead}-0123abcd"
    stale.mkdir()
    (stale / "partial").write_text("x")
    (tmp_path / ".stage-user-notes").mkdir()  # not a staging name: an old one's age decides
    os.utime(tmp_path / ".stage-user-notes")
    (tmp_path / "other").mkdir()
    with storage.staged_dir(tmp_path, ".stage-") as live:
        assert storage.sweep(str(tmp_path), ".stage-") == []  # the live one is locked
        assert os.path.isdir(live.path)
    assert not stale.exists()
    assert sorted(os.listdir(tmp_path)) == [".stage-user-notes", "other"]


def test_folder_lock_refuses_a_second_holder(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from modelzoo import storage; storage.hold_folder_lock(sys.argv[1]);"
         "print('held', flush=True); sys.stdin.read()", str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(storage.__file__))),
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(storage.FolderInUse, match="--model_dir=run is in use by another run"):
            storage.hold_folder_lock(tmp_path, what="--model_dir=run")
        with pytest.raises(storage.FolderInUse):
            with storage.folder_lock(tmp_path, blocking=False):
                pass
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    storage.hold_folder_lock(tmp_path)
    storage.hold_folder_lock(tmp_path)  # again in the same process: a no-op
    storage.release_folder_lock(tmp_path)
    with storage.folder_lock(tmp_path, blocking=False):
        pass
