"""Tests for `modelzoo.data.importer`, `modelzoo.data.idx` and `modelzoo data`."""

import gzip
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow_datasets as tfds

from modelzoo import cli
from modelzoo.data import idx, imdb, importer, squad
from modelzoo.errors import DataError, UsageError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
IMDB_TAR = SHARED_DATA / "imdb_reviews" / "aclImdb_labelled.tar.gz"
SQUAD_DEV = SHARED_DATA / "tfds_manual" / "dev-v1.1.json"
FORTUNES_DIR = Path("/usr/share/games/fortunes")
FASHION_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]


# --- helpers -----------------------------------------------------------------


def write_idx(path, array, magic, compress=True):
    """Writes `array` (uint8) as an IDX file, gzipped if `compress`."""
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    data = header + array.tobytes()
    Path(path).write_bytes(gzip.compress(data) if compress else data)


def make_idx_dir(folder, train_n=24, test_n=10, seed=0):
    """Writes the four MNIST IDX files of a small random dataset.

    Pixel [0, 0] of each image holds its index, so loaded (shuffled) examples
    can be matched back to their source.

    Returns:
      (folder, {"train": (images, labels), "test": (images, labels)}).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, prefix, n in (("train", "train", train_n), ("test", "t10k", test_n)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = np.arange(n)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        # The test split is left uncompressed to cover both cases.
        compress = split == "train"
        suffix = ".gz" if compress else ""
        write_idx(
            folder / f"{prefix}-images-idx3-ubyte{suffix}", images, idx.IMAGES_MAGIC, compress
        )
        write_idx(
            folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, idx.LABELS_MAGIC, compress
        )
        arrays[split] = (images, labels)
    return folder, arrays


def load_numpy(name, data_dir, split):
    """Loads a whole split through TFDS's registered builder as numpy."""
    ds = tfds.load(name, data_dir=str(data_dir), split=split, download=False, batch_size=-1)
    return tfds.as_numpy(ds)


def tree_digest(folder):
    """Returns {relative path: sha256} for every file under folder."""
    folder = Path(folder)
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_one_line_error(err, *words):
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


# --- IDX import --------------------------------------------------------------


# .ci/run installs both Debian packages, so under CI a missing one fails
# these tests instead of skipping them.
IN_CI = bool(os.environ.get("CI"))


@pytest.mark.skipif(
    not FASHION_DIR.is_dir() and not IN_CI,
    reason=f"{FASHION_DIR} is missing (Fashion-MNIST IDX files)",
)
def test_real_fashion_mnist_import(tmp_path):
    summary = importer.import_idx("fashion_mnist", FASHION_DIR, tmp_path)
    assert summary["splits"] == {"train": 60000, "test": 10000}
    assert summary["status"] == "imported"

    builder = tfds.builder("fashion_mnist", data_dir=str(tmp_path))
    assert type(builder).__name__ == "FashionMNIST"  # The registered class.
    features = builder.info.features
    assert features["label"].num_classes == 10
    assert features["label"].names == FASHION_NAMES
    assert builder.info.supervised_keys == ("image", "label")

    # Labels of every example, without decoding the PNGs.
    ds = tfds.load(
        "fashion_mnist", data_dir=str(tmp_path), split="train", download=False,
        decoders={"image": tfds.decode.SkipDecoding()},
    )
    labels = np.concatenate(list(tfds.as_numpy(ds.map(lambda ex: ex["label"]).batch(10000))))
    assert len(labels) == 60000
    np.testing.assert_array_equal(np.bincount(labels), [6000] * 10)

    test = load_numpy("fashion_mnist", tmp_path, "test")
    assert test["image"].dtype == np.uint8
    assert test["image"].shape == (10000, 28, 28, 1)
    # Same images as the source file, up to TFDS's shuffling.
    source = idx.read_images(FASHION_DIR / "t10k-images-idx3-ubyte.gz", 28, 28)
    np.testing.assert_array_equal(
        np.sort(test["image"].reshape(10000, -1).sum(axis=1)),
        np.sort(source.reshape(10000, -1).sum(axis=1, dtype=np.int64)),
    )


