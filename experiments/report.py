"""Turn results/<name>/runs.csv into summary.csv, table.md and a figure, from the files alone.

Diverged seeds stay in every statistic: their non-finite errors count as +inf (so a median or a mean
shows them) and they count as failures in the success rate.
"""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np
import pandas as pd

from experiments.files import write_atomic, write_csv

METRICS = (
    "interpolation_mse", "extrapolation_mse", "interpolation_mae", "extrapolation_mae",
    "interpolation_score", "extrapolation_score",
)
FLOOR = 1e-8  # log-scale plots draw smaller errors (exact zeros included) at this value


def wilson_interval(successes, trials, z=1.959964):
    """95% Wilson score interval for a binomial proportion."""
    if trials == 0:
        return math.nan, math.nan
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


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
            row[f"{metric}_q25"] = float(np.quantile(values, 0.25))
            row[f"{metric}_q75"] = float(np.quantile(values, 0.75))
        success = group["success"].astype(bool)
        successes = int(success.sum())
        low, high = wilson_interval(successes, len(group))
        row.update(success_count=successes, success_rate=successes / len(group), success_low=low, success_high=high)
        # As Madsen & Johansen report them: solved-at step and sparsity error over the solved seeds only.
        row["met_count"] = int(group["solved_at"].notna().sum())  # met the criterion at some evaluation
        solved = group.loc[success, "solved_at"].dropna()
        row["solved_at_median"] = float(solved.median()) if len(solved) else math.nan
        row["sparsity_error_solved_mean"] = float(group.loc[success, "sparsity_error"].mean()) if successes else math.nan
        row["sparsity_error_median"] = float(group["sparsity_error"].median())
        rows.append(row)
    return pd.DataFrame(rows)


def grid_axes(config):
    return list(config["grid"])


def layout(config):
    """(rows axis, columns axis, remaining axes) of a config's tables: one block per remaining value."""
    report = config.get("report", {})
    axes = grid_axes(config)
    rows = report.get("rows", axes[0])
    columns = report.get("columns", axes[1] if len(axes) > 1 else axes[0])
    return rows, columns, [axis for axis in axes if axis not in (rows, columns)]


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
            match = summary[(summary[rows] == value) & ((summary[columns] == column) if column is not None else True)]
            cells.append(cell(match.iloc[0]) if len(match) else "-")
        if paper:
            reference = paper.get(str(value), {})
            cells.append(" / ".join(_format(reference.get(str(c))) for c in column_values))
        lines.append("| " + " | ".join([str(value), *cells]) + " |")
    return lines


def _spread(row, name):
    return f"{_format(row[f'{name}_median'])} [{_format(row[f'{name}_q25'])}, {_format(row[f'{name}_q75'])}]"


def dataset_of(runs):
    """The dataset named in the rows (tasks that record one), else None."""
    if "dataset" not in runs:
        return None
    return ", ".join(str(name) for name in dict.fromkeys(runs["dataset"].dropna()))


