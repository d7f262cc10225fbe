"""Benchmark: seed-steps per second of the vectorised runner against a plain per-seed ``model.fit``
(``make bench``). The measuring is in ``experiments.timing``; this module chooses the rows and prints them.

Every row trains the static NALU task (100 -> 2 -> 1 on U[1, 2], batch 128, Adam 1e-3) in this one
process, so the ratios compare like with like. The runner generates its data inside the graph every step;
``model.fit`` gets its data pre-generated as NumPy arrays, which favours it. Compile and tracing time is
excluded everywhere. Rows:

- per-seed ``model.fit`` of one NALU model (a * b);
- the runner, one cell (a * b), 100 seeds, each with its own data stream;
- the runner, all six operations of one unit stacked, 100 seeds each with its own stream: each seed's
  numbers are drawn once per step for the six cells (what ``make reproduce`` runs); the target applies here;
- the Philox draw alone for 100 independent seeds, the bound on any runner with one draw per seed and step;
- the recurrent NAC cell (2 hidden units, sequences of 10 steps): the former task design (vectors of 100
  in U[0, 1], batch 64, one cell) against the current one (vectors of 10 in U[1, 2], batch 128), one cell
  and all six operations stacked. The recurrent target (>= 3x the former rate) applies to the stacked row.
  Two former designs of the engine itself are no longer built (each step's input projected separately;
  the projection laid out per member before it is split by time): configs/recurrent_arithmetic.yaml's
  header records what they measured when they were replaced.
- the recurrent experiment as configured (configs/recurrent_arithmetic.yaml: every unit's stack of six
  operations x its seeds, training length 10): its stacks trained with each step's update compiled by
  XLA, as many at once as ``run`` trains here (one per core, in threads), against the same stacks
  uncompiled, one after another. Its target is >= 3x.
- the MNIST counting experiment as configured (configs/mnist_counting.yaml: 7 cores x their seeds, batch of
  length-10 sequences), its stacks as many at once as ``run`` trains them, against the former design (the
  3x3x8 CNN digit reader, 3 seeds, uncompiled update, one stack after another, kept as this row through
  --set overrides). Its target is >= 5x.
- the static experiments as configured (static_arithmetic, static_arithmetic_madsen and
  single_module_benchmark): seed-major stacks (every unit of a table on one draw per seed and step, dealt
  into one stack per lane) against one model per stack (the design before them), each trained as ``run``
  trains it.
- the paper profile of configs/static_arithmetic_madsen.yaml projected: each stack it would form measured
  for a few steps beside the stacks it would train with, and one evaluation, times its steps and
  evaluations, laid out as the runner's threads take them; seed-major and one model per stack. Its target
  is 24 h or less.
- where one step of each unit's 600-member stack of that paper profile goes (the data, the first layer's
  forward and backward pass, the whole model's with its loss, the update on a fixed batch as configured,
  the loop's step), and the core time per step its updates and one draw per lane take together, against
  what the 24 h target leaves: the bound on any layout of these stacks' steps.
- the grid world as configured (configs/grid_world.yaml: four agents x 8 seeds, each stepping 32
  environments through a whole training rollout per step): environment-steps per second.
- where one step of the long profile's 20-member NMU stack goes, uncompiled (before) and as configured
  (XLA): each part timed alone (draw, forward, forward and backward, the update, the loop's step,
  evaluation spread over its interval).

``make bench`` shares the cores as ``run`` does among the stacks it trains at once (on 2 cores: two stacks,
one TensorFlow thread per op), for every row, so each ratio compares two designs under the same settings.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np

from experiments import timing

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
GRID_CONFIG = CONFIGS / "grid_world.yaml"
STATIC_CONFIG = CONFIGS / "static_arithmetic.yaml"
SINGLE_CONFIG = CONFIGS / "single_module_benchmark.yaml"
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


def uncompiled(config_path, profile):
    """``--set`` strings that turn XLA off for every unit of a profile's grid (over its units' own
    ``jit_compile``, which the config declares): the design before per-unit compilation."""
    from experiments.config import load

    units = dict.fromkeys(point["unit"] for point in load(config_path, profile, []).points())
    return ["training.jit_compile=false", *(f"units.{unit}.jit_compile=false" for unit in units)]


def runner_rate(seeds, steps, data_stream, ops=("mul",), batch_size=128):
    """Seed-steps per second (one seed of one cell is one member) of the static task's NALU stack."""
    from experiments.tasks import static_arithmetic

    return timing.task_rate(static_arithmetic, POINT, ops, seeds, steps, batch_size, data_stream)


