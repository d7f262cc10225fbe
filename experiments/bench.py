"""Benchmark: seed-steps per second of the vectorised runner against a plain per-seed ``model.fit``.

Every row trains the static NALU task (100 -> 2 -> 1 on U[1, 2], batch 128, Adam 1e-3) in this one
process, so the ratios compare like with like. The runner generates its data inside the graph every step;
``model.fit`` gets its data pre-generated as NumPy arrays, which favours it. Compile and tracing time is
excluded everywhere. Rows:

- per-seed ``model.fit`` of one NALU model (a * b);
- the runner, one cell (a * b), 100 seeds, each with its own data stream;
- the runner, all six operations of one unit stacked, 100 seeds each with its own stream: each seed's
  numbers are drawn once per step for the six cells (what ``make reproduce`` runs); the target applies here;
- the Philox draw alone for 100 independent seeds, the bound on any runner with one draw per seed and step;
- the recurrent NAC cell (2 hidden units, sequences of 10 steps), before and after: the former task design
  (vectors of 100 in U[0, 1], batch 64, one cell, each step's input projected separately) against the
  current one (vectors of 10 in U[1, 2], batch 128, all six operations stacked, every step's input
  projected in one matmul), and the current design without stacking and projecting, to show which change
  buys what. The recurrent target (>= 3x the former rate) applies to the current design's row.
- the recurrent experiment as configured (configs/recurrent_arithmetic.yaml: every unit's stack of six
  operations x its seeds, training length 10): its stacks trained with each step's update compiled by
  XLA, the recurrent projection split by time before it is laid out per member, as many at once as
  ``run`` trains here (one per core, in threads), against the former design: the same stacks uncompiled,
  the projection laid out whole, one after another (kept as this row). Its target is >= 3x the former
  design.
- the MNIST counting experiment as configured (configs/mnist_counting.yaml: 7 cores x their seeds, batch of
  length-10 sequences), its stacks as many at once as ``run`` trains them, against the former design (the
  3x3x8 CNN digit reader, 3 seeds, uncompiled update, one stack after another, kept as this row through
  --set overrides). Its target is >= 5x.
- the paper profile of configs/static_arithmetic_madsen.yaml projected: each stack it would form measured
  for a few steps beside the stacks it would train with, and one evaluation, times its steps and
  evaluations, laid out as the runner's threads take them (and one after another). Its target is 24 h or
  less.
- where one step of the long profile's 20-member NMU stack goes, uncompiled (before) and as configured
  (XLA): each part timed alone (draw, forward, forward and backward, the update, the loop's step,
  evaluation spread over its interval).

``make bench`` shares the cores as ``run`` does among the stacks it trains at once (on 2 cores: two stacks,
one TensorFlow thread per op), for every row, so each ratio compares two designs under the same settings.
"""

from __future__ import annotations

import os
import pathlib
import time

import numpy as np

POINT = {
    "input_size": 100,
    "subset_ratio": 0.25,
    "overlap_ratio": 0.5,
    "ranges": {"madsen": {"interpolation": [1.0, 2.0], "extrapolation": [2.0, 6.0]}},
    "range": "madsen",
    "validation_size": 1000,
    "test_size": 1000,
    "validation_seed": 1,
    "test_seed": 2,
    "success_epsilon": 1e-5,
    "epsilon": 1e-7,
    "op": "mul",
    "unit": "nalu",
    "initialization": "glorot",
}
RECURRENT_POINT = {
    "input_size": 10,
    "subset_ratio": 0.2,
    "overlap_ratio": 0.5,
    "value_range": [1.0, 2.0],
    "hidden_units": 2,
    "train_length": 10,
    "test_length": 20,
    "sweep_lengths": [1],
    "sweep_size": 8,
    "validation_size": 64,
    "test_size": 64,
    "validation_seed": 1,
    "test_seed": 2,
    "success_epsilon": 1e-5,
    "epsilon": 1e-7,
    "op": "add",
    "unit": "nac",
    "initialization": "glorot",
}
FORMER_RECURRENT_POINT = {
    **RECURRENT_POINT,
    "input_size": 100,
    "subset_ratio": 0.25,
    "value_range": [0.0, 1.0],
}
TARGET = 30  # the six-operation stack with independent streams, as a multiple of per-seed model.fit
RECURRENT_TARGET = 3  # the current recurrent design's step, as a multiple of the former design's
CONFIGS = pathlib.Path(__file__).resolve().parent.parent / "configs"
RECURRENT_CONFIG = CONFIGS / "recurrent_arithmetic.yaml"
MNIST_CONFIG = CONFIGS / "mnist_counting.yaml"
MADSEN_CONFIG = CONFIGS / "static_arithmetic_madsen.yaml"
PAPER_HOURS_TARGET = 24  # the projected paper profile of static_arithmetic_madsen, hours on this machine
MNIST_TARGET = 5  # the MNIST step as configured, as a multiple of the former design's
# The former MNIST design (until the exact-core protocol): the 3x3x8 CNN reader, 3 seeds, the update
# uncompiled, no R_z (the step's cost; its learning rate and selection do not change it).
FORMER_MNIST = (
    "seeds=3",
    "task.reader=cnn",
    "training.jit_compile=false",
    "units.nau.regularization_z=0",
)


