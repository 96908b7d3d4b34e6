"""Folders written whole or not at all: versions, staged folders, renames, locks.

Every place that publishes something into a folder a user or a server reads
(exports, dataset imports, the BERT checkpoint, `serving-config`'s file,
training's set-aside folders) goes through here:

- `list_versions`, `next_version`, `resolve_version`: the integer version
  folders of `<export_dir>/<name>/`, bounded to TF Serving's int64.
- `staged_dir`: a hidden folder beside the target, locked while it is
  written, renamed into place without replacing anything, removed on any
  failure (Ctrl-C and SIGTERM included); folders that dead processes left
  are swept by the next one.
- `rename_no_replace`, `write_file`: one rename that never replaces.
- `folder_lock`, `hold_folder_lock`: `flock` on a folder, to decide under a
  lock, at rename time, what happens to what is already there.

Paths with a scheme (`gs://`, `s3://`, TensorFlow's in-memory `ram://`;
`file://` is refused, for the plain path) go through `tf.io.gfile` instead (`is_remote`, the
small file-system functions below, `check_remote_dir`). An object store
has no atomic rename and no lock, so a version is published there by
`upload_version`: copied under a hidden staging prefix, then to
`<version>/` with `saved_model.pb` copied last and a completion marker
(`COMPLETE_MARKER`) written last of all; `list_versions` lists only the
versions whose marker exists, and `claimed_versions` every version folder,
so a partial one is neither served nor reused.
"""

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import posixpath
import re
import secrets
import shutil
import time

from absl import logging

from modelzoo.errors import ModelzooError, UsageError, first_line

# TF Serving stores a version as an int64 (`servable_version`).
MAX_VERSION = 2**63 - 1
# Tensors the exports take (`num_chars`, `top_k`, counts) are int32.
MAX_INT32 = 2**31 - 1

# A staging folder younger than this process may belong to a live writer
# between its mkdir and its flock, so only older ones are swept.
_STARTED = time.time()

# `<prefix><pid>-<8 hex>`: the pid tells a dead writer's folder from a live one's.
_OWNER = re.compile(r"(\d+)-[0-9a-f]{8}$")


class FolderInUse(ModelzooError):
    """Another process holds the lock on a folder."""


def is_version_name(name):
    """Whether `name` is a version folder's name: ASCII digits, within int64."""
    return name.isascii() and name.isdigit() and int(name) <= MAX_VERSION