def recurrent_rate(seeds, steps, point, batch_size, ops=("add",)):
    """Seed-steps per second of the recurrent task's NAC cell (independent streams)."""
    from experiments.tasks import recurrent_arithmetic

    return timing.task_rate(recurrent_arithmetic, point, ops, seeds, steps, batch_size)


def configured_recurrent_rate(steps, jit_compile, profile="default", units=None, workers=1):
    """:func:`timing.configured_rate` of configs/recurrent_arithmetic.yaml, with ``jit_compile`` set."""
    overrides = [f"training.jit_compile={'true' if jit_compile else 'false'}"]
    return timing.configured_rate(RECURRENT_CONFIG, steps, overrides, units, profile, workers)


def main(seeds=100, steps=500, workers=None):
    """Print every row; ``workers``: the stacks trained at once (default: as ``run --stacks auto``)."""
    from experiments.tasks import static_arithmetic

    fit = timing.fit_rate(POINT, steps * 2)
    operations = tuple(static_arithmetic.OPERATIONS)
    rows = [
        ("per-seed model.fit (1 seed, NALU a*b)", fit),
        (f"runner, 1 cell x {seeds} seeds, independent streams", runner_rate(seeds, steps, "independent")),
        (
            f"runner, 6 ops x {seeds} seeds stacked, independent",
            runner_rate(seeds, steps, "independent", operations),
        ),
        (f"Philox draw alone, {seeds} seeds (bound per cell; x6 stacked)", timing.rng_rate(seeds, steps)),
    ]
    recurrent = [
        (
            f"recurrent NAC, former task design, 1 cell x {seeds} seeds",
            recurrent_rate(seeds, steps // 5, FORMER_RECURRENT_POINT, 64),
        ),
        ("recurrent NAC, current design, 1 cell", recurrent_rate(seeds, steps // 5, RECURRENT_POINT, 128)),
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
        f"target: the current recurrent row >= {RECURRENT_TARGET}x the former task design's: {gain:.1f}x, "
        f"{'met' if gain >= RECURRENT_TARGET else 'NOT met'} (the former engine designs: "
        "configs/recurrent_arithmetic.yaml's header)"
    )
    workers = workers or stack_workers()
    threads = f"{os.environ.get('TF_NUM_INTRAOP_THREADS', 'all')} TensorFlow thread(s) per op"
    former, members = configured_recurrent_rate(steps // 2, jit_compile=False)
    compiled, _ = configured_recurrent_rate(steps // 2, jit_compile=True)
    current, _ = configured_recurrent_rate(steps // 2, jit_compile=True, workers=workers)
    print(
        f"recurrent_arithmetic uncompiled: {members} members (36 cells x 8 seeds), training length 10, "
        f"one stack after another: {former:,.0f} member-steps/s; compiled: {compiled:,.0f}"
    )
    print(
        f"recurrent_arithmetic as configured: compiled, {workers} stacks at once as `run` trains them here "
        f"({threads}): {current:,.0f} member-steps/s against {former:,.0f}, {current / former:.1f}x"
    )
    print(
        f"target: >= {RECURRENT_TARGET}x uncompiled one after another: "
        f"{'met' if current / former >= RECURRENT_TARGET else 'NOT met'} (measured in this run, same process)"
    )
    former, former_members = timing.configured_rate(MNIST_CONFIG, steps // 5, FORMER_MNIST)
    current, members = timing.configured_rate(MNIST_CONFIG, steps // 5, workers=workers)
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
    rate, members, horizon = timing.agent_rate(GRID_CONFIG, steps // 5, workers=workers)
    print(
        f"grid_world as configured: {members} agents (4 kinds x 8 seeds), 32 environments each, rollouts of "
        f"{horizon} steps, {workers} stacks at once: {rate:,.0f} environment-steps/s in training"
    )
    for path in (STATIC_CONFIG, MADSEN_CONFIG, SINGLE_CONFIG):
        former, members = timing.configured_rate(path, steps // 5, workers=workers, seed_major=False)
        current, _ = timing.configured_rate(path, steps // 5, workers=workers)
        print(
            f"{path.stem} as configured: {members} members, {workers} stacks at once: seed-major stacks "
            f"{current:,.0f} member-steps/s against one model per stack {former:,.0f}, {current / former:.2f}x"
        )
    former, stacks, _ = timing.projected_hours(
        MADSEN_CONFIG,
        "paper",
        steps=100,
        workers=workers,
        seed_major=False,
        overrides=uncompiled(MADSEN_CONFIG, "paper"),
    )
    print(
        f"static_arithmetic_madsen paper profile, one model per stack, uncompiled ({stacks} stacks, before): "
        f"{former:.1f} h"
    )
    hours, stacks, members = timing.projected_hours(MADSEN_CONFIG, "paper", steps=100, workers=workers)
    print(
        f"static_arithmetic_madsen paper profile, projected on this machine: {stacks} seed-major stacks, "
        f"{members:,} members, 5e6 steps each, evaluation every 1,000 steps included, {workers} stacks at "
        f"once ({threads}): {hours:.1f} h ({former / hours:.2f}x the uncompiled stack per model)"
    )
    print(f"target: <= {PAPER_HOURS_TARGET} h: {'met' if hours <= PAPER_HOURS_TARGET else 'NOT met'}")
    paper_step_bound(workers, steps // 10)
    for label, overrides in (("uncompiled (before)", ["training.jit_compile=false"]), ("as configured", [])):
        members, timings = timing.step_breakdown(MADSEN_CONFIG, overrides=overrides)
        print(
            f"static_arithmetic_madsen long profile, one step of its {members}-member NMU stack, {label}, ms: "
            + "; ".join(f"{name} {value:.3f}" for name, value in timings.items())
        )


def paper_step_bound(workers, steps):
    """Print where one step of each unit's stack of the paper profile goes, and the core time per step
    that its updates and draws alone take against what the 24 h target leaves on ``workers`` cores."""
    from experiments.config import load

    rows = timing.unit_breakdown(MADSEN_CONFIG, "paper", steps=max(steps, 5))
    for unit, members, parts in rows:
        print(
            f"static_arithmetic_madsen paper profile, one step of its {members}-member {unit} stack, ms: "
            + "; ".join(f"{name} {value:.2f}" for name, value in parts.items())
        )
    config = load(MADSEN_CONFIG, "paper", [])
    training_steps = config.training_for(config.points()[0]).steps
    allowed = PAPER_HOURS_TARGET * 3600e3 / training_steps * workers
    draws = workers * float(np.median([parts["data"] for _, _, parts in rows]))
    updates = sum(parts["update"] for _, _, parts in rows)
    print(
        f"static_arithmetic_madsen paper profile, core time per step: the {len(rows)} units' updates on a "
        f"fixed batch {updates:.1f} ms and one draw per lane ({workers}) {draws:.1f} ms, {updates + draws:.1f} "
        f"ms in all, against {allowed:.1f} ms that {PAPER_HOURS_TARGET} h leaves on {workers} core(s) "
        "(no loop, evaluation or waiting counted)"
    )


def stack_workers():
    """Stacks the runner trains at once in this process (``run --stacks auto``)."""
    from experiments import parallel

    return parallel.stack_workers("auto", 1 << 30)
