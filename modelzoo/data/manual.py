"""Preparing a TFDS dataset with TFDS's own builder from original files on disk.

TFDS looks for each file it would download under `manual_dir` by its
registered file name and checks its size and sha256 before running the
builder. The build happens in a staging folder inside `data_dir`, renamed
into place only when TFDS has finished, so a failure leaves no partial
dataset.
"""

from pathlib import Path

import tensorflow_datasets as tfds
from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

from modelzoo.data import importer
from modelzoo.errors import DataError


def required_files(builder):
    """The file names TFDS's builder downloads for its config.

    Args:
        builder: a `tfds.core.DatasetBuilder`.

    Returns:
        A sorted list of file names, as registered in TFDS's checksums.
    """
    names = sorted({info.filename for info in (builder.url_infos or {}).values()})
    config = builder.builder_config
    # `squad` registers the files of all its configs (v1.1 and v2.0) together;
    # a config only downloads the files that carry its name.
    if config is not None:
        own = [n for n in names if config.name in n]
        names = own or names
    return names


def prepare(name, data_dir, manual_dir, download=False):
    """Prepares TFDS dataset `name` in `data_dir` from the files in `manual_dir`.

    Args:
        name: str. A TFDS dataset name, e.g. `"mnist"` or `"tiny_shakespeare"`.
        data_dir: str. The TFDS data directory to prepare into.
        manual_dir: str. A folder holding the original downloads, named as
            TFDS registers them (e.g. `train-images-idx3-ubyte.gz`).
        download: bool. Whether TFDS may download files missing from
            `manual_dir`; if false, a missing file is an error.

    Returns:
        The summary dict (`name`, `version`, `path`, `splits`, `status`).

    Raises:
        DataError: `manual_dir` lacks a file, a file's checksum does not
            match, or `data_dir` is not writable.

    Example:

    >>> prepare("mnist", "data/tfds", "../shared/data/tfds_manual")  # doctest: +SKIP
    {'name': 'mnist', 'version': '3.0.1', ..., 'status': 'prepared'}
    """
    manual = Path(manual_dir).expanduser().absolute()
    if not manual.is_dir():
        raise DataError(f"--manual_dir={manual_dir}: no such folder")
    data_dir = Path(data_dir).expanduser().absolute()
    builder = tfds.builder(name, data_dir=data_dir)
    target = Path(builder.data_dir)
    kept = importer.keep_existing(name, data_dir, target, force=False)
    if kept:
        return kept
    missing = [f for f in required_files(builder) if not (manual / f).is_file()]
    if missing and not download:
        raise DataError(
            f"{manual} lacks {', '.join(missing)}, which TFDS's {name!r} builder "
            "needs; put the original downloads there under these names"
        )
    with importer.staging_dir(data_dir, name) as staging:
        staged = tfds.builder(name, data_dir=staging)
        config = tfds.download.DownloadConfig(manual_dir=str(manual))
        try:
            # TFDS's progress output names the staging folder; the caller's JSON owns stdout.
            with importer.quiet_tfds():
                staged.download_and_prepare(download_config=config)
        except NonMatchingChecksumError as err:
            raise DataError(_checksum_message(err, manual, name)) from None
        splits = {split: s.num_examples for split, s in staged.info.splits.items()}
        built = Path(staged.data_dir)
        status = importer.move_into_place(built, target, staging)
    if status == "already imported":
        return importer.existing_summary(name, data_dir, target)
    return importer.summary(name, builder.version, target, splits,
                            "prepared" if status == "imported" else status)


def _checksum_message(err, manual, name):
    # TFDS's message names the URL and both UrlInfos over several lines;
    # the user needs the file and the fact that it is not the original.
    bad = [f.name for f in sorted(manual.iterdir()) if f.name in str(err)]
    which = bad[0] if bad else "a file"
    return (
        f"{manual / which}: checksum does not match the one TFDS registers for "
        f"{name!r}; the file is corrupt or not the original download, replace it"
    )
