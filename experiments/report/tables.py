"""The Markdown tables of an experiment: our numbers beside the paper's, and the settings in words."""

from __future__ import annotations

import math

import numpy as np

from experiments.report.summary import layout


def _format(value):
    if isinstance(value, str):  # a reference given as text ("96-98", "> 999")
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    if isinstance(value, (int, np.integer)):
        return str(value)
    if value == 0:
        return "0"
    magnitude = abs(value)
    return f"{value:.3g}" if 1e-3 <= magnitude < 1e5 else f"{value:.2e}"


def _pivot_block(summary, rows, columns, cell, paper=None, paper_label="paper (recalled)"):
    """A Markdown table: one line per ``rows`` value, one column per ``columns`` value (one column when
    the grid has a single axis), and the paper's numbers in a last column where given."""
    row_values = list(dict.fromkeys(summary[rows]))
    column_values = list(dict.fromkeys(summary[columns])) if columns != rows else [None]
    labels = ["value"] if columns == rows else [str(c) for c in column_values]
    header = [rows, *labels] + ([f"{paper_label}: {' / '.join(labels)}"] if paper else [])
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    for value in row_values:
        cells = []
        for column in column_values:
            match = summary[
                (summary[rows] == value) & ((summary[columns] == column) if column is not None else True)
            ]
            cells.append(cell(match.iloc[0]) if len(match) else "-")
        if paper:
            reference = paper.get(str(value), {})
            cells.append(" / ".join(_format(reference.get(str(c))) for c in column_values))
        lines.append("| " + " | ".join([str(value), *cells]) + " |")
    return lines


def _accuracy(row):
    """An exact-match share as a table cell: mean over seeds [min, max], in percent."""
    return (
        f"{100 * row['accuracy_mean']:.1f} [{100 * row['accuracy_min']:.1f}, {100 * row['accuracy_max']:.1f}]"
    )


def _spread(row, name):
    return f"{_format(row[f'{name}_median'])} [{_format(row[f'{name}_q25'])}, {_format(row[f'{name}_q75'])}]"


def sweep_block(curves, rows, x_label):
    """Table 2's shape: one line per ``rows`` value, accuracy and MAE at each swept value (means over
    seeds; accuracy with its range over seeds)."""
    tables = [("Mean absolute error, mean over seeds", lambda r: _format(r["mae_mean"]))]
    if "accuracy_mean" in curves:
        tables.insert(
            0,
            (
                "Accuracy (% of outputs whose rounded value equals the target), mean over seeds [min, max]",
                _accuracy,
            ),
        )
    return _per_value_tables(curves, rows, x_label, tables)


def measures_block(curves, rows, x_label):
    """A learner's own measures (an agent's reward, say: every ``NAME_median`` column of curves.csv but
    the MAE's) at each swept value, median over seeds [q25, q75], and the exact share, mean [min, max]."""
    names = [c[: -len("_median")] for c in curves.columns if c.endswith("_median") and c != "mae_median"]
    tables = [(f"{name}, median over seeds [q25, q75]", lambda r, n=name: _spread(r, n)) for name in names]
    if "accuracy_mean" in curves:
        tables.append(
            (
                "exact share (% of episodes or outputs that meet their target exactly), mean over seeds [min, max]",
                _accuracy,
            )
        )
    return _per_value_tables(curves, rows, x_label, tables)


def _percent_spread(row, name):
    cells = [100 * row[f"{name}_{q}"] for q in ("median", "q25", "q75")]
    return f"{cells[0]:.1f} [{cells[1]:.1f}, {cells[2]:.1f}]"


def parts_block(summary, curves, rows, x_label):
    """The reader and the core measured apart (``ReaderParts``): the reader's share of single test items
    read right, then, per swept value, the core alone (fed each item's ideal code) beside the whole model,
    medians over seeds [q25, q75]."""
    lines = [
        "",
        "### The reader and the core apart",
        "",
        "Reader: the share of single test digits the kept reader reads right (its classes named by the digit "
        "each fires for most on the training digits; a value reader rounded on its own least-squares scale). "
        "Core alone: the kept core fed each test sequence's digits as ideal codes (the one-hot class, or the "
        "value on the reader's scale), so its error owes nothing to the reader. Whole model: as above. "
        "Per seed in runs.csv (reader_accuracy, core_accuracy_at_N, core_mae_at_N).",
        "",
        f"| {rows} | single digits read right, % |",
        "|---|---|",
    ]
    for _, row in summary.iterrows():
        lines.append(f"| {row[rows]} | {_percent_spread(row, 'reader_accuracy')} |")
    tables = [
        (
            "Core alone: accuracy, % median over seeds [q25, q75]",
            lambda r: _percent_spread(r, "core_accuracy"),
        ),
        ("Core alone: MAE, median over seeds [q25, q75]", lambda r: _spread(r, "core_mae")),
        ("Whole model: MAE, median over seeds [q25, q75]", lambda r: _spread(r, "mae")),
    ]
    return lines + _per_value_tables(curves, rows, x_label, tables)