def test_small_idx_import_round_trips_exactly(tmp_path):
    src, arrays = make_idx_dir(tmp_path / "src")
    data_dir = tmp_path / "tfds"
    summary = importer.import_idx("mnist", src, data_dir)
    assert summary == {
        "name": "mnist",
        "version": "3.0.1",
        "path": str(data_dir / "mnist" / "3.0.1"),
        "splits": {"train": 24, "test": 10},
        "status": "imported",
    }
    assert type(tfds.builder("mnist", data_dir=str(data_dir))).__name__ == "MNIST"
    for split, (images, labels) in arrays.items():
        loaded = load_numpy("mnist", data_dir, split)
        assert loaded["image"].shape == (len(images), 28, 28, 1)
        order = np.argsort(loaded["image"][:, 0, 0, 0])
        np.testing.assert_array_equal(loaded["image"][order, :, :, 0], images)
        np.testing.assert_array_equal(loaded["label"][order], labels)
    # Only the dataset is left in data_dir: no staging folder.
    assert sorted(os.listdir(data_dir)) == ["mnist"]


def test_reimport_is_skipped_unless_forced(tmp_path):
    src, _ = make_idx_dir(tmp_path / "src", train_n=6, test_n=3)
    data_dir = tmp_path / "tfds"
    importer.import_idx("mnist", src, data_dir)
    # Already imported: the source is checked but not read again.
    again = importer.import_idx("mnist", src, data_dir)
    assert again["status"] == "already imported"
    assert again["splits"] == {"train": 6, "test": 3}
    # A bad --src is still reported (issue #16).
    with pytest.raises(DataError, match="no such file or directory"):
        importer.import_idx("mnist", tmp_path / "missing", data_dir)

    src2, _ = make_idx_dir(tmp_path / "src2", train_n=8, test_n=4, seed=1)
    forced = importer.import_idx("mnist", src2, data_dir, force=True)
    assert forced["status"] == "replaced"
    assert forced["splits"] == {"train": 8, "test": 4}
    assert len(load_numpy("mnist", data_dir, "train")["label"]) == 8
    assert sorted(os.listdir(data_dir)) == ["mnist"]


@pytest.fixture(scope="module")
def imported_mnist(tmp_path_factory):
    """A data_dir holding a small mnist import, to copy per test."""
    root = tmp_path_factory.mktemp("imported")
    src, _ = make_idx_dir(root / "src", train_n=5, test_n=3)
    importer.import_idx("mnist", src, root / "tfds")
    return root / "tfds"


def _bad_magic(src):
    write_idx(src / "train-images-idx3-ubyte.gz", np.zeros((24, 28, 28)), idx.LABELS_MAGIC)
    return "train-images-idx3-ubyte.gz", "magic"


def _truncated(src):
    path = src / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    return path.name, "truncated"


def _truncated_gzip(src):
    path = src / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-50])
    return path.name, "truncated gzip"


def _label_out_of_range(src):
    labels = np.zeros(10, dtype=np.uint8)
    labels[3] = 10
    write_idx(src / "t10k-labels-idx1-ubyte", labels, idx.LABELS_MAGIC, compress=False)
    return "t10k-labels-idx1-ubyte", "out of range"


def _count_mismatch(src):
    write_idx(src / "t10k-labels-idx1-ubyte", np.zeros(9), idx.LABELS_MAGIC, compress=False)
    return "t10k-labels-idx1-ubyte", "equal counts"


def _wrong_size(src):
    write_idx(src / "train-images-idx3-ubyte.gz", np.zeros((24, 27, 28)), idx.IMAGES_MAGIC)
    return "train-images-idx3-ubyte.gz", "expected 28x28"


