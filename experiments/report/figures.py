"""The figures of an experiment (PNG), each named by the config's ``report: figure:`` setting."""

from __future__ import annotations

import numpy as np

from experiments.files import save_figure
from experiments.report.summary import layout, solved_fractions
from experiments.results import grid_axes


FLOOR = 1e-8  # log-scale plots draw smaller errors (exact zeros included) at this value
SCORE_BOTTOM, SCORE_TOP = 1e-4, 1e6  # the score figure's axis: bars beyond it are cut and marked


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure_, path):
    import matplotlib.pyplot as plt

    try:
        save_figure(figure_, path, dpi=110)  # a unique temporary name: two writers never share one
    finally:
        plt.close(figure_)


def sweep_figure(curves, provenance, path, dataset=None):
    """Accuracy and mean absolute error against the swept value, one line per ``rows`` value (a log x axis
    when the values are positive and span a factor of 100: sequence lengths, not digit counts from 0)."""
    plt = _pyplot()
    log_x = curves["x"].min() > 0 and curves["x"].max() / curves["x"].min() >= 100
    config = provenance["config"]
    report = config.get("report", {})
    rows, _, _ = layout(config)
    figure_, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, curve in curves.groupby(rows, sort=False):
        curve = curve.sort_values("x")
        line = left.plot(curve["x"], 100 * curve["accuracy_mean"], marker="o", lw=1.4, label=str(name))[0]
        left.fill_between(
            curve["x"],
            100 * curve["accuracy_min"],
            100 * curve["accuracy_max"],
            color=line.get_color(),
            alpha=0.12,
        )
        right.plot(curve["x"], np.clip(curve["mae_mean"], FLOOR, None), marker="o", lw=1.4, label=str(name))
    for axis, label in (
        (left, "accuracy (% of outputs exact), mean\nover seeds (band: min to max)"),
        (right, "mean absolute error,\nmean over seeds"),
    ):
        if log_x:
            axis.set_xscale("log")
        axis.set_xlabel(report.get("x_label", "x"))
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    right.set_yscale("log")
    left.set_ylim(-2, 102)
    left.legend(fontsize=8)
    title = (
        f"{report.get('title', config['name'])} — profile {config['profile']}, {len(config['seeds'])} seeds"
    )
    figure_.suptitle(title + (f"\ndata: {dataset}" if dataset else ""), fontsize=10)
    figure_.tight_layout()
    _save(figure_, path)


