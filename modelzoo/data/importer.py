"""Import local files as real TFDS datasets, with no network access.

The result has the layout TFDS's own builder would write
(`<data_dir>/<name>/<version>/` with the same name, version, features, class
names and splits), so `tfds.load(name, data_dir=..., download=False)` loads it with the
registered builder class, unchanged.

Writing is atomic: the dataset is built in a hidden staging folder inside
`data_dir` (a `storage.StagedDir`, removed on any failure or signal, and
swept by a later import if a killed one left it) and its version folder is
renamed into place only once complete. What happens to a folder already
there is decided at that moment, under a lock on its parent folder: a
prepared dataset is kept unless `force`, and a folder holding anything else
is never deleted without `force`. Inputs are fully read and checked before
anything is written, so a corrupt file leaves `data_dir` untouched.
"""

import contextlib
import io
import os
import stat
import tempfile
from pathlib import Path

import tensorflow_datasets as tfds
from tensorflow_datasets.core.dataset_builders.adhoc_builder import AdhocBuilder

from modelzoo import storage
from modelzoo.data import idx
from modelzoo.errors import DataError, UsageError, first_line

IDX_DATASETS = ("fashion_mnist", "mnist")
TEXT_DATASETS = ("tiny_shakespeare",)

# TFDS split name -> file name prefix of the original IDX downloads.
_IDX_SPLIT_PREFIXES = {"train": "train", "test": "t10k"}

_STAGING_PREFIX = ".modelzoo-import-"

# The most text one import reads; tiny_shakespeare keeps a split as one
# example, and a larger read would only run out of memory.
MAX_TEXT_BYTES = 2**30


class _ImportBuilder(AdhocBuilder, skip_registration=True):
    """Writes given examples under another builder's name, version and info.

    AdhocBuilder alone would drop the supervised keys, description and
    citation; copying the registered builder's info keeps dataset_info.json
    the same as a TFDS-built one.
    """

    def __init__(self, *, reference_info, split_examples, data_dir, description=None):
        self._reference_info = reference_info
        self._import_description = description or reference_info.description
        # DatasetInfo records builder.__module__ in dataset_info.json; name
        # TFDS's module, as a TFDS build would (read_only_builder does the
        # same instance-level override).
        self.__module__ = reference_info.module_name
        super().__init__(
            name=reference_info.name,
            version=reference_info.version,
            features=reference_info.features,
            split_datasets=split_examples,
            # Keeps TFDS's <name>/<config>/<version> layout (imdb_reviews/plain_text).
            config=_reference_config(reference_info),
            data_dir=data_dir,
        )

    def _info(self):
        ref = self._reference_info
        return tfds.core.DatasetInfo(
            builder=self,
            description=self._import_description,
            # The connector itself, not a JSON round trip: features.json
            # drops ClassLabel names, which TFDS saves in label.labels.txt.
            features=ref.features,
            supervised_keys=ref.supervised_keys,
            homepage=ref.homepage,
            citation=ref.citation,
        )


def import_idx(name, src, data_dir, force=False):
    """Imports MNIST-format IDX files as the TFDS dataset `name`.

    Args:
      name: "mnist" or "fashion_mnist".
      src: folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte,
        t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each optionally
        gzipped, with or without a .gz suffix).
      data_dir: the TFDS data directory to import into.
      force: replace an already imported version.

    Returns:
      A dict with name, version, path, splits (split -> example count) and
      status ("imported", "replaced" or "already imported").

    Raises:
      UsageError: unknown dataset name.
      DataError: missing or invalid input files.
    """
    _check_name(name, IDX_DATASETS, "import-idx")
    # The arguments are checked even when the dataset is already imported.
    src = _check_src(src, name, directory=True)
    info = reference_info(name)
    target = version_dir(data_dir, info)
    kept = keep_existing(name, data_dir, target, force)
    if kept:
        return kept

    rows, cols, _ = info.features["image"].shape
    num_classes = info.features["label"].num_classes
    split_examples = {}
    for split, prefix in _IDX_SPLIT_PREFIXES.items():
        images, labels = idx.read_split(
            _find_idx_file(src, f"{prefix}-images", 3),
            _find_idx_file(src, f"{prefix}-labels", 1),
            rows,
            cols,
            num_classes,
        )
        split_examples[split] = _idx_examples(images, labels)
    return store(info, split_examples, data_dir, target, force=force)


