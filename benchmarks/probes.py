"""Short, same-process measurements behind the issue #14 findings (README).

    python benchmarks/probes.py cnn   [--examples=7680 --rounds=5 --variant=batch=256,bf16]
    python benchmarks/probes.py torch [--examples=7680 --rounds=5]  # PyTorch CNN, no TensorFlow
    python benchmarks/probes.py epochs [--recipe_args=--steps_per_execution=118]  # MLP per-epoch cost
    python benchmarks/probes.py pipelines --rounds=3  # MLP epochs: old vs gathered pipeline
    python benchmarks/probes.py first_batch  # MLP pipeline: new epoch to first batch
    python benchmarks/probes.py transformer [--epochs=8 --gc_off]  # per-epoch wall/cpu/wait
    python benchmarks/probes.py mlp   [--examples=256000 --rounds=5 --modes=train --modes=grad]

Each variant is built once and warmed up; then the variants are timed in
turn, round after round (A B C A B C ...), so host noise hits them alike.
Each round runs about `--examples` training examples through Keras's own compiled
`train_function` (what `fit` calls, minus callbacks) on the cached,
shuffled, repeated `image_pipeline`; the table gives the best and the
median round as examples/s and achieved GFLOP/s, and the 1-minute load
average before and after.
"""

import argparse
import json
import subprocess
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import common  # noqa: E402


# sections.layer_train_flops of modelzoo's CNN (tests/test_benchmarks.py pins it):
# 3 x 2 x (28·28·32·25 + 14·14·64·800 + 3136·128 + 128·10) MACs.
CNN_TRAIN_FLOPS = 66_390_528


def log(message):
    print(message, file=sys.stderr, flush=True)


