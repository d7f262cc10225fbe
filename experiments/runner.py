"""Run a validated config: every grid point is one independent unit of work, resumable and atomic.

A grid point's result (one CSV row per seed) is written to ``points/<hash>.csv`` where the hash covers
the point's whole resolved config; a rerun skips points whose file exists. ``runs.csv`` is then assembled
from the current config's points, and the report step turns it into tables and figures.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import sys
import time

import pandas as pd

from experiments.config import Config, digest, experiment_module
from experiments.config import point_hash as hash_of_point
from experiments.engine import Training
from experiments.files import write_atomic, write_csv
from experiments.points import damaged_point, labelled, point_columns, point_result
from experiments.provenance import Progress, environment, git_commit, resumed_provenance
from experiments.unit_options import point_settings


def run_point(resolved, progress=None):
    """Train every seed of one grid point. Pure in ``resolved``; returns a :class:`PointResult`."""
    return run_stack([resolved], progress)[0]


def stack_trainer(stack):
    """The tasks of the grid points in ``stack`` and the one trainer of all their seeds: a
    ``MultiSeedTrainer`` when they differ only on the experiment's ``STACK_AXES`` (one model), else a
    ``SeedMajorStack`` of one such trainer per model (points that differ on ``SEED_MAJOR_AXES`` too, each
    model with its own training settings, on one draw per seed and step). The tasks are in the order of
    the trainers' members."""
    from experiments.engine import MultiSeedTrainer, SeedMajorStack  # loads TensorFlow: only once work starts

    module = experiment_module(stack[0]["experiment"])
    if any(resolved["seeds"] != stack[0]["seeds"] for resolved in stack):
        raise ValueError("grid points of one stack must share their seeds")
    tasks, trainers = [], []
    for positions in model_groups(stack):
        first = stack[positions[0]]
        model_tasks = [module.build(stack[position]["task"]) for position in positions]
        tasks += model_tasks
        trainers.append(
            MultiSeedTrainer(
                model_tasks, first["seeds"], Training(**first["training"]), point_settings(first)
            )
        )
    return tasks, trainers[0] if len(trainers) == 1 else SeedMajorStack(trainers)


def model_groups(stack):
    """The positions in ``stack`` (resolved grid points) of each model's points: those equal but on the
    experiment's ``STACK_AXES``, in order of first appearance. The trainers' members follow this order."""
    stack_axes = getattr(experiment_module(stack[0]["experiment"]), "STACK_AXES", ())
    models = {}
    for position, resolved in enumerate(stack):
        shared = {**resolved, "task": {k: v for k, v in resolved["task"].items() if k not in stack_axes}}
        models.setdefault(json.dumps(shared, sort_keys=True), []).append(position)
    return list(models.values())


