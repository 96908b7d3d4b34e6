import os

import keras
import pytest

from modelzoo import configs, storage, trainer
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


def test_a_failed_run_leaves_its_model_dir_unlocked(tmp_path):
    # The export version exists, so the run fails after it has locked --model_dir.
    (tmp_path / "exports" / "mnist_mlp" / "1").mkdir(parents=True)
    config = configs.get_config("mnist_mlp", model_dir=str(tmp_path / "run"), version=1,
                                export_dir=str(tmp_path / "exports"), download=False)
    with pytest.raises(UsageError, match="--version 1 already exists"):
        trainer.run(config)
    lock = str(tmp_path / "run" / ".modelzoo-run.lock")
    assert os.path.exists(lock)
    held = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
            if os.path.islink(f"/proc/self/fd/{fd}")]
    assert lock not in held
    storage.hold_folder_lock(lock)  # another run in this process may take it
    storage.release_folder_lock(lock)
