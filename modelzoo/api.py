"""The Python API: train a registered experiment, or any config, in one call."""

from modelzoo import configs as _configs


def train(experiment, /, *, datasets_override=None, strategy_override=None, **overrides):
    """Trains, evaluates and publishes an experiment; returns its summary dict.

    The same flow and the same summary as `python recipes/<name>.py`; with the
    same config and seed, the same metrics.

    Args:
        experiment: str (a name from `modelzoo.configs()`) or an
            `ExperimentConfig` (e.g. from `modelzoo.get_config`, edited).
        datasets_override: data to use instead of TFDS, in the shape the
            task's `load` documents.
        strategy_override: a `tf.distribute.Strategy` to train under instead
            of the config's `strategy`.
        **overrides: config fields by name, e.g. `epochs=3`, `data_dir=DIR`,
            `download=False`, `seed=0`.

    Returns:
        dict: `metrics`, `export_path`, `wall_time_s`, ... as the recipe's
        JSON line.

    Raises:
        UsageError: an unknown experiment or field (the message lists the
            known ones), or a bad value.

    Example:
    >>> summary = modelzoo.train("mnist_mlp", epochs=3, data_dir=DIR,
    ...                          download=False, seed=0)  # doctest: +SKIP
    """
    from modelzoo import trainer

    if isinstance(experiment, str):
        config = _configs.get_config(experiment, **overrides)
    else:
        config = experiment.override(**overrides)
    return trainer.run(config, datasets_override, strategy_override)


experiments = _configs.experiments
get_config = _configs.get_config