def curve_figure(curves, provenance, path, lines_per_panel=6):
    """Mean absolute error against the swept value (an input, a sequence length), log scale.

    One line per ``columns`` value and one panel per ``rows`` value (and per value of any other axis);
    a single-axis grid puts up to ``lines_per_panel`` lines in each panel. The config's ``shade`` range
    (the training range) is shaded.
    """
    plt = _pyplot()
    config = provenance["config"]
    report = config.get("report", {})
    rows, columns, others = layout(config)
    if rows == columns:
        names = list(dict.fromkeys(curves[rows]))
        panels = [
            (None, curves[curves[rows].isin(names[i : i + lines_per_panel])])
            for i in range(0, len(names), lines_per_panel)
        ]
    else:
        panels = list(curves.groupby([rows, *others], sort=False))
    count = min(3, len(panels))
    panel_rows = -(-len(panels) // count)
    figure_, axes = plt.subplots(
        panel_rows, count, figsize=(max(5.2 * count, 8.0), 3.8 * panel_rows + 0.4), squeeze=False, sharey=True
    )
    shade = config["task"].get(report.get("shade")) if report.get("shade") else None
    x = curves["x"].to_numpy(dtype=float)
    log_x = x.min() > 0 and x.max() / x.min() >= 100
    finite = curves["mae_mean"].to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    top = max(float(finite.max()) * 10 if len(finite) else 1.0, FLOOR * 10)  # where infinite means are drawn
    for axis, (key, panel) in zip(axes.flat, panels):
        for name, curve in panel.groupby(columns, sort=False):
            curve = curve.sort_values("x")
            error = curve["mae_mean"].to_numpy(dtype=float)
            infinite = ~np.isfinite(error)
            drawn = np.clip(np.where(infinite, top, error), FLOOR, None)
            (line,) = axis.plot(curve["x"], drawn, label=str(name), lw=1.4, marker="." if log_x else None)
            # a diverged seed makes the mean infinite: drawn at the top edge as a triangle, not dropped
            axis.plot(curve["x"].to_numpy()[infinite], drawn[infinite], "^", color=line.get_color(), ms=6)
        if shade:
            axis.axvspan(shade[0], shade[1], color="grey", alpha=0.15, label="training range")
        if key is not None:
            key = key if isinstance(key, tuple) else (key,)
            axis.set_title(", ".join(f"{a} = {v}" for a, v in zip([rows, *others], key)), fontsize=9)
        axis.set_yscale("log")
        if log_x:
            axis.set_xscale("log")
        axis.set_xlabel(report.get("x_label", "x"))
        axis.legend(fontsize=7, loc="best", ncol=2)
        axis.grid(alpha=0.3)
    for axis in axes.flat[len(panels) :]:
        axis.set_visible(False)
    for axis in axes[:, 0]:
        axis.set_ylabel(
            f"mean absolute error, mean over\n{len(config['seeds'])} seeds (drawn >= {FLOOR:g}; triangle: inf)"
        )
    figure_.suptitle(f"{report.get('title', config['name'])} — profile {config['profile']}", fontsize=11)
    figure_.tight_layout()
    _save(figure_, path)


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
    """(rows, columns, others, row values, column values, groups of summary rows per other-axes value)."""
    rows, columns, others = layout(config)
    groups = list(summary.groupby(others, sort=False)) if others else [((), summary)]
    return (
        rows,
        columns,
        others,
        list(dict.fromkeys(summary[rows])),
        list(dict.fromkeys(summary[columns])),
        groups,
    )


def figure(summary, provenance, path):
    """Median interpolation and extrapolation score per model, one panel per row value (log scale)."""
    plt = _pyplot()
    config = provenance["config"]
    report = config.get("report", {})
    rows, columns, others, row_values, column_values, groups = _grid(summary, config)
    figure_, axes = plt.subplots(
        len(groups),
        len(row_values),
        figsize=(2.6 * len(row_values), 2.8 * len(groups) + 0.6),
        squeeze=False,
        sharey=True,
    )
    positions = np.arange(len(column_values))
    for g, (key, block) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
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
                axis.bar(positions + offset, heights, 0.4, color=colour, label=part)
                # a bar cut by the axis says so: a triangle at the edge (an infinite score is drawn at the top)
                above, below = raw > SCORE_TOP, raw < SCORE_BOTTOM
                axis.plot(positions[above] + offset, np.full(above.sum(), SCORE_TOP), "^", color=colour, ms=5)
                axis.plot(
                    positions[below] + offset, np.full(below.sum(), SCORE_BOTTOM), "v", color=colour, ms=5
                )
            axis.set_yscale("log")
            axis.axhline(100, color="grey", lw=0.8, ls="--")
            axis.set_xticks(positions, column_values, rotation=45, fontsize=8)
            title = f"{rows} = {value}"
            if others:
                title += "\n" + ", ".join(f"{a} = {v}" for a, v in zip(others, key))
            axis.set_title(title, fontsize=9)
        axes[g][0].set_ylabel("median normalised score\n(random init = 100)")
    axes[0][0].legend(fontsize=7)
    figure_.suptitle(
        f"{report.get('title', config['name'])} — profile {config['profile']}, {len(config['seeds'])} seeds; "
        f"a triangle marks a bar cut at {SCORE_BOTTOM:g} or {SCORE_TOP:g}",
        fontsize=10,
    )
    figure_.tight_layout()
    _save(figure_, path)


def success_heatmap(summary, provenance, path):
    """Success rate per (rows, columns) cell as a heatmap, one panel per value of the remaining axes."""
    plt = _pyplot()
    config = provenance["config"]
    report = config.get("report", {})
    rows, columns, others, row_values, column_values, groups = _grid(summary, config)
    count = min(2, len(groups))
    panel_rows = -(-len(groups) // count)
    figure_, axes = plt.subplots(
        panel_rows,
        count,
        figsize=(0.75 * len(column_values) * count + 2.5, (0.42 * len(row_values) + 1.1) * panel_rows + 1.0),
        squeeze=False,
        layout="constrained",
    )
    image = None
    for axis, (key, block) in zip(axes.flat, groups):
        rates = np.full((len(row_values), len(column_values)), np.nan)
        for _, row in block.iterrows():
            rates[row_values.index(row[rows]), column_values.index(row[columns])] = 100 * row["success_rate"]
        image = axis.imshow(rates, vmin=0, vmax=100, cmap="viridis", aspect="auto")
        for (i, j), value in np.ndenumerate(rates):
            if np.isfinite(value):
                axis.text(
                    j,
                    i,
                    f"{value:.0f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value < 60 else "black",
                )
        labels = [_label(config, columns, value) for value in column_values]
        axis.set_xticks(range(len(column_values)), labels, rotation=45, ha="right", fontsize=7)
        axis.set_yticks(
            range(len(row_values)), [_label(config, rows, value) for value in row_values], fontsize=8
        )
        if others:
            key = key if isinstance(key, tuple) else (key,)
            axis.set_title(", ".join(f"{a} = {v}" for a, v in zip(others, key)), fontsize=9)
    for axis in axes.flat[len(groups) :]:
        axis.set_visible(False)
    figure_.colorbar(image, ax=axes.ravel().tolist(), label="success rate (%)", shrink=0.8)
    figure_.suptitle(
        f"{report.get('title', config['name'])}\nprofile {config['profile']}, {len(config['seeds'])} seeds, "
        f"{config['training']['steps']:,} steps",
        fontsize=9,
    )
    _save(figure_, path)


def solved_curve(history, runs, provenance, path):
    """Fraction of seeds solved by each step (met the criterion at some evaluation so far), one panel per
    row value, one line per column value, and a diamond at the last step for the kept models' success rate."""
    plt = _pyplot()
    config = provenance["config"]
    report = config.get("report", {})
    rows, columns, others = layout(config)
    fractions = solved_fractions(history, runs, grid_axes(config))
    groups = list(fractions.groupby(others, sort=False)) if others else [((), fractions)]
    row_values = [value for value in config["grid"][rows] if value in set(fractions[rows])]  # grid order
    figure_, axes = plt.subplots(
        len(groups),
        len(row_values),
        figsize=(2.7 * len(row_values), 2.5 * len(groups) + 0.9),
        squeeze=False,
        sharey=True,
    )
    for g, (key, block) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        for r, value in enumerate(row_values):
            axis = axes[g][r]
            lines = block[block[rows] == value]
            for column in config["grid"][columns]:
                line = lines[lines[columns] == column]
                if len(line):
                    (drawn,) = axis.plot(
                        line["step"], 100 * line["fraction"], label=_label(config, columns, column), lw=1.2
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
    axes[0][-1].legend(fontsize=7, loc="lower right")
    figure_.suptitle(
        f"{report.get('title', config['name'])}\nsolved-at curve: seeds whose extrapolation MSE has been under the "
        f"criterion at some evaluation; diamond: the kept models' success rate (the tables' and findings')\n"
        f"profile {config['profile']}, {len(config['seeds'])} seeds",
        fontsize=8,
    )
    figure_.tight_layout()
    _save(figure_, path)
