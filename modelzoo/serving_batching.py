"""TF Serving's `--batching_parameters_file`, matched to the exports' warm-up.

With `--enable_batching`, TF Serving pads each batch it forms up to the
next of `allowed_batch_sizes`, and compiles (or at least traces) the graph
once per size. The warm-up requests every export ships
(`assets.extra/tf_serving_warmup_requests`: the example batch and its first
row) are replayed at load, so when the allowed sizes are exactly their
batch sizes every padded shape is already warm before the first request.

The file is a `BatchingParameters` text proto. That proto lives in TF
Serving's server sources (`session_bundle_config.proto`), not in the
`tensorflow-serving-api` package, so the text is written here by hand:
its `Int64Value` fields are written as `name { value: N }`, the repeated
`allowed_batch_sizes` as one `allowed_batch_sizes: N` line each.
"""

from modelzoo import storage
from modelzoo.errors import UsageError

# Defaults from TF Serving's batching guide: a short wait for a batch to
# fill, and one thread per core a small server would give it.
BATCH_TIMEOUT_MICROS = 1000
NUM_BATCH_THREADS = 4


def request_batch_size(request):
    """A `PredictRequest`'s batch size: the first dimension of its inputs.

    Returns:
        int, or None for a request with no batched input.
    """
    sizes = {proto.tensor_shape.dim[0].size for proto in request.inputs.values()
             if proto.tensor_shape.dim}
    return max(sizes) if sizes else None


def warmup_batch_sizes(export_dir, models):
    """The batch sizes of the warm-up requests of the served versions.

    Args:
        export_dir: str. The folder of `<name>/<version>` exports.
        models: dict name → list of served versions.

    Returns:
        A sorted list of ints.

    Raises:
        UsageError: no served version ships a warm-up request, or one's
            warm-up file is unreadable.
    """
    from modelzoo.export import warmup

    sizes = set()
    for name, versions in models.items():
        for version in versions:
            try:
                logs = warmup.read_warmup(storage.join(export_dir, name, str(version)))
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            sizes.update(request_batch_size(log.predict_log.request) for log in logs)
    sizes.discard(None)
    if not sizes:
        raise UsageError(f"no served export under {export_dir} ships warm-up requests; "
                         "publish them again or leave out --batching_parameters")
    return sorted(sizes)


def batching_text(allowed_batch_sizes, batch_timeout_micros=BATCH_TIMEOUT_MICROS,
                  num_batch_threads=NUM_BATCH_THREADS):
    """The `BatchingParameters` text proto.

    `max_batch_size` is the largest allowed size, as TF Serving requires
    (the last allowed size must equal it).

    Args:
        allowed_batch_sizes: sorted list of positive ints.
        batch_timeout_micros: int. How long a batch waits to fill.
        num_batch_threads: int. Batches processed in parallel.

    Returns:
        str.
    """
    lines = [
        f"max_batch_size {{ value: {allowed_batch_sizes[-1]} }}",
        f"batch_timeout_micros {{ value: {batch_timeout_micros} }}",
        f"num_batch_threads {{ value: {num_batch_threads} }}",
        *(f"allowed_batch_sizes: {size}" for size in allowed_batch_sizes),
    ]
    return "\n".join(lines) + "\n"


def write_batching(path, export_dir, models, force=False):
    """Writes the batching parameters file for the served versions.

    Args:
        path: str. The file to write.
        export_dir: str. The folder of `<name>/<version>` exports.
        models: dict name → list of served versions.
        force: bool. Replace an existing file.

    Returns:
        The allowed batch sizes written.
    """
    sizes = warmup_batch_sizes(export_dir, models)
    try:
        storage.write_file(path, batching_text(sizes), replace_existing=force)
    except FileExistsError:
        raise UsageError(f"--batching_parameters {path} already exists; "
                         "pass --force to replace it") from None
    return sizes