def list_versions(model_dir):
    """The sorted integer versions under `model_dir` ([] if it does not exist).

    Only folders count, as for TF Serving; a name beyond int64 is not a
    version. On a remote file system only complete versions count: those
    whose `COMPLETE_MARKER` exists (see `upload_version`).

    Raises:
        ModelzooError: `model_dir` exists but cannot be listed.
    """
    if is_remote(model_dir):
        return [v for v in claimed_versions(model_dir)
                if exists(join(model_dir, str(v), COMPLETE_MARKER))]
    try:
        names = os.listdir(model_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise ModelzooError(f"cannot list {model_dir}: {first_line(exc)}") from exc
    return sorted(
        int(n) for n in names if is_version_name(n) and os.path.isdir(os.path.join(model_dir, n))
    )


def claimed_versions(model_dir):
    """Every integer version folder under `model_dir`, complete or not (sorted).

    What a new version must not take: locally the same as `list_versions`;
    remotely also the versions whose copy never finished.

    Raises:
        ModelzooError: `model_dir` exists but cannot be listed.
    """
    if not is_remote(model_dir):
        return list_versions(model_dir)
    try:
        names = listdir(model_dir)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ModelzooError(f"cannot list {model_dir}: {first_line(exc)}") from exc
    return sorted(int(n) for n in names
                  if is_version_name(n) and isdir(join(model_dir, n)))


def next_version(versions):
    """1 for no versions, else the largest + 1.

    Raises:
        UsageError: the largest is already `MAX_VERSION`.
    """
    version = max(versions, default=0) + 1
    if version > MAX_VERSION:
        raise UsageError(
            f"version {MAX_VERSION} exists, the largest TF Serving can serve (int64); "
            "pass a free smaller --version"
        )
    return version


def check_version(version, flag="--version"):
    """`version` if it is None or an int in [1, MAX_VERSION]; else UsageError naming `flag`."""
    if version is None:
        return None
    if isinstance(version, bool) or not isinstance(version, int) or version <= 0:
        raise UsageError(f"{flag}={version!r} must be a positive integer")
    if version > MAX_VERSION:
        raise UsageError(
            f"{flag}={version} is out of range: TF Serving's versions are int64, at most {MAX_VERSION}"
        )
    return version


def check_int_range(flag, value, low=0, high=MAX_INT32, kind="int32"):
    """Raises UsageError unless `low <= value <= high`, naming `flag` and the type.

    Args:
        flag: str. The flag as the user typed it, e.g. `"--num_chars"`.
        value: int.
        low, high: the bounds, inclusive.
        kind: str. The type the value is stored in, for the message.
    """
    if not low <= value <= high:
        raise UsageError(f"{flag}={value} is out of range: it must be in [{low}, {high}] ({kind})")
    return value


def resolve_version(model_dir, version=None, argument=None):
    """`(version, versions)`: `version`, or the largest if None, and all versions.

    The largest is what TF Serving's default policy serves.

    Args:
        model_dir: str. The folder of version folders.
        version: int or None.
        argument: str or None. How messages name `model_dir`, e.g. "--model".

    Raises:
        UsageError: `model_dir` holds no version, or not `version`.
    """
    named = f"{argument} {model_dir}" if argument else model_dir
    versions = list_versions(model_dir)
    if not versions:
        raise UsageError(f"{named} holds no exported version; run a recipe first")
    if version is None:
        return versions[-1], versions
    if version not in versions:
        raise UsageError(
            f"--version {version} does not exist in {model_dir}; it holds "
            f"{', '.join(map(str, versions))}"
        )
    return version, versions


def rename_no_replace(source, target):
    """Renames `source` to `target`; FileExistsError if `target` exists.

    Uses Linux `renameat2(RENAME_NOREPLACE)` where available, so a folder
    created by someone else at the same moment is never replaced; elsewhere
    it checks first, which leaves only a tiny window, and `os.rename` itself
    refuses to replace a non-empty directory. On a remote file system,
    where there is no such rename, `tf.io.gfile.rename` after a check.
    """
    if is_remote(source) or is_remote(target):
        _remote_rename_no_replace(source, target)
        return
    if _renameat2 is not None:
        result = _renameat2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), 1)
        if result == 0:
            return
        code = ctypes.get_errno()
        if code == errno.EEXIST:
            raise FileExistsError(code, os.strerror(code), target)
        if code not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(code, os.strerror(code), target)
    if os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), target)
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), target) from None
        raise


def _remote_rename_no_replace(source, target):
    # gfile renames a folder object by object (GCS: a copy and a delete
    # each), so a crash can leave it split between both names.
    if exists(target):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), target)
    with _remote_errors(target):
        _gfile().rename(source, target, overwrite=False)


