"""Trains a small model under one strategy; run as a subprocess by the tests.

Strategies must be configured before TensorFlow initialises its devices, so
every distributed run gets a fresh process:

    mw_worker.py --mode=reference --out=DIR    # OneDeviceStrategy
    mw_worker.py --mode=mirrored --cpu_replicas=2 --out=DIR
    TF_CONFIG=... mw_worker.py --mode=multi_worker --out=DIR [--unpatched]
    mw_worker.py --mode=tpu                    # expect a one-line error

Each training run writes `result.npz` (final weights, the loss per epoch and
the evaluate loss) and `model.keras` into `worker_dir(--out)`, so on a
non-chief worker they go to a temporary directory that is then deleted.
Errors from `modelzoo` print as one line with their exit code, as the
command-line entry points do.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", required=True,
                        choices=("reference", "mirrored", "multi_worker", "tpu"))
    parser.add_argument("--out", help="Output directory (the chief's).")
    parser.add_argument("--cpu_replicas", type=int, default=None)
    parser.add_argument("--tpu", default=None)
    parser.add_argument("--unpatched", action="store_true",
                        help="Skip multi_worker.prepare_model (the upstream probe).")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--global_batch", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--learning_rate", type=float, default=0.1)
    parser.add_argument("--steps_per_execution", type=int, default=1)
    return parser.parse_args(argv)


def make_strategy(args):
    # Imported here so TF starts only after argument parsing.
    from modelzoo import distribute

    if args.mode == "reference":
        return distribute.get_distribution_strategy("one_device")
    if args.mode == "mirrored":
        return distribute.get_distribution_strategy("mirrored", cpu_replicas=args.cpu_replicas)
    if args.mode == "multi_worker":
        return distribute.get_distribution_strategy("multi_worker")
    return distribute.get_distribution_strategy("tpu", tpu=args.tpu)


def make_dataset(args):
    """The same random 28x28 images and labels in every process."""
    import numpy as np
    import tensorflow as tf

    from modelzoo import distribute

    rng = np.random.default_rng(0)
    images = rng.random((args.examples, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, args.examples)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(args.global_batch)
    return distribute.shard_options(dataset)


def make_model(args, strategy):
    import keras

    from modelzoo import multi_worker

    # A different seed per worker: MWMS must broadcast the chief's initial
    # weights, or the replicas would start (and stay) apart.
    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    keras.utils.set_random_seed(args.seed + task.get("index", 0))
    with strategy.scope():
        inputs = keras.Input((28, 28))
        x = keras.layers.Flatten()(inputs)
        x = keras.layers.Dense(16, activation="relu")(x)
        outputs = keras.layers.Dense(10)(x)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer=keras.optimizers.SGD(args.learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            steps_per_execution=args.steps_per_execution,
        )
    if not args.unpatched:
        multi_worker.prepare_model(model, strategy)
    return model


def train(args, strategy):
    import numpy as np

    from modelzoo import distribute

    dataset = make_dataset(args)
    model = make_model(args, strategy)
    initial = model.get_weights()
    history = model.fit(dataset, epochs=args.epochs, verbose=0)
    eval_loss = model.evaluate(dataset, verbose=0, return_dict=True)["loss"]

    target = distribute.worker_dir(args.out, strategy)
    os.makedirs(target, exist_ok=True)
    # Every worker saves: reading synchronised variables runs collectives.
    model.save(os.path.join(target, "model.keras"))
    weights = model.get_weights()
    np.savez(
        os.path.join(target, "result.npz"),
        loss=np.array(history.history["loss"]),
        eval_loss=np.array(eval_loss),
        **{f"w{i}": w for i, w in enumerate(weights)},
        **{f"init{i}": w for i, w in enumerate(initial)},
    )
    distribute.remove_worker_dir(target, args.out)


def main(argv):
    args = parse_args(argv)
    from modelzoo.errors import ModelzooError

    try:
        strategy = make_strategy(args)
        if args.mode == "tpu":
            print("got a TPU strategy", strategy)
            return 0
        train(args, strategy)
    except ModelzooError as e:
        print(f"mw_worker.py: error: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
