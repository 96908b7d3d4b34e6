"""Import the Large Movie Review Dataset (`aclImdb/`) as TFDS `imdb_reviews`.

The source is the `aclImdb/` folder or a tar.gz of it, read as a stream (the
tar is never extracted). Examples are what TFDS's own builder
(`imdb_reviews_dataset_builder.py`) makes of the same files: the bytes with
surrounding whitespace stripped, labelled by their folder, keyed by their path
inside the archive (so TFDS shuffles them into the same order).
"""

import gzip
import re
import tarfile
import zlib
from pathlib import Path

from modelzoo.data import importer
from modelzoo.errors import DataError

NAME = "imdb_reviews"

# Folder inside aclImdb/ -> (split, label); -1 is TFDS's "no label".
FOLDERS = {
    "train/neg": ("train", "neg"),
    "train/pos": ("train", "pos"),
    "test/neg": ("test", "neg"),
    "test/pos": ("test", "pos"),
    "train/unsup": ("unsupervised", -1),
}
OPTIONAL_FOLDERS = ("train/unsup",)

# Reviews per folder in the original release (Maas et al. 2011).
EXPECTED_REVIEWS = {
    "train/neg": 12500,
    "train/pos": 12500,
    "test/neg": 12500,
    "test/pos": 12500,
    "train/unsup": 50000,
}

# A review's path inside the tree; the first folder may be "aclImdb" or, for
# a renamed tree, anything, as long as the layout below it is the original.
_REVIEW_PATH = re.compile(r"^(?:\./)?[^/]+/(?P<folder>(?:train|test)/(?:neg|pos|unsup))/(?P<file>[^/]*)$")


def import_imdb(src, data_dir, force=False, expected=None):
    """Imports an `aclImdb/` tree (folder or tar.gz) as TFDS `imdb_reviews`.

    Args:
      src: the `aclImdb` folder, a folder holding it, or a tar.gz of it.
      data_dir: the TFDS data directory to import into.
      force: replace an already imported version.
      expected: folder -> review count to require; `EXPECTED_REVIEWS` if None.

    Returns:
      A dict with name, version, path, splits (split -> example count) and
      status ("imported", "replaced" or "already imported").

    Raises:
      DataError: a missing source or folder, a truncated archive, a count
        other than expected, or a review that is not UTF-8.
    """

    def read(info):
        reviews = read_reviews(src)
        _check_counts(src, reviews, expected or EXPECTED_REVIEWS)
        split_examples = {}
        for folder, files in reviews.items():
            split, label = FOLDERS[folder]
            split_examples.setdefault(split, []).extend(
                (key, {"text": text, "label": label}) for key, text in files
            )
        return split_examples, None

    return importer.import_with(NAME, data_dir, read, force)


def read_reviews(src):
    """Reads every review of an `aclImdb/` tree, checking each is UTF-8.

    Args:
      src: the `aclImdb` folder, a folder holding it, or a tar.gz of it.

    Returns:
      A dict folder ("train/pos", ...) -> list of (key, stripped bytes), the
      key being the review's path as TFDS's builder sees it
      ("aclImdb/train/pos/0_9.txt"); only the folders found are present.
    """
    src = Path(src).expanduser()
    if src.is_dir():
        files = _folder_files(src)
    elif src.is_file():
        files = _tar_files(src)
    else:
        raise DataError(
            f"{src}: no such file or folder; expected the aclImdb folder or a tar.gz of it"
        )
    reviews = {}
    for path, read in files:
        match = _REVIEW_PATH.match(path)
        if not match:
            continue
        folder = match["folder"]
        key = f"aclImdb/{folder}/{match['file']}"
        reviews.setdefault(folder, [])
        if read is None:  # A folder entry of the archive.
            continue
        raw = read().strip()  # As TFDS's builder does.
        importer.decode_utf8(raw, f"{src}: {key}")
        reviews[folder].append((key, raw))
    return reviews


def _folder_files(src):
    root = src / "aclImdb" if (src / "aclImdb").is_dir() else src
    for folder in FOLDERS:
        directory = root / folder
        if directory.is_dir():
            yield f"aclImdb/{folder}/", None
            for path in sorted(directory.iterdir()):
                if path.is_file():
                    yield f"aclImdb/{folder}/{path.name}", path.read_bytes


def _open_archive(src):
    # tarfile's own gzip stream stops quietly where a truncated file ends,
    # which can fall between two members; gzip's reader raises EOFError there.
    with open(src, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    return gzip.open(src, "rb") if gzipped else open(src, "rb")


def _tar_files(src):
    try:
        # "r|*" streams: no random access, nothing written to disk.
        with _open_archive(src) as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
            for member in tar:
                if member.isdir():
                    yield member.name.rstrip("/") + "/", None
                elif member.isfile():
                    data = tar.extractfile(member).read()
                    yield member.name, lambda data=data: data
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise DataError(
            f"{src}: not a readable tar archive or truncated ({err}); expected the "
            "complete aclImdb tar.gz, copy it again"
        ) from err


def _check_counts(src, reviews, expected):
    missing = [
        f"aclImdb/{f}" for f in FOLDERS if f not in reviews and f not in OPTIONAL_FOLDERS
    ]
    if missing:
        raise DataError(
            f"{src}: missing folder {', '.join(missing)}; expected aclImdb/ with "
            "train/neg, train/pos, test/neg and test/pos"
        )
    wrong = {f: len(files) for f, files in reviews.items() if len(files) != expected[f]}
    if wrong:
        found = ", ".join(f"{f} {n:,} (expected {expected[f]:,})" for f, n in wrong.items())
        raise DataError(
            f"{src}: wrong number of reviews: {found}; the tree is incomplete, "
            "copy the complete aclImdb again"
        )