def _timed_rate(trainer, steps):
    """Member-steps per second of ``trainer`` (see :func:`_step_seconds`)."""
    return len(trainer.members) / _step_seconds(trainer, steps)


def runner_rate(seeds, steps, data_stream, ops=("mul",), batch_size=128):
    """Seed-steps per second (one seed of one cell is one member) of the static task's NALU stack."""
    from experiments.tasks import static_arithmetic
    from experiments.trainer import MultiSeedTrainer, Training

    training = Training(
        steps=steps, batch_size=batch_size, learning_rate=1e-3, eval_every=steps, data_stream=data_stream
    )
    tasks = [static_arithmetic.build({**POINT, "op": op}) for op in ops]
    return _timed_rate(MultiSeedTrainer(tasks, range(seeds), training), steps)


def recurrent_rate(seeds, steps, point, batch_size, ops=("add",), project_at_once=True):
    """Seed-steps per second of the recurrent task's NAC cell (independent streams)."""
    from experiments.tasks import recurrent_arithmetic
    from experiments.trainer import MultiSeedTrainer, StackedModel, Training

    training = Training(steps=steps, batch_size=batch_size, learning_rate=1e-3, eval_every=steps)
    tasks = [recurrent_arithmetic.build({**point, "op": op}) for op in ops]
    StackedModel.project_at_once = project_at_once
    try:
        return _timed_rate(MultiSeedTrainer(tasks, range(seeds), training), steps)
    finally:
        StackedModel.project_at_once = True


def configured_stacks(config_path, profile="default", overrides=()):
    """The stacks a profile of a config forms, as the runner groups them: a list of resolved points per
    stack, and a function that builds one stack's trainer (``runner.stack_trainer``)."""
    from experiments import runner
    from experiments.config import load

    config = load(config_path, profile, list(overrides))
    points = config.points()
    stacks = [[config.resolve(points[i]) for i in group] for group in runner.config_stacks(config)]
    return stacks, lambda stack: runner.stack_trainer(stack)[1]


def _step_seconds(trainer, steps):
    """Seconds per training step of ``trainer`` (traced, compiled and warmed up first)."""
    import tensorflow as tf

    trainer._train(tf.constant(5, tf.int64))
    started = time.perf_counter()
    trainer._train(tf.constant(steps, tf.int64))
    return (time.perf_counter() - started) / steps


def side_by_side(trainers, steps, workers):
    """Train ``trainers`` for ``steps`` steps each, ``workers`` at once in threads as the runner's local
    executor trains stacks (each traced and warmed up first, one after another). Returns (wall seconds
    of the whole, each trainer's own seconds per step, timed in its thread)."""
    from concurrent.futures import ThreadPoolExecutor

    import tensorflow as tf

    for trainer in trainers:
        trainer._train(tf.constant(5, tf.int64))

    def timed(trainer):
        began = time.perf_counter()
        trainer._train(tf.constant(steps, tf.int64))
        return (time.perf_counter() - began) / steps

    started = time.perf_counter()
    with ThreadPoolExecutor(max(1, workers)) as pool:
        own = list(pool.map(timed, trainers))
    return time.perf_counter() - started, own


