"""What a config's ``report:`` block may say, checked before any work.

Config-side, so that loading a config needs neither the report's code nor its imports (pandas,
matplotlib): the report (``experiments/report/``) reads the figure kinds and files named here, and a test
checks that it can draw every kind this schema allows.
"""

from __future__ import annotations

from experiments.schema import Choice, ConfigError, Number, Text, check_value, reject_unknown, require_mapping

REPORT_KEYS = (
    "rows",
    "columns",
    "title",
    "paper",
    "paper_label",
    "blocks",
    "shade",
    "x_label",
    "notes",
    "figure",
    "findings",
)
REPORT_BLOCKS = (
    "score",
    "mse",
    "mae",
    "success",
    "solved",
    "sweep",
    "measures",
    "eigenvalues",
    "exactness",
    "parts",
)
# The figures a report can draw, each with its file name when it is not the first (the first is figure.png):
# scores (the normalised score per cell), success_heatmap (success rate per cell), solved_curve (the
# fraction of seeds solved against the step), error_curves (error against the probe input or the sweep
# value, from curves.csv), sweep_accuracy (error and exact-match accuracy against the sweep value),
# reward_curves (an agent's episode reward and on-time share against the sweep value), intermediate_outputs
# (a model's output after each step of a few sequences, its best seed by validation MAE, from traces.csv).
# A new kind needs its entry here, a drawing function in experiments/report/ (figures.py, figures_sweep.py,
# figures_trace.py or rewards.py) and an entry in FIGURE_KINDS (experiments/report/build.py) that calls it.
FIGURE_FILES = {
    "scores": "scores.png",
    "success_heatmap": "heatmap.png",
    "solved_curve": "solved.png",
    "error_curves": "curves.png",
    "sweep_accuracy": "sweep.png",
    "reward_curves": "rewards.png",
    "intermediate_outputs": "intermediate.png",
}
REPORT_FIGURES = tuple(FIGURE_FILES)
FINDING_KEYS = (
    "claim",
    "cell",
    "published",
    "published_score",
    "published_outcome",
    "published_unknown",
    "published_bound",
    "published_comparison",
    "fitted",
    "published_solved_at",
    "followup",
    "source",
)
OUTCOMES = ("extrapolates", "fails")
PUBLISHED_KINDS = (
    "published",
    "published_score",
    "published_outcome",
    "published_unknown",
    "published_bound",
    "published_comparison",
)
BOUND_SIDES = ("at_least", "at_most")
FOLLOWUP_KEYS = ("published", "source")
COMPARISON_KEYS = ("column", "columns", "than", "better")
BETTER = ("higher", "lower")


def _check_measure(source, where, spec):
    """A measure of a bound or a comparison: ``column: NAME`` or ``columns: [NAMES]`` (their per-seed mean)."""
    if ("column" in spec) == ("columns" in spec):
        raise ConfigError(source, where, "needs exactly one of column and columns")
    if "column" in spec:
        check_value(source, f"{where}.column", Text(), spec["column"])
        return
    if not isinstance(spec["columns"], list) or not spec["columns"]:
        raise ConfigError(
            source, f"{where}.columns", f"{spec['columns']!r} is not allowed; must be a list of column names"
        )
    for column in spec["columns"]:
        check_value(source, f"{where}.columns", Text(), column)


def _check_bound(source, where, bound, trials=False):
    """A bound on the median over seeds of a result column (or the per-seed mean of columns):
    ``{column: NAME, at_least: X}`` (or ``at_most``); with ``trials`` allowed, the column holding each
    seed's number of items (for a pooled share with its Wilson interval)."""
    bound = require_mapping(source, where, bound)
    reject_unknown(
        source, f"{where}.", bound, ("column", "columns", *BOUND_SIDES, *(("trials",) if trials else ()))
    )
    _check_measure(source, where, bound)
    if "trials" in bound:
        check_value(source, f"{where}.trials", Text(), bound["trials"])
    if sum(side in bound for side in BOUND_SIDES) != 1:
        raise ConfigError(source, where, "needs exactly one of at_least and at_most")
    for side in BOUND_SIDES:
        if side in bound:
            check_value(source, f"{where}.{side}", Number(), bound[side])


