"""What every figure of the report shares: matplotlib set up without a display, the atomic save, the
config's grid order for panels and lines, legends outside the panels, and the published values that a
config's ``report:`` block names (its ``paper:`` table, or its findings' ``published`` rates)."""

from __future__ import annotations

import re
import textwrap

from experiments.files import save_figure

FLOOR = 1e-8  # log-scale plots draw smaller errors (exact zeros included) at this value
PAPER_LABEL = "paper (recalled)"  # a config's report.paper_label names its paper table otherwise
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(figure_, path):
    """Write ``figure_`` to ``path`` (a unique temporary name first: two writers never share one), close
    it and return it: a closed figure still holds what it drew, for a test to read."""
    import matplotlib.pyplot as plt

    try:
        save_figure(figure_, path, dpi=110)
    finally:
        plt.close(figure_)
    return figure_


def grid_order(config, axis, present):
    """The distinct values of ``present`` (a column of ``axis``) in the config's grid order, so every figure
    of an experiment puts its panels and lines in one order; values the grid does not list come last."""
    present = list(dict.fromkeys(present))
    ordered = [value for value in config["grid"].get(axis, []) if value in present]
    return ordered + [value for value in present if value not in ordered]


def grid_groups(frame, config, axes):
    """(key, rows) of ``frame`` per value of ``axes`` (a tuple key), in the config's grid order; one group
    with the key () when there are no axes."""
    axes = list(axes)
    if not axes:
        return [((), frame)]
    groups = [
        (key if isinstance(key, tuple) else (key,), block) for key, block in frame.groupby(axes, sort=False)
    ]
    orders = [grid_order(config, axis, frame[axis]) for axis in axes]
    return sorted(groups, key=lambda group: [order.index(v) for order, v in zip(orders, group[0])])


def colours(config, axis, present):
    """One colour per value of ``axis`` (matplotlib's cycle in the grid order), the same in every panel,
    so that one legend for the figure holds even where a panel lacks some of the lines."""
    return {value: f"C{index % 10}" for index, value in enumerate(grid_order(config, axis, present))}


def wrapped(text, width_inches, fontsize=9):
    """``text`` with each of its lines wrapped to a figure ``width_inches`` wide (a title a narrow figure
    would otherwise cut)."""
    characters = max(20, int(width_inches * 144 / fontsize))  # a character is about 0.55 em wide
    return "\n".join(textwrap.fill(line, characters) for line in text.split("\n"))


def legend_outside(figure_, axes, where="lower center", columns=None):
    """One legend for the whole figure, outside its panels (``where``: "lower center" below them, "right
    upper" beside them; the figure needs a constrained layout), from the lines and patches of ``axes``
    with a label, each label once."""
    entries = {}
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if entries:
        figure_.legend(
            list(entries.values()),
            list(entries),
            loc=f"outside {where}",
            ncol=columns or (min(len(entries), 8) if where == "lower center" else 1),
            fontsize=8,
            frameon=False,
        )


def legend_under(axis, columns=3):
    """A panel's own legend (its lines are not those of the other panels), under it, outside the axes."""
    axis.legend(fontsize=7, ncol=columns, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)


def published_number(value):
    """A value of a config's paper table as a number: 0.0 as it is, "96-98" the middle of the range,
    "> 999" its bound, "14%" 14; None where no number can be read."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    numbers = [float(text) for text in _NUMBER.findall(str(value))]
    return sum(numbers) / len(numbers) if numbers else None


def paper_reference(report, chosen):
    """The part of the config's paper table for one block of the other axes (``chosen``: axis -> value):
    the table under the block's range where it is keyed by range (as the tables read it), else all of it."""
    paper = report.get("paper", {})
    return paper.get(chosen.get("range"), paper) if chosen else paper


def paper_value(report, chosen, measure, row, column):
    """The paper's number for one cell and ``measure`` (interpolation, extrapolation, success), read as
    :func:`published_number` reads it; None where the table has none."""
    reference = paper_reference(report, chosen)
    table = reference.get(measure) if isinstance(reference, dict) else None
    if not isinstance(table, dict):
        return None
    return published_number((table.get(str(row)) or {}).get(str(column)))


def published_rate(report, cell, rows, columns):
    """The published success rate of a grid cell (``cell``: axis -> value), in percent: the config's paper
    table's ``success``, else the ``published`` rate of a finding whose cell names this one (the axes it
    leaves out match any value); None where neither has one."""
    chosen = {axis: value for axis, value in cell.items() if axis not in (rows, columns)}
    value = paper_value(report, chosen, "success", cell[rows], cell[columns])
    if value is not None:
        return value
    for finding in report.get("findings", []):
        named = finding.get("cell", {})
        if "published" in finding and all(cell.get(axis) == wanted for axis, wanted in named.items()):
            return 100 * float(finding["published"])
    return None


def published_label(report):
    """What a figure calls the published values it marks: the paper table's label, else the findings'
    sources."""
    if report.get("paper"):
        return report.get("paper_label", PAPER_LABEL)
    sources = dict.fromkeys(
        finding["source"]
        for finding in report.get("findings", [])
        if "published" in finding and "source" in finding
    )
    return "published" + (f" ({'; '.join(sources)})" if sources else "")