def write_file(path, text, replace_existing=False, mode=0o644):
    """Writes `text` to `path` through a hidden sibling and one rename.

    A reader never sees a partial file, and a failed write leaves none.

    Args:
        path: str. The file to write.
        text: str, written as UTF-8, or bytes.
        replace_existing: bool. Replace an existing `path`; else
            FileExistsError if one exists, even one written meanwhile.
        mode: int. The file's permissions (a temporary file's 0600 would
            hide it from a server running as another user).
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    if is_remote(path):
        _remote_write_file(path, data, replace_existing)
        return
    folder = os.path.dirname(os.path.abspath(path))
    temp = os.path.join(folder, f".{os.path.basename(path)}-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with open(temp, "xb") as f:
            f.write(data)
        os.chmod(temp, mode)
        if replace_existing:
            os.replace(temp, path)
        else:
            rename_no_replace(temp, path)
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)


def _remote_write_file(path, data, replace_existing):
    # The object appears whole when its write is closed; the hidden sibling
    # and the rename keep `replace_existing=False` from replacing a file.
    folder, name = posixpath.split(path)
    temp = posixpath.join(folder, f".{name}-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with open_file(temp, "wb") as f:
            f.write(data)
        if not replace_existing and exists(path):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)
        with _remote_errors(path):
            _gfile().rename(temp, path, overwrite=replace_existing)
    finally:
        if exists(temp):
            remove(temp)


def _load_renameat2():
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    function.argtypes = [
        ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint
    ]
    function.restype = ctypes.c_int
    return function


_AT_FDCWD = -100
_renameat2 = _load_renameat2()


@contextlib.contextmanager
def folder_lock(path, blocking=True, what=None):
    """Holds an exclusive `flock` on the folder `path` for the block.

    The lock is on the folder itself, so nothing is written into it.

    Args:
        path: str or Path. An existing folder.
        blocking: bool. Wait for the lock; else FolderInUse at once.
        what: str or None. How the message names the folder, e.g.
            `"--model_dir=run"`.

    Raises:
        FolderInUse: not `blocking` and another process holds it.
    """
    fd = _lock(path, blocking, what)
    try:
        yield
    finally:
        os.close(fd)


_HELD = {}


def hold_folder_lock(path, what=None):
    """Locks the folder (or lock file) `path`, without waiting.

    It is held until `release_folder_lock` or the end of the process.

    Taking it again in the same process is a no-op, so one process can run
    several trainings in the same folder one after the other.

    Raises:
        FolderInUse: another process holds it.
    """
    key = os.path.realpath(path)
    if key not in _HELD:
        _HELD[key] = _lock(path, False, what)


def release_folder_lock(path):
    """Releases a `hold_folder_lock`; nothing if it is not held."""
    fd = _HELD.pop(os.path.realpath(path), None)
    if fd is not None:
        os.close(fd)


def _lock(path, blocking, what):
    # A folder is locked itself; any other path is a lock file, created if missing.
    flags = os.O_RDONLY | os.O_DIRECTORY if os.path.isdir(path) else os.O_RDWR | os.O_CREAT
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        raise ModelzooError(f"cannot open {path} to lock it: {first_line(exc)}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        raise FolderInUse(
            f"{what or path} is in use by another run (it holds the folder's lock); "
            "wait for it to finish or pass another folder"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    return fd


class StagedDir:
    """A locked hidden folder to write in; see `staged_dir`.

    As a context manager it removes the folder on exit unless it was
    committed (renamed away), and releases its lock.

    Attributes:
        path: str. The staging folder.
        committed: str or None. Where `commit` renamed it (or part of it).
    """

    def __init__(self, path, fd):
        self.path = path
        self.committed = None
        self._fd = fd

    @classmethod
    def create(cls, parent, prefix, sweep_prefix=None):
        """Sweeps stale folders, then creates `<parent>/<prefix><pid>-<8 hex>`.

        `parent` must exist.

        Raises:
            OSError: the folder cannot be created.
        """
        parent = os.fspath(parent)
        sweep(parent, sweep_prefix or prefix)
        # Not tempfile.mkdtemp: its 0700 mode would survive the rename and
        # hide the folder from a server running as another user.
        for _ in range(100):
            path = os.path.join(parent, f"{prefix}{os.getpid()}-{secrets.token_hex(4)}")
            try:
                os.mkdir(path)
            except FileExistsError:
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
            return cls(path, fd)
        raise FileExistsError(errno.EEXIST, "no free staging folder name", parent)

    def commit(self, target, member=None):
        """Renames the staging folder, or its `member` sub-path, to `target`.

        Never replaces: FileExistsError if `target` exists.
        """
        source = self.path if member is None else os.path.join(self.path, member)
        rename_no_replace(source, os.fspath(target))
        self.committed = os.fspath(target)
        return self.committed

    def cleanup(self):
        """Removes what is left of the folder and releases its lock."""
        if self._fd is None:
            return
        try:
            if os.path.lexists(self.path):
                shutil.rmtree(self.path, ignore_errors=True)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.cleanup()


@contextlib.contextmanager
def staged_dir(parent, prefix, target=None, sweep_prefix=None):
    """A hidden folder in `parent` to write in, renamed into place at the end.

    The folder, `<parent>/<prefix><pid>-<8 hex>`, is locked while it lives.
    On entry, the folders of `sweep_prefix` (default `prefix`) that dead
    processes left behind are removed. On a clean exit with a `target`, the
    folder is renamed to `target` unless the block `commit`ted it already
    (FileExistsError if `target` exists: nothing is replaced). On any
    exception, including KeyboardInterrupt and `errors.Terminated`, or if
    nothing was committed, it is removed.

    Args:
        parent: str or Path. The folder to stage in, on the target's file
            system (created if missing).
        prefix: str. The folder name's start; hidden names (".") keep TF
            Serving and TFDS from reading it.
        target: str, Path or None. Where the folder goes on a clean exit;
            None leaves that to `StagedDir.commit`.
        sweep_prefix: str or None. The names of stale folders to sweep.

    Yields:
        A `StagedDir`.

    Raises:
        ModelzooError: the folder cannot be created.
    """
    parent = os.fspath(parent)
    try:
        os.makedirs(parent, exist_ok=True)
        staged = StagedDir.create(parent, prefix, sweep_prefix)
    except OSError as exc:
        raise ModelzooError(f"cannot write in {parent}: {first_line(exc)}") from exc
    with staged:
        yield staged
        if target is not None and staged.committed is None:
            staged.commit(target)


def sweep(parent, prefix):
    """Removes the `<prefix>*` folders in `parent` that dead writers left.

    A folder is stale when no live process holds its lock and either the
    process its name records is gone or the folder is older than this
    process. Each one removed is logged.

    Returns:
        The list of removed paths.
    """
    removed = []
    try:
        names = os.listdir(parent)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(prefix):
            continue
        path = os.path.join(parent, name)
        try:
            if not os.path.isdir(path) or os.path.islink(path):
                continue
            if os.lstat(path).st_mtime >= _STARTED and _owner_alive(name):
                continue
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        try:
            shutil.rmtree(path)
            removed.append(path)
            logging.warning("removed %s, left unfinished by an earlier run", path)
        except OSError as exc:
            logging.warning("cannot remove %s, left by an earlier run: %s", path, first_line(exc))
        finally:
            os.close(fd)
    return removed


def _owner_alive(name):
    match = _OWNER.search(name)
    if not match:
        return True  # Unknown owner: only its age can tell.
    pid = int(match.group(1))
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


# Remote (non-local) file systems, through `tf.io.gfile`.

# Written last into a remote version folder: the version is complete.
COMPLETE_MARKER = ".modelzoo-complete"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def scheme(path):
    """The lower-case scheme of `path` (`"gs"` for `gs://b/x`), or None for a plain path."""
    match = _SCHEME.match(os.fspath(path))
    return match.group(1).lower() if match else None


def is_remote(path):
    """Whether `path` is for `tf.io.gfile` (it has a scheme: `gs://...`), not `os`.

    `check_remote_dir` refuses `file://`, so a local folder is always a
    plain path, with its locks and atomic renames.
    """
    return scheme(path) is not None


def _gfile():
    # TensorFlow only when a remote path is used: the local paths (and
    # `modelzoo --help`) never import it here.
    import tensorflow as tf

    return tf.io.gfile


def _os_error(exc, path):
    """A `tf.errors.OpError` as the `OSError` subclass `os` would raise."""
    import tensorflow as tf

    if isinstance(exc, tf.errors.NotFoundError):
        return FileNotFoundError(errno.ENOENT, first_line(exc), path)
    if isinstance(exc, tf.errors.AlreadyExistsError):
        return FileExistsError(errno.EEXIST, first_line(exc), path)
    if isinstance(exc, tf.errors.PermissionDeniedError):
        return PermissionError(errno.EACCES, first_line(exc), path)
    return OSError(errno.EIO, first_line(exc), path)


@contextlib.contextmanager
def _remote_errors(path):
    import tensorflow as tf

    try:
        yield
    except tf.errors.OpError as exc:
        raise _os_error(exc, path) from None


def join(path, *parts):
    """`os.path.join`, or `/`-joined for a remote path."""
    if is_remote(path):
        return posixpath.join(os.fspath(path), *parts)
    return os.path.join(path, *parts)


def exists(path):
    """Whether `path` exists, local or remote."""
    if not is_remote(path):
        return os.path.exists(path)
    with _remote_errors(path):
        return _gfile().exists(path)


def lexists(path):
    """`os.path.lexists` (a broken link counts), or `exists` for a remote path."""
    return exists(path) if is_remote(path) else os.path.lexists(path)


def isdir(path):
    """Whether `path` is a folder, local or remote."""
    if not is_remote(path):
        return os.path.isdir(path)
    with _remote_errors(path):
        return _gfile().isdir(path)


def isfile(path):
    """Whether `path` is a file, local or remote."""
    if not is_remote(path):
        return os.path.isfile(path)
    return exists(path) and not isdir(path)


def listdir(path):
    """The names in the folder `path`, local or remote (no trailing `/`)."""
    if not is_remote(path):
        return os.listdir(path)
    with _remote_errors(path):
        return [name.rstrip("/") for name in _gfile().listdir(path)]


def makedirs(path):
    """`os.makedirs(path, exist_ok=True)`, local or remote."""
    if not is_remote(path):
        os.makedirs(path, exist_ok=True)
        return
    with _remote_errors(path):
        _gfile().makedirs(path)


def remove(path):
    """Removes the file `path`, local or remote."""
    if not is_remote(path):
        os.remove(path)
        return
    with _remote_errors(path):
        _gfile().remove(path)


def rmtree(path):
    """Removes the folder `path` and all it holds, local or remote."""
    if not is_remote(path):
        shutil.rmtree(path)
        return
    with _remote_errors(path):
        _gfile().rmtree(path)


def open_file(path, mode="r"):
    """`open(path, mode)`, or a `tf.io.gfile.GFile` for a remote path."""
    if not is_remote(path):
        return open(path, mode) if "b" in mode else open(path, mode, encoding="utf-8")
    return _GFileErrors(_gfile().GFile(path, mode), path)


class _GFileErrors:
    """A `GFile` whose TensorFlow errors are `OSError`s, as `open`'s are."""

    def __init__(self, handle, path):
        self._handle = handle
        self._path = path

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        with _remote_errors(self._path):
            self._handle.close()

    def read(self, *args):
        with _remote_errors(self._path):
            return self._handle.read(*args)

    def write(self, data):
        with _remote_errors(self._path):
            return self._handle.write(data)


