"""The figure of a model's output part way through its sequences, from traces.csv: for one seed per grid
point (the one with the lowest validation MAE: never chosen on test data), its output after each step of
a few sequences against what the sequence names so far (number words: "seven" 7, "seven hundred" 700,
"seven hundred seventy" 770, "seven hundred seventy seven" 777)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from experiments.report.figure_parts import grid_groups, legend_outside, pyplot, save
from experiments.results import grid_axes


def best_seeds(runs, axes):
    """Per grid point (a tuple of its values on ``axes``), (seed, its validation MAE) of the seed with the
    lowest finite validation MAE (``interpolation_mae``; the lowest seed among ties); a point whose every
    seed diverged is left out."""
    chosen = {}
    for key, block in runs.groupby(list(axes), sort=False):
        finite = block[np.isfinite(block["interpolation_mae"].astype(float))]
        if finite.empty:
            continue
        row = finite.sort_values(["interpolation_mae", "seed"], kind="stable").iloc[0]
        chosen[key if isinstance(key, tuple) else (key,)] = (
            int(row["seed"]),
            float(row["interpolation_mae"]),
        )
    return chosen


def best_seed_traces(traces, runs, axes):
    """The rows of ``traces`` of each grid point's best seed (:func:`best_seeds`), with a column
    ``validation_mae``."""
    parts = []
    for key, (seed, mae) in best_seeds(runs, axes).items():
        mask = traces["seed"] == seed
        for axis, value in zip(axes, key):
            mask &= traces[axis] == value
        parts.append(traces[mask].assign(validation_mae=mae))
    return pd.concat(parts, ignore_index=True) if parts else traces.iloc[:0]


def _notice(plt, path, text):
    """A figure that only says why there is nothing to draw."""
    figure_, panel = plt.subplots(figsize=(7.0, 1.6))
    panel.axis("off")
    panel.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    return save(figure_, path)


def trace_figure(traces, runs, provenance, path):
    """One panel per grid point, its best seed's output after each step of every trace sequence (a line
    per sequence, on a symmetric log scale) and, as crosses, the target after that step; ``traces`` None
    (runs from before traces.csv existed) or without the best seeds: a figure that says so. Returns the
    figure."""
    plt = pyplot()
    config = provenance["config"]
    if traces is None:
        return _notice(plt, path, "no traces.csv in this results folder: rerun the config (its points rerun)")
    axes = grid_axes(config)
    chosen = best_seed_traces(traces, runs, axes)
    if chosen.empty:
        return _notice(plt, path, "traces.csv holds none of the best seeds of runs.csv: rerun the config")
    panels = grid_groups(chosen, config, axes)
    figure_, grid = plt.subplots(
        1, len(panels), figsize=(4.6 * len(panels), 4.4), squeeze=False, sharey=True, layout="constrained"
    )
    names = list(dict.fromkeys(chosen["name"]))
    colour = {name: f"C{index % 10}" for index, name in enumerate(names)}
    for panel, (key, block) in zip(grid.flat, panels):
        for name in names:
            line = block[block["name"] == name].sort_values("step")
            panel.plot(line["step"], line["prediction"], "o-", color=colour[name], lw=1.2, ms=4, label=name)
            panel.plot(line["step"], line["target"], "x", color=colour[name], ms=7)
        seed, mae = int(block["seed"].iloc[0]), float(block["validation_mae"].iloc[0])
        point = ", ".join(str(value) for value in key)
        panel.set_title(f"{point}: seed {seed} (validation MAE {mae:.3g})", fontsize=10)
        panel.set_yscale("symlog", linthresh=1)
        panel.set_xlabel("words read")
        panel.set_xticks(sorted(block["step"].unique()))
        panel.grid(alpha=0.3)
    grid[0, 0].set_ylabel("output after each word (o); its value so far (x)")
    legend_outside(figure_, grid.flat, columns=min(len(names), 6))
    title = config.get("report", {}).get("title", config["name"])
    figure_.suptitle(
        f"{title}: the read-out of every intermediate state, best seed by validation MAE", fontsize=11
    )
    return save(figure_, path)