def sweep_block(curves, rows, x_label):
    """Table 2's shape: one line per ``rows`` value, accuracy and MAE at each swept value (means over
    seeds; accuracy with its range over seeds)."""
    values = sorted(dict.fromkeys(curves["x"]))
    tables = [("Mean absolute error, mean over seeds", lambda r: _format(r["mae_mean"]))]
    if "accuracy_mean" in curves:
        accuracy = lambda r: (  # noqa: E731
            f"{100 * r['accuracy_mean']:.1f} [{100 * r['accuracy_min']:.1f}, {100 * r['accuracy_max']:.1f}]"
        )
        tables.insert(0, ("Accuracy (%), mean over seeds [min, max]", accuracy))
    lines = []
    for title, cell in tables:
        lines += ["", f"### {title}", "", "| " + " | ".join([rows, *(f"{x_label} {v:g}" for v in values)]) + " |"]
        lines += ["|" + "---|" * (len(values) + 1)]
        for name, group in curves.groupby(rows, sort=False):
            by_x = {row["x"]: row for _, row in group.iterrows()}
            lines.append("| " + " | ".join([str(name), *(cell(by_x[v]) if v in by_x else "-" for v in values)]) + " |")
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
        lines += ["Selected models (on interpolation validation data), measured on test sequences of each length."]
        lines += sweep_block(curves, rows, report.get("x_label", "x"))
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
        for part in ("interpolation", "extrapolation"):
            title = part.capitalize()
            if "score" in blocks:
                table_reference = reference.get(part) if isinstance(reference, dict) else None
                lines += ["", f"### {title}: normalised score (random init = 100)", ""]
                lines += _pivot_block(
                    block, rows, columns, lambda r, p=part: _format(r[f"{p}_score_median"]), table_reference, paper_label
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
        elif block["diverged"].any():
            lines += ["", "### Diverged seeds", ""]
            lines += _pivot_block(block, rows, columns, lambda r: str(int(r["diverged"])))
    return "\n".join(lines) + "\n"


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
            lines.append(f"- {unit}: " + ", ".join(f"{key} {_format(value)}" for key, value in settings.items()))
    return lines + [""]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure_, path):
    import matplotlib.pyplot as plt

    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.stem}.tmp.png")
    figure_.savefig(temporary, dpi=110)
    plt.close(figure_)
    temporary.replace(path)


def sweep_figure(curves, provenance, path, dataset=None):
    """Accuracy and mean absolute error against the swept value (log axis), one line per ``rows`` value."""
    plt = _pyplot()
    config = provenance["config"]
    report = config.get("report", {})
    rows, _, _ = layout(config)
    figure_, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, curve in curves.groupby(rows, sort=False):
        curve = curve.sort_values("x")
        line = left.plot(curve["x"], 100 * curve["accuracy_mean"], marker="o", lw=1.4, label=str(name))[0]
        left.fill_between(curve["x"], 100 * curve["accuracy_min"], 100 * curve["accuracy_max"], color=line.get_color(), alpha=0.12)
        right.plot(curve["x"], np.clip(curve["mae_mean"], FLOOR, None), marker="o", lw=1.4, label=str(name))
    for axis, label in ((left, "accuracy (%), mean over seeds\n(band: min to max)"), (right, "mean absolute error,\nmean over seeds")):
        axis.set_xscale("log")
        axis.set_xlabel(report.get("x_label", "x"))
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    right.set_yscale("log")
    left.set_ylim(-2, 102)
    left.legend(fontsize=8)
    title = f"{report.get('title', config['name'])} — profile {config['profile']}, {len(config['seeds'])} seeds"
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
        panels = [(None, curves[curves[rows].isin(names[i : i + lines_per_panel])]) for i in range(0, len(names), lines_per_panel)]
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
    for axis, (key, panel) in zip(axes.flat, panels):
        for name, curve in panel.groupby(columns, sort=False):
            curve = curve.sort_values("x")
            axis.plot(curve["x"], np.clip(curve["mae_mean"], FLOOR, None), label=str(name), lw=1.4, marker="." if log_x else None)
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
        axis.set_ylabel(f"mean absolute error, mean over\n{len(config['seeds'])} seeds (drawn >= {FLOOR:g})")
    figure_.suptitle(f"{report.get('title', config['name'])} — profile {config['profile']}", fontsize=11)
    figure_.tight_layout()
    _save(figure_, path)


def _grid(summary, config):
    """(rows, columns, others, row values, column values, groups of summary rows per other-axes value)."""
    rows, columns, others = layout(config)
    groups = list(summary.groupby(others, sort=False)) if others else [((), summary)]
    return rows, columns, others, list(dict.fromkeys(summary[rows])), list(dict.fromkeys(summary[columns])), groups