def replace(source, target):
    """`os.replace`, local or remote (on an object store, a copy and a delete)."""
    if not is_remote(source):
        os.replace(source, target)
        return
    with _remote_errors(source):
        _gfile().rename(source, target, overwrite=True)


def copy_tree(source, target, last=()):
    """Copies the folder `source` (local or remote) to `target`, file by file.

    Args:
        source, target: str. `target` must not exist yet.
        last: names of files at the top of `source` to copy after all else,
            in this order.

    Returns:
        The number of files copied and their total bytes.
    """
    gfile = _gfile()
    files, total = [], 0
    for folder, _, names in gfile.walk(source):
        relative = posixpath.relpath(folder.replace(os.sep, "/"), source.replace(os.sep, "/"))
        for name in names:
            files.append(name if relative == "." else posixpath.join(relative, name))
    order = {name: i for i, name in enumerate(last)}
    files.sort(key=lambda f: (order.get(f, -1), f))
    with _remote_errors(target):
        gfile.makedirs(target)
        for relative in files:
            destination = posixpath.join(target, relative) if is_remote(target) else (
                os.path.join(target, relative))
            gfile.makedirs(posixpath.dirname(destination) if is_remote(target)
                           else os.path.dirname(destination))
            gfile.copy(join(source, relative), destination, overwrite=False)
            total += gfile.stat(destination).length
    return len(files), total