def _check_comparison(source, where, comparison, grid, allowed):
    """A comparison with another cell: ``{column: NAME (or columns: [NAMES]), than: CELL, better: higher}``."""
    comparison = require_mapping(source, where, comparison)
    reject_unknown(source, f"{where}.", comparison, COMPARISON_KEYS)
    _check_measure(source, where, comparison)
    for key in ("than", "better"):
        if key not in comparison:
            raise ConfigError(source, f"{where}.{key}", "missing")
    check_value(source, f"{where}.better", Choice(BETTER), comparison["better"])
    _check_cell(source, f"{where}.than", comparison["than"], grid, allowed)


def _check_cell(source, where, cell, grid, allowed):
    cell = require_mapping(source, where, cell)
    reject_unknown(source, f"{where}.", cell, list(grid))
    for axis, value in cell.items():
        check_value(source, f"{where}.{axis}", Choice(allowed(axis)), value)


def validate(source, report, grid, allowed, ranges):
    """The ``report:`` block of ``source``, checked: its keys, the grid axes it names, its blocks, figures,
    findings and shaded range. ``allowed(axis)`` gives every value an axis may take (a finding may name a
    cell that a profile's grid leaves out); ``ranges`` are the task settings that are ranges (what
    ``shade`` may name). Returns the block; a mistake raises :class:`ConfigError`."""
    report = require_mapping(source, "report", report)
    reject_unknown(source, "report.", report, REPORT_KEYS)
    for key in ("rows", "columns"):
        if key in report:
            check_value(source, f"report.{key}", Choice(grid), report[key])
    for block in report.get("blocks", []):
        check_value(source, "report.blocks", Choice(REPORT_BLOCKS), block)
    if "figure" in report:  # one figure or a list of them
        for figure in report["figure"] if isinstance(report["figure"], list) else [report["figure"]]:
            check_value(source, "report.figure", Choice(REPORT_FIGURES), figure)
    findings = report.get("findings", [])
    if not isinstance(findings, list):
        raise ConfigError(
            source, "report.findings", f"{findings!r} is not allowed; must be a list of findings"
        )
    for index, finding in enumerate(findings):
        where = f"report.findings[{index}]"
        require_mapping(source, where, finding)
        reject_unknown(source, f"{where}.", finding, FINDING_KEYS)
        for key in ("claim", "cell"):
            if key not in finding:
                raise ConfigError(source, f"{where}.{key}", "missing")
        if sum(kind in finding for kind in PUBLISHED_KINDS) != 1:
            raise ConfigError(
                source,
                where,
                "needs exactly one of published (a success rate), published_score, published_outcome, "
                "published_bound (a bound on a column's median over seeds), published_comparison (better than "
                "another cell) and published_unknown (why no published number is known: ours is shown "
                "without a verdict)",
            )
        check_value(source, f"{where}.claim", Text(), finding["claim"])
        if "published" in finding:
            check_value(source, f"{where}.published", Number(minimum=0, maximum=1), finding["published"])
        elif "published_score" in finding:
            check_value(source, f"{where}.published_score", Number(minimum=0), finding["published_score"])
        elif "published_outcome" in finding:
            check_value(source, f"{where}.published_outcome", Choice(OUTCOMES), finding["published_outcome"])
        elif "published_bound" in finding:
            _check_bound(source, f"{where}.published_bound", finding["published_bound"], trials=True)
        elif "published_comparison" in finding:
            _check_comparison(
                source, f"{where}.published_comparison", finding["published_comparison"], grid, allowed
            )
        else:
            check_value(source, f"{where}.published_unknown", Text(), finding["published_unknown"])
        if "fitted" in finding:
            _check_bound(source, f"{where}.fitted", finding["fitted"])
        if "published_solved_at" in finding:
            check_value(
                source, f"{where}.published_solved_at", Number(minimum=0), finding["published_solved_at"]
            )
        if "source" in finding:
            check_value(source, f"{where}.source", Text(), finding["source"])
        if "followup" in finding:
            followup = require_mapping(source, f"{where}.followup", finding["followup"])
            reject_unknown(source, f"{where}.followup.", followup, FOLLOWUP_KEYS)
            for key in FOLLOWUP_KEYS:
                if key not in followup:
                    raise ConfigError(source, f"{where}.followup.{key}", "missing")
            check_value(
                source, f"{where}.followup.published", Number(minimum=0, maximum=1), followup["published"]
            )
            check_value(source, f"{where}.followup.source", Text(), followup["source"])
        _check_cell(source, f"{where}.cell", finding["cell"], grid, allowed)
    if "shade" in report:
        check_value(source, "report.shade", Choice(ranges), report["shade"])
    return report
