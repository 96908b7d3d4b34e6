import os
import subprocess
import sys

import pytest
from absl import flags

from modelzoo import configs
from modelzoo.errors import UsageError
from modelzoo.recipe.flags import as_flags, config_from_flags, define_flags

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parsed(name, args):
    config = configs.get_config(name)
    flag_values = flags.FlagValues()
    define_flags(config, flag_values)
    flag_values([name, *args])
    return config_from_flags(config, flag_values)


@pytest.mark.parametrize("name", configs.experiments())
def test_every_config_field_is_a_flag_with_the_experiments_default(name):
    config = configs.get_config(name)
    flag_values = flags.FlagValues()
    define_flags(config, flag_values)
    assert set(config.names()) | {"verbose"} == set(flag_values)
    for field_name, value in config.flat().items():
        flag_value = flag_values[field_name].value
        if isinstance(value, tuple):
            flag_value = tuple(int(v) for v in flag_value)
        assert flag_value == value, field_name
        assert flag_values[field_name].help


def test_flags_given_override_the_config_and_the_rest_keep_its_defaults():
    config = parsed("imdb_transformer", ["--embed_dim=16", "--epochs=1", "--nodownload"])
    assert (config.model.embed_dim, config.training.epochs, config.data.download) == (16, 1, False)
    assert config.model.num_heads == 2 and config.optimizer.learning_rate == 2e-3
    # A builder argument added to the model's config is a flag, with nothing else changed.
    assert parsed("mnist_mlp", ["--activation=gelu"]).model.builder_kwargs()["activation"] == "gelu"
    config = parsed("mnist_cnn", ["--filters=4,8", "--nomixed_precision"])
    assert config.model.filters == (4, 8) and config.training.mixed_precision is False


def test_as_flags_round_trips_through_the_flag_layer():
    overrides = dict(epochs=3, lstm_units=(16, 8), download=False, data_dir="D", seed=0)
    config = parsed("shakespeare_lstm", as_flags(overrides))
    assert {k: config.flat()[k] for k in overrides} == overrides


@pytest.mark.parametrize("args, message", [
    (["--hidden_units=a,b"], "--hidden_units=a,b must be comma-separated integers"),
    (["--epochs=0"], "--epochs=0 must be a positive integer"),
    (["--version=9223372036854775808"], "--version=9223372036854775808 is too large"),
    (["--seed=-1"], r"--seed=-1 must be in \[0, 4294967295\]"),
    (["--activation=relux"], "--activation='relux' is not a Keras activation"),
])
def test_bad_flag_values_get_the_configs_message(args, message):
    with pytest.raises(UsageError, match=message):
        parsed("mnist_mlp", args)


@pytest.mark.slow
def test_recipe_help_lists_its_own_flags_and_exits_0():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "recipes", "imdb_transformer.py"),
                             "--help"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    for line in ("--embed_dim=32", "--vocab_size=20000", "--epochs=2", "--learning_rate=0.002",
                 "model:", "optimizer:", "training:", "export:"):
        assert line in result.stdout, line
    assert "--xla_" not in result.stdout  # TensorFlow's own flags are not the recipe's


@pytest.mark.slow
def test_recipe_usage_error_is_one_line_and_exit_2():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, os.path.join(ROOT, "recipes", "mnist_mlp.py"),
                             "--dropout=1.5"], capture_output=True, text=True, timeout=300,
                            env=env)
    assert result.returncode == 2
    # TensorFlow's start-up lines are off (modelzoo.quiet): the error is all there is.
    assert result.stderr.splitlines() == ["mnist_mlp.py: error: --dropout=1.5 must be in [0, 1)"]