def import_text(name, src_files, data_dir, fortune=False, force=False):
    """Imports UTF-8 text files as the TFDS dataset `name`.

    The files are concatenated as they are (like `cat`) and split by
    character position exactly as TFDS's tiny_shakespeare builder does.

    Args:
      name: "tiny_shakespeare".
      src_files: one or more UTF-8 text files.
      data_dir: the TFDS data directory to import into.
      fortune: the files are in `fortune` format; the lines holding a single
        "%" that separate records become blank lines.
      force: replace an already imported version.

    Returns:
      A dict with name, version, path, splits (split -> example count) and
      status ("imported", "replaced" or "already imported").

    Raises:
      UsageError: unknown dataset name or no source files.
      DataError: a missing, non-UTF-8 or empty corpus.
    """
    _check_name(name, TEXT_DATASETS, "import-text")
    if not src_files:
        raise UsageError("import-text needs at least one --src text file")
    for path in src_files:
        _check_src(path, name, directory=False)
    info = reference_info(name)
    target = version_dir(data_dir, info)
    kept = keep_existing(name, data_dir, target, force)
    if kept:
        return kept

    text = read_text(src_files, fortune=fortune)
    # Keys as in TFDS's builder, which yields one example per split.
    split_examples = {
        split: [(split, {"text": part})]
        for split, part in split_text(text).items()
    }
    return store(info, split_examples, data_dir, target, force=force)


def import_with(name, data_dir, read, force=False):
    """Imports the examples `read` returns as the TFDS dataset `name`.

    The flow every importer shares: an existing import is kept unless
    `force`, and nothing is written before `read` has checked its input.

    Args:
      name: a registered TFDS dataset name (its default config).
      data_dir: the TFDS data directory to import into.
      read: a function of the registered builder's DatasetInfo returning
        (split name -> list of (key, example), description or None for
        TFDS's); it raises DataError on bad input.
      force: replace an already imported version.

    Returns:
      The summary dict.
    """
    info = reference_info(name)
    target = version_dir(data_dir, info)
    kept = keep_existing(name, data_dir, target, force)
    if kept:
        return kept
    split_examples, description = read(info)
    return store(info, split_examples, data_dir, target, description, force=force)


def read_text(paths, fortune=False):
    """Reads and concatenates UTF-8 text files.

    Args:
      paths: the files, in order.
      fortune: replace the "%" record separator lines by blank lines.

    Returns:
      The concatenated text.

    Raises:
      DataError: a file is missing or not UTF-8, or the whole corpus holds
        no text.
    """
    parts = []
    for path in map(Path, paths):
        try:
            raw = _read_bounded(path, MAX_TEXT_BYTES)
        except FileNotFoundError:
            raise DataError(
                f"{path}: no such file; expected a UTF-8 text file"
            ) from None
        except OSError as err:
            raise DataError(
                f"{path}: cannot read ({err.strerror}); expected a UTF-8 text file"
            ) from err
        text = decode_utf8(raw, path)
        parts.append(blank_fortune_separators(text) if fortune else text)
    text = "".join(parts)
    if not text.strip():
        names = ", ".join(str(p) for p in paths)
        raise DataError(
            f"empty corpus: {names} hold no text; expected some UTF-8 text"
        )
    return text


def _read_bounded(path, limit):
    """The bytes of `path`; DataError past `limit` bytes (e.g. a pipe that never ends)."""
    with open(path, "rb") as f:
        raw = f.read(limit + 1)
    if len(raw) > limit:
        raise DataError(f"{path}: more than {limit // 2**20} MiB; expected a UTF-8 text corpus "
                        "of at most that size")
    return raw


