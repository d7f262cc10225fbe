"""The figure of a model's output part way through its sequences, from traces.csv: for one seed per
model (the one with the lowest validation MAE: never chosen on test data), its output after each step of
a few sequences against what the sequence names so far (number words: "seven" 7, "seven hundred" 700,
"seven hundred seventy" 770, "seven hundred seventy seven" 777)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.report.figure_parts import grid_order, legend_outside, pyplot, save
from experiments.report.summary import layout


def best_seeds(runs, axis):
    """Per value of ``axis``, (seed, its validation MAE) of the seed with the lowest finite validation MAE
    (``interpolation_mae``; the lowest seed among ties); a value whose every seed diverged is left out."""
    chosen = {}
    for value, block in runs.groupby(axis, sort=False):
        finite = block[np.isfinite(block["interpolation_mae"].astype(float))]
        if finite.empty:
            continue
        row = finite.sort_values(["interpolation_mae", "seed"], kind="stable").iloc[0]
        chosen[value] = (int(row["seed"]), float(row["interpolation_mae"]))
    return chosen


def best_seed_traces(traces, runs, axis):
    """The rows of ``traces`` of each ``axis`` value's best seed (:func:`best_seeds`), with a column
    ``validation_mae``."""
    parts = []
    for value, (seed, mae) in best_seeds(runs, axis).items():
        part = traces[(traces[axis] == value) & (traces["seed"] == seed)]
        parts.append(part.assign(validation_mae=mae))
    return pd.concat(parts, ignore_index=True) if parts else traces.iloc[:0]


def trace_figure(traces, runs, provenance, path):
    """One panel per model (the config's ``rows`` axis), its best seed's output after each step of every
    trace sequence (a line per sequence, on a symmetric log scale) and, as crosses, the target after that
    step; ``traces`` None (runs from before traces.csv existed): a figure that says so. Returns the figure."""
    plt = pyplot()
    config = provenance["config"]
    if traces is None:  # results from before the trace was recorded: say so rather than draw nothing
        figure_, panel = plt.subplots(figsize=(6.0, 1.6))
        panel.axis("off")
        panel.text(
            0.5, 0.5, "no traces.csv in this results folder: rerun the config to record it", ha="center"
        )
        return save(figure_, path)
    axis, _, _ = layout(config)
    chosen = best_seed_traces(traces, runs, axis)
    models = grid_order(config, axis, chosen[axis]) if len(chosen) else []
    count = max(1, len(models))
    figure_, axes = plt.subplots(
        1, count, figsize=(4.6 * count, 4.4), squeeze=False, sharey=True, layout="constrained"
    )
    names = list(dict.fromkeys(chosen["name"])) if len(chosen) else []
    colour = {name: f"C{index % 10}" for index, name in enumerate(names)}
    for panel, model in zip(axes.flat, models):
        block = chosen[chosen[axis] == model]
        for name in names:
            line = block[block["name"] == name].sort_values("step")
            panel.plot(line["step"], line["prediction"], "o-", color=colour[name], lw=1.2, ms=4, label=name)
            panel.plot(line["step"], line["target"], "x", color=colour[name], ms=7)
        seed, mae = int(block["seed"].iloc[0]), float(block["validation_mae"].iloc[0])
        panel.set_title(f"{model}: seed {seed} (validation MAE {mae:.3g})", fontsize=10)
        panel.set_yscale("symlog", linthresh=1)
        panel.set_xlabel("words read")
        panel.set_xticks(sorted(block["step"].unique()))
        panel.grid(alpha=0.3)
    axes[0, 0].set_ylabel("output after each word (o); its value so far (x)")
    if names:
        legend_outside(figure_, axes.flat, columns=min(len(names), 6))
    title = config.get("report", {}).get("title", config["name"])
    figure_.suptitle(
        f"{title}: the read-out of every intermediate state, best seed by validation MAE", fontsize=11
    )
    return save(figure_, path)