def rows_table(results, flops):
    """Markdown rows; with a "fp32 matmul roofline" entry timed in the same
    rounds, each variant's share of it is taken round by round (median)."""
    roof = results.get("fp32 matmul roofline")
    roof_rates = [roof["flops"] / t / 1e9 for t in roof["seconds"]] if roof else None
    lines = ["| variant | best ex/s | median ex/s | best GFLOP/s | median GFLOP/s "
             "| share of same-round roofline (median) | rounds (s) |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        times = " ".join(f"{s:.2f}" for s in r["seconds"])
        if "flops" in r:
            rates = [r["flops"] / t / 1e9 for t in r["seconds"]]
            lines.append(f"| {name} | | | {max(rates):.0f} | {statistics.median(rates):.0f} "
                         f"| 100 % | {times} |")
            continue
        best = r["examples"] / min(r["seconds"])
        med = r["examples"] / statistics.median(r["seconds"])
        f = flops(name)
        share = ""
        if roof_rates and f:
            shares = [r["examples"] * f / t / 1e9 / rr for t, rr in zip(r["seconds"], roof_rates)]
            share = f"{100 * statistics.median(shares):.0f} %"
        lines.append(f"| {name} | {best:,.0f} | {med:,.0f} | {best * f / 1e9:.0f} | "
                     f"{med * f / 1e9:.0f} | {share} | {times} |")
    return "\n".join(lines)


# --- TensorFlow side ---------------------------------------------------------


def tf_variants(kind, names, seed=0):
    """`{name: (model, dataset, batch)}` for the probe's variants."""
    import keras
    import tensorflow as tf

    from benchmarks import sections
    from modelzoo.data import pipelines
    from modelzoo.registry import get_model
    from modelzoo.training import compile_model

    (train, _), info = sections.image_splits(argparse.Namespace(data_dir=ARGS.data_dir))
    built = {}
    for name in names:
        opts = dict(part.split("=") for part in name.split(",") if "=" in part)
        batch = int(opts.get("batch", 128 if kind == "cnn" else 512))
        spe = int(opts.get("spe", 10 if kind == "cnn" else 50))
        lr = float(opts.get("lr", 2e-3))
        policy = "mixed_bfloat16" if "bf16" in name else "float32"
        keras.mixed_precision.set_global_policy(policy)
        keras.utils.set_random_seed(seed)
        # Default: the per-image pipeline the recipes used before issue #14
        # (cache → shuffle 10000 → batch); "gather": today's image_pipeline.
        if "gather" in name:
            ds = _gather_pipeline(train, batch, seed)
        elif "uint8" in name:
            ds = pipelines.finish(train, batch, True, seed)
            ds = ds.map(lambda x, y: (tf.cast(x, tf.float32), y))
        else:
            ds = pipelines.finish(train.map(lambda x, y: (tf.cast(x, tf.float32), y)),
                                  batch, True, seed)
        if "nchw" in name:
            ds = ds.map(lambda x, y: (tf.transpose(x, [0, 3, 1, 2]), y))
            model = _cnn_channels_first()
        else:
            model = get_model(kind, input_shape=(28, 28, 1), num_classes=10, rescale=1 / 255)
        compile_model(model, lr, decay_steps=100000, steps_per_execution=spe)
        if "opt" in opts:
            schedule = keras.optimizers.schedules.CosineDecay(lr, 100000)
            optimizer = {"sgd": lambda: keras.optimizers.SGD(schedule),
                         "fused": lambda: FusedAdam(schedule)}[opts["opt"]]()
            model.compile(optimizer=optimizer, loss=model.loss, metrics=[
                keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                steps_per_execution=spe)
        if "xla" in name:
            model.jit_compile = True
        built[name] = (model, ds, batch)
        keras.mixed_precision.set_global_policy("float32")
    return built


def _fused_adam_class():
    import keras
    import tensorflow as tf

    class FusedAdam(keras.optimizers.Adam):
        """Adam whose per-variable update is TF's one fused ResourceApplyAdam op."""

        def update_step(self, gradient, variable, learning_rate):
            dtype = variable.dtype
            step = tf.cast(self.iterations + 1, dtype)
            m = self._momentums[self._get_variable_index(variable)]
            v = self._velocities[self._get_variable_index(variable)]
            tf.raw_ops.ResourceApplyAdam(
                var=variable.handle, m=m.value.handle, v=v.value.handle,
                beta1_power=tf.pow(tf.cast(self.beta_1, dtype), step),
                beta2_power=tf.pow(tf.cast(self.beta_2, dtype), step),
                lr=tf.cast(learning_rate, dtype), beta1=tf.cast(self.beta_1, dtype),
                beta2=tf.cast(self.beta_2, dtype), epsilon=tf.cast(self.epsilon, dtype),
                grad=tf.cast(gradient, dtype))

    return FusedAdam


def FusedAdam(*args, **kwargs):  # noqa: N802
    return _fused_adam_class()(*args, **kwargs)


def _gather_pipeline(train, batch, seed):
    """`image_pipeline`'s gathered batches (the "gather" variant)."""
    from modelzoo.data import pipelines

    return pipelines.image_pipeline(train, batch, True, seed)


def _cnn_channels_first():
    import keras

    L = keras.layers
    inputs = keras.Input((1, 28, 28))
    x = L.Rescaling(1 / 255)(inputs)
    for f in (32, 64):
        x = L.Conv2D(f, 5, padding="same", activation="relu", data_format="channels_first")(x)
        x = L.MaxPooling2D(2, data_format="channels_first")(x)
    x = L.Flatten()(x)
    x = L.Dense(128, activation="relu")(x)
    return keras.Model(inputs, L.Dense(10, dtype="float32")(x))


def roofline_runner(flops, m=1024, k=784, n=128, unroll=8):
    """A runner doing about `flops` of fp32 matmul (sections.roofline's shape)."""
    import tensorflow as tf

    a = tf.random.normal([unroll, m, k])
    b = tf.random.normal([k, n])

    @tf.function
    def step(a, b):
        acc = tf.zeros([m, n])
        for j in range(unroll):
            acc += tf.matmul(a[j], b)
        return acc

    per_call = 2 * m * k * n * unroll
    calls = max(1, round(flops / per_call))
    step(a, b).numpy()
    return (lambda: step(a, b)), calls * per_call


def time_tf(built, examples, rounds, mode="train", between=None, roofline_flops=None):
    """Seconds per round of about `examples` training examples for each variant, interleaved.

    mode: "train" (Keras's train_function: forward, backward, Adam),
    "forward" (the model's forward pass only), "grad" (forward + backward,
    no optimizer update), "data" (only pulling batches from the pipeline).
    """
    import tensorflow as tf

    runners = {}
    for name, (model, ds, batch) in built.items():
        spe = model.steps_per_execution
        calls = max(1, round(examples / (spe * batch)))
        repeated = ds.repeat()
        model.fit(repeated, epochs=1, steps_per_epoch=2 * spe, verbose=0)  # build + trace
        it = iter(model.distribute_strategy.experimental_distribute_dataset(repeated))
        loss_fn = model.loss

        @tf.function
        def forward(it, model=model, spe=spe):
            acc = tf.constant(0.0)
            for _ in tf.range(spe):
                x, y = next(it)
                acc += tf.reduce_sum(tf.cast(model(x, training=True), tf.float32))
            return acc

        @tf.function
        def grad(it, model=model, spe=spe, loss_fn=loss_fn):
            acc = tf.constant(0.0)
            for _ in tf.range(spe):
                x, y = next(it)
                with tf.GradientTape() as tape:
                    loss = loss_fn(y, model(x, training=True))
                grads = tape.gradient(loss, model.trainable_variables)
                acc += tf.add_n([tf.reduce_sum(g) for g in grads])
            return acc

        @tf.function
        def data(it, spe=spe):
            acc = tf.constant(0.0)
            for _ in tf.range(spe):
                x, y = next(it)
                acc += tf.cast(x[0, 0, 0, 0], tf.float32)
            return acc

        fn = {"train": model.train_function, "forward": forward, "grad": grad,
              "data": data}[mode]
        out = fn(it)  # trace
        _sync(out)
        runners[name] = (fn, it, calls, calls * spe * batch)
    results = {name: {"examples": r[3], "seconds": []} for name, r in runners.items()}
    if roofline_flops:
        roof_fn, roof_total = roofline_runner(roofline_flops)
        per_call = 2 * 1024 * 784 * 128 * 8
        runners["fp32 matmul roofline"] = (lambda it, f=roof_fn: f(), None,
                                           roof_total // per_call, None)
        results["fp32 matmul roofline"] = {"flops": roof_total, "seconds": []}
    for _ in range(rounds):
        for name, (fn, it, calls, _) in runners.items():
            start = time.perf_counter()
            for _ in range(calls):
                out = fn(it)
            _sync(out)
            results[name]["seconds"].append(time.perf_counter() - start)
        if between:
            for name, r in between().items():
                results.setdefault(name, {"examples": r["examples"], "seconds": []})
                results[name]["seconds"] += r["seconds"]
    return results


def torch_round(args):
    """One round of the PyTorch probe, in a fresh process without TensorFlow."""
    command = [sys.executable, os.path.abspath(__file__), "torch", "--rounds=1", "--json",
               f"--examples={args.examples}", f"--torch_threads={args.torch_threads}",
               f"--torch_batches={','.join(map(str, args.torch_batches))}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _sync(out):
    import tensorflow as tf

    tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t,
                          out if not hasattr(out, "get_value") else out.get_value())


def cnn_train_flops_of(model):
    from benchmarks import sections

    return sections.layer_train_flops(model)


def probe_cnn(args):
    from benchmarks import sections

    sections.warm_up()
    roof = sections.roofline(10)
    roof16 = sections.roofline(10, dtype="bfloat16")
    log(f"roofline fp32 {roof['gflops']} GFLOP/s, bf16 {roof16['gflops']} GFLOP/s")
    names = args.variants or ["batch=64", "batch=128", "batch=256,spe=20", "batch=128,spe=50",
                              "batch=128,uint8", "batch=128,nchw", "batch=128,bf16",
                              "batch=256,bf16,spe=20"]
    built = tf_variants("cnn", names)
    flops = sections.layer_train_flops(next(iter(built.values()))[0])
    load0 = common.load_average()
    results = time_tf(built, args.examples, args.rounds, args.mode,
                      between=(lambda: torch_round(args)) if args.with_torch else None,
                      roofline_flops=args.examples * flops)
    print(f"CNN {args.mode}, {flops:,} training FLOP/example (3 x forward), roofline fp32 "
          f"{roof['gflops']} / bf16 {roof16['gflops']} GFLOP/s; load {load0} -> "
          f"{common.load_average()}")
    print(rows_table(results, lambda name: flops))


def probe_mlp(args):
    from benchmarks import sections

    sections.warm_up()
    roof = sections.roofline(10)
    names = args.variants or ["batch=512,spe=50"]
    built = tf_variants("mlp", names)
    flops = sections.dense_train_flops(next(iter(built.values()))[0])
    load0 = common.load_average()
    out = []
    for mode in (args.modes or ["train", "grad", "forward", "data"]):
        results = time_tf(built, args.examples, args.rounds, mode,
                          roofline_flops=args.examples * flops)
        per_mode_flops = flops // 3 if mode == "forward" else (0 if mode == "data" else flops)
        out.append(f"\nMLP {mode} ({per_mode_flops:,} FLOP/example counted)\n"
                   + rows_table(results, lambda name: per_mode_flops))
    print(f"MLP, roofline fp32 {roof['gflops']} GFLOP/s; load {load0} -> {common.load_average()}")
    print("\n".join(out))


def probe_epochs(args):
    """Per-epoch fixed cost of the MLP recipe: epochs over the full split and
    over a quarter of it (same batch, spe, model), ABAB; the fixed cost per
    epoch is the intercept (4·t_quarter − t_full) / 3 of the median epochs."""
    import keras

    from benchmarks import sections
    from modelzoo.data import pipelines
    from modelzoo.registry import get_model
    from modelzoo.training import compile_model

    sections.warm_up()
    (train, _), _ = sections.image_splits(argparse.Namespace(data_dir=ARGS.data_dir))
    flag_values, name, kwargs = common.recipe_settings("mnist_mlp", args.recipe_args or [])
    sizes = (60000, 15000)
    times = {n: [] for n in sizes}
    runs = {}
    for n in sizes:
        keras.utils.set_random_seed(0)
        ds = pipelines.image_pipeline(train, flag_values.batch_size, True, 0, n)
        for _ in ds:  # fill the cache
            pass
        model = get_model(name, input_shape=(28, 28, 1), num_classes=10, rescale=1 / 255,
                          **kwargs)
        compile_model(model, flag_values.learning_rate, decay_steps=10**6,
                      steps_per_execution=flag_values.steps_per_execution)
        model.fit(ds, epochs=1, verbose=0)  # trace
        runs[n] = (model, ds)
    load0 = common.load_average()
    for _ in range(args.rounds):
        for n in sizes:
            model, ds = runs[n]
            r = sections.fit_timed(model, ds, epochs=4, units_per_epoch=n, label=f"[{n}]")
            times[n] += r["epoch_seconds"]
    full, quarter = (statistics.median(times[n]) for n in sizes)
    fixed = (4 * quarter - full) / 3
    print(f"MLP recipe epochs ({' '.join(args.recipe_args or []) or 'defaults'}: batch "
          f"{flag_values.batch_size}, spe {flag_values.steps_per_execution}); load {load0} -> "
          f"{common.load_average()}")
    print(f"median epoch: 60000 examples {full:.3f} s, 15000 examples {quarter:.3f} s; "
          f"fixed per-epoch cost {fixed:.3f} s = {100 * fixed / full:.0f} % of a full epoch; "
          f"steady rate {45000 / (full - quarter):,.0f} ex/s vs measured {60000 / full:,.0f}")
    print("epochs 60000:", " ".join(f"{t:.3f}" for t in times[60000]))
    print("epochs 15000:", " ".join(f"{t:.3f}" for t in times[15000]))


def probe_pipelines(args):
    """The MLP recipe's epochs on the old per-image pipeline (cache →
    shuffle(10000) → batch) and on `image_pipeline`'s gathered batches,
    ABAB, 4 epochs each time: wall, CPU and run-queue wait per epoch."""
    import keras
    import tensorflow as tf

    from benchmarks import sections
    from modelzoo.data import pipelines
    from modelzoo.registry import get_model
    from modelzoo.training import compile_model

    sections.warm_up()
    (train, _), _ = sections.image_splits(argparse.Namespace(data_dir=ARGS.data_dir))
    flag_values, name, kwargs = common.recipe_settings("mnist_mlp", args.recipe_args or [])
    batch = flag_values.batch_size
    makers = {
        "per-image (cache, shuffle 10000, batch)": lambda: pipelines.finish(
            train.map(lambda x, y: (tf.cast(x, tf.float32), y)), batch, True, 0),
        "gathered batches": lambda: pipelines.image_pipeline(train, batch, True, 0),
    }
    runs, out = {}, {}
    for label, make in makers.items():
        keras.utils.set_random_seed(0)
        ds = make()
        for _ in ds:
            pass
        model = get_model(name, input_shape=(28, 28, 1), num_classes=10, rescale=1 / 255,
                          **kwargs)
        compile_model(model, flag_values.learning_rate, decay_steps=10**6,
                      steps_per_execution=flag_values.steps_per_execution)
        model.fit(ds, epochs=1, verbose=0)
        runs[label] = (model, ds)
        out[label] = {"wall": [], "cpu": [], "wait": []}
    load0 = common.load_average()
    for _ in range(args.rounds):
        for label, (model, ds) in runs.items():
            r = sections.fit_timed(model, ds, epochs=4, units_per_epoch=60000, label=label)
            out[label]["wall"] += r["epoch_seconds"]
            out[label]["cpu"] += r["epoch_cpu_seconds"]
            out[label]["wait"] += r["epoch_run_queue_wait_seconds"]
    print(f"MLP recipe epochs, batch {batch}, spe {flag_values.steps_per_execution}; load "
          f"{load0} -> {common.load_average()}")
    print("| pipeline | epochs | wall s best / median | CPU s best / median | wait s median |")
    print("|---|---|---|---|---|")
    for label, o in out.items():
        print(f"| {label} | {len(o['wall'])} | {min(o['wall']):.3f} / "
              f"{statistics.median(o['wall']):.3f} | {min(o['cpu']):.3f} / "
              f"{statistics.median(o['cpu']):.3f} | {statistics.median(o['wait']):.3f} |")


def probe_first_batch(args):
    """Seconds from a new epoch's iterator to its first batch (the shuffle
    buffer fills first), for the MLP's cached image_pipeline, vs a full pass."""
    from benchmarks import sections
    from modelzoo.data import pipelines

    (train, _), _ = sections.image_splits(argparse.Namespace(data_dir=ARGS.data_dir))
    for name, ds in (("image_pipeline", pipelines.image_pipeline(train, 512, True, 0)),
                     ("gather pipeline", _gather_pipeline(train, 512, 0))):
        _first_batch(name, ds, args.rounds)


def _first_batch(name, ds, rounds):
    for _ in ds:  # fill the cache
        pass
    first, full = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        it = iter(ds)
        next(it)
        first.append(time.perf_counter() - start)
        for _ in it:
            pass
        full.append(time.perf_counter() - start)
    print(f"{name}, batch 512; load {common.load_average()}")
    print(f"first batch of an epoch: median {statistics.median(first):.3f} s "
          f"(best {min(first):.3f}); whole epoch of batches: median "
          f"{statistics.median(full):.3f} s (best {min(full):.3f})")


def probe_transformer(args):
    """Per-epoch wall, CPU and run-queue wait of modelzoo's Transformer (and
    keras-io's), `--epochs` epochs in one process, as the bench section runs
    them; `--gc_off` disables Python's garbage collector during fit."""
    import gc

    import keras
    import numpy as np
    import tensorflow as tf

    from benchmarks import baselines, sections
    from modelzoo import trainer
    from modelzoo.data import pipelines
    from modelzoo.registry import get_model
    from modelzoo.training import compile_model

    sections.warm_up()
    cfg = argparse.Namespace(data_dir=ARGS.data_dir)
    text = sections.corpus_text(cfg)
    texts, labels = common.text_chunks(text, 4096, sections.TEXT_CHUNK_CHARS)
    labels = np.asarray(labels, "int64")
    flag_values, model_name, model_kwargs = common.recipe_settings(
        "imdb_transformer", sections.TRANSFORMER_SIZE)
    raw = tf.data.Dataset.from_tensor_slices((texts, labels))
    vectorizer = pipelines.make_vectorizer(raw.map(lambda t, y: t), flag_values.vocab_size)
    maxlen = flag_values.sequence_length
    ids = pipelines.text_ids(vectorizer, tf.constant(texts), maxlen).numpy()
    n = len(texts)
    out = {}
    for who in args.who:
        keras.utils.set_random_seed(0)
        if who == "keras-io":
            model = baselines.keras_io_transformer(maxlen, flag_values.vocab_size, 32, 2, 32)
            x, y, batch = ids, labels, 32
        elif who == "modelzoo-ids":
            # modelzoo's model fed keras-io's input: the same precomputed ids
            # through model.fit, so only the model and training step differ.
            model = get_model(model_name, vocab_size=flag_values.vocab_size,
                              sequence_length=maxlen, num_classes=2, **model_kwargs)
            x, y, batch = ids, labels, flag_values.batch_size
            compile_model(model, flag_values.learning_rate,
                          decay_steps=-(-n // batch) * args.epochs,
                          steps_per_execution=flag_values.steps_per_execution)
        else:
            batch = int(who.split("=")[1]) if "=" in who else flag_values.batch_size
            x = pipelines.text_classification_pipeline(raw, vectorizer, maxlen, batch, True, 0)
            y = None
            model = get_model(model_name, vocab_size=flag_values.vocab_size,
                              sequence_length=maxlen, num_classes=2, **model_kwargs)
            steps = trainer.count(x)
            compile_model(model, flag_values.learning_rate,
                          decay_steps=steps and steps * args.epochs,
                          steps_per_execution=flag_values.steps_per_execution)
        if args.gc_off:
            gc.collect()
            gc.disable()
        out[who] = sections.fit_timed(model, x, y, batch_size=batch if y is not None else None,
                                      epochs=args.epochs, units_per_epoch=n, label=who)
        gc.enable()
        keras.backend.clear_session()
    print(f"Transformer epochs (gc {'off' if args.gc_off else 'on'}); load "
          f"{common.load_average()}")
    print("| contender | epoch | wall s | cpu s | run-queue wait s | ex/s |")
    print("|---|---|---|---|---|---|")
    for who, r in out.items():
        for i, (w, c, q) in enumerate(zip(r["epoch_seconds"], r["epoch_cpu_seconds"],
                                          r["epoch_run_queue_wait_seconds"])):
            print(f"| {who} | {i + 1} | {w:.2f} | {c:.2f} | {q:.2f} | {n / w:,.0f} |")


# --- PyTorch side (no TensorFlow in this process) ---------------------------


def probe_torch(args):
    import numpy as np
    import torch
    import torch.nn.functional as F

    from benchmarks import baselines

    torch.set_num_threads(args.torch_threads)
    torch.manual_seed(0)

    x_all = torch.rand(60000, 1, 28, 28)
    y_all = torch.from_numpy(np.random.default_rng(0).integers(0, 10, 60000))
    results = {}
    nets = {}
    for batch in args.torch_batches:
        model = baselines.torch_cnn()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        nets[batch] = (model, opt)
        results[f"pytorch batch={batch}"] = {"examples": args.examples // batch * batch,
                                             "seconds": []}

    def run(batch, steps):
        model, opt = nets[batch]
        perm = torch.randperm(len(x_all))
        for i in range(steps):
            idx = perm[(i * batch) % 59000:][:batch]
            opt.zero_grad()
            F.nll_loss(model(x_all[idx]), y_all[idx]).backward()
            opt.step()

    for batch in args.torch_batches:
        run(batch, 5)
    load0 = common.load_average()
    for _ in range(args.rounds):
        for batch in args.torch_batches:
            start = time.perf_counter()
            run(batch, args.examples // batch)
            results[f"pytorch batch={batch}"]["seconds"].append(time.perf_counter() - start)
    flops = CNN_TRAIN_FLOPS
    if args.json:
        print(json.dumps(results))
        return
    print(f"PyTorch CNN train, torch {torch.__version__}, {args.torch_threads} threads; load {load0} -> "
          f"{common.load_average()}")
    print(rows_table(results, lambda name: flops))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("probe", choices=["cnn", "torch", "mlp", "transformer", "epochs",
                                            "first_batch", "pipelines"])
    parser.add_argument("--epochs", type=int, default=8, help="transformer: epochs")
    parser.add_argument("--who", action="append", help="transformer: keras-io, modelzoo, "
                        "modelzoo,batch=32 (repeatable)")
    parser.add_argument("--gc_off", action="store_true")
    parser.add_argument("--recipe_args", action="append", help="epochs: recipe flags")
    parser.add_argument("--data_dir", default=os.path.join(ROOT, "data", "real"))
    parser.add_argument("--examples", type=int, default=None, help="examples per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--variant", dest="variants", action="append",
                        help="e.g. 'batch=256,spe=20,bf16' (repeatable)")
    parser.add_argument("--mode", default="train", choices=["train", "forward", "grad", "data"])
    parser.add_argument("--torch_threads", type=int, default=2)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--with_torch", action="store_true",
                        help="cnn: after each TF round, one PyTorch round in a subprocess")
    parser.add_argument("--modes", action="append", help="mlp: modes to time")
    parser.add_argument("--torch_batches", type=lambda s: [int(b) for b in s.split(",")],
                        default=[64, 128, 256])
    args = parser.parse_args(argv)
    if args.examples is None:
        args.examples = {"cnn": 7680, "torch": 7680, "mlp": 256000}.get(args.probe)
    args.who = args.who or ["keras-io", "modelzoo", "modelzoo,batch=32"]
    return args


if __name__ == "__main__":
    ARGS = parse_args()
    {"cnn": probe_cnn, "torch": probe_torch, "mlp": probe_mlp,
     "transformer": probe_transformer, "epochs": probe_epochs,
     "first_batch": probe_first_batch, "pipelines": probe_pipelines}[ARGS.probe](ARGS)