def decode_utf8(raw, name):
    """Decodes bytes as UTF-8, naming `name` and the bad byte if they are not.

    Raises:
      DataError: `raw` is not valid UTF-8.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(
            f"{name}: invalid UTF-8 byte 0x{raw[err.start]:02X} at byte "
            f"offset {err.start}; expected UTF-8 text"
        ) from err


def blank_fortune_separators(text):
    """Replaces `fortune` record separators (lines of a single "%") by blank lines.

    Args:
      text: the content of a fortune file.

    Returns:
      The text with each separator line emptied, line endings kept.
    """
    lines = text.splitlines(keepends=True)
    return "".join(
        line[1:] if line.rstrip("\r\n") == "%" else line for line in lines
    )


def split_text(text):
    """Splits a corpus into train/validation/test as TFDS's builder does.

    tiny_shakespeare_dataset_builder.py takes the first 90% of the characters
    for train, then half of the rest for validation and the remainder for
    test, truncating with int().

    Args:
      text: the whole corpus.

    Returns:
      A dict split name -> text.
    """
    i = int(len(text) * 0.9)
    train, rest = text[:i], text[i:]
    i = int(len(rest) * 0.5)
    return {"train": train, "validation": rest[:i], "test": rest[i:]}


def _check_name(name, supported, command):
    if name not in supported:
        raise UsageError(
            f"{command} does not support dataset {name!r}; "
            f"supported: {', '.join(supported)}"
        )


def _check_src(src, name, directory):
    """Returns `src` as a Path if it is a readable folder (or file); else DataError."""
    src = Path(src).expanduser()
    expected = (
        f"a folder holding the IDX files of {name} (train-images-idx3-ubyte.gz, ...)"
        if directory else "a UTF-8 text file"
    )
    try:
        # os.stat, not Path.is_dir: that one raises PermissionError itself.
        mode = os.stat(src).st_mode
    except FileNotFoundError:
        raise DataError(f"--src {src}: no such file or directory; expected {expected}") from None
    except OSError as err:
        raise DataError(f"--src {src}: cannot read ({err.strerror}); expected {expected}") from None
    if directory != stat.S_ISDIR(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a directory"
        raise DataError(f"--src {src}: {kind}; expected {expected}")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
        # /dev/zero and the like never end.
        raise DataError(f"--src {src}: a device, not a file; expected {expected}")
    if not os.access(src, os.R_OK | (os.X_OK if directory else 0)):
        raise DataError(f"--src {src}: cannot read (permission denied); expected {expected}")
    return src


def reference_info(name):
    """Returns the registered TFDS builder's DatasetInfo (no download)."""
    # An empty scratch data_dir keeps the info purely from code, even when
    # the real data_dir holds a broken copy.
    with tempfile.TemporaryDirectory(prefix="modelzoo-tfds-") as scratch:
        return tfds.builder(name, data_dir=scratch).info


def _reference_config(info):
    if not info.config_name:
        return None
    return tfds.core.BuilderConfig(
        name=info.config_name, version=info.version, description=info.config_description
    )


def version_dir(data_dir, info):
    # full_name is <name>[/<config>]/<version>, the folder TFDS reads.
    return Path(data_dir).expanduser().absolute() / info.full_name


def is_prepared(version_dir):
    # TFDS writes dataset_info.json last, so a version dir without it is
    # leftover junk, not a dataset.
    return (version_dir / "dataset_info.json").is_file()


def _find_idx_file(src, stem, ndims):
    """Returns the path of e.g. train-images-idx3-ubyte[.gz] in src."""
    candidates = [
        f"{stem}-idx{ndims}-ubyte.gz",
        f"{stem}-idx{ndims}-ubyte",
        # Some mirrors use a dot before "idx".
        f"{stem}.idx{ndims}-ubyte.gz",
        f"{stem}.idx{ndims}-ubyte",
    ]
    for candidate in candidates:
        if (src / candidate).is_file():
            return src / candidate
    raise DataError(
        f"{src}: missing {candidates[0]}; expected it (or {candidates[1]}) "
        "beside the other IDX files"
    )


def _idx_examples(images, labels):
    """Returns (key, example) pairs keyed by index, as TFDS's builder does."""
    # Same keys => TFDS shuffles into the same on-disk order.
    return [
        (i, {"image": image[:, :, None], "label": int(label)})
        for i, (image, label) in enumerate(zip(images, labels))
    ]


def store(info, split_examples, data_dir, target, description=None, force=False):
    """Builds the dataset in a staging dir, then renames it to `target`.

    Args:
      info: the registered builder's DatasetInfo.
      split_examples: split name -> list of (key, example).
      data_dir: the TFDS data directory.
      target: <data_dir>/<name>[/<config>]/<version>.
      description: the dataset's description; TFDS's by default.
      force: replace what is at `target` when the build is done.

    Returns:
      The summary dict; its status is "already imported" (and it describes
      that dataset) if another import finished first and not `force`.

    Raises:
      DataError: a split without examples (TFDS would fail after building),
        or the dataset cannot be written.
    """
    empty = [split for split, examples in split_examples.items() if not examples]
    if empty:
        raise DataError(f"the {empty[0]} split of {info.name} would hold no examples; "
                        "expected some in every split")
    with staging_dir(data_dir, info.name) as staging:
        builder = _ImportBuilder(
            reference_info=info, split_examples=split_examples, data_dir=staging,
            description=description,
        )
        try:
            with quiet_tfds():
                builder.download_and_prepare()
        except OSError as err:
            raise DataError(
                f"{data_dir}: cannot write the dataset ({err.strerror or first_line(err)}); "
                "free space there or pass another --data_dir"
            ) from None
        built = staging / info.full_name
        expected = {split: len(ex) for split, ex in split_examples.items()}
        _check_loadable(info.name, staging, expected)
        status = move_into_place(built, target, staging, force)
    if status == "already imported":
        return existing_summary(info.name, data_dir, target)
    return summary(info.name, info.version, target, expected, status)


