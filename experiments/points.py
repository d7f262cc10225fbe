"""A grid point's results: its rows (one per seed), history and curve from its slice of a trained stack,
the constant columns written into every row, and the check that a finished point's files can be reused.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import numpy as np
import pandas as pd

from experiments.config import Config


def normalised_score(mse, initial_mse):
    """100 x MSE / (median over seeds of the randomly initialised models' MSE on the same data)."""
    baseline = np.median(np.where(np.isfinite(initial_mse), initial_mse, np.inf))
    return 100.0 * mse / baseline


@dataclasses.dataclass
class PointResult:
    """What one grid point produced: ``rows``, one per seed; ``history``, one row per seed and evaluation
    (step, interpolation and extrapolation MSE and sparsity error of the model at that step); ``curve``,
    the selected models' errors along a probe set or a sweep summarised across seeds, or None;
    ``trace``, the selected models' output after every step of the task's trace sequences, or None."""

    rows: pd.DataFrame
    history: pd.DataFrame
    curve: pd.DataFrame | None = None
    trace: pd.DataFrame | None = None


def point_result(task, result):
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
        for name in result.sweep[0].extra:  # a learner's further measures: per seed, and their spread
            measured = np.stack([errors.extra[name] for errors in result.sweep], axis=1)
            curve[f"{name}_median"] = np.median(measured, axis=0)
            curve[f"{name}_q25"] = np.quantile(measured, 0.25, axis=0)
            curve[f"{name}_q75"] = np.quantile(measured, 0.75, axis=0)
            for errors in result.sweep:
                rows[f"{name}_at_{errors.value}"] = errors.extra[name]
    trace = None
    if result.trace_predictions is not None:
        trace = trace_frame(task.trace, metrics["seed"], result.trace_predictions)
    return PointResult(rows, history, curve, trace)


def trace_frame(trace, seeds, predictions):
    """One row per seed, trace sequence and step that has a target (padding left out), seed by seed and the
    sequences in the trace's order: ``name`` (the sequence's), ``step`` (1 for its first target),
    ``target`` and ``prediction`` (the first output's)."""
    frames = []
    for member, seed in enumerate(seeds):
        for row, name in enumerate(trace.names):
            targets = trace.y[row, :, 0]
            steps = np.flatnonzero(np.isfinite(targets))
            frames.append(
                pd.DataFrame(
                    {
                        "seed": int(seed),
                        "name": name,
                        "step": np.arange(1, len(steps) + 1),
                        "target": targets[steps],
                        "prediction": predictions[member, row, steps, 0],
                    }
                )
            )
    return pd.concat(frames, ignore_index=True).sort_values("seed", kind="stable", ignore_index=True)


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


def labelled(frame, labels):
    """``frame`` with one leading column per label."""
    for column, value in reversed(list(labels.items())):
        frame.insert(0, column, _cell(value))
    return frame


def _cell(value):
    return json.dumps(value) if isinstance(value, (list, dict)) else value


REQUIRED_POINT_COLUMNS = ("seed", "success", "diverged", "interpolation_mse", "extrapolation_mse")


def damaged_point(points_directory, point_hash, seeds, trace=False):
    """Why a grid point's files cannot be reused: "missing" (never finished), a description of the
    damage (a truncated, emptied or unreadable file, rows that do not match the point's seeds), or None
    when its runs file holds exactly one row per seed and its history covers the same seeds (and, for a
    task that records a ``trace``, so does its trace file: a point finished before it did is rerun)."""
    rows_path = pathlib.Path(points_directory) / f"{point_hash}.csv"
    if not rows_path.exists():
        return "missing"
    expected = sorted(int(seed) for seed in seeds)
    checks = (
        (rows_path, REQUIRED_POINT_COLUMNS, True),
        (rows_path.with_suffix(".history.csv"), ("seed", "step"), False),
        *([(rows_path.with_suffix(".trace.csv"), ("seed", "name", "step"), False)] if trace else []),
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