def configured_rate(config_path, steps, overrides=(), units=None, profile="default", workers=1):
    """Member-steps per second of training every stack of an experiment as configured (its grid, seeds,
    batch, training length and ``jit_compile``) for ``steps`` steps, ``workers`` stacks at once as the
    runner trains them (1: one after another); ``overrides`` are ``--set`` strings (to measure a former
    design). Returns (rate, members)."""
    stacks, build = configured_stacks(config_path, profile, overrides)
    trainers = [build(stack) for stack in stacks if units is None or stack[0]["task"]["unit"] in units]
    wall, _ = side_by_side(trainers, steps, workers)
    members = sum(len(trainer.members) for trainer in trainers)
    return members * steps / wall, members


def makespan(durations, workers):
    """The wall time of jobs of these durations run in order on ``workers`` lanes, each job starting on
    the first lane to come free (how the local executor's thread pool takes stacks)."""
    lanes = [0.0] * max(1, workers)
    for duration in durations:
        lane = lanes.index(min(lanes))
        lanes[lane] += duration
    return max(lanes)


def projected_hours(config_path, profile, steps=20, workers=1):
    """Hours a profile of a config would take here, trained as the runner trains it, ``workers`` stacks
    at once: per stack, ``training.steps`` times its step time (measured beside the stacks it would run
    with) plus one measured evaluation per ``eval_every`` steps; the stacks are then laid out on
    ``workers`` lanes in order. Returns (hours, stacks, members)."""
    stacks, build = configured_stacks(config_path, profile)
    durations, members = [], 0
    for first in range(0, len(stacks), max(1, workers)):
        trainers = [build(stack) for stack in stacks[first : first + max(1, workers)]]
        _, step_seconds = side_by_side(trainers, steps, workers)
        for trainer, step in zip(trainers, step_seconds):
            trainer._evaluate()  # trace
            started = time.perf_counter()
            trainer._evaluate()
            evaluation = time.perf_counter() - started
            training = trainer.training
            durations.append(training.steps * step + training.steps / training.eval_every * evaluation)
            members += len(trainer.members)
    return makespan(durations, workers) / 3600, len(stacks), members


def step_breakdown(config_path=None, profile="long", steps=200, overrides=()):
    """Milliseconds per training step of the NMU stack a profile forms (else its first stack; the long
    profile of static_arithmetic_madsen: the NMU on * and ^2, 10 seeds each, 20 members), split into what each part
    costs alone: the data draw, the forward pass, forward and backward, the whole update (with Adam and the
    clamps), the training loop's step (draw, update and loop), and one evaluation spread over
    ``eval_every`` steps. Returns (members, {part: ms})."""
    import tensorflow as tf

    stacks, build = configured_stacks(config_path or MADSEN_CONFIG, profile, overrides)
    stack = next((stack for stack in stacks if stack[0]["task"]["unit"] == "nmu"), stacks[0])
    trainer = build(stack)
    training = trainer.training
    update = trainer._compiled_update if training.jit_compile else trainer._update
    _, x, y = trainer._batch()

    def forward():
        return tf.reduce_sum(trainer.model(x))

    def backward():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(trainer.model(x) - y))
        return tf.add_n([tf.reduce_sum(g) for g in tape.gradient(loss, trainer.model.variables)])

    def looped(body):
        @tf.function
        def run(count):
            total = tf.constant(0.0)
            for _ in tf.range(count):
                total += tf.cast(tf.reduce_sum(body()), tf.float32)
            return total

        return run

    parts = {
        "data draw": looped(lambda: trainer._batch()[1][:, 0, 0]),
        "forward": looped(forward),
        "forward and backward": looped(backward),
        "draw and update (forward, backward, Adam, clamps)": looped(lambda: update(*trainer._batch())),
    }
    timings = {}
    for name, function in parts.items():
        function(tf.constant(5))
        started = time.perf_counter()
        function(tf.constant(steps))
        timings[name] = 1e3 * (time.perf_counter() - started) / steps
    timings["training loop step"] = 1e3 * _step_seconds(trainer, steps)
    trainer._evaluate()
    started = time.perf_counter()
    trainer._evaluate()
    timings[f"evaluation / {training.eval_every} steps"] = (
        1e3 * (time.perf_counter() - started) / training.eval_every
    )
    return len(trainer.members), timings