def _missing_file(src):
    (src / "t10k-labels-idx1-ubyte").unlink()
    return "t10k-labels-idx1-ubyte", "missing"


@pytest.mark.parametrize(
    "corrupt",
    [
        _bad_magic,
        _truncated,
        _truncated_gzip,
        _label_out_of_range,
        _count_mismatch,
        _wrong_size,
        _missing_file,
    ],
)
def test_bad_idx_input_leaves_data_dir_untouched(tmp_path, imported_mnist, corrupt):
    src, _ = make_idx_dir(tmp_path / "src")
    file_name, words = corrupt(src)

    fresh = tmp_path / "fresh"
    with pytest.raises(DataError) as err:
        importer.import_idx("mnist", src, fresh)
    assert_one_line_error(err, file_name, words, "expected")
    assert not fresh.exists()

    existing = tmp_path / "existing"
    shutil.copytree(imported_mnist, existing)
    before = tree_digest(existing)
    with pytest.raises(DataError):
        importer.import_idx("mnist", src, existing, force=True)
    assert tree_digest(existing) == before


def test_failure_during_build_removes_staging(tmp_path, imported_mnist, monkeypatch):
    src, _ = make_idx_dir(tmp_path / "src", train_n=4, test_n=2)
    existing = tmp_path / "existing"
    shutil.copytree(imported_mnist, existing)
    before = tree_digest(existing)

    def fail(*args):
        raise DataError("simulated failure after writing")

    monkeypatch.setattr(importer, "_check_loadable", fail)
    with pytest.raises(DataError):
        importer.import_idx("mnist", src, existing, force=True)
    assert tree_digest(existing) == before
    assert sorted(os.listdir(existing)) == ["mnist"]


def test_unknown_name_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError) as err:
        importer.import_idx("cifar10", tmp_path, tmp_path)
    assert_one_line_error(err, "cifar10", "fashion_mnist", "mnist")
    with pytest.raises(UsageError):
        importer.import_text("mnist", [tmp_path / "a.txt"], tmp_path)


# --- text import -------------------------------------------------------------


def make_corpus(n_lines=97):
    # Multi-byte characters check the split is by character, not byte.
    return "".join(
        f"Line {i}: à la façon de Shakespeare — “quoth” {i * i}\n" for i in range(n_lines)
    )


def test_text_import_splits_like_tfds(tmp_path):
    corpus = make_corpus()
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    cut = len(corpus) // 3
    first.write_text(corpus[:cut], encoding="utf-8")
    second.write_text(corpus[cut:], encoding="utf-8")
    data_dir = tmp_path / "tfds"

    summary = importer.import_text("tiny_shakespeare", [first, second], data_dir)
    assert summary["version"] == "1.0.0"
    assert summary["splits"] == {"train": 1, "validation": 1, "test": 1}

    # The proportions of tiny_shakespeare_dataset_builder.py: 90%, then
    # half of the remainder, then the rest.
    n = len(corpus)
    train_end = int(n * 0.9)
    validation_end = train_end + int((n - train_end) * 0.5)
    expected = {
        "train": corpus[:train_end],
        "validation": corpus[train_end:validation_end],
        "test": corpus[validation_end:],
    }
    assert type(tfds.builder("tiny_shakespeare", data_dir=str(data_dir))).__name__ == "Builder"
    for split, text in expected.items():
        loaded = load_numpy("tiny_shakespeare", data_dir, split)["text"]
        assert len(loaded) == 1
        assert loaded[0].decode("utf-8") == text


def test_fortune_separators_become_blank_lines():
    text = "A fortune.\n%\nAnother\none.\r\n%\r\n%\nlast\n100%\n%"
    assert importer.blank_fortune_separators(text) == (
        "A fortune.\n\nAnother\none.\r\n\r\n\nlast\n100%\n"
    )


