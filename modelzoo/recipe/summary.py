"""What a run reports: the model card's facts and the one-line JSON summary."""

import time

from modelzoo.recipe.steps import built_as


def card_facts(flags_obj, model, metrics, splits):
    """What the export's model card records about this run.

    Args:
        flags_obj: parsed flags; all the recipe's own are recorded.
        model: the model `build_and_compile` built (its registered name and
            builder arguments are recorded).
        metrics: dict. The test metrics measured before publishing.
        splits: list of str. The split specs trained and evaluated on.

    Returns:
        The `card` dict `export.publish` takes.
    """
    foreign = ("absl", "tensorflow", "tensorflow_datasets", "keras")
    theirs = {
        name
        for module, module_flags in flags_obj.flags_by_module_dict().items()
        if module.split(".")[0] in foreign
        for flag in module_flags
        for name in (flag.name, flag.short_name)
    }
    return {
        "model": built_as(model),
        "dataset": _dataset_facts(flags_obj, splits),
        "metrics": {k: float(v) for k, v in metrics.items()},
        "flags": {k: v for k, v in flags_obj.flag_values_dict().items() if k not in theirs},
    }


def _dataset_facts(flags_obj, splits):
    if getattr(flags_obj, "image_dir", None):
        return {"name": flags_obj.image_dir, "version": None, "splits": dict.fromkeys(splits)}
    import tensorflow_datasets as tfds

    # A model card never fails a run: facts TFDS cannot give are null.
    try:
        info = tfds.builder(flags_obj.dataset, data_dir=flags_obj.data_dir).info
    except Exception:  # noqa: BLE001
        info = None

    def size(split):
        try:
            return int(info.splits[split].num_examples)
        except Exception:  # noqa: BLE001
            return None

    return {
        "name": flags_obj.dataset,
        "version": str(info.version) if info is not None else None,
        "splits": {split: size(split) for split in splits},
    }


def summarize(flags_obj, model_name, metrics, export_path, start, throughput=None,
              unit="examples", **extra):
    """The recipe's one-line JSON summary, as a dict.

    `unit` names what the throughput counts: `train_<unit>_per_s`.
    """
    summary = {
        "model": model_name,
        "dataset": flags_obj.dataset,
        "metrics": {k: round(float(v), 6) for k, v in metrics.items()},
        "export_path": export_path,
        "wall_time_s": round(time.time() - start, 2),
    }
    if throughput is not None:
        summary["epochs_run"] = len(throughput.epoch_seconds)
        summary["train_time_s"] = round(sum(throughput.epoch_seconds), 2)
    if throughput is not None and throughput.examples_per_second():
        summary[f"train_{unit}_per_s"] = round(throughput.examples_per_second(), 1)
    summary.update(extra)
    return summary
