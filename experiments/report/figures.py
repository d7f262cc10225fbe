"""The figures of an experiment's grid (PNG), each named by the config's ``report: figure:`` setting: the
normalised scores per cell, the success-rate heatmap and the solved-at curves; the error and sweep curves
against a swept value are in :mod:`experiments.report.figures_sweep`. Panels and lines follow the
config's grid order, legends sit outside the panels, and published values are marked where the config
gives them."""

from __future__ import annotations

import numpy as np

from experiments.report.figure_parts import (
    colours,
    grid_groups,
    grid_order,
    legend_outside,
    paper_value,
    published_label,
    published_rate,
    pyplot,
    save,
    wrapped,
)
from experiments.report.summary import layout, solved_fractions
from experiments.results import grid_axes


SCORE_BOTTOM, SCORE_TOP = 1e-4, 1e6  # the score figure's axis: bars beyond it are cut and marked


def _label(config, axis, value):
    """A grid value as a figure names it: a range preset with its bounds (interpolation -> extrapolation)."""
    bounds = config["task"].get("ranges", {}).get(value) if axis == "range" else None
    if not bounds:
        return str(value)

    def interval(part):  # [low, high], or a union of them: [[low, high], ...]
        if part and isinstance(part[0], (list, tuple)):
            return " u ".join(interval(piece) for piece in part)
        return f"[{part[0]:g}, {part[1]:g}]"

    return f"{value}\n{interval(bounds['interpolation'])} -> {interval(bounds['extrapolation'])}"


def _grid(summary, config):
    """(rows, columns, others, row values, column values, groups of summary rows per other-axes value),
    every value in the config's grid order."""
    rows, columns, others = layout(config)
    return (
        rows,
        columns,
        others,
        grid_order(config, rows, summary[rows]),
        grid_order(config, columns, summary[columns]),
        grid_groups(summary, config, others),
    )


