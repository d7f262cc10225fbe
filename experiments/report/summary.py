"""Statistics of an experiment's runs: medians and quartiles over seeds, success rates with Wilson
intervals and solved fractions, from the result files alone (the findings' verdicts: ``verdicts``).

Diverged seeds stay in every statistic: their non-finite errors count as +inf (so a median or a mean
shows them) and they count as failures in the success rate.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from experiments.report.verdicts import wilson_interval
from experiments.results import grid_axes


METRICS = (
    "interpolation_mse",
    "extrapolation_mse",
    "interpolation_mae",
    "extrapolation_mae",
    "interpolation_score",
    "extrapolation_score",
    "training_mse",
    "training_mae",
    "reader_accuracy",
)


def quantile(values, q):
    """The q-quantile of ``values`` (finite or +inf), interpolated linearly as ``np.quantile`` does, but
    +inf where it would interpolate towards an infinite value (``np.quantile`` gives NaN between two)."""
    ordered = np.sort(np.asarray(values, dtype=float))
    position = q * (len(ordered) - 1)
    low, high = int(math.floor(position)), int(math.ceil(position))
    fraction = position - low
    if fraction == 0:
        return float(ordered[low])
    if np.isinf(ordered[high]):
        return math.inf
    return float(ordered[low] + (ordered[high] - ordered[low]) * fraction)


def summarise(runs: pd.DataFrame, axes):
    """One row per grid point: spread of every metric, success rate with its Wilson interval."""
    rows = []
    for key, group in runs.groupby(list(axes), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(axes, key))
        row["seeds"] = len(group)
        row["diverged"] = int(group["diverged"].sum())
        for metric in METRICS:
            if metric not in group:
                continue
            values = group[metric].to_numpy(dtype=float)
            values = np.where(np.isfinite(values), values, np.inf)
            row[f"{metric}_median"] = float(np.median(values))
            row[f"{metric}_mean"] = float(np.mean(values))
            row[f"{metric}_q25"] = quantile(values, 0.25)
            row[f"{metric}_q75"] = quantile(values, 0.75)
        success = group["success"].astype(bool)
        successes = int(success.sum())
        low, high = wilson_interval(successes, len(group))
        row.update(
            success_count=successes, success_rate=successes / len(group), success_low=low, success_high=high
        )
        # As Madsen & Johansen report them: solved-at step and sparsity error over the solved seeds only.
        row["met_count"] = int(group["solved_at"].notna().sum())  # met the criterion at some evaluation
        solved = group.loc[success, "solved_at"].dropna()
        row["solved_at_median"] = float(solved.median()) if len(solved) else math.nan
        row["sparsity_error_solved_mean"] = (
            float(group.loc[success, "sparsity_error"].mean()) if successes else math.nan
        )
        row["sparsity_error_median"] = float(group["sparsity_error"].median())
        if "recurrent_eigenvalue_1" in group and group["recurrent_eigenvalue_1"].notna().any():
            # how far the kept recurrence is from carrying a sum exactly (NaN: a non-finite weight, as +inf)
            distance = np.abs(group["recurrent_eigenvalue_1"].to_numpy(dtype=float) - 1.0)
            distance = np.where(np.isfinite(distance), distance, np.inf)
            row["eigenvalue_distance_median"] = float(np.median(distance))
            row["eigenvalue_distance_max"] = float(np.max(distance))
            if "recurrent_eigenvalue_2" in group:
                row["recurrent_eigenvalue_2_median"] = float(group["recurrent_eigenvalue_2"].median())
        if "recurrent_weight_error" in group and group["recurrent_weight_error"].notna().any():
            # the kept hidden-to-hidden block's distance from the exact one (NaN: a non-finite weight, +inf)
            error = group["recurrent_weight_error"].to_numpy(dtype=float)
            error = np.where(np.isfinite(error), error, np.inf)
            row["recurrent_weight_error_median"] = float(np.median(error))
            row["recurrent_weight_error_max"] = float(np.max(error))
        rows.append(row)
    return pd.DataFrame(rows)


def layout(config):
    """(rows axis, columns axis, remaining axes) of a config's tables: one block per remaining value."""
    report = config.get("report", {})
    axes = grid_axes(config)
    rows = report.get("rows", axes[0])
    columns = report.get("columns", axes[1] if len(axes) > 1 else axes[0])
    return rows, columns, [axis for axis in axes if axis not in (rows, columns)]


def dataset_of(runs):
    """The dataset named in the rows (tasks that record one), else None."""
    if "dataset" not in runs:
        return None
    return ", ".join(str(name) for name in dict.fromkeys(runs["dataset"].dropna()))


def solved_fractions(history, runs, axes):
    """Per cell and evaluation step, the fraction of seeds whose extrapolation MSE has been under the
    cell's success threshold at some evaluation up to that step (the solved-at curve), from history.csv."""
    thresholds = (
        runs.groupby(list(axes), sort=False)["success_threshold"].first().rename("threshold").reset_index()
    )
    merged = history.merge(thresholds, on=list(axes))
    merged["under"] = merged["extrapolation_mse"] < merged["threshold"]  # NaN (diverged) never counts
    merged = merged.sort_values([*axes, "seed", "step"], kind="stable")
    merged["solved"] = merged.groupby([*axes, "seed"], sort=False)["under"].cummax()
    return merged.groupby([*axes, "step"], sort=False)["solved"].mean().rename("fraction").reset_index()