def figure(summary, provenance, path):
    """Median interpolation and extrapolation score per model, one panel per row value (log scale)."""
    plt = _pyplot()
    config = provenance["config"]
    report = config.get("report", {})
    rows, columns, others, row_values, column_values, groups = _grid(summary, config)
    figure_, axes = plt.subplots(
        len(groups), len(row_values), figsize=(2.6 * len(row_values), 2.8 * len(groups) + 0.6),
        squeeze=False, sharey=True,
    )
    positions = np.arange(len(column_values))
    for g, (key, block) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        for r, value in enumerate(row_values):
            axis = axes[g][r]
            for offset, part, colour in ((-0.2, "interpolation", "tab:blue"), (0.2, "extrapolation", "tab:red")):
                heights = []
                for column in column_values:
                    match = block[(block[rows] == value) & (block[columns] == column)]
                    heights.append(match.iloc[0][f"{part}_score_median"] if len(match) else np.nan)
                heights = np.clip(np.nan_to_num(np.array(heights, float), nan=np.nan, posinf=1e6), 1e-4, 1e6)
                axis.bar(positions + offset, heights, 0.4, color=colour, label=part)
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
        f"{report.get('title', config['name'])} — profile {config['profile']}, {len(config['seeds'])} seeds",
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
        panel_rows, count, figsize=(0.75 * len(column_values) * count + 2.5, (0.42 * len(row_values) + 1.1) * panel_rows + 1.0),
        squeeze=False, layout="constrained",
    )
    image = None
    for axis, (key, block) in zip(axes.flat, groups):
        rates = np.full((len(row_values), len(column_values)), np.nan)
        for _, row in block.iterrows():
            rates[row_values.index(row[rows]), column_values.index(row[columns])] = 100 * row["success_rate"]
        image = axis.imshow(rates, vmin=0, vmax=100, cmap="viridis", aspect="auto")
        for (i, j), value in np.ndenumerate(rates):
            if np.isfinite(value):
                axis.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=7, color="white" if value < 60 else "black")
        axis.set_xticks(range(len(column_values)), column_values, rotation=45, ha="right", fontsize=8)
        axis.set_yticks(range(len(row_values)), row_values, fontsize=8)
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


def solved_fractions(history, runs, axes):
    """Per cell and evaluation step, the fraction of seeds whose extrapolation MSE has been under the
    cell's success threshold at some evaluation up to that step (the solved-at curve), from history.csv."""
    thresholds = runs.groupby(list(axes), sort=False)["success_threshold"].first().rename("threshold").reset_index()
    merged = history.merge(thresholds, on=list(axes))
    merged["under"] = merged["extrapolation_mse"] < merged["threshold"]  # NaN (diverged) never counts
    merged = merged.sort_values([*axes, "seed", "step"], kind="stable")
    merged["solved"] = merged.groupby([*axes, "seed"], sort=False)["under"].cummax()
    return merged.groupby([*axes, "step"], sort=False)["solved"].mean().rename("fraction").reset_index()


def solved_curve(history, runs, provenance, path):
    """Fraction of seeds solved by each step, one panel per row value, one line per column value."""
    plt = _pyplot()
    config = provenance["config"]
    report = config.get("report", {})
    rows, columns, others = layout(config)
    fractions = solved_fractions(history, runs, grid_axes(config))
    groups = list(fractions.groupby(others, sort=False)) if others else [((), fractions)]
    row_values = [value for value in config["grid"][rows] if value in set(fractions[rows])]  # grid order
    figure_, axes = plt.subplots(
        len(groups), len(row_values), figsize=(2.7 * len(row_values), 2.5 * len(groups) + 0.9), squeeze=False, sharey=True
    )
    for g, (key, block) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        for r, value in enumerate(row_values):
            axis = axes[g][r]
            lines = block[block[rows] == value]
            for column in config["grid"][columns]:
                line = lines[lines[columns] == column]
                if len(line):
                    axis.plot(line["step"], 100 * line["fraction"], label=str(column), lw=1.2)
            title = f"{rows} = {value}" + ("\n" + ", ".join(f"{a} = {v}" for a, v in zip(others, key)) if others else "")
            axis.set_title(title, fontsize=9)
            axis.set_xlabel("step", fontsize=8)
            axis.set_ylim(-3, 103)
            axis.tick_params(labelsize=7)
        axes[g][0].set_ylabel("seeds solved by this step (%)", fontsize=8)
    axes[0][-1].legend(fontsize=7, loc="lower right")
    figure_.suptitle(
        f"{report.get('title', config['name'])}\nsolved-at curve: seeds whose extrapolation MSE has been under the "
        f"criterion at some evaluation\nprofile {config['profile']}, {len(config['seeds'])} seeds",
        fontsize=8,
    )
    figure_.tight_layout()
    _save(figure_, path)