@contextlib.contextmanager
def quiet_tfds():
    """Silences TFDS's progress bars and its "downloaded and prepared to" lines.

    They name the staging folder, not where the dataset ends up, and a
    progress bar printed after a failure would hide the error's one line.
    """
    tfds.display_progress_bar(False)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        tfds.display_progress_bar(True)


@contextlib.contextmanager
def staging_dir(data_dir, name):
    """A hidden, locked folder inside `data_dir` to build in, removed afterwards.

    Staging folders that killed imports left in `data_dir` are removed first.

    Args:
      data_dir: the TFDS data directory (created if missing).
      name: the dataset name, part of the folder's name.

    Yields:
      The staging folder's `Path`.
    """
    data_dir = Path(data_dir).expanduser().absolute()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        # Inside data_dir so the final rename stays on one filesystem.
        staged = storage.StagedDir.create(data_dir, f"{_STAGING_PREFIX}{name}-", _STAGING_PREFIX)
    except OSError as err:
        raise DataError(
            f"{data_dir}: cannot create a staging folder ({err.strerror}); "
            "expected a writable TFDS data directory"
        ) from err
    with staged:
        yield Path(staged.path)


def _check_loadable(name, data_dir, expected):
    """Checks TFDS's registered builder sees the expected splits."""
    builder = tfds.builder(name, data_dir=data_dir)
    found = {split: s.num_examples for split, s in builder.info.splits.items()}
    if not builder.is_prepared() or found != expected:
        raise DataError(
            f"{data_dir}: TFDS's {name} builder sees splits {found} after the "
            f"import; expected {expected}"
        )


def move_into_place(built, target, staging, force=False):
    """Renames `built` to `target`, deciding under a lock what to do with an existing one.

    The decision is made here, at the rename, not when the import started,
    so two imports of one dataset at once never replace each other.

    Args:
      built: the complete new version folder.
      target: where it goes.
      staging: the staging folder (an old version replaced is moved there,
        and deleted with it).
      force: replace an existing `target`, whatever it holds.

    Returns:
      "imported", "replaced" or "already imported" (`target` was prepared
      meanwhile and not `force`: it is kept, `built` is dropped).

    Raises:
      DataError: `target` exists, is not a prepared dataset and holds
        something, and not `force`.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"{target.parent}: cannot create it ({err.strerror})") from err
    with storage.folder_lock(target.parent):
        if not force:
            refuse_unknown_folder(target)
            if is_prepared(target):
                return "already imported"
            if target.is_dir():
                target.rmdir()  # empty, checked above
        if not os.path.lexists(target):
            storage.rename_no_replace(built, target)
            return "imported"
        # The old version moves into staging (deleted with it) only after the
        # new one is complete; if the swap fails the old one is put back.
        old = staging / "replaced"
        storage.rename_no_replace(target, old)
        try:
            storage.rename_no_replace(built, target)
        except BaseException:
            storage.rename_no_replace(old, target)
            raise
        return "replaced"


def refuse_unknown_folder(target):
    """Raises DataError if `target` exists and is neither a dataset nor empty.

    Such a folder may hold a user's files, which only `--force` may delete.
    """
    if not os.path.lexists(target) or is_prepared(target):
        return
    try:
        names = sorted(os.listdir(target))
    except NotADirectoryError:
        names = None
    except OSError as err:
        raise DataError(f"{target}: cannot list it ({err.strerror})") from err
    if names == []:
        return
    held = "is a file" if names is None else (
        "holds " + ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    )
    raise DataError(
        f"{target} is not an imported dataset (no dataset_info.json) and {held}; "
        "move it away, or pass --force to replace it"
    )


def keep_existing(name, data_dir, target, force):
    """The summary of the dataset already at `target` if it is kept, else None.

    Checked before any work; `move_into_place` checks again at the rename.

    Raises:
      DataError: `target` holds something else and not `force`.
    """
    if force:
        return None
    refuse_unknown_folder(target)
    if is_prepared(target):
        return existing_summary(name, data_dir, target)
    return None


def existing_summary(name, data_dir, target):
    try:
        builder = tfds.builder(name, data_dir=Path(data_dir).expanduser())
    except Exception as err:  # TFDS raises many types for a broken info file.
        message = " ".join(str(err).split())
        raise DataError(
            f"{target}: cannot read the existing dataset ({message}); "
            "expected a valid TFDS dataset, re-import with --force"
        ) from err
    splits = {split: s.num_examples for split, s in builder.info.splits.items()}
    return summary(name, builder.version, target, splits, "already imported")


def summary(name, version, path, splits, status):
    return {
        "name": name,
        "version": str(version),
        "path": str(path),
        "splits": splits,
        "status": status,
    }
