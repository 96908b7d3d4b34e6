"""Loading TFDS datasets, with a clear error when they cannot be had offline."""

import tensorflow_datasets as tfds

from modelzoo.data import default_data_dir
from modelzoo.errors import DataError
from modelzoo.network import network_reachable

# How each dataset is brought onto a machine with no network.
IMPORT_HINTS = {
    "mnist": "modelzoo data import-idx --name mnist --src DIR_WITH_IDX_FILES",
    "fashion_mnist": (
        "modelzoo data import-idx --name fashion_mnist "
        "--src /usr/share/datasets/fashion-mnist"
    ),
    "tiny_shakespeare": "modelzoo data import-text --name tiny_shakespeare --src FILE.txt",
    "imdb_reviews": "modelzoo data import-imdb --src aclImdb_v1.tar.gz",
    "squad": "modelzoo data import-squad --src dev-v1.1.json [--src train-v1.1.json]",
}


def load_splits(name, splits, data_dir=None, download=True, as_supervised=True, manual_dir=None):
    """Loads `splits` of TFDS dataset `name` and its `DatasetInfo`.

    Args:
        name: str. TFDS name, e.g. `"fashion_mnist"`.
        splits: list of split names or slices, e.g. `["train", "test"]`.
        data_dir: str or None. Where prepared datasets live; `None` is TFDS's
            default (`$TFDS_DATA_DIR` or `~/tensorflow_datasets`).
        download: bool. Whether TFDS may download and prepare the dataset.
        as_supervised: bool. Whether to yield `(input, label)` tuples.
        manual_dir: str or None. A folder with TFDS's original downloads
            (e.g. `train-images-idx3-ubyte.gz`); if the dataset is not
            prepared, TFDS's own builder prepares it from them, checking
            each file's sha256 first.

    Returns:
        `(datasets, info)`: a list of `tf.data.Dataset`, one per split, and
        the `tfds.core.DatasetInfo`.

    Raises:
        DataError: the dataset is not prepared and cannot be downloaded.
    """
    kwargs = dict(
        split=list(splits),
        data_dir=data_dir,
        as_supervised=as_supervised,
        with_info=True,
        shuffle_files=False,
    )
    try:
        return tfds.load(name, download=False, **kwargs)
    except AssertionError:
        # TFDS signals "not prepared in data_dir" with an AssertionError.
        pass
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(
            f"unknown TFDS dataset {name!r}; see `tfds.list_builders()` for names"
        ) from None
    if manual_dir is not None:
        from modelzoo.data import manual

        manual.prepare(name, data_dir or default_data_dir(), manual_dir,
                       download and network_reachable())
        return tfds.load(name, download=False, **kwargs)
    if not download or not network_reachable():
        looked_in = tfds.builder(name, data_dir=data_dir).data_dir
        reason = "and --download=false" if not download else "and there is no network to download it"
        hint = IMPORT_HINTS.get(name, f"tfds build {name} on a machine with network")
        raise DataError(
            f"dataset {name!r} is not prepared in {looked_in} {reason}; "
            f"pass --manual_dir=DIR holding TFDS's original downloads, or import it with "
            f"`{hint} --data_dir DIR` and pass --data_dir=DIR"
        )
    return tfds.load(name, download=True, **kwargs)
