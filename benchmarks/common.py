"""Framework-free helpers: the clock, sizes, machine facts, recipe defaults.

Nothing here imports TensorFlow or PyTorch, so the PyTorch worker can use it
without paying for (or competing with) TensorFlow's thread pools.
"""

import dataclasses
import datetime
import os
import platform
import statistics
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The accuracy each image recipe is timed to (issue #6): the Fashion-MNIST
# equivalents of the recipes' published MNIST accuracies (MLP ~98 %, CNN ~99 %).
MLP_TARGET = 0.88
CNN_TARGET = 0.91
# The held-out loss (nats/char) nanoGPT's CPU run on Tiny Shakespeare reaches
# (its README: "validation loss 1.88"); the gpt section times both GPTs to it
# and reads their losses at these training times (issue #14).
GPT_TARGET_LOSS = 1.88
GPT_LOSS_AT_S = (100, 300)
# The separate `gpt_long` section (not in `make bench`'s default sections: it
# costs ~20 minutes for 3 rounds) trains past the target and reads these.
GPT_LONG_LOSS_AT_S = (100, 300, 600)


@dataclasses.dataclass
class Scale:
    """How big each measurement is; `FULL` by default, `TINY` for --tiny.

    None for an example cap means the whole split.
    """

    max_train_examples: int | None = None
    max_eval_examples: int | None = None
    # Overrides the recipes' --epochs (None keeps the recipe default).
    recipe_epochs: int | None = None
    baseline_mlp_epochs: int = 5
    torch_max_epochs: int = 15
    # CNN runs stop at the target accuracy (both contenders) to save time.
    cnn_stop_at_target: bool = True
    roofline_repeats: int = 30
    text_examples: int = 4096
    # The Transformer's throughput needs a few steady epochs, not six: the
    # median epoch after the first of 4 is as stable and saves ~1/3 a round.
    transformer_epochs: int = 4
    text_epochs: int = 6
    lstm_examples: int = 16384
    generation_chars: int = 200
    generation_long_chars: int = 2000
    # One call of each generator per round: the rounds give the spread.
    generation_repeats: int = 1
    serving_warmup: int = 200
    serving_calls: int = 1000
    serving_batch: int = 256
    serving_batch_calls: int = 30
    # The gpt section: training seconds per contender, and between held-out
    # evaluations (taken off the clock).
    # The `gpt` section stops each contender at the target loss (the budget
    # is only a cap) and scores a fixed, evenly spread subset of the held-out
    # windows; `gpt_long` trains for its whole budget on all of them.
    gpt_budget_s: float = 300.0
    gpt_eval_every_s: float = 5.0
    gpt_heldout_windows: int | None = 256
    gpt_long_budget_s: float = 600.0


FULL = Scale()
TINY = Scale(
    max_train_examples=512,
    max_eval_examples=256,
    recipe_epochs=2,
    baseline_mlp_epochs=2,
    torch_max_epochs=2,
    cnn_stop_at_target=False,
    roofline_repeats=3,
    text_examples=128,
    transformer_epochs=2,
    text_epochs=2,
    lstm_examples=512,
    generation_chars=20,
    generation_long_chars=40,
    generation_repeats=1,
    serving_warmup=5,
    serving_calls=20,
    serving_batch=32,
    serving_batch_calls=3,
    gpt_budget_s=3.0,
    gpt_eval_every_s=1.0,
    gpt_heldout_windows=32,
    gpt_long_budget_s=4.0,
)


def gpt_mode(scale, long=False):
    """What the `gpt` (time to target) or `gpt_long` (loss at 600 s) section runs.

    Returns a dict: `budget_s`, `stop_at_target`, `loss_at_s` and
    `heldout_windows` (None: every window).
    """
    if long:
        return {"budget_s": scale.gpt_long_budget_s, "stop_at_target": False,
                "loss_at_s": GPT_LONG_LOSS_AT_S, "heldout_windows": None}
    return {"budget_s": scale.gpt_budget_s, "stop_at_target": True, "loss_at_s": (),
            "heldout_windows": scale.gpt_heldout_windows}


def spread(values):
    """`{"median", "min", "max", "n"}` of the numbers in `values` (None skipped), or None.

    What every ratio of `make bench` is reported as, over its paired rounds.
    """
    numbers = [v for v in values if v is not None]
    if not numbers:
        return None
    return {"median": statistics.median(numbers), "min": min(numbers), "max": max(numbers),
            "n": len(numbers)}


def median_index(values):
    """The index of the (lower) median of `values` (None skipped), or None.

    Picks the round whose notes stand beside a median in the table.
    """
    ranked = sorted((v, i) for i, v in enumerate(values) if v is not None)
    return ranked[(len(ranked) - 1) // 2][1] if ranked else None


class AccuracyClock:
    """A training wall clock that stops while the test set is evaluated.

    `start()` just before training; `epoch_begin()` / `epoch_end(evaluate)`
    around each epoch. `epoch_end` reads the clock before calling
    `evaluate()` and adds the evaluation's own time to `excluded_seconds`,
    so `curve` holds (training seconds, test accuracy) points that count
    only training (including its graph tracing and input pipeline).
    """

    def __init__(self, target=None):
        self.target = target
        self.curve = []
        self.epoch_seconds = []
        self.excluded_seconds = 0.0
        # Per epoch: this process's CPU seconds (all threads) and the seconds
        # its threads spent runnable but waiting for a core (other processes
        # had it): what tells a slow epoch's cause apart, host or code.
        self.epoch_cpu_seconds = []
        self.epoch_wait_seconds = []
        self._t0 = None
        self._epoch_t0 = None
        self._epoch_cpu0 = None
        self._epoch_wait0 = None

    def start(self):
        self._t0 = time.perf_counter()
        self.excluded_seconds = 0.0

    def epoch_begin(self):
        self._epoch_cpu0 = time.process_time()
        self._epoch_wait0 = run_queue_wait_seconds()
        self._epoch_t0 = time.perf_counter()
        if self._t0 is None:
            self.start()

    def epoch_end(self, evaluate=None):
        """Closes an epoch; returns the test accuracy (or None)."""
        now = time.perf_counter()
        self.epoch_seconds.append(now - self._epoch_t0)
        self.epoch_cpu_seconds.append(time.process_time() - self._epoch_cpu0)
        wait = run_queue_wait_seconds()
        self.epoch_wait_seconds.append(
            None if wait is None or self._epoch_wait0 is None else wait - self._epoch_wait0)
        train_seconds = now - self._t0 - self.excluded_seconds
        accuracy = None
        if evaluate is not None:
            accuracy = float(evaluate())
            self.excluded_seconds += time.perf_counter() - now
        self.curve.append(
            {"epoch": len(self.epoch_seconds), "train_seconds": round(train_seconds, 4),
             "accuracy": None if accuracy is None else round(accuracy, 5)}
        )
        return accuracy

    def reached(self):
        return self.target is not None and bool(self.curve) and (
            self.curve[-1]["accuracy"] is not None and self.curve[-1]["accuracy"] >= self.target
        )

    def time_to_target(self):
        """Training seconds at the first epoch end at or above the target."""
        return time_to_accuracy(self.curve, self.target)

    def train_seconds(self):
        return self.curve[-1]["train_seconds"] if self.curve else None

    def summary(self, examples_per_epoch):
        """The JSON-able record of a timed training run."""
        return {
            "curve": self.curve,
            "epoch_seconds": [round(s, 4) for s in self.epoch_seconds],
            "epoch_cpu_seconds": [round(s, 4) for s in self.epoch_cpu_seconds],
            "epoch_run_queue_wait_seconds": [None if s is None else round(s, 4)
                                             for s in self.epoch_wait_seconds],
            "epochs_run": len(self.epoch_seconds),
            "examples_per_epoch": examples_per_epoch,
            "examples_per_s": steady_rate(examples_per_epoch, self.epoch_seconds),
            "examples_per_s_median": steady_rate(examples_per_epoch, self.epoch_seconds,
                                                 statistics.median),
            "train_seconds": self.train_seconds(),
            "target_accuracy": self.target,
            "time_to_target_s": self.time_to_target() if self.target is not None else None,
            "final_accuracy": self.curve[-1]["accuracy"] if self.curve else None,
        }


class LossClock:
    """A training clock with a time budget and held-out loss checks off the clock.

    The trainer calls `step_end(steps, evaluate)` after every step (or
    every call into the graph of `steps` steps). Whenever the training time
    has passed the next multiple of `eval_every_s` (or the budget), the
    clock is read, `evaluate()` runs and its own time is excluded from
    training time; the point `(train_seconds, steps, chars, loss)` goes on
    the curve. `done()` says when `budget_s` training seconds are spent.
    The characters stepped through between two checks give the segment
    rates behind `chars_per_s` (the fastest segment after the first, which
    pays for tracing) and its median.
    """

    def __init__(self, budget_s, eval_every_s, chars_per_step, target=GPT_TARGET_LOSS,
                 loss_at_s=GPT_LOSS_AT_S, baton=None, stop_at_target=False):
        if not eval_every_s > 0:
            raise ValueError(f"eval_every_s must be > 0; received {eval_every_s!r}")
        self.baton = baton
        # Time to target needs nothing after the first check at the target:
        # stopping there saves most of a paired round's wall time.
        self.stop_at_target = stop_at_target
        self.budget_s = budget_s
        self.eval_every_s = eval_every_s
        self.chars_per_step = chars_per_step
        self.target = target
        self.loss_at_s = tuple(loss_at_s)
        self.curve = []
        self.segments = []
        self.steps = 0
        self.excluded_seconds = 0.0
        self._t0 = None

    def start(self):
        if self.baton:
            self.baton.start()
        self._t0 = time.perf_counter()
        self.excluded_seconds = 0.0
        self._next_check = self.eval_every_s
        self._last = (0.0, 0)  # training seconds and steps at the last check

    def train_seconds(self):
        return time.perf_counter() - self._t0 - self.excluded_seconds

    def reached(self):
        return bool(self.curve) and self.curve[-1]["loss"] <= self.target

    def done(self):
        if self.stop_at_target and self.reached():
            return True
        return self.train_seconds() >= self.budget_s

    def step_end(self, steps, evaluate):
        """Counts `steps` more steps; evaluates if a check is due. Returns the point or None."""
        self.steps += steps
        seconds = self.train_seconds()
        if seconds >= self._next_check or seconds >= self.budget_s:
            return self._check(seconds, evaluate)
        return None

    def finish(self, evaluate):
        """A last check when steps ran since the previous one (training ended early).

        Also hands the machine to the other contender for good.
        """
        point = None
        if self._t0 is not None and self.steps != self._last[1]:
            point = self._check(self.train_seconds(), evaluate, last=True)
        if self.baton:
            self.baton.finish()
        return point

    def _check(self, seconds, evaluate, last=False):
        now = time.perf_counter()
        last_seconds, last_steps = self._last
        if seconds > last_seconds:
            self.segments.append(((self.steps - last_steps) * self.chars_per_step,
                                  seconds - last_seconds))
        loss = float(evaluate())
        stopping = self.stop_at_target and loss <= self.target
        if self.baton and not last and seconds < self.budget_s and not stopping:
            # The other contender trains its slice; this clock is stopped.
            self.baton.pass_on()
        self.excluded_seconds += time.perf_counter() - now
        point = {"train_seconds": round(seconds, 3), "steps": self.steps,
                 "chars": self.steps * self.chars_per_step, "loss": round(loss, 5),
                 "load_1min": (load_average() or [None])[0]}
        self.curve.append(point)
        self._last = (seconds, self.steps)
        while self._next_check <= seconds:
            self._next_check += self.eval_every_s
        return point

    def summary(self):
        rates = [chars / s for chars, s in self.segments if s > 0]
        steady = rates[1:] or rates
        return {
            "curve": self.curve,
            "budget_s": self.budget_s,
            "eval_every_s": self.eval_every_s,
            "stop_at_target": self.stop_at_target,
            "train_seconds": self.curve[-1]["train_seconds"] if self.curve else None,
            "steps": self.steps,
            "chars_per_step": self.chars_per_step,
            "chars_per_s": round(max(steady), 1) if steady else None,
            "chars_per_s_median": round(statistics.median(steady), 1) if steady else None,
            "target_loss": self.target,
            "time_to_target_s": time_to_loss(self.curve, self.target),
            # Load-independent: the characters stepped through by then.
            "chars_to_target": next((p["chars"] for p in self.curve
                                     if p["loss"] <= self.target), None),
            # A mark past a shorter budget is left empty.
            "loss_at": {str(s): loss_at(self.curve, s) if s <= self.budget_s else None
                        for s in self.loss_at_s},
            "final_loss": self.curve[-1]["loss"] if self.curve else None,
            "best_loss": min(p["loss"] for p in self.curve) if self.curve else None,
        }


class Baton:
    """Takes turns on the machine between two contenders in two processes.

    The machines here are shared: another user's job can slow every
    process down several times for a minute. Two contenders trained one
    after the other would then see different machines. With a baton, they
    train in alternate slices (one `LossClock` check interval each, 5 s by
    default) while the other waits with its clock stopped, so a slow minute
    hits both alike. The turn is a file in `folder`; a contender that
    finishes (or dies, as `other_alive()` tells) leaves the machine to the
    other for good.

    Args:
        folder: str. A folder both processes can write.
        me, other: str. The two contenders' names.
        first: str. Who trains the first slice.
        other_alive: callable or None. False once the other process is gone.
    """

    def __init__(self, folder, me, other, first, other_alive=None, poll_s=0.005):
        self.folder = folder
        self.me, self.other, self.first = me, other, first
        self.other_alive = other_alive or (lambda: True)
        self.poll_s = poll_s

    def _path(self, name):
        return os.path.join(self.folder, name)

    def _write(self, name, text=""):
        tmp = self._path(f".{name}.{self.me}.tmp")
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self._path(name))

    def _turn(self):
        try:
            with open(self._path("turn")) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def _other_gone(self):
        return os.path.exists(self._path(f"done_{self.other}")) or not self.other_alive()

    def _wait_for(self, condition):
        while not condition() and not self._other_gone():
            time.sleep(self.poll_s)

    def start(self):
        """Waits until both are ready, then for this one's first turn."""
        self._write(f"ready_{self.me}")
        self._wait_for(lambda: os.path.exists(self._path(f"ready_{self.other}")))
        if self.me != self.first:
            self._write("turn", self.first)
        self._wait_for(lambda: self._turn() == self.me)

    def pass_on(self):
        """Lets the other train one slice; returns when it is this one's turn again."""
        self._write("turn", self.other)
        self._wait_for(lambda: self._turn() == self.me)

    def finish(self):
        self._write(f"done_{self.me}")
        self._write("turn", self.other)


def first_at_target(curve, target):
    """The first point of `curve` whose accuracy is at or above `target`, else None."""
    return next((p for p in curve if p["accuracy"] is not None and p["accuracy"] >= target), None)


def time_to_accuracy(curve, target):
    """Training seconds of the first point whose accuracy is at or above `target`, else None."""
    point = first_at_target(curve, target)
    return point and point["train_seconds"]


def time_to_loss(curve, target):
    """Training seconds of the first point whose loss is at or below `target`, else None."""
    return next((p["train_seconds"] for p in curve if p["loss"] <= target), None)


def loss_at(curve, seconds):
    """The held-out loss after `seconds` of training.

    The loss of the first check at or after `seconds` (checks run as soon as
    a step ends past each mark, so it is at most one step or graph call
    late); if training ended earlier, its last loss, which then no longer
    changes. None for an empty curve.
    """
    if not curve:
        return None
    return next((p["loss"] for p in curve if p["train_seconds"] >= seconds), curve[-1]["loss"])


def steady_rate(units_per_epoch, epoch_seconds, pick=min):
    """Units per second over the fastest (`pick=min`) epoch after the first.

    The first epoch pays for graph tracing and filling caches; it is used
    only when it is the only one. The fastest epoch is the estimate least
    touched by the host: on the shared 2-core machines here whole epochs
    run up to 2x slower at random (seen in every contender, TF and
    PyTorch), which a median of a few epochs does not filter out. The
    median is reported beside it.
    """
    times = list(epoch_seconds[1:] or epoch_seconds)
    if not times or not units_per_epoch:
        return None
    return round(units_per_epoch / pick(times), 2)


def run_queue_wait_seconds(pid="self"):
    """Seconds the threads of a process spent runnable but not running.

    The sum over `/proc/<pid>/task/*/schedstat` of the second field (ns
    waiting on a run queue): time the kernel gave a core to someone else
    while this process had work. None where schedstat is not available.
    Threads that have exited are no longer counted, so take differences
    over spans in which the thread pools live (epochs).
    """
    root = f"/proc/{pid}/task"
    try:
        tasks = os.listdir(root)
    except OSError:
        return None
    total = 0
    for task in tasks:
        try:
            with open(f"{root}/{task}/schedstat") as f:
                total += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def percentile(values, q):
    """The q-th percentile (0-100) of `values`, linear interpolation."""
    values = sorted(values)
    if not values:
        return None
    pos = (len(values) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (pos - low)


def load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags():
    """The SIMD features that bound the matmul roofline (avx2, avx512f, ...)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")
                    return [flag for flag in wanted if flag in have]
    except OSError:
        pass
    return []


def versions():
    """Installed versions of the libraries the benchmark touches."""
    from modelzoo.export.model_card import software_versions

    return software_versions(("tensorflow", "keras", "tensorflow-datasets", "numpy", "torch",
                              "matplotlib", "modelzoo"))


def machine_info():
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags(),
        "platform": platform.platform(),
        "versions": versions(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def recipe_settings(name, args=(), data_kwargs=()):
    """A recipe's config, parsed from `args` by its own flag layer, and its model.

    Returns:
        `(settings, model_name, model_kwargs)`: `settings` has every config
        field as an attribute (`settings.epochs`) and the config itself as
        `settings.config`; `model_kwargs` are the builder arguments the
        config sets, plus the data fields named in `data_kwargs` (e.g. a
        GPT's `sequence_length`).
    """
    import types

    from absl import flags

    from modelzoo import configs
    from modelzoo.recipe.flags import config_from_flags, define_flags

    config = configs.get_config(name)
    flag_values = flags.FlagValues()
    define_flags(config, flag_values)
    flag_values([name, *args])
    config = config_from_flags(config, flag_values)
    settings = types.SimpleNamespace(**config.flat(), config=config)
    model_kwargs = config.model.builder_kwargs()
    model_kwargs.update({k: getattr(config.data, k) for k in data_kwargs})
    return settings, config.model.registered_name, model_kwargs


def flag_dict(flag_values, names):
    return {name: getattr(flag_values, name) for name in names}


# --- text ---


def encode(text, vocabulary):
    """Ids of `text`'s characters in `vocabulary` (0 for a character it lacks)."""
    ids = {c: i for i, c in enumerate(vocabulary)}
    return np.array([ids.get(c, 0) for c in text], "int32")


def heldout_windows_lm(ids, length):
    """Every non-overlapping `length`-char window of `ids` and its next-char targets.

    Returns `(x, y)`, int32 `[windows, length]`, with `y` = `x` shifted by
    one character: window i covers `ids[i*length : i*length + length + 1]`.
    """
    count = (len(ids) - 1) // length
    x = np.stack([ids[i * length : i * length + length] for i in range(count)])
    y = np.stack([ids[i * length + 1 : i * length + length + 1] for i in range(count)])
    return x.astype("int32"), y.astype("int32")


def spread_subset(x, y, count):
    """`count` of the windows `(x, y)`, evenly spread over the split (all if None or fewer).

    A fixed subset scored at every check: a 256-window score costs ~1/3 of
    the 871 windows' and moves the same way (both contenders see the same
    windows, so only their comparison matters).
    """
    if count is None or count >= len(x):
        return x, y
    index = np.linspace(0, len(x) - 1, count).round().astype(int)
    return x[index], y[index]


# --- text chunks -------------------------------------------------------------


def text_chunks(text, count, chunk_chars):
    """`count` windows of `chunk_chars` characters, evenly spread over `text`.

    They overlap when the text is shorter than `count * chunk_chars`. The
    label of chunk i is `i % 2`: deterministic and meaningless, since only
    throughput is measured on them.
    """
    chunk_chars = min(chunk_chars, len(text))
    span = max(len(text) - chunk_chars, 0)
    starts = [round(i * span / max(count - 1, 1)) for i in range(count)]
    return [text[s : s + chunk_chars] for s in starts], [i % 2 for i in range(count)]
