import keras
import pytest

from modelzoo import configs, trainer
from modelzoo.errors import UsageError
from modelzoo.training import compile_model


@pytest.mark.parametrize("overrides, expected", [
    (dict(seed=0), True),                          # a CPU with a seed: deterministic
    (dict(), False),                               # no seed: no need
    (dict(seed=0, deterministic=False), False),    # asked off
    (dict(deterministic=True), True),              # asked on
    (dict(seed=0, strategy="tpu"), False),         # TPU: not by default
    (dict(seed=0, jit_compile="true"), False),     # Keras compiles no XLA step under it
])
def test_op_determinism_is_its_own_setting(overrides, expected):
    assert trainer.deterministic(configs.get_config("mnist_mlp", **overrides).training) is expected


@pytest.mark.parametrize("value, expected", [("auto", "auto"), ("true", True), ("false", False)])
def test_jit_compile_reaches_compile(value, expected):
    config = configs.get_config("mnist_mlp", jit_compile=value)
    args = trainer.compile_args(config, train_steps=10)
    assert args["jit_compile"] == expected
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    compile_model(model, **args)
    if expected is False:
        assert model.jit_compile is False


def test_deterministic_and_xla_are_refused_together():
    with pytest.raises(UsageError, match="--deterministic and --jit_compile=true exclude"):
        configs.get_config("mnist_mlp", deterministic=True, jit_compile="true")


def test_compile_args_follow_the_optimizer_and_training_sections():
    config = configs.get_config("shakespeare_gpt", epochs=2)
    args = trainer.compile_args(config, train_steps=100)
    assert args["decay_steps"] == 200 and args["warmup_steps"] == 100
    assert args["weight_decay"] == 0.1 and args["clipnorm"] == 1.0
    stage = trainer.compile_args(config, 100, epochs=1, learning_rate=5e-4)
    assert stage["decay_steps"] == 100 and stage["learning_rate"] == 5e-4