def finding_rows(summary, config):
    """The config's findings against our numbers: claim, published rate, ours with its Wilson 95%
    interval, and a verdict: reproduced (the published rate lies in our interval), beyond this budget (it
    does not, and the config gives the reason), or not reproduced."""
    rows = []
    for finding in config.get("report", {}).get("findings", []):
        match = summary
        for axis, value in finding["cell"].items():
            match = match[match[axis] == value]
        if len(match) != 1:
            continue  # the cell is not in this profile's grid
        cell = match.iloc[0]
        inside = cell["success_low"] - 1e-12 <= finding["published"] <= cell["success_high"] + 1e-12
        verdict = "reproduced" if inside else ("beyond this budget" if finding.get("reason") else "not reproduced")
        rows.append({
            "claim": finding["claim"],
            "published": f"{100 * finding['published']:.0f}%",
            "ours": f"{100 * cell['success_rate']:.0f}% [{100 * cell['success_low']:.0f}, {100 * cell['success_high']:.0f}]",
            "verdict": verdict,
            "reason": "" if inside else finding.get("reason", "differs; see the notes and history.csv"),
        })
    return rows


def report_experiment(directory):
    """Regenerate summary.csv, table.md and figure.png of one results directory."""
    directory = pathlib.Path(directory)
    provenance = json.loads((directory / "provenance.json").read_text())
    runs = pd.read_csv(directory / "runs.csv")
    summary = summarise(runs, grid_axes(provenance["config"]))
    curves = pd.read_csv(directory / "curves.csv") if (directory / "curves.csv").exists() else None
    dataset = dataset_of(runs)
    write_csv(directory / "summary.csv", summary)
    write_atomic(directory / "table.md", table_markdown(summary, provenance, curves, dataset))
    rows, columns, _ = layout(provenance["config"])
    figures = provenance["config"].get("report", {}).get("figure", [])
    figures = figures if isinstance(figures, list) else [figures]
    if curves is not None and "accuracy_mean" in curves:
        sweep_figure(curves, provenance, directory / "figure.png", dataset)
    elif curves is not None:
        curve_figure(curves, provenance, directory / "figure.png")
        if rows != columns:
            figure(summary, provenance, directory / "scores.png")
    elif "success_heatmap" in figures:
        success_heatmap(summary, provenance, directory / "figure.png")
    else:
        figure(summary, provenance, directory / "figure.png")
    if "solved_curve" in figures and (directory / "history.csv").exists():
        solved_curve(pd.read_csv(directory / "history.csv"), runs, provenance, directory / "solved.png")
    return summary


def report_all(results_root="results"):
    """Regenerate every experiment's tables and figures, then results/README.md; return the directories."""
    done = complete_experiments(results_root)
    for directory in done:
        report_experiment(directory)
    write_index(results_root)
    return done


def complete_experiments(results_root):
    """The experiment folders under ``results_root`` that hold a finished run."""
    return [
        directory
        for directory in sorted(pathlib.Path(results_root).glob("*/"))
        if (directory / "runs.csv").exists() and (directory / "provenance.json").exists()
    ]


