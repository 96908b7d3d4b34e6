"""Datasets: offline import into TFDS format and input pipelines."""

import os


def default_data_dir():
    """TFDS's data directory when none is given: $TFDS_DATA_DIR or ~/tensorflow_datasets."""
    return os.environ.get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets")
