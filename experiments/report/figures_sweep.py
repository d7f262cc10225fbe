"""The figures of an error against a swept value (an input, a sequence length, a test number), from
curves.csv: the median over seeds with its interquartile band [q25, q75], never the mean (one diverged or
wild seed moves a mean by orders of magnitude on a log axis). Lines and panels follow the config's grid
order; legends sit outside the panels."""

from __future__ import annotations

import numpy as np

from experiments.report.figure_parts import (
    FLOOR,
    colours,
    grid_groups,
    grid_order,
    legend_outside,
    legend_under,
    pyplot,
    save,
)
from experiments.report.summary import layout

SPREAD = ("mae_median", "mae_q25", "mae_q75")  # curves.csv's error over seeds: median and quartiles
ITEMS = 100  # a line over more values than this, unevenly spaced, is a test set's items, not a sweep ...
BIN_WIDTH = 50  # ... and is drawn as the median of bins this wide (number words: 50 numbers)


def _top(curves):
    """Where an infinite error (a diverged seed's) is drawn: ten times the largest finite one."""
    values = curves[list(SPREAD)].to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    return max(float(finite.max()) * 10 if len(finite) else 1.0, FLOOR * 10)


def _infinite_note(curves):
    """What a y label adds where some median is infinite (a majority of seeds diverged): how it is drawn."""
    return "; triangle: inf" if not np.isfinite(curves["mae_median"].to_numpy(dtype=float)).all() else ""


def _draw_error(axis, x, spread, top, label, marker=None, color=None):
    """One line: the median over seeds, its [q25, q75] band, a triangle where the median is infinite
    (drawn at ``top``); errors below :data:`FLOOR` at the floor. Returns the line."""
    x = np.asarray(x, dtype=float)
    median, low, high = (np.clip(np.where(np.isfinite(v), v, top), FLOOR, None) for v in spread)
    (line,) = axis.plot(x, median, label=label, lw=1.4, marker=marker, color=color)
    axis.fill_between(x, low, high, color=line.get_color(), alpha=0.15, lw=0)
    infinite = ~np.isfinite(spread[0])
    axis.plot(x[infinite], median[infinite], "^", color=line.get_color(), ms=6)
    return line


def is_test_items(x):
    """Whether a line's x values are the items of a test set (more than :data:`ITEMS` distinct values,
    unevenly spaced: number words' test numbers) rather than a sweep's evenly spaced points."""
    values = np.unique(np.asarray(x, dtype=float))
    steps = np.diff(values)
    return len(values) > ITEMS and not np.allclose(steps, steps[0], rtol=1e-3)


def binned(curve, width=BIN_WIDTH):
    """(bin middles, and per bin the median over its items of mae_median, mae_q25 and mae_q75): a test
    set's items grouped by value, ``width`` wide (0-49, 50-99, ... for numbers)."""
    middles = np.floor(curve["x"].to_numpy(dtype=float) / width) * width + width / 2
    medians = curve.assign(bin=middles).groupby("bin")[list(SPREAD)].median().sort_index()
    return medians.index.to_numpy(), [medians[column].to_numpy(dtype=float) for column in SPREAD]


def sweep_figure(curves, provenance, path, dataset=None):
    """Accuracy and mean absolute error against the swept value, one line per ``rows`` value (a log x axis
    when the values are positive and span a factor of 100: sequence lengths, not digit counts from 0).
    Accuracy: the mean over seeds with its min-max band (curves.csv has no median of it); error: the median
    over seeds with its [q25, q75] band. Returns the figure."""
    plt = pyplot()
    log_x = curves["x"].min() > 0 and curves["x"].max() / curves["x"].min() >= 100
    config = provenance["config"]
    report = config.get("report", {})
    rows, _, _ = layout(config)
    top = _top(curves)
    figure_, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4), layout="constrained")
    for name in grid_order(config, rows, curves[rows]):
        curve = curves[curves[rows] == name].sort_values("x")
        line = left.plot(curve["x"], 100 * curve["accuracy_mean"], marker="o", lw=1.4, label=str(name))[0]
        left.fill_between(
            curve["x"],
            100 * curve["accuracy_min"],
            100 * curve["accuracy_max"],
            color=line.get_color(),
            alpha=0.12,
        )
        spread = [curve[column].to_numpy(dtype=float) for column in SPREAD]
        _draw_error(right, curve["x"], spread, top, str(name), marker="o", color=line.get_color())
    for axis, label in (
        (left, "accuracy (% of outputs exact):\nmean over seeds, band min to max"),
        (right, f"mean absolute error: median over seeds\n[q25, q75]{_infinite_note(curves)}"),
    ):
        if log_x:
            axis.set_xscale("log")
        axis.set_xlabel(report.get("x_label", "x"))
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    right.set_yscale("log")
    left.set_ylim(-2, 102)
    legend_outside(figure_, [left], where="right upper")
    title = (
        f"{report.get('title', config['name'])} — profile {config['profile']}, {len(config['seeds'])} seeds"
    )
    figure_.suptitle(title + (f"\ndata: {dataset}" if dataset else ""), fontsize=10)
    return save(figure_, path)