def write_index(results_root="results"):
    """Write results/README.md from the experiments' tables, figures and provenance."""
    done = complete_experiments(results_root)
    if done:
        write_atomic(pathlib.Path(results_root) / "README.md", index_markdown(done))


def compute_time(directory, config):
    """Seconds spent training and evaluating, summed over grid points (each row holds its point's time)."""
    runs = pd.read_csv(pathlib.Path(directory) / "runs.csv")
    return float(runs.groupby(grid_axes(config), sort=False)["wall_time_s"].first().sum())


def _short_commit(commit):
    return commit[:12] + ("-dirty" if commit.endswith("-dirty") else "")


def index_markdown(directories):
    """The one page a reader opens first: every experiment's result, figures and provenance."""
    entries = [(directory, json.loads((directory / "provenance.json").read_text())) for directory in directories]
    lines = [
        "# Results",
        "",
        "Generated by `make report` (part of `make reproduce`) from the CSVs in each folder: do not edit by hand.",
        "Paper numbers marked \"recalled\" come from memory of the paper, not its text; we never tune to them.",
        "",
    ]
    findings = [
        (provenance["config"]["name"], row)
        for directory, provenance in entries
        for row in finding_rows(pd.read_csv(directory / "summary.csv"), provenance["config"])  # written by report_experiment
    ]
    if findings:
        lines += [
            "## Findings",
            "",
            "Each published claim beside ours (success rate over seeds, Wilson 95% interval). Reproduced: the published "
            "rate lies in our interval. Beyond this budget: it does not, and the cause named is our step budget, not a "
            "different protocol; each experiment's history.csv has every seed's errors at every evaluation.",
            "",
            "| claim | experiment | published | ours [95%] | verdict | reason |",
            "|---|---|---|---|---|---|",
        ]
        for name, row in findings:
            lines.append(
                f"| {row['claim']} | [{name}](#{name.replace('_', '-')}) | {row['published']} | {row['ours']} "
                f"| {row['verdict']} | {row['reason']} |"
            )
        lines += [""]
    lines += [
        "## Experiments",
        "",
        "| experiment | profile | seeds | steps | compute time | last invocation: points run / resumed, wall time | commit of the points | device |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for directory, provenance in entries:
        config = provenance["config"]
        lines.append(
            f"| [{config['name']}](#{config['name'].replace('_', '-')}) | {config['profile']} | {len(config['seeds'])} "
            f"| {config['training']['steps']:,} | {compute_time(directory, config) / 60:.1f} min "
            f"| {provenance['points_run']} / {provenance['points_resumed']}, {provenance['wall_time_s'] / 60:.1f} min "
            f"| {', '.join(f'`{_short_commit(c)}`' for c in provenance.get('git_commits_of_points', [provenance['git_commit']]))} "
            f"| {provenance['environment']['device']} |"
        )
    environment = entries[0][1]["environment"]
    lines += [
        "",
        f"Python {environment['python']}, TensorFlow {environment['tensorflow']}, Keras {environment['keras']}, "
        f"NumPy {environment['numpy']}, pandas {environment['pandas']}; {environment['platform']}. Compute time "
        "adds up the training and evaluation time recorded with every grid point, however many invocations it "
        "took; the wall time is that of the last invocation only (a resumed run counts only the points it ran).",
    ]
    for directory, provenance in entries:
        config = provenance["config"]
        report = config.get("report", {})
        lines += ["", f"## {config['name']}", "", f"**{report.get('title', config['name'])}** (`{config['source']}`)."]
        if report.get("notes"):
            lines += ["", "### Where we differ from the paper, and why", "", report["notes"].strip()]
        for figure_name in ("figure.png", "scores.png", "solved.png"):
            if (directory / figure_name).exists():
                lines += ["", f"![{config['name']} {figure_name}]({directory.name}/{figure_name})"]
        table = (directory / "table.md").read_text().splitlines()
        lines += [""] + [("#" + line) if line.startswith("#") else line for line in table[1:]]
    return "\n".join(lines) + "\n"