def configured_recurrent_rate(steps, jit_compile, profile="default", units=None, workers=1, former=False):
    """:func:`configured_rate` of configs/recurrent_arithmetic.yaml, with ``jit_compile`` set; ``former``:
    with the former layout of the recurrent projection (laid out per member whole, then split by time)."""
    from experiments.stacked import StackedModel

    overrides = [f"training.jit_compile={'true' if jit_compile else 'false'}"]
    StackedModel.split_time_first = not former
    try:
        return configured_rate(RECURRENT_CONFIG, steps, overrides, units, profile, workers)
    finally:
        StackedModel.split_time_first = True


def rng_rate(seeds, steps, shape=(128, 100)):
    """Seed-steps per second of the independent per-seed Philox draw alone (nothing trains)."""
    import tensorflow as tf

    from experiments.trainer import make_draw

    @tf.function
    def draw_only(count):
        total = tf.zeros([])
        for step in tf.range(count, dtype=tf.int64):
            total += tf.reduce_sum(
                make_draw(list(range(seeds)), step, "independent", 0)(shape, 1.0, 2.0)[:, 0, 0]
            )
        return total

    draw_only(tf.constant(2, tf.int64))
    started = time.perf_counter()
    draw_only(tf.constant(steps, tf.int64))
    return seeds * steps / (time.perf_counter() - started)


def fit_rate(steps, repeats=2):
    import keras

    import nalu_tf
    from experiments.tasks import static_arithmetic

    rng = np.random.default_rng(0)
    x = rng.uniform(1, 2, size=(steps * 128, 100)).astype("float32")
    y = static_arithmetic.reference(x, POINT).astype("float32")
    rates = []
    for seed in range(repeats):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((100,)), nalu_tf.NALU(2), nalu_tf.NALU(1)])
        model.compile(keras.optimizers.Adam(1e-3), "mse")
        model.fit(x[:1280], y[:1280], batch_size=128, epochs=1, verbose=0)  # compile and warm up
        started = time.perf_counter()
        model.fit(x, y, batch_size=128, epochs=1, verbose=0, shuffle=False)
        rates.append(steps / (time.perf_counter() - started))
    return float(np.median(rates))