@pytest.mark.skipif(
    not (FORTUNES_DIR / "literature").is_file() and not IN_CI,
    reason="Debian fortunes package not installed",
)
def test_real_fortune_import(tmp_path):
    sources = [FORTUNES_DIR / "literature", FORTUNES_DIR / "songs-poems"]
    importer.import_text("tiny_shakespeare", sources, tmp_path, fortune=True)
    text = "".join(
        load_numpy("tiny_shakespeare", tmp_path, split)["text"][0].decode("utf-8")
        for split in ("train", "validation", "test")
    )
    raw = "".join(p.read_text(encoding="utf-8") for p in sources)
    separators = sum(line == "%" for line in raw.splitlines())
    assert separators > 100
    assert "%" not in text.splitlines()
    assert len(text) == len(raw) - separators


def test_non_utf8_text_is_rejected(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("fine\n", encoding="utf-8")
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf".encode() + b"\xe9 au lait\n")
    with pytest.raises(DataError) as err:
        importer.import_text("tiny_shakespeare", [good, bad], tmp_path / "tfds")
    assert_one_line_error(err, str(bad), "byte offset 3", "UTF-8")
    assert not (tmp_path / "tfds").exists()


@pytest.mark.parametrize("content, fortune", [(b"", False), (b"  \n\n", False), (b"%\n%\n", True)])
def test_empty_corpus_is_rejected(tmp_path, content, fortune):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        importer.import_text("tiny_shakespeare", [path], tmp_path / "tfds", fortune=fortune)
    assert_one_line_error(err, "empty corpus", str(path))
    assert not (tmp_path / "tfds").exists()


# --- IMDB reviews import -----------------------------------------------------


# Not slow: 25,000 + 25,000 reviews import in 4-5 s, the test takes about 10 s.
@pytest.mark.skipif(
    not IMDB_TAR.is_file() and not IN_CI, reason=f"{IMDB_TAR} is missing (../shared/data)"
)
def test_real_imdb_import(tmp_path):
    start = time.time()
    summary = imdb.import_imdb(IMDB_TAR, tmp_path)
    print(f"imdb import: {time.time() - start:.1f} s")
    assert summary["splits"] == {"train": 25000, "test": 25000}
    assert summary["path"] == str(tmp_path / "imdb_reviews" / "plain_text" / "1.0.0")

    builder = tfds.builder("imdb_reviews", data_dir=str(tmp_path))
    assert type(builder).__module__.startswith("tensorflow_datasets.")  # The registered class.
    assert builder.info.features["label"].names == ["neg", "pos"]
    assert builder.info.supervised_keys == ("text", "label")
    test = load_numpy("imdb_reviews", tmp_path, "test")
    np.testing.assert_array_equal(np.bincount(test["label"]), [12500, 12500])
    # aclImdb/test/pos/0_10.txt, all 794 bytes of it (no surrounding whitespace).
    known = [i for i, t in enumerate(test["text"]) if t.startswith(b"I went and saw this movie")]
    assert len(known) == 1
    text = test["text"][known[0]]
    assert len(text) == 794 and hashlib.sha256(text).hexdigest() == (
        "2bde2e7ffc81ed455099c43eb35b67ab5819b52299cfc0afba063661f93ad896"
    )
    assert test["label"][known[0]] == 1  # pos


def write_acl_imdb(root, counts=None, unsup=0):
    """Writes a tiny aclImdb/ tree: `counts` reviews per labelled folder.

    Review i of folder f reads "<f> review <i>", padded with whitespace that
    TFDS's builder strips.
    """
    counts = counts or {"train/neg": 3, "train/pos": 2, "test/neg": 2, "test/pos": 1}
    if unsup:
        counts = dict(counts, **{"train/unsup": unsup})
    base = Path(root) / "aclImdb"
    for folder, n in counts.items():
        (base / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            text = f"  {folder} review {i} é<br />\n"
            (base / folder / f"{i}_{7 + i % 3}.txt").write_bytes(text.encode("utf-8"))
    (base / "README").write_text("not a review\n")
    return base, counts


def make_tar(folder, path):
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname="aclImdb")
    return path


def test_small_imdb_import_from_folder_and_tar(tmp_path):
    base, counts = write_acl_imdb(tmp_path / "src", unsup=2)
    for src, data_dir in ((base, tmp_path / "a"), (make_tar(base, tmp_path / "imdb.tar.gz"), tmp_path / "b")):
        summary = imdb.import_imdb(src, data_dir, expected=counts)
        assert summary["splits"] == {"train": 5, "test": 3, "unsupervised": 2}
        assert summary["status"] == "imported"
        assert sorted(os.listdir(data_dir)) == ["imdb_reviews"]
        loaded = tfds.load("imdb_reviews", data_dir=str(data_dir), download=False)
        train = sorted(
            (ex["text"].decode("utf-8"), int(ex["label"])) for ex in tfds.as_numpy(loaded["train"])
        )
        assert train[0] == ("train/neg review 0 é<br />", 0)
        assert [label for _, label in train] == [0, 0, 0, 1, 1]
        unsup = [int(ex["label"]) for ex in tfds.as_numpy(loaded["unsupervised"])]
        assert unsup == [-1, -1]


def test_imdb_counts_other_than_expected_are_reported(tmp_path):
    base, counts = write_acl_imdb(tmp_path / "src")
    with pytest.raises(DataError) as err:
        imdb.import_imdb(base, tmp_path / "tfds")  # The real release's 12,500 each.
    assert_one_line_error(err, "train/neg 3 (expected 12,500)", "test/pos 1 (expected 12,500)")
    assert not (tmp_path / "tfds").exists()


def _imdb_truncated_tar(base, tmp_path):
    path = make_tar(base, tmp_path / "imdb.tar.gz")
    path.write_bytes(path.read_bytes()[:-200])
    return path, ["imdb.tar.gz", "truncated"]


def _imdb_missing_class(base, tmp_path):
    shutil.rmtree(base / "test" / "neg")
    return base, ["missing folder aclImdb/test/neg"]


def _imdb_missing_class_in_tar(base, tmp_path):
    shutil.rmtree(base / "train" / "pos")
    return make_tar(base, tmp_path / "imdb.tar.gz"), ["missing folder aclImdb/train/pos"]


def _imdb_not_utf8(base, tmp_path):
    (base / "test" / "pos" / "0_7.txt").write_bytes(b"caf\xe9 au lait")
    return base, ["aclImdb/test/pos/0_7.txt", "0xE9", "UTF-8"]


def _imdb_no_source(base, tmp_path):
    return tmp_path / "nowhere", ["nowhere", "no such file or folder"]


@pytest.mark.parametrize(
    "corrupt",
    [_imdb_truncated_tar, _imdb_missing_class, _imdb_missing_class_in_tar, _imdb_not_utf8, _imdb_no_source],
)
def test_bad_imdb_input_leaves_data_dir_untouched(tmp_path, corrupt):
    base, counts = write_acl_imdb(tmp_path / "src")
    existing = tmp_path / "existing"
    imdb.import_imdb(base, existing, expected=counts)
    before = tree_digest(existing)

    src, words = corrupt(base, tmp_path)
    with pytest.raises(DataError) as err:
        imdb.import_imdb(src, tmp_path / "fresh", expected=counts)
    assert_one_line_error(err, *words, "expected")
    assert not (tmp_path / "fresh").exists()
    with pytest.raises(DataError):
        imdb.import_imdb(src, existing, force=True, expected=counts)
    assert tree_digest(existing) == before


def test_imdb_reimport_needs_force(tmp_path):
    base, counts = write_acl_imdb(tmp_path / "src")
    data_dir = tmp_path / "tfds"
    imdb.import_imdb(base, data_dir, expected=counts)
    before = tree_digest(data_dir)
    # Without --force the existing dataset is kept and the source not even read.
    again = imdb.import_imdb(tmp_path / "nowhere", data_dir)
    assert again["status"] == "already imported"
    assert tree_digest(data_dir) == before

    more, counts = write_acl_imdb(tmp_path / "src2", {"train/neg": 1, "train/pos": 1, "test/neg": 1, "test/pos": 1})
    forced = imdb.import_imdb(more, data_dir, force=True, expected=counts)
    assert forced["status"] == "replaced"
    assert forced["splits"] == {"train": 2, "test": 2}


# --- SQuAD import --------------------------------------------------------------


def squad_json(n_articles=6, questions=(1, 2)):
    """A small SQuAD v1.1 file: article i has paragraphs with questions[i % 2] each."""
    data = []
    for i in range(n_articles):
        context = f"Article {i} says the answer is café {i}."
        qas = [
            {"id": f"q{i}-{j}", "question": f"What does article {i} say ({j})?",
             "answers": [{"text": f"café {i}", "answer_start": context.index("café")}]}
            for j in range(questions[i % len(questions)])
        ]
        data.append({"title": f"Title_{i}", "paragraphs": [{"context": context, "qas": qas}]})
    return {"version": "1.1", "data": data}


def write_json(path, content):
    path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.skipif(
    not SQUAD_DEV.is_file() and not IN_CI, reason=f"{SQUAD_DEV} is missing (../shared/data)"
)
def test_real_squad_dev_import_splits_by_article(tmp_path):
    summary = squad.import_squad([SQUAD_DEV], tmp_path)
    assert summary["splits"] == {"train": 8595, "validation": 1975}
    assert summary["path"] == str(tmp_path / "squad" / "v1.1" / "3.0.0")
    assert "not comparable with the SQuAD leaderboard" in summary["note"]

    builder = tfds.builder("squad", data_dir=str(tmp_path))
    assert builder.builder_config.name == "v1.1"
    # The registered class shows its code's description; dataset_info.json,
    # which travels with the data, holds the warning.
    stored = tfds.builder_from_directory(summary["path"]).info
    assert "not comparable with the SQuAD leaderboard" in stored.description
    assert stored.description.startswith(builder.info.description)
    validation = tfds.as_numpy(
        tfds.load("squad", data_dir=str(tmp_path), split="validation", download=False)
    )
    by_id = {ex["id"]: ex for ex in validation}
    # Article 4 (Chloroplast) is the first validation article.
    known = by_id[b"572975a3af94a219006aa468"]
    assert known["title"] == b"Chloroplast"
    assert known["question"] == b"How many G3P molecules leave the cycle?"
    assert known["answers"]["text"].tolist() == [b"one out of every six", b"out of every six", b"one out of every six"]
    assert known["answers"]["answer_start"].tolist() == [479, 483, 479]
    # Article 0 (Super_Bowl_50) is in train.
    assert {ex["title"] for ex in validation}.isdisjoint({b"Super_Bowl_50"})


def test_small_squad_dev_and_train(tmp_path):
    dev = write_json(tmp_path / "dev-v1.1.json", squad_json(6))
    summary = squad.import_squad([dev], tmp_path / "a")
    # Articles 0-3 and 5 to train (1+2+1+2+2 questions), article 4 to validation (1).
    assert summary["splits"] == {"train": 8, "validation": 1}
    validation = list(tfds.as_numpy(tfds.load("squad", data_dir=str(tmp_path / "a"), split="validation")))
    assert [ex["id"] for ex in validation] == [b"q4-0"]
    assert validation[0]["answers"]["text"].tolist() == ["café 4".encode()]
    # What recipes/squad_qa.py --data_dir=DIR --download=false loads.
    from modelzoo.data.loading import load_splits

    (qa_train, qa_test), _ = load_splits(
        "squad", ["train", "validation"], str(tmp_path / "a"), download=False, as_supervised=False
    )
    assert [int(qa_train.cardinality()), int(qa_test.cardinality())] == [8, 1]

    train = write_json(tmp_path / "train-v1.1.json", squad_json(3))
    summary = squad.import_squad([train, dev], tmp_path / "b")
    assert summary["splits"] == {"train": 4, "validation": 9}
    assert "note" not in summary
    stored = tfds.builder_from_directory(summary["path"]).info
    assert "leaderboard" not in stored.description
    assert stored.description == tfds.builder("squad", data_dir=str(tmp_path / "b")).info.description


def _squad_truncated(path):
    path.write_bytes(path.read_bytes()[:-40])
    return ["dev-v1.1.json", "invalid JSON", "truncated"]


def _squad_not_json(path):
    path.write_text("<html>404</html>")
    return ["dev-v1.1.json", "invalid JSON at line 1 column 1"]


def _squad_missing_field(path):
    content = squad_json(6)
    del content["data"][2]["paragraphs"][0]["qas"][0]["answers"]
    write_json(path, content)
    return ["article 2 paragraph 0 question 0", "'answers'"]


def _squad_v2(path):
    write_json(path, dict(squad_json(6), version="v2.0"))
    return ["version v2.0", "expected version 1.1"]


def _squad_not_utf8(path):
    path.write_bytes(path.read_bytes().replace("é".encode(), b"\xe9", 1))
    return ["dev-v1.1.json", "invalid UTF-8 byte 0xE9"]


@pytest.mark.parametrize(
    "corrupt", [_squad_truncated, _squad_not_json, _squad_missing_field, _squad_v2, _squad_not_utf8]
)
def test_bad_squad_input_leaves_data_dir_untouched(tmp_path, corrupt):
    dev = write_json(tmp_path / "dev-v1.1.json", squad_json(6))
    existing = tmp_path / "existing"
    squad.import_squad([dev], existing)
    before = tree_digest(existing)

    words = corrupt(dev)
    with pytest.raises(DataError) as err:
        squad.import_squad([dev], tmp_path / "fresh")
    assert_one_line_error(err, *words, "expected")
    assert not (tmp_path / "fresh").exists()
    with pytest.raises(DataError):
        squad.import_squad([dev], existing, force=True)
    assert tree_digest(existing) == before
    # Without --force the existing dataset is kept, the source not read.
    assert squad.import_squad([dev], existing)["status"] == "already imported"
    assert tree_digest(existing) == before


@pytest.mark.parametrize(
    "names, words",
    [
        (["train-v1.1.json"], ["needs dev-v1.1.json"]),
        (["squad.json"], ["squad.json", "neither train nor dev"]),
        (["dev-v1.1.json", "dev-copy.json"], ["a second dev file"]),
    ],
)
def test_squad_sources_must_be_dev_and_optional_train(tmp_path, names, words):
    with pytest.raises(UsageError) as err:
        squad.import_squad([tmp_path / n for n in names], tmp_path / "tfds")
    assert_one_line_error(err, *words)
    assert not (tmp_path / "tfds").exists()


@pytest.mark.parametrize("name, command", [("imdb_reviews", "import-imdb"), ("squad", "import-squad")])
def test_missing_dataset_names_its_importer(tmp_path, name, command):
    from modelzoo.data.loading import load_splits

    with pytest.raises(DataError) as err:
        load_splits(name, ["train"], str(tmp_path), download=False)
    assert_one_line_error(err, f"modelzoo data {command} --src", "--data_dir DIR")


# --- command line ------------------------------------------------------------

# TensorFlow's C++ start-up logs ignore TF_CPP_MIN_LOG_LEVEL in TF 2.21.
_TF_LOG_LINE = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages before absl::InitializeLog)")