def _per_value_tables(curves, rows, x_label, tables):
    """One markdown table per (title, cell function): a line per ``rows`` value, a column per swept value."""
    values = sorted(dict.fromkeys(curves["x"]))
    lines = []
    for title, cell in tables:
        lines += [
            "",
            f"### {title}",
            "",
            "| " + " | ".join([rows, *(f"{x_label} {v:g}" for v in values)]) + " |",
        ]
        lines += ["|" + "---|" * (len(values) + 1)]
        for name, group in curves.groupby(rows, sort=False):
            by_x = {row["x"]: row for _, row in group.iterrows()}
            lines.append(
                "| " + " | ".join([str(name), *(cell(by_x[v]) if v in by_x else "-" for v in values)]) + " |"
            )
    return lines


def table_markdown(summary, provenance, curves=None, dataset=None):
    config = provenance["config"]
    report = config.get("report", {})
    rows, columns, others = layout(config)
    blocks = report.get("blocks", ["score", "mse", "success"])
    paper = report.get("paper", {})
    paper_label = report.get("paper_label", "paper (recalled)")
    environment = provenance["environment"]
    lines = [
        f"# {report.get('title', config['name'])}" + (f" — data: {dataset}" if dataset else ""),
        "",
        f"Profile `{config['profile']}`: {len(config['seeds'])} seeds per cell, {config['training']['steps']} steps, "
        f"batch {config['training']['batch_size']}, Adam lr {config['training']['learning_rate']}, "
        f"{config['training']['data_stream']} data streams{_regularization_text(config['training'])}. Commit "
        f"`{', '.join(provenance.get('git_commits_of_points', [provenance['git_commit']]))}`, "
        f"TensorFlow {environment['tensorflow']}, Keras {environment['keras']}, {environment['device']}.",
        "",
        "Cells are medians over seeds, with quartiles [q25, q75] where shown; diverged seeds count as +inf "
        "and are never dropped. Models are selected on interpolation validation data only.",
    ]
    lines += _units_text(config)
    if "score" in blocks:
        lines += [
            "The normalised score is 100 x MSE / median MSE of the randomly initialised models of the same "
            "architecture on the same data (the paper's metric; it flatters extrapolation, so raw MSE is shown too)."
        ]
    if "success" in blocks:
        lines += [
            "Success: the kept model's extrapolation MSE is below that of the published nearly perfect solution "
            f"(eps = {_format(config['task'].get('success_epsilon'))}; the experiment's module defines it), with a "
            "Wilson 95% interval."
        ]
    if dataset:
        lines += [f"Dataset: **{dataset}**."]
    if "sweep" in blocks and curves is not None:
        lines += [
            "Selected models (on interpolation validation data), measured on one test set for each value "
            f"below ({report.get('x_label', 'the swept value')})."
        ]
        lines += sweep_block(curves, rows, report.get("x_label", "x"))
    if "parts" in blocks and curves is not None and "reader_accuracy_median" in summary:
        lines += parts_block(summary, curves, rows, report.get("x_label", "x"))
    if "measures" in blocks and curves is not None:
        lines += [
            "Selected models (on interpolation validation data), measured on the fixed set of each value."
        ]
        lines += measures_block(curves, rows, report.get("x_label", "x"))
    groups = summary.groupby(others, sort=False) if others else [((), summary)]
    for key, block in groups:
        key = key if isinstance(key, tuple) else (key,)
        chosen = dict(zip(others, key))
        if others:
            label = ", ".join(f"{axis} = {value}" for axis, value in chosen.items())
            ranges = config["task"].get("ranges", {}).get(chosen.get("range"), {})
            detail = "; ".join(f"{part} U{bounds}" for part, bounds in ranges.items())
            lines += ["", f"## {label}" + (f" ({detail})" if detail else "")]
        reference = paper.get(chosen.get("range"), paper) if others else paper
        for metric in ("mse", "mae"):  # a task with a fixed training set: the kept model's error on it
            if metric in blocks and f"training_{metric}_median" in block:
                lines += ["", f"### Training set: {metric.upper()}, median [q25, q75]", ""]
                lines += _pivot_block(block, rows, columns, lambda r, n=f"training_{metric}": _spread(r, n))
        for part in ("interpolation", "extrapolation"):
            title = part.capitalize()
            if "score" in blocks:
                table_reference = reference.get(part) if isinstance(reference, dict) else None
                lines += ["", f"### {title}: normalised score (random init = 100)", ""]
                lines += _pivot_block(
                    block,
                    rows,
                    columns,
                    lambda r, p=part: _format(r[f"{p}_score_median"]),
                    table_reference,
                    paper_label,
                )
            for metric in ("mse", "mae"):
                if metric in blocks:
                    lines += ["", f"### {title}: {metric.upper()}, median [q25, q75]", ""]
                    lines += _pivot_block(block, rows, columns, lambda r, n=f"{part}_{metric}": _spread(r, n))
        if "success" in blocks:
            lines += ["", "### Success rate [Wilson 95%], diverged seeds", ""]
            success_reference = reference.get("success") if isinstance(reference, dict) else None
            lines += _pivot_block(
                block,
                rows,
                columns,
                lambda r: f"{100 * r['success_rate']:.0f}% [{100 * r['success_low']:.0f}, "
                f"{100 * r['success_high']:.0f}], {int(r['diverged'])} div",
                success_reference,
                paper_label,
            )
        if "solved" in blocks:
            lines += [
                "",
                "### Solved seeds: median solved-at step and mean sparsity error (solved seeds only); seeds that met the criterion at some evaluation",
                "",
                "Solved-at is the first evaluation under the threshold; the sparsity error is that of the kept model "
                "(max over weights of the distance to {-1, 0, 1}), averaged over solved seeds as Madsen & Johansen do. "
                "A seed can meet the criterion at one evaluation and still fail: the model kept is the one with the "
                "lowest *interpolation* validation error, which need not be the one that extrapolated best.",
                "",
            ]
            lines += _pivot_block(
                block,
                rows,
                columns,
                lambda r: f"{int(r['success_count'])}/{int(r['seeds'])} at {_format(r['solved_at_median'])}; "
                f"{_format(r['sparsity_error_solved_mean'])}; met {int(r['met_count'])}",
            )
        if "eigenvalues" in blocks and "eigenvalue_distance_median" in block:
            lines += _explained_block(
                "The kept models' recurrence: |lambda_1 - 1| median [largest] over seeds; |lambda_2| median",
                "lambda_1 and lambda_2 are the eigenvalues of the hidden-to-hidden block, largest modulus first "
                "(runs.csv has them per seed). Carrying a sum over n steps exactly needs lambda_1 = 1 on what the "
                "output reads: an error d grows about (1 + d)^n (1.001^1000 = 2.7). '-': a model without such a "
                "block (the LSTM).",
                _pivot_block(
                    block,
                    rows,
                    columns,
                    _or_dash(
                        "eigenvalue_distance_median",
                        lambda r: f"{_format(r['eigenvalue_distance_median'])} [{_format(r['eigenvalue_distance_max'])}]; "
                        f"{_format(r.get('recurrent_eigenvalue_2_median', math.nan))}",
                    ),
                ),
            )
        if "exactness" in blocks and "recurrent_weight_error_median" in block:
            lines += _explained_block(
                "The kept cores' exactness: recurrent weight error median [largest]; |lambda_1 - 1| median; "
                "sparsity error median",
                "The recurrent weight error is the largest distance of the hidden-to-hidden block from the identity "
                "(exact accumulation h_t = x_t + h_(t-1); runs.csv has it per seed as recurrent_weight_error), "
                "lambda_1 that block's eigenvalue of largest modulus, the sparsity error the largest distance of "
                "any core weight from {-1, 0, 1} (the digit reader's weights are not counted). An error d in the "
                "recurrence grows about (1 + d)^n over n steps. '-': a core without an exact form here.",
                _pivot_block(
                    block,
                    rows,
                    columns,
                    _or_dash(
                        "recurrent_weight_error_median",
                        lambda r: f"{_format(r['recurrent_weight_error_median'])} [{_format(r['recurrent_weight_error_max'])}]; "
                        f"{_format(r['eigenvalue_distance_median'])}; {_format(r['sparsity_error_median'])}",
                    ),
                ),
            )
        if "solved" not in blocks and block["diverged"].any():
            lines += ["", "### Diverged seeds", ""]
            lines += _pivot_block(block, rows, columns, lambda r: str(int(r["diverged"])))
    return "\n".join(lines) + "\n"


def _explained_block(title, explanation, table):
    """A table block: its heading, the sentence that says how to read it, then the table's lines."""
    return ["", f"### {title}", "", explanation, "", *table]


def _or_dash(key, text):
    """A cell formatter: ``text(row)``, or "-" where the row has no ``key`` value (a unit without it)."""
    return lambda r: "-" if math.isnan(r.get(key, math.nan)) else text(r)


def _regularization_text(training):
    if not training.get("regularization"):
        return ""
    return (
        f", units' own regulariser weight ramped 0 -> {_format(training['regularization'])} over steps "
        f"{training['regularization_start']}-{training['regularization_end']}"
    )


def _units_text(config):
    """One line per unit with its own training settings (the config's ``units:`` block)."""
    units = config.get("units") or {}
    if not units:
        return []
    lines = ["", "Per-unit training settings (each unit's published protocol; the rest as above):", ""]
    for unit, settings in units.items():
        if unit in config["grid"].get("unit", []):
            lines.append(
                f"- {unit}: " + ", ".join(f"{key} {_format(value)}" for key, value in settings.items())
            )
    return lines + [""]