def check_remote_dir(path, flag):
    """Raises a one-line error unless `path` is a usable remote folder.

    Nothing is created: it only looks, so no local `./gs:` folder appears.

    Args:
        path: str. A remote path (`is_remote`).
        flag: str. How messages name it, e.g. `"--export_dir"`.

    Raises:
        UsageError: TensorFlow has no file system for its scheme, `path` is
            a file, or it is a `file://` path.
        ModelzooError: the bucket (`<scheme>://<first component>`) does not
            exist, or the file system cannot be reached (no credentials, no
            network).
    """
    import tensorflow as tf

    if scheme(path) == "file":
        raise UsageError(f"{flag}={path}: pass a local folder as a plain path, "
                         f"{path.split('://', 1)[1] or '/'}")
    # The bucket: `gs://b` of `gs://b/x/y`. A missing one would otherwise
    # show only when the first file is written, after training.
    bucket = _SCHEME.match(path).group(0) + path.split("://", 1)[1].split("/", 1)[0]
    try:
        if not (tf.io.gfile.exists(bucket) or tf.io.gfile.isdir(bucket)):
            raise ModelzooError(
                f"{flag}={path}: the bucket {bucket} does not exist or cannot be seen with "
                "these credentials; create it or fix the name")
        if tf.io.gfile.exists(path) and not tf.io.gfile.isdir(path):
            raise UsageError(f"{flag}={path} is a file, not a folder; pass a folder")
    except tf.errors.UnimplementedError:
        raise UsageError(
            f"{flag}={path}: TensorFlow has no file system for {scheme(path)}:// here; use a "
            "local path or one of TensorFlow's schemes (gs://, or ram:// in memory)"
        ) from None
    except tf.errors.OpError as exc:
        raise ModelzooError(
            f"{flag}={path} cannot be reached ({type(exc).__name__}: {first_line(exc)}); "
            "check the bucket's name, the credentials and the network"
        ) from None