def run_cli(*args, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TFDS_DATA_DIR=str(tmp_path / "default"))
    result = subprocess.run(
        [sys.executable, "-m", "modelzoo", *args],
        capture_output=True, text=True, env=env, timeout=300,
    )
    stderr = [line for line in result.stderr.splitlines() if line and not _TF_LOG_LINE.match(line)]
    return result, stderr


@pytest.mark.slow  # A subprocess that imports TensorFlow (~4 s).
def test_cli_bad_src_is_one_line_exit_1(tmp_path):
    result, stderr = run_cli(
        "data", "import-idx", "--name", "fashion_mnist", "--src", str(tmp_path / "nope"),
        "--data_dir", str(tmp_path / "tfds"), tmp_path=tmp_path,
    )
    assert result.returncode == 1
    assert len(stderr) == 1, stderr
    assert stderr[0].startswith("modelzoo: error: ")
    assert str(tmp_path / "nope") in stderr[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.slow  # A subprocess that imports TensorFlow (~4 s).
def test_cli_unknown_name_exits_2(tmp_path):
    result, stderr = run_cli(
        "data", "import-idx", "--name", "imagenet", "--src", str(tmp_path), tmp_path=tmp_path,
    )
    assert result.returncode == 2
    assert stderr == [
        "modelzoo: error: import-idx does not support dataset 'imagenet'; "
        "supported: fashion_mnist, mnist"
    ]


@pytest.mark.slow  # A subprocess that imports TensorFlow (~4 s).
def test_cli_import_text_prints_one_json_line(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(make_corpus(20), encoding="utf-8")
    # No --data_dir: $TFDS_DATA_DIR is the default.
    result, stderr = run_cli(
        "--verbose", "data", "import-text", "--name", "tiny_shakespeare", "--src", str(corpus),
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary["path"] == str(tmp_path / "default" / "tiny_shakespeare" / "1.0.0")
    assert summary["status"] == "imported"


@pytest.mark.slow  # A subprocess that imports TensorFlow (~4 s).
def test_cli_import_squad_dev_only_says_so(tmp_path):
    dev = write_json(tmp_path / "dev-v1.1.json", squad_json(5))
    result, stderr = run_cli(
        "data", "import-squad", "--src", str(dev), "--data_dir", str(tmp_path / "tfds"),
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["splits"] == {"train": 6, "validation": 1}
    notes = [line for line in stderr if line.startswith("modelzoo: note: ")]
    assert len(notes) == 1 and "not comparable with the SQuAD leaderboard" in notes[0]


@pytest.mark.slow  # A subprocess that imports TensorFlow (~4 s).
def test_cli_import_imdb_bad_tree_is_one_line_exit_1(tmp_path):
    base, _ = write_acl_imdb(tmp_path / "src")
    shutil.rmtree(base / "train" / "neg")
    result, stderr = run_cli(
        "data", "import-imdb", "--src", str(tmp_path / "src"), "--data_dir", str(tmp_path / "tfds"),
        tmp_path=tmp_path,
    )
    assert result.returncode == 1
    assert stderr == [
        f"modelzoo: error: {tmp_path / 'src'}: missing folder aclImdb/train/neg; expected "
        "aclImdb/ with train/neg, train/pos, test/neg and test/pos"
    ]
    assert result.stdout == "" and not (tmp_path / "tfds").exists()


def test_cli_parser_shape(tmp_path, capsys):
    # In-process: cheap checks of argument handling and error formatting.
    args = cli.build_parser().parse_args(
        ["data", "import-text", "--name", "tiny_shakespeare",
         "--src", "a", "--src", "b", "--verbose"]
    )
    assert args.src == ["a", "b"] and args.verbose and not args.fortune
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["data", "import-idx", "--name", "mnist"])  # --src missing
    assert exit_info.value.code == 2
    code = cli.main(["data", "import-text", "--name", "tiny_shakespeare",
                     "--src", str(tmp_path / "missing.txt"), "--data_dir", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("modelzoo: error: ") and "missing.txt" in err


def test_default_data_dir(monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", "/some/where")
    assert cli.default_data_dir() == "/some/where"
    monkeypatch.delenv("TFDS_DATA_DIR")
    assert cli.default_data_dir() == os.path.expanduser("~/tensorflow_datasets")
