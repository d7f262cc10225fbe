"""What a config's ``report:`` block may say, checked before any work (kept beside the report code)."""

from __future__ import annotations

from experiments.schema import Choice, ConfigError, Number, Text, check_value, reject_unknown, require_mapping

REPORT_KEYS = (
    "rows", "columns", "title", "paper", "paper_label", "blocks", "shade", "x_label", "notes", "figure", "findings",
)
REPORT_BLOCKS = ("score", "mse", "mae", "success", "solved", "sweep")
# The figures a report can draw, each with its file name when it is not the first (the first is figure.png):
# scores (the normalised score per cell), success_heatmap (success rate per cell), solved_curve (the
# fraction of seeds solved against the step), error_curves (error against the probe input or the sweep
# value, from curves.csv), sweep_accuracy (error and exact-match accuracy against the sweep value).
FIGURE_FILES = {
    "scores": "scores.png",
    "success_heatmap": "heatmap.png",
    "solved_curve": "solved.png",
    "error_curves": "curves.png",
    "sweep_accuracy": "sweep.png",
}
REPORT_FIGURES = tuple(FIGURE_FILES)
FINDING_KEYS = ("claim", "cell", "published", "reason")


def validate(source, report, grid, allowed):
    """The ``report:`` block of ``source``, checked: its keys, the grid axes it names, its blocks, figures
    and findings. ``allowed(axis)`` gives every value an axis may take (a finding may name a cell that a
    profile's grid leaves out). Returns the block; a mistake raises :class:`ConfigError`."""
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
        raise ConfigError(source, "report.findings", f"{findings!r} is not allowed; must be a list of findings")
    for index, finding in enumerate(findings):
        where = f"report.findings[{index}]"
        require_mapping(source, where, finding)
        reject_unknown(source, f"{where}.", finding, FINDING_KEYS)
        for key in ("claim", "cell", "published"):
            if key not in finding:
                raise ConfigError(source, f"{where}.{key}", "missing")
        check_value(source, f"{where}.claim", Text(), finding["claim"])
        check_value(source, f"{where}.published", Number(minimum=0, maximum=1), finding["published"])
        if "reason" in finding:
            check_value(source, f"{where}.reason", Text(), finding["reason"])
        cell = require_mapping(source, f"{where}.cell", finding["cell"])
        reject_unknown(source, f"{where}.cell.", cell, list(grid))
        for axis, value in cell.items():
            check_value(source, f"{where}.cell.{axis}", Choice(allowed(axis)), value)
    return report