def upload_version(local_dir, model_dir, version, explicit, prefix=".tmp-"):
    """Copies a verified local version into the remote `model_dir`, never replacing.

    An object store has no atomic rename, so: the files are first copied
    under a hidden staging prefix in `model_dir` (TF Serving skips names
    that are not integers), then from there to `<version>/`, with
    `saved_model.pb` last (until it is there, the folder is not a
    SavedModel) and `COMPLETE_MARKER` written last of all. The staging copy
    is removed at the end, whatever happens; a version folder this call
    started and did not finish is removed too, and one a killed process
    left has no marker, so it is never listed as complete nor reused.

    Args:
        local_dir: str. The verified local SavedModel folder.
        model_dir: str. The remote `<export_dir>/<name>`.
        version: int. The version to take.
        explicit: bool. The user named `version`: a taken one is a
            `UsageError`; else the next free one is taken.
        prefix: str. The staging prefix's start.

    Returns:
        The remote version folder.

    Raises:
        UsageError: an explicit version exists, complete or not.
    """
    if explicit and version in claimed_versions(model_dir):
        raise UsageError(taken_message(model_dir, version))  # before any upload
    makedirs(model_dir)
    # Not removed: another host's publish may be copying into one.
    for name in listdir(model_dir):
        if name.startswith(prefix):
            logging.warning("%s is a staging copy another publish left or is writing; delete "
                            "it once no publish is running", join(model_dir, name))
    staging = join(model_dir, f"{prefix}{version}-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        copy_tree(local_dir, staging)
        for _ in range(100):
            if version in claimed_versions(model_dir):
                if explicit:
                    raise UsageError(taken_message(model_dir, version))
                version = next_version(claimed_versions(model_dir))
                continue
            final = join(model_dir, str(version))
            try:
                count, size = copy_tree(staging, final, last=("saved_model.pb",))
                write_marker(final, count, size)
            except BaseException:
                _remove_quietly(final)
                raise
            return final
        raise ModelzooError(f"could not claim a free version under {model_dir}")
    finally:
        _remove_quietly(staging)


def write_marker(version_dir, files, size):
    """Writes `COMPLETE_MARKER` into `version_dir`: what was copied before it."""
    with open_file(join(version_dir, COMPLETE_MARKER), "w") as f:
        f.write(json.dumps({"files": files, "bytes": size}) + "\n")


def taken_message(model_dir, version):
    """The one-line refusal of a `--version` that exists in `model_dir`."""
    path = join(model_dir, str(version))
    free = next_version(claimed_versions(model_dir))
    if is_remote(model_dir) and not exists(join(path, COMPLETE_MARKER)):
        return (f"--version {version} exists at {path} without its {COMPLETE_MARKER} marker "
                "(a copy that did not finish); it is never replaced: delete that folder "
                f"or pass a free --version, e.g. {free}")
    return (f"--version {version} already exists at {path}; versions are never "
            f"overwritten, the next free one is {free}")


def _remove_quietly(path):
    try:
        if exists(path):
            rmtree(path)
    except OSError as exc:
        logging.warning("cannot remove %s: %s", path, first_line(exc))