def main(seeds=100, steps=500, workers=None):
    """Print every row; ``workers``: the stacks trained at once (default: as ``run --stacks auto``)."""
    from experiments.tasks import static_arithmetic

    fit = fit_rate(steps * 2)
    rows = [
        ("per-seed model.fit (1 seed, NALU a*b)", fit),
        (f"runner, 1 cell x {seeds} seeds, independent streams", runner_rate(seeds, steps, "independent")),
        (
            f"runner, 6 ops x {seeds} seeds stacked, independent",
            runner_rate(seeds, steps, "independent", tuple(static_arithmetic.OPERATIONS)),
        ),
        (f"Philox draw alone, {seeds} seeds (bound per cell; x6 stacked)", rng_rate(seeds, steps)),
    ]
    operations = tuple(static_arithmetic.OPERATIONS)
    recurrent = [
        (
            f"recurrent NAC, former design, 1 cell x {seeds} seeds",
            recurrent_rate(seeds, steps // 5, FORMER_RECURRENT_POINT, 64, project_at_once=False),
        ),
        (
            "recurrent NAC, current design, 1 cell, step by step",
            recurrent_rate(seeds, steps // 5, RECURRENT_POINT, 128, project_at_once=False),
        ),
        (
            f"recurrent NAC, current design, 6 ops x {seeds} seeds",
            recurrent_rate(seeds, steps // 5, RECURRENT_POINT, 128, operations),
        ),
    ]
    rows += recurrent
    for label, rate in rows:
        print(f"{label:52s} {rate:10,.0f} seed-steps/s   ratio {rate / fit:6.1f}x")
    stacked = rows[2][1] / fit
    print(
        f"target: the stacked six-operation row >= {TARGET}x per-seed model.fit: {stacked:.1f}x, "
        f"{'met' if stacked >= TARGET else 'NOT met'} (measured in this run, same process)"
    )
    gain = recurrent[2][1] / recurrent[0][1]
    print(
        f"target: the current recurrent row >= {RECURRENT_TARGET}x the former design's: {gain:.1f}x, "
        f"{'met' if gain >= RECURRENT_TARGET else 'NOT met'} (the projection alone: "
        f"{recurrent_rate(seeds, steps // 5, RECURRENT_POINT, 128) / recurrent[1][1]:.2f}x on one cell)"
    )
    workers = workers or stack_workers()
    threads = f"{os.environ.get('TF_NUM_INTRAOP_THREADS', 'all')} TensorFlow thread(s) per op"
    former, members = configured_recurrent_rate(steps // 2, jit_compile=False, former=True)
    compiled, _ = configured_recurrent_rate(steps // 2, jit_compile=True, former=True)
    split, _ = configured_recurrent_rate(steps // 2, jit_compile=True)
    current, _ = configured_recurrent_rate(steps // 2, jit_compile=True, workers=workers)
    print(
        f"recurrent_arithmetic, former design: {members} members (36 cells x 8 seeds), training length 10, "
        f"one stack after another, uncompiled: {former:,.0f} member-steps/s; compiled: {compiled:,.0f}; "
        f"compiled, the projection split by time first: {split:,.0f}"
    )
    print(
        f"recurrent_arithmetic as configured: compiled, {workers} stacks at once as `run` trains them here "
        f"({threads}): {current:,.0f} member-steps/s against {former:,.0f}, "
        f"{current / former:.1f}x the former design"
    )
    print(
        f"target: >= {RECURRENT_TARGET}x the former design: "
        f"{'met' if current / former >= RECURRENT_TARGET else 'NOT met'} (measured in this run, same process)"
    )
    former, former_members = configured_rate(MNIST_CONFIG, steps // 5, FORMER_MNIST)
    current, members = configured_rate(MNIST_CONFIG, steps // 5, workers=workers)
    print(f"mnist_counting, former design: {former_members} members, {former:,.0f} member-steps/s")
    print(
        f"mnist_counting as configured: {members} members (7 cores x 5 seeds), batch 16 of length 10, "
        f"{workers} stacks at once: {current:,.0f} member-steps/s against {former:,.0f}, "
        f"{current / former:.1f}x the former design"
    )
    print(
        f"target: >= {MNIST_TARGET}x the former design: "
        f"{'met' if current / former >= MNIST_TARGET else 'NOT met'} (measured in this run, same process)"
    )
    alone, _, _ = projected_hours(MADSEN_CONFIG, "paper", steps=100)
    hours, stacks, members = projected_hours(MADSEN_CONFIG, "paper", steps=100, workers=workers)
    print(f"static_arithmetic_madsen paper profile, one stack after another: {alone:.1f} h")
    print(
        f"static_arithmetic_madsen paper profile, projected on this machine: {stacks} stacks, {members:,} "
        f"members, 5e6 steps each, evaluation every 1,000 steps included, {workers} stacks at once "
        f"({threads}): {hours:.1f} h"
    )
    print(f"target: <= {PAPER_HOURS_TARGET} h: {'met' if hours <= PAPER_HOURS_TARGET else 'NOT met'}")
    for label, overrides in (("uncompiled (before)", ["training.jit_compile=false"]), ("as configured", [])):
        members, timings = step_breakdown(overrides=overrides)
        print(
            f"static_arithmetic_madsen long profile, one step of its {members}-member NMU stack, {label}, ms: "
            + "; ".join(f"{name} {value:.3f}" for name, value in timings.items())
        )


def stack_workers():
    """Stacks the runner trains at once in this process (``run --stacks auto``)."""
    from experiments import parallel

    return parallel.stack_workers("auto", 1 << 30)
