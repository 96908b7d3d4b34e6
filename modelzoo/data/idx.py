"""Read IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a big-endian header (a 4-byte magic number whose low bytes
give the element type and the number of dimensions, then one 4-byte size per
dimension) followed by the raw elements. The files are often gzipped.

Every problem is reported as a one-line `DataError` naming the file, what is
wrong and what was expected, because these files usually come from a manual
download that may be truncated or mixed up.
"""

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from modelzoo.errors import DataError

# Magic numbers: 0x08 = unsigned bytes, then the number of dimensions.
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

_GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path):
    """Returns a file's content, gunzipped when it is gzip-compressed.

    Compression is detected from the content, not the file name, so both
    `train-images-idx3-ubyte` and `train-images-idx3-ubyte.gz` work.

    Args:
      path: the file to read.

    Returns:
      The (decompressed) bytes.

    Raises:
      DataError: the file is missing, unreadable or a corrupt gzip stream.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; expected an IDX file") from None
    except OSError as err:
        raise DataError(
            f"{path}: cannot read ({err.strerror}); expected a readable IDX file"
        ) from err
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as err:
        # EOFError is what a truncated download raises.
        raise DataError(
            f"{path}: corrupt or truncated gzip data ({err}); "
            "expected a complete .gz file"
        ) from err


def _parse(path, data, magic, kind):
    """Checks an IDX header against the data size and returns its parts.

    Args:
      path: the file name, for messages.
      data: the decompressed file content.
      magic: the expected magic number (it also fixes the number of dims).
      kind: a few words describing the expected file, for messages.

    Returns:
      (dims, payload): the header's sizes and the element bytes.

    Raises:
      DataError: bad magic number, short header, or a size that does not
        match the header (truncated file or trailing bytes).
    """
    ndims = magic & 0xFF
    header_size = 4 + 4 * ndims
    if len(data) < 4:
        raise DataError(
            f"{path}: only {len(data)} bytes, too short for an IDX header; "
            f"expected {kind}"
        )
    (found,) = struct.unpack(">I", data[:4])
    if found != magic:
        raise DataError(
            f"{path}: bad magic number 0x{found:08X}; "
            f"expected 0x{magic:08X} ({kind})"
        )
    if len(data) < header_size:
        raise DataError(
            f"{path}: truncated header ({len(data)} bytes); "
            f"expected {header_size} header bytes for {kind}"
        )
    dims = struct.unpack(f">{ndims}I", data[4:header_size])
    expected_size = header_size + int(np.prod(dims, dtype=np.int64))
    if len(data) < expected_size:
        raise DataError(
            f"{path}: truncated: {len(data)} bytes (uncompressed) but its "
            f"header declares dims {list(dims)}; expected {expected_size} bytes"
        )
    if len(data) > expected_size:
        raise DataError(
            f"{path}: {len(data) - expected_size} unexpected bytes after the "
            f"data its header declares (dims {list(dims)}); "
            f"expected exactly {expected_size} bytes"
        )
    if dims[0] == 0:
        raise DataError(f"{path}: holds no items; expected at least one")
    return dims, data[header_size:]


def read_images(path, rows, cols):
    """Reads an IDX image file.

    Args:
      path: an `*-images-idx3-ubyte[.gz]` file.
      rows: the image height the dataset expects.
      cols: the image width the dataset expects.

    Returns:
      A uint8 array of shape (count, rows, cols).

    Raises:
      DataError: the file is not a valid IDX image file of that image size.
    """
    kind = f"an IDX image file of {rows}x{cols} unsigned bytes"
    dims, payload = _parse(path, read_bytes(path), IMAGES_MAGIC, kind)
    count, found_rows, found_cols = dims
    if (found_rows, found_cols) != (rows, cols):
        raise DataError(
            f"{path}: images are {found_rows}x{found_cols}; "
            f"expected {rows}x{cols}"
        )
    return np.frombuffer(payload, dtype=np.uint8).reshape(count, rows, cols)


def read_labels(path, num_classes):
    """Reads an IDX label file and checks every label is a valid class.

    Args:
      path: an `*-labels-idx1-ubyte[.gz]` file.
      num_classes: labels must lie in [0, num_classes).

    Returns:
      A uint8 array of shape (count,).

    Raises:
      DataError: the file is not a valid IDX label file, or a label is out
        of range.
    """
    kind = "an IDX label file of unsigned bytes"
    _, payload = _parse(path, read_bytes(path), LABELS_MAGIC, kind)
    labels = np.frombuffer(payload, dtype=np.uint8)
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        first = int(bad[0])
        raise DataError(
            f"{path}: label {labels[first]} at index {first} is out of range "
            f"({bad.size} bad labels in total); "
            f"expected labels 0..{num_classes - 1}"
        )
    return labels


def read_split(images_path, labels_path, rows, cols, num_classes):
    """Reads a matching pair of IDX image and label files.

    Args:
      images_path: the IDX image file.
      labels_path: the IDX label file.
      rows: the image height the dataset expects.
      cols: the image width the dataset expects.
      num_classes: labels must lie in [0, num_classes).

    Returns:
      (images, labels): uint8 arrays of shapes (n, rows, cols) and (n,).

    Raises:
      DataError: either file is invalid, or their counts differ.
    """
    images = read_images(images_path, rows, cols)
    labels = read_labels(labels_path, num_classes)
    if len(images) != len(labels):
        raise DataError(
            f"{images_path}: holds {len(images)} images but {labels_path} "
            f"holds {len(labels)} labels; expected equal counts"
        )
    return images, labels