def run_stack(stack, progress=None, checkpoint=None):
    """Train every seed of every grid point in ``stack`` (see :func:`stack_trainer`) together: each seed's
    data is drawn once per step for all of them. Pure in ``stack``; returns one :class:`PointResult` per
    point, in the stack's order, as if each had been trained alone. With a
    ``checkpoint`` path the stack saves its state there every few minutes and resumes from it."""
    tasks, trainer = stack_trainer(stack)
    results = trainer.run(progress, checkpoint)
    results = results if isinstance(results, list) else [results]
    count = len(stack[0]["seeds"])
    cells = [
        result.member_slice(slice(c * count, (c + 1) * count))
        for result in results
        for c in range(len(result.metrics["seed"]) // count)
    ]
    for cell in cells:  # each point's share of the stack's time
        cell.metrics["wall_time_s"] = cell.metrics["wall_time_s"] / len(tasks)
    positions = [position for group in model_groups(stack) for position in group]
    ordered = [None] * len(stack)
    for position, task, cell in zip(positions, tasks, cells):
        ordered[position] = point_result(task, cell)
    return ordered


def _run_work(work, progress=None):
    """One unit of work as the executors hand it over: (stack, checkpoint path or None)."""
    stack, checkpoint = work
    return run_stack(stack, progress, checkpoint)


def stack_points(points, pending, stack_axes):
    """Group the ``pending`` point indices into stacks: points equal on every axis but ``stack_axes``
    train together (see :func:`run_stack`). Finished points are never retrained with their stack."""
    stacks = {}
    for index in pending:
        key = json.dumps(
            {axis: value for axis, value in points[index].items() if axis not in stack_axes}, sort_keys=True
        )
        stacks.setdefault(key, []).append(index)
    return list(stacks.values())


def config_stacks(config: Config, pending=None, seed_major=True, lanes=1):
    """The stacks of a config's grid points (all of them, or the ``pending`` indices), as lists of point
    indices: :func:`stack_points` along the experiment's ``STACK_AXES`` (one model per stack). Unless
    ``seed_major`` is False (as ``make bench`` measures the design before seed-major stacks), the stacks
    that differ only on its ``SEED_MAJOR_AXES`` then train as one, dealt round-robin into at most
    ``lanes`` stacks (one per stack trained at once: a stack's step runs on one core, and each stack
    draws the seeds' numbers once per step for all its models).

    The deal is over every grid point and only then narrowed to the pending ones, so a resumed run forms
    the stacks it formed before (with the same ``lanes``) and finds their checkpoints."""
    points = config.points()
    pending = range(len(points)) if pending is None else pending
    stack_axes = getattr(config.module, "STACK_AXES", ())
    seed_major_axes = getattr(config.module, "SEED_MAJOR_AXES", ()) if seed_major else ()
    if not seed_major_axes:
        return stack_points(points, pending, stack_axes)
    groups = {}
    for stack in stack_points(points, range(len(points)), stack_axes):
        shared = {k: v for k, v in points[stack[0]].items() if k not in (*stack_axes, *seed_major_axes)}
        groups.setdefault(json.dumps(shared, sort_keys=True), []).append(stack)
    joined, wanted = [], set(pending)
    for models in groups.values():
        parts = min(max(1, lanes), len(models))
        for part in range(parts):
            stack = [i for model in models[part::parts] for i in model if i in wanted]
            joined += [stack] if stack else []
    return joined


def results_directory(config: Config, results_root="results"):
    """The folder a config's results go to."""
    return pathlib.Path(results_root) / config.name


def point_damage(config: Config, out):
    """Per grid point of ``config``, in order, what keeps its result in the results folder ``out`` from
    being complete (:func:`~experiments.points.damaged_point`: None when complete, "missing" when it never
    finished): the one check by which a run skips a point and a dry run calls it complete."""
    trace = getattr(experiment_module(config.experiment), "RECORDS_TRACE", False)
    return [
        damaged_point(pathlib.Path(out) / "points", hash_of_point(config.resolve(point)), config.seeds, trace)
        for point in config.points()
    ]


def run(config: Config, results_root="results", log=None, executor=None):
    """Run every missing grid point of ``config``, then write runs.csv and provenance.json.

    ``executor`` decides where points run (``experiments.executors``; local by default). A point's
    files are written as soon as it finishes; runs.csv and provenance.json only once every point is
    complete, so a failed or interrupted run never leaves a partial table.
    """
    from experiments.executors import LocalExecutor, PointFailed, RunFailed

    log = log or sys.stderr
    executor = executor or LocalExecutor()
    out = results_directory(config, results_root)
    points = config.points()
    resolved = [config.resolve(point) for point in points]
    hashes = [hash_of_point(item) for item in resolved]
    pending = []
    for index, (point_hash, damage) in enumerate(zip(hashes, point_damage(config, out))):
        if damage is None:
            continue
        if damage != "missing":
            log.write(f"{out / 'points' / point_hash}.csv: {damage}; rerunning {json.dumps(points[index])}\n")
        pending.append(index)
    log.write(
        f"{config.name}: {len(points)} grid points x {len(config.seeds)} seeds, profile {config.profile}, "
        f"{type(executor).__name__}; {len(points) - len(pending)} already complete, {len(pending)} to run\n"
    )
    started = time.perf_counter()
    commit = git_commit()  # at the start: the code that runs, even if the checkout moves meanwhile
    seed_steps = len(config.seeds) * config.training.steps
    progress = Progress(len(pending) * seed_steps, config.name, log)
    # Stacks trained here are dealt into one per thread; elsewhere (Ray) each model is a task of its own.
    lanes = executor.workers if isinstance(executor, LocalExecutor) else len(points)
    stacks = config_stacks(config, pending, lanes=lanes)
    checkpoints = [
        out / "points" / f"{digest([hashes[i] for i in stack])}.checkpoint.npz" for stack in stacks
    ]
    local = isinstance(
        executor, LocalExecutor
    )  # a stack on this machine saves its state in the results folder
    items = [
        (k, ([resolved[i] for i in stack], checkpoints[k] if local else None), len(stack) * seed_steps)
        for k, stack in enumerate(stacks)
    ]
    failed = []
    for k, outcome in executor.map(_run_work, items, progress):
        if isinstance(outcome, PointFailed):
            for index in stacks[k]:
                failed.append(points[index])
                progress.note(f"  FAILED {json.dumps(points[index])}: {outcome}")
            continue
        for index, result in zip(stacks[k], outcome):
            rows = result.rows
            labels = {"experiment": config.name, **point_columns(config, points[index]), "git_commit": commit}
            # Written first: a point counts as complete once its runs file exists.
            write_csv(
                out / "points" / f"{hashes[index]}.history.csv", labelled(result.history, points[index])
            )
            for kind, frame in (("curve", result.curve), ("trace", result.trace)):
                if frame is not None:
                    write_csv(out / "points" / f"{hashes[index]}.{kind}.csv", labelled(frame, points[index]))
            write_csv(out / "points" / f"{hashes[index]}.csv", labelled(rows, labels))
            solved = (
                f"{int(rows['success'].sum())}/{len(rows)} solved, "
                if rows["success_threshold"].notna().any()
                else ""
            )
            progress.note(
                f"  done {json.dumps(points[index])}: {solved}{int(rows['diverged'].sum())}/{len(rows)} diverged"
            )
        checkpoints[k].unlink(missing_ok=True)  # every point of the stack is written: its state is not needed
    if failed:
        raise RunFailed(
            f"{config.name}: {len(failed)} of {len(points)} grid points failed "
            f"({'; '.join(json.dumps(p) for p in failed)}); finished points are kept, rerun to retry the rest"
        )
    runs = pd.concat([pd.read_csv(out / "points" / f"{h}.csv") for h in hashes], ignore_index=True)
    write_csv(out / "runs.csv", runs)
    for orphan in (out / "points").glob("*.checkpoint.npz"):  # of stacks formed otherwise (other --stacks)
        orphan.unlink(missing_ok=True)  # every point is complete: no state is needed
    for kind, target in (("curve", "curves.csv"), ("trace", "traces.csv"), ("history", "history.csv")):
        parts = [out / "points" / f"{h}.{kind}.csv" for h in hashes]
        if any(path.exists() for path in parts):
            write_csv(
                out / target, pd.concat([pd.read_csv(p) for p in parts if p.exists()], ignore_index=True)
            )
    wall = time.perf_counter() - started
    provenance = {
        "config_hash": config.hash(),
        "config": config.as_dict(),
        "git_commit": commit,
        "git_commits_of_points": sorted(set(runs["git_commit"].astype(str))),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_time_s": round(wall, 1),
        "points_run": len(pending),
        "points_resumed": len(points) - len(pending),
        "environment": environment(),
    }
    if "dataset" in runs:  # tasks that record the data they used (MNIST or its labelled substitute)
        provenance["datasets"] = sorted(set(runs["dataset"].astype(str)))
    if not pending:
        provenance = resumed_provenance(out / "provenance.json", provenance)
        if provenance is None:
            return (
                out,
                wall,
            )  # nothing ran and nothing the report reads changed: the record stays, byte for byte
    write_atomic(out / "provenance.json", json.dumps(provenance, indent=2) + "\n")
    return out, wall
