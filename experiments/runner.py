"""Run a validated config: every grid point is one independent unit of work, resumable and atomic.

A grid point's result (one CSV row per seed) is written to ``points/<hash>.csv`` where the hash covers
the point's whole resolved config; a rerun skips points whose file exists. ``runs.csv`` is then assembled
from the current config's points, and the report step turns it into tables and figures.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import pathlib
import sys
import time

import numpy as np
import pandas as pd

from experiments.provenance import (  # noqa: F401 (RUN_RECORD and Progress re-exported)
    RUN_RECORD,
    Progress,
    _resumed_provenance,
    environment,
    git_commit,
)
from experiments.config import Config, digest, experiment_module
from experiments.config import point_hash as hash_of_point
from experiments.files import write_atomic, write_csv
from experiments.engine import Training
from experiments.unit_options import point_settings


def normalised_score(mse, initial_mse):
    """100 x MSE / (median over seeds of the randomly initialised models' MSE on the same data)."""
    baseline = np.median(np.where(np.isfinite(initial_mse), initial_mse, np.inf))
    return 100.0 * mse / baseline


@dataclasses.dataclass
class PointResult:
    """What one grid point produced: ``rows``, one per seed; ``history``, one row per seed and evaluation
    (step, interpolation and extrapolation MSE and sparsity error of the model at that step); ``curve``,
    the selected models' errors along a probe set or a sweep summarised across seeds, or None."""

    rows: pd.DataFrame
    history: pd.DataFrame
    curve: pd.DataFrame | None = None


def run_point(resolved, progress=None):
    """Train every seed of one grid point. Pure in ``resolved``; returns a :class:`PointResult`."""
    return run_stack([resolved], progress)[0]


def stack_trainer(stack):
    """The tasks of the grid points in ``stack`` (resolved configs that differ only on the experiment's
    stack axes) and the one trainer of all their seeds."""
    from experiments.engine import MultiSeedTrainer  # loads TensorFlow: only once work starts

    first = stack[0]
    if any(
        resolved["training"] != first["training"] or resolved["seeds"] != first["seeds"] for resolved in stack
    ):
        raise ValueError("grid points of one stack must share their training settings and seeds")
    module = experiment_module(first["experiment"])
    tasks = [module.build(resolved["task"]) for resolved in stack]
    return tasks, MultiSeedTrainer(
        tasks, first["seeds"], Training(**first["training"]), point_settings(first)
    )


def run_stack(stack, progress=None, checkpoint=None):
    """Train every seed of every grid point in ``stack`` (see :func:`stack_trainer`) together: each seed's
    data is drawn once per step for all of them. Pure in ``stack``; returns one :class:`PointResult` per
    point, as if each had been trained alone. With a ``checkpoint`` path the stack saves its state there
    every few minutes and resumes from it."""
    tasks, trainer = stack_trainer(stack)
    first = stack[0]
    result = trainer.run(progress, checkpoint)
    result.metrics["wall_time_s"] = result.metrics["wall_time_s"] / len(
        tasks
    )  # each point's share of the stack's time
    count = len(first["seeds"])
    return [
        _point_result(task, result.member_slice(slice(c * count, (c + 1) * count)))
        for c, task in enumerate(tasks)
    ]


def _run_work(work, progress=None):
    """One unit of work as the executors hand it over: (stack, checkpoint path or None)."""
    stack, checkpoint = work
    return run_stack(stack, progress, checkpoint)


def _point_result(task, result):
    """The rows, history and curve of one grid point (one cell of a trained stack)."""
    metrics = result.metrics
    rows = pd.DataFrame(metrics)
    history = pd.concat(
        [
            pd.DataFrame(
                {
                    "seed": metrics["seed"],
                    "step": evaluation["step"],
                    **{key: value for key, value in evaluation.items() if key != "step"},
                }
            )
            for evaluation in result.history
        ],
        ignore_index=True,
    ).sort_values(["seed", "step"], kind="stable", ignore_index=True)
    for prefix in ("interpolation", "extrapolation"):
        rows[f"{prefix}_score"] = normalised_score(rows[f"{prefix}_mse"], rows[f"{prefix}_mse_init"])
    rows["success_threshold"] = task.success_threshold
    for column, value in task.labels.items():
        rows[column] = value
    rows["solved_at"] = rows["solved_at"].where(rows["solved_at"] >= 0)  # never solved: empty
    curve = None
    if result.probe_predictions is not None:  # error at each probe input
        x, y = task.probe
        at = x[:, 0] if task.probe_x is None else task.probe_x
        curve = error_curve(at, np.abs(result.probe_predictions - y[None]).mean(axis=-1))
    elif result.sweep:  # error on each set of the sweep
        values = [errors.value for errors in result.sweep]
        curve = error_curve(values, np.stack([errors.mae for errors in result.sweep], axis=1))
        if task.accuracy:  # exact-match accuracy on each set, per seed in the rows and spread in the curve
            accuracy = np.stack([errors.accuracy for errors in result.sweep], axis=1)
            curve["accuracy_mean"] = accuracy.mean(axis=0)
            curve["accuracy_min"] = accuracy.min(axis=0)
            curve["accuracy_max"] = accuracy.max(axis=0)
            for errors in result.sweep:
                rows[f"accuracy_at_{errors.value}"] = errors.accuracy
                rows[f"mae_at_{errors.value}"] = errors.mae
    return PointResult(rows, history, curve)


def error_curve(x, errors):
    """Spread across seeds of absolute errors ``errors`` (seeds, points) at each of the points ``x``."""
    errors = np.where(np.isfinite(errors), errors, np.inf)  # diverged seeds stay in, as +inf
    return pd.DataFrame(
        {
            "x": x,
            "mae_mean": errors.mean(axis=0),
            "mae_median": np.median(errors, axis=0),
            "mae_q25": np.quantile(errors, 0.25, axis=0),
            "mae_q75": np.quantile(errors, 0.75, axis=0),
        }
    )


def point_columns(config: Config, point):
    """Config values written into every row: grid axes first, then scalar task settings."""
    values = {axis: _cell(value) for axis, value in point.items()}
    for key, value in config.task.items():
        if key not in values and not isinstance(value, (dict, list)):
            values[key] = value
    if "range" in point and isinstance(config.task.get("ranges"), dict):
        chosen = config.task["ranges"][point["range"]]
        values["interpolation_range"] = _cell(chosen["interpolation"])
        values["extrapolation_range"] = _cell(chosen["extrapolation"])
    training = config.training_for(point)
    values.update(
        steps=training.steps,
        batch_size=training.batch_size,
        learning_rate=training.learning_rate,
        data_stream=training.data_stream,
        profile=config.profile,
    )
    return values


def _labelled(frame, labels):
    """``frame`` with one leading column per label."""
    for column, value in reversed(list(labels.items())):
        frame.insert(0, column, _cell(value))
    return frame


def _cell(value):
    return json.dumps(value) if isinstance(value, (list, dict)) else value


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


def config_stacks(config: Config, pending=None):
    """The stacks of a config's grid points (all of them, or the ``pending`` indices), as lists of point
    indices: :func:`stack_points` along the experiment's ``STACK_AXES``."""
    points = config.points()
    pending = range(len(points)) if pending is None else pending
    return stack_points(points, pending, getattr(config.module, "STACK_AXES", ()))


REQUIRED_POINT_COLUMNS = ("seed", "success", "diverged", "interpolation_mse", "extrapolation_mse")


def damaged_point(points_directory, point_hash, seeds):
    """Why a grid point's files cannot be reused: "missing" (never finished), a description of the
    damage (a truncated, emptied or unreadable file, rows that do not match the point's seeds), or None
    when its runs file holds exactly one row per seed and its history covers the same seeds."""
    rows_path = pathlib.Path(points_directory) / f"{point_hash}.csv"
    if not rows_path.exists():
        return "missing"
    expected = sorted(int(seed) for seed in seeds)
    checks = (
        (rows_path, REQUIRED_POINT_COLUMNS, True),
        (rows_path.with_suffix(".history.csv"), ("seed", "step"), False),
    )
    for path, columns, one_per_seed in checks:
        try:
            frame = pd.read_csv(path)
        except FileNotFoundError:
            return f"damaged ({path.name} is missing)"
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
            return f"damaged ({path.name} cannot be read: {str(error).splitlines()[0]})"
        absent = [column for column in columns if column not in frame]
        if absent:
            return f"damaged ({path.name} lacks the columns {', '.join(absent)})"
        seeds_found = [int(seed) for seed in frame["seed"]]
        found = sorted(seeds_found if one_per_seed else set(seeds_found))
        if found != expected:
            wanted = "one row per seed" if one_per_seed else "rows of the seeds"
            return f"damaged ({path.name} holds {len(frame)} rows for seeds {_seed_span(found)}, expected {wanted} {_seed_span(expected)})"
    return None


def _seed_span(seeds):
    return f"{seeds[0]}-{seeds[-1]} ({len(seeds)})" if seeds else "none"


def results_directory(config: Config, results_root="results"):
    """The folder a config's results go to."""
    return pathlib.Path(results_root) / config.name


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
    for index, point_hash in enumerate(hashes):
        damage = damaged_point(out / "points", point_hash, config.seeds)
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
    stacks = config_stacks(config, pending)
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
                out / "points" / f"{hashes[index]}.history.csv", _labelled(result.history, points[index])
            )
            if result.curve is not None:
                write_csv(
                    out / "points" / f"{hashes[index]}.curve.csv", _labelled(result.curve, points[index])
                )
            write_csv(out / "points" / f"{hashes[index]}.csv", _labelled(rows, labels))
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
    for kind, target in (("curve", "curves.csv"), ("history", "history.csv")):
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
        provenance = _resumed_provenance(out / "provenance.json", provenance)
        if provenance is None:
            return (
                out,
                wall,
            )  # nothing ran and nothing the report reads changed: the record stays, byte for byte
    write_atomic(out / "provenance.json", json.dumps(provenance, indent=2) + "\n")
    return out, wall