def curve_figure(curves, provenance, path, lines_per_panel=6):
    """Mean absolute error against the swept value (an input, a sequence length), log scale: the median
    over seeds with its [q25, q75] band.

    One line per ``columns`` value and one panel per ``rows`` value (and per value of any other axis);
    a single-axis grid puts up to ``lines_per_panel`` lines in each panel, each panel with its own legend.
    A line over a test set's items (:func:`is_test_items`) is drawn as the median of bins of
    :data:`BIN_WIDTH`, its items as faint dots. The config's ``shade`` range (the training range) is
    shaded. Returns the figure.
    """
    plt = pyplot()
    config = provenance["config"]
    report = config.get("report", {})
    rows, columns, others = layout(config)
    single = rows == columns
    own_legends = False
    if single:
        names = grid_order(config, rows, curves[rows])
        panels = [
            ((), curves[curves[rows].isin(names[i : i + lines_per_panel])])
            for i in range(0, len(names), lines_per_panel)
        ]
        own_legends = len(panels) > 1
    else:
        panels = grid_groups(curves, config, [rows, *others])
    count = min(3, len(panels))
    panel_rows = -(-len(panels) // count)
    figure_, axes = plt.subplots(
        panel_rows,
        count,
        figsize=(max(5.2 * count, 8.0), 4.2 * panel_rows + 0.9),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    shade = config["task"].get(report.get("shade")) if report.get("shade") else None
    x = curves["x"].to_numpy(dtype=float)
    log_x = x.min() > 0 and x.max() / x.min() >= 100
    top = _top(curves)
    # one legend for the figure: a line has one colour in every panel (a single-axis grid's panels, each
    # with lines and a legend of its own, take matplotlib's cycle afresh)
    colour = colours(config, columns, curves[columns]) if not own_legends else {}
    binned_lines = False
    for axis, (key, panel) in zip(axes.flat, panels):
        for name in grid_order(config, columns, panel[columns]):
            curve = panel[panel[columns] == name].sort_values("x")
            if is_test_items(curve["x"]):
                binned_lines = True
                middles, spread = binned(curve)
                line = _draw_error(axis, middles, spread, top, str(name), marker="o", color=colour.get(name))
                raw = np.clip(
                    np.where(np.isfinite(curve["mae_median"]), curve["mae_median"], top), FLOOR, None
                )
                axis.plot(curve["x"], raw, ".", color=line.get_color(), ms=2.5, alpha=0.25)
            else:
                _draw_error(
                    axis,
                    curve["x"],
                    [curve[c].to_numpy(float) for c in SPREAD],
                    top,
                    str(name),
                    marker="." if log_x else None,
                    color=colour.get(name),
                )
        if shade:
            axis.axvspan(shade[0], shade[1], color="grey", alpha=0.15, label="training range")
        if key:
            axis.set_title(", ".join(f"{a} = {v}" for a, v in zip([rows, *others], key)), fontsize=9)
        axis.set_yscale("log")
        if log_x:
            axis.set_xscale("log")
        axis.set_xlabel(report.get("x_label", "x"))
        axis.grid(alpha=0.3)
        if own_legends:
            legend_under(axis)
    for axis in axes.flat[len(panels) :]:
        axis.set_visible(False)
    if not own_legends:
        legend_outside(figure_, axes.flat)
    for axis in axes[:, 0]:
        axis.set_ylabel(
            f"mean absolute error: median over {len(config['seeds'])}\nseeds [q25, q75] "
            f"(drawn >= {FLOOR:g}{_infinite_note(curves)})"
        )
    how = (
        f"\nbinned by {BIN_WIDTH} of {report.get('x_label', 'x')}: the median over a bin's items of their median over "
        "seeds,\nband: the same of their q25 and q75; dots: each item's median over seeds"
        if binned_lines
        else ""
    )
    figure_.suptitle(f"{report.get('title', config['name'])} — profile {config['profile']}{how}", fontsize=10)
    return save(figure_, path)