def figure(summary, provenance, path):
    """Median interpolation and extrapolation score per model, one panel per row value (log scale), the
    paper's score beside each bar where the config's paper table gives one. Returns the figure."""
    plt = pyplot()
    config = provenance["config"]
    report = config.get("report", {})
    rows, columns, others, row_values, column_values, groups = _grid(summary, config)
    figure_, axes = plt.subplots(
        len(groups),
        len(row_values),
        figsize=(2.6 * len(row_values), 2.8 * len(groups) + 1.1),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    positions = np.arange(len(column_values))
    paper_label = published_label(report)
    for g, (key, block) in enumerate(groups):
        chosen = dict(zip(others, key))
        for r, value in enumerate(row_values):
            axis = axes[g][r]
            for offset, part, colour in (
                (-0.2, "interpolation", "tab:blue"),
                (0.2, "extrapolation", "tab:red"),
            ):
                heights = []
                for column in column_values:
                    match = block[(block[rows] == value) & (block[columns] == column)]
                    heights.append(match.iloc[0][f"{part}_score_median"] if len(match) else np.nan)
                raw = np.array(heights, float)
                heights = np.clip(np.nan_to_num(raw, nan=np.nan, posinf=SCORE_TOP), SCORE_BOTTOM, SCORE_TOP)
                axis.bar(positions + offset, heights, 0.4, color=colour, label=f"ours: {part}")
                # a bar cut by the axis says so: a triangle at the edge (an infinite score is drawn at the top)
                above, below = raw > SCORE_TOP, raw < SCORE_BOTTOM
                axis.plot(positions[above] + offset, np.full(above.sum(), SCORE_TOP), "^", color=colour, ms=5)
                axis.plot(
                    positions[below] + offset, np.full(below.sum(), SCORE_BOTTOM), "v", color=colour, ms=5
                )
                published = [paper_value(report, chosen, part, value, column) for column in column_values]
                known = np.array([number is not None for number in published])
                if known.any():  # the paper's score as a black bar on ours (0 drawn at the axis' foot)
                    numbers = np.array([number for number in published if number is not None], float)
                    axis.plot(
                        positions[known] + offset,
                        np.clip(numbers, SCORE_BOTTOM, SCORE_TOP),
                        "_",
                        color="black",
                        ms=11,
                        mew=2.2,
                        label=f"{paper_label} (a score of 0 drawn at {SCORE_BOTTOM:g})",
                    )
            axis.set_yscale("log")
            axis.axhline(100, color="grey", lw=0.8, ls="--")
            axis.set_xticks(positions, column_values, rotation=45, fontsize=8)
            title = f"{rows} = {value}"
            if others:
                title += "\n" + ", ".join(f"{a} = {v}" for a, v in chosen.items())
            axis.set_title(title, fontsize=9)
        axes[g][0].set_ylabel("median normalised score\nover seeds (random init = 100)")
    legend_outside(figure_, axes.flat, columns=3)
    figure_.suptitle(
        f"{report.get('title', config['name'])} — profile {config['profile']}, {len(config['seeds'])} seeds; "
        f"a triangle marks a bar cut at {SCORE_BOTTOM:g} or {SCORE_TOP:g}",
        fontsize=10,
    )
    return save(figure_, path)


def success_heatmap(summary, provenance, path):
    """Success rate per (rows, columns) cell as a heatmap, one panel per value of the remaining axes; the
    published rate in brackets under ours where the config gives one. Returns the figure."""
    plt = pyplot()
    config = provenance["config"]
    report = config.get("report", {})
    rows, columns, others, row_values, column_values, groups = _grid(summary, config)
    count = min(2, len(groups))
    panel_rows = -(-len(groups) // count)
    width = 0.75 * len(column_values) * count + 2.5
    figure_, axes = plt.subplots(
        panel_rows,
        count,
        figsize=(width, (0.42 * len(row_values) + 1.1) * panel_rows + 1.0),
        squeeze=False,
        layout="constrained",
    )
    image, marked = None, False
    for axis, (key, block) in zip(axes.flat, groups):
        chosen = dict(zip(others, key))
        rates = np.full((len(row_values), len(column_values)), np.nan)
        for _, row in block.iterrows():
            rates[row_values.index(row[rows]), column_values.index(row[columns])] = 100 * row["success_rate"]
        image = axis.imshow(rates, vmin=0, vmax=100, cmap="viridis", aspect="auto")
        for (i, j), value in np.ndenumerate(rates):
            if not np.isfinite(value):
                continue
            cell = {**chosen, rows: row_values[i], columns: column_values[j]}
            published = published_rate(report, cell, rows, columns)
            marked |= published is not None
            text = f"{value:.0f}" + (f"\n({published:.0f})" if published is not None else "")
            colour = "white" if value < 60 else "black"
            axis.text(j, i, text, ha="center", va="center", fontsize=7, color=colour, linespacing=0.9)
        labels = [_label(config, columns, value) for value in column_values]
        axis.set_xticks(range(len(column_values)), labels, rotation=45, ha="right", fontsize=7)
        axis.set_yticks(
            range(len(row_values)), [_label(config, rows, value) for value in row_values], fontsize=8
        )
        if others:
            axis.set_title(", ".join(f"{a} = {v}" for a, v in chosen.items()), fontsize=9)
    for axis in axes.flat[len(groups) :]:
        axis.set_visible(False)
    figure_.colorbar(image, ax=axes.ravel().tolist(), label="success rate (%)", shrink=0.8)
    brackets = f"\nin brackets: {published_label(report)}" if marked else ""
    title = (
        f"{report.get('title', config['name'])}\nprofile {config['profile']}, {len(config['seeds'])} seeds, "
        f"{config['training']['steps']:,} steps: success rate (%){brackets}"
    )
    figure_.suptitle(wrapped(title, width), fontsize=9)
    return save(figure_, path)


def solved_curve(history, runs, provenance, path):
    """Fraction of seeds solved by each step (met the criterion at some evaluation so far), one panel per
    row value, one line per column value, and a diamond at the last step for the kept models' success rate.
    Returns the figure."""
    plt = pyplot()
    config = provenance["config"]
    report = config.get("report", {})
    rows, columns, others = layout(config)
    fractions = solved_fractions(history, runs, grid_axes(config))
    groups = grid_groups(fractions, config, others)
    row_values = grid_order(config, rows, fractions[rows])
    colour = colours(config, columns, fractions[columns])
    figure_, axes = plt.subplots(
        len(groups),
        len(row_values),
        figsize=(2.7 * len(row_values) + 2.0, 2.5 * len(groups) + 1.2),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    for g, (key, block) in enumerate(groups):
        for r, value in enumerate(row_values):
            axis = axes[g][r]
            lines = block[block[rows] == value]
            for column in grid_order(config, columns, fractions[columns]):
                line = lines[lines[columns] == column]
                if len(line):
                    (drawn,) = axis.plot(
                        line["step"],
                        100 * line["fraction"],
                        label=_label(config, columns, column),
                        lw=1.2,
                        color=colour[column],
                    )
                    # the kept model's success (what the tables and findings count), at the last step
                    cell = runs[(runs[rows] == value) & (runs[columns] == column)]
                    for axis_name, axis_value in zip(others, key):
                        cell = cell[cell[axis_name] == axis_value]
                    if len(cell):
                        kept = 100 * cell["success"].astype(bool).mean()
                        axis.plot(line["step"].max(), kept, "D", color=drawn.get_color(), ms=4, mfc="none")
            title = f"{rows} = {value}" + (
                "\n" + ", ".join(f"{a} = {v}" for a, v in zip(others, key)) if others else ""
            )
            axis.set_title(title, fontsize=9)
            axis.set_xlabel("step", fontsize=8)
            axis.set_ylim(-3, 103)
            axis.tick_params(labelsize=7)
        axes[g][0].set_ylabel("seeds solved by this step (%)", fontsize=8)
    legend_outside(figure_, axes.flat, where="right upper")
    figure_.suptitle(
        f"{report.get('title', config['name'])}\nsolved-at curve: seeds whose extrapolation MSE has been under the "
        f"criterion at some evaluation; diamond: the kept models' success rate (the tables' and findings')\n"
        f"profile {config['profile']}, {len(config['seeds'])} seeds",
        fontsize=8,
    )
    return save(figure_, path)
