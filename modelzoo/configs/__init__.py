"""Registered experiments: a name, its default config and its `make reproduce` rows.

Model Garden's `exp_factory`: `register_experiment(name)` decorates a
function returning the experiment's default config; `get_config(name,
**overrides)` returns a fresh, checked copy to edit; `experiments()` lists
the names. Each module of this package registers its experiments when the
package is imported, so a new one is found without being listed anywhere.
`recipes/<name>.py` is the command for experiment `<name>`.

Example:
>>> "mnist_mlp" in experiments()
True
>>> get_config("mnist_mlp", hidden_units=(256, 128)).model.hidden_units
(256, 128)
"""

import fnmatch
import importlib
import pkgutil

from modelzoo.errors import UsageError

_EXPERIMENTS = {}


# The overrides of an experiment registered without `smoke=`.
SMOKE = dict(epochs=1, batch_size=8)


def register_experiment(name, reproduce=(), smoke=None):
    """Registers a default-config factory under `name`.

    Args:
        name: str. The experiment's name, also its recipe's file name.
        reproduce: the `make reproduce` rows of this experiment (dicts; see
            `benchmarks/reproduce.py`).
        smoke: dict of config overrides that make the experiment train in
            seconds (tiny sizes, one epoch), for smoke tests; default `SMOKE`.

    Returns:
        A decorator that registers and returns the factory unchanged.
    """

    def decorator(factory):
        if name in _EXPERIMENTS:
            raise ValueError(f"Experiment name {name!r} is already registered.")
        _EXPERIMENTS[name] = (factory, tuple(reproduce), dict(smoke or SMOKE))
        return factory

    return decorator


def experiments(pattern="*"):
    """The sorted registered experiment names matching an fnmatch `pattern`."""
    _import_all()
    return sorted(n for n in _EXPERIMENTS if fnmatch.fnmatchcase(n, pattern))


def get_config(name, /, **overrides):
    """A fresh default config of experiment `name`, with `overrides` applied.

    Args:
        name: str. A name from `experiments()`.
        **overrides: config fields by name (`epochs=3`, `data_dir=...`), in
            whatever section they live.

    Returns:
        The checked `ExperimentConfig`.

    Raises:
        UsageError: an unknown name (the message lists the known ones), an
            unknown field, or a bad value.
    """
    return _lookup(name)[0]().override(**overrides)


def reproduce_rows(name):
    """The `make reproduce` rows of experiment `name`."""
    return _lookup(name)[1]


def smoke_overrides(name):
    """The overrides that make experiment `name` train in seconds (a smoke test)."""
    return dict(_lookup(name)[2])


def _lookup(name):
    _import_all()
    if name not in _EXPERIMENTS:
        raise UsageError(
            f"unknown experiment {name!r}; known experiments: {', '.join(sorted(_EXPERIMENTS))}")
    return _EXPERIMENTS[name]


def _import_all():
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
