"""`modelzoo inspect`: an export's model card, signatures and warm-up requests."""

import json
import os

from modelzoo.errors import DataError, UsageError, first_line
from modelzoo.export import model_card, warmup


def version_dir(path):
    """A version directory as is; a model directory → its latest version."""
    if not os.path.isdir(path):
        raise UsageError(f"EXPORT_DIR {path} is not a directory; pass <export_dir>/<name> "
                         "or <export_dir>/<name>/<version>")
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        from modelzoo.predict import version_path

        path = version_path(path, argument="EXPORT_DIR")
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise UsageError(f"EXPORT_DIR: {path} is not a SavedModel (no saved_model.pb)")
    return path


def inspect_export(path):
    """What an export says about itself.

    Args:
        path: str. A version directory, or a model directory (its latest
            version is read).

    Returns:
        A dict: `export_path`, `kind` (the export kind: the card's, else
            the one its `serving_default` inputs show; None if neither),
            `summary` (the card's one line),
        `model_card` (None if the export has none), `signatures` (name →
        inputs and outputs with dtypes and shapes, from `saved_model.pb`)
        and `warmup_requests` (per record: signature and input shapes).
    """
    import tensorflow as tf

    path = version_dir(path)
    try:
        card = model_card.read_card(path)
        signatures = model_card.signature_contracts(path)
        logs = warmup.read_warmup(path)
    except (ValueError, OSError, tf.errors.OpError) as exc:
        raise DataError(f"{path}: {exc}") from None
    check_variables(path)
    requests = [
        {
            "signature": log.predict_log.request.model_spec.signature_name,
            "inputs": {
                name: [d.size for d in proto.tensor_shape.dim]
                for name, proto in sorted(log.predict_log.request.inputs.items())
            },
        }
        for log in logs
    ]
    return {
        "export_path": path,
        "kind": export_kind(card, signatures),
        "summary": model_card.summary_line(card),
        "model_card": card,
        "signatures": signatures,
        "warmup_requests": requests,
    }


def export_kind(card, signatures):
    """The kind a card records, or, for an export without one, its signature's."""
    import tensorflow as tf

    from modelzoo.clients import client_for

    if card and isinstance(card.get("kind"), str):
        return card["kind"]
    inputs = (signatures.get("serving_default") or {}).get("inputs") or {}
    specs = {name: tf.TensorSpec(spec["shape"], tf.as_dtype(spec["dtype"]))
             for name, spec in inputs.items()}
    client = client_for(specs)
    return client.kind if client else None


def check_variables(path):
    """Reads every variable of the SavedModel at `path`, as a server loading it would.

    Raises:
        DataError: `variables/` is truncated or corrupt, naming the export.
    """
    import tensorflow as tf

    prefix = os.path.join(path, "variables", "variables")
    if not os.path.exists(prefix + ".index"):
        return  # a SavedModel without variables
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as exc:  # noqa: BLE001 - TF raises many types for a corrupt file
        raise DataError(
            f"{path}: its variables cannot be read ({type(exc).__name__}: {first_line(exc)}); "
            "it is corrupt: publish it again"
        ) from None


def render(info):
    """`inspect_export`'s dict as readable text."""
    card = info["model_card"] or {}
    lines = [f"export:     {info['export_path']}", f"summary:    {info['summary']}",
             f"kind:       {info.get('kind')}"]
    model, dataset = card.get("model"), card.get("dataset")
    if model:
        lines.append(f"model:      {model.get('name')} {json.dumps(model.get('builder_config'))}")
    if dataset:
        splits = ", ".join(f"{s} ({n} examples)" for s, n in (dataset.get("splits") or {}).items())
        lines.append(f"dataset:    {dataset.get('name')} {dataset.get('version')}; {splits}")
    if card.get("metrics"):
        lines.append("metrics:    " + ", ".join(
            f"{k} {model_card.short_number(v)}" for k, v in sorted(card["metrics"].items())))
    if card.get("flags"):
        lines.append("flags:      " + " ".join(
            f"--{k}={_flag(v)}" for k, v in sorted(card["flags"].items())))
    if card:
        lines += [
            "versions:   " + ", ".join(f"{k} {v}" for k, v in (card.get("versions") or {}).items()),
            f"git commit: {card.get('git_commit')}",
            f"date:       {card.get('date')}",
        ]
    for name, contract in info["signatures"].items():
        lines.append(f"signature {name}:")
        for kind in ("inputs", "outputs"):
            for tensor, spec in contract[kind].items():
                shape = "unknown" if spec["shape"] is None else (
                    "[" + ", ".join("None" if d is None else str(d) for d in spec["shape"]) + "]")
                lines.append(f"  {kind[:-1]:<7}{tensor:<16}{spec['dtype']:<9}{shape}")
    lines.append(f"warm-up:    {len(info['warmup_requests'])} requests")
    for request in info["warmup_requests"]:
        shapes = ", ".join(f"{k} {v}" for k, v in request["inputs"].items())
        lines.append(f"  {request['signature']}: {shapes}")
    return "\n".join(lines)


def _flag(value):
    return ",".join(map(str, value)) if isinstance(value, list) else value
