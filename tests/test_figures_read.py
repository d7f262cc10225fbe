"""Figures and the findings table read right at a glance: error curves draw the median over seeds (not the
mean), legends sit outside the panels, every figure of an experiment puts its panels and lines in the
config's grid order, the paper's scores are marked beside ours, and a claim the long profile also tested
shows that profile's verdict, linked to its results."""

import json

import numpy as np
import pandas as pd
import pytest

from experiments.report import build, figures, figures_sweep, rewards
from experiments.report.summary import summarise

LENGTHS = [1, 10, 100, 1000]
# a grid whose order is not the alphabet's, nor that of the rows below (which come alphabetically)
GRID = {"op": ["sub", "add", "mul"], "unit": ["nau", "nac"], "range": ["wide", "narrow"]}


def provenance(grid, **report):
    config = {
        "name": "toy",
        "profile": "default",
        "seeds": [0, 1, 2, 3],
        "grid": grid,
        "training": {"steps": 100},
        "task": {"train_range": [1, 10]},
        "report": report,
    }
    return {"config": config}


def sweep_curves():
    """curves.csv of a one-axis sweep: a mean that one wild seed blows up, beside the median and quartiles."""
    rows = []
    for index, unit in enumerate(["nau", "nac"]):
        for x in LENGTHS:
            median = (index + 1) * 0.1 * x
            rows.append(
                {
                    "unit": unit,
                    "x": x,
                    "mae_mean": median * 1e4,
                    "mae_median": median,
                    "mae_q25": median / 2,
                    "mae_q75": median * 2,
                    "accuracy_mean": 0.5,
                    "accuracy_min": 0.25,
                    "accuracy_max": 0.75,
                    "reward_median": 0.5,
                    "reward_q25": 0.25,
                    "reward_q75": 0.75,
                }
            )
    return pd.DataFrame(rows).sort_values(["unit", "x"])  # alphabetical: nac before nau


def grid_runs():
    """runs.csv of GRID (4 seeds a cell), its rows in alphabetical order, and its history.csv."""
    cells = [
        {"op": op, "unit": unit, "range": range_}
        for op in sorted(GRID["op"])
        for unit in sorted(GRID["unit"])
        for range_ in sorted(GRID["range"])
    ]
    runs = pd.DataFrame(
        [
            {
                **cell,
                "seed": seed,
                "success": seed < 2,
                "solved_at": 50.0 if seed < 2 else np.nan,
                "diverged": False,
                "sparsity_error": 0.0,
                "success_threshold": 1e-3,
                "interpolation_score": 10.0 ** -(seed + 1),
                "extrapolation_score": 10.0 ** (seed - 1),
            }
            for cell in cells
            for seed in range(4)
        ]
    )
    history = pd.DataFrame(
        [
            {
                **cell,
                "seed": seed,
                "step": step,
                "extrapolation_mse": 1e-4 if seed < 2 and step >= 50 else 1.0,
            }
            for cell in cells
            for seed in range(4)
            for step in (0, 50, 100)
        ]
    )
    curves = pd.DataFrame(
        [
            {**cell, "x": x, "mae_mean": 1e6, "mae_median": x / 10, "mae_q25": x / 20, "mae_q75": x / 5}
            for cell in cells
            for x in LENGTHS
        ]
    )
    return runs, history, curves


def grid_figures(tmp_path, report=None):
    """Every figure kind of the grid's report (the grid axes op x unit, one block per range)."""
    runs, history, curves = grid_runs()
    report = report or {"rows": "op", "columns": "unit"}
    record = provenance(GRID, **report)
    summary = summarise(runs, list(GRID))
    return {
        "scores": figures.figure(summary, record, tmp_path / "scores.png"),
        "heatmap": figures.success_heatmap(summary, record, tmp_path / "heatmap.png"),
        "solved": figures.solved_curve(history, runs, record, tmp_path / "solved.png"),
        "curves": figures_sweep.curve_figure(curves, record, tmp_path / "curves.png"),
    }


def line(axis, label):
    (found,) = [drawn for drawn in axis.get_lines() if drawn.get_label() == label]
    return found


def test_the_sweep_and_curve_figures_plot_the_median_over_seeds_not_the_mean(tmp_path):
    curves = sweep_curves()
    record = provenance({"unit": ["nau", "nac"]}, rows="unit", columns="unit", x_label="length")
    drawn = figures_sweep.sweep_figure(curves, record, tmp_path / "sweep.png")
    error_axis = drawn.axes[1]
    for unit in ("nau", "nac"):
        expected = curves[curves["unit"] == unit]
        np.testing.assert_allclose(line(error_axis, unit).get_ydata(), expected["mae_median"])
        band = error_axis.collections[["nau", "nac"].index(unit)].get_paths()[0].vertices[:, 1]
        assert band.min() == pytest.approx(expected["mae_q25"].min())
        assert band.max() == pytest.approx(expected["mae_q75"].max())
    assert "median over seeds" in error_axis.get_ylabel() and "[q25, q75]" in error_axis.get_ylabel()
    _, _, grid_curves = grid_runs()
    drawn = figures_sweep.curve_figure(
        grid_curves, provenance(GRID, rows="op", columns="unit"), tmp_path / "curves.png"
    )
    np.testing.assert_allclose(line(drawn.axes[0], "nau").get_ydata(), np.array(LENGTHS) / 10)
    assert "median" in drawn.axes[0].get_ylabel()


def test_a_test_sets_items_are_drawn_as_the_median_of_bins(tmp_path):
    numbers = np.array([n for n in range(20, 1000) if n % 3])  # unevenly spaced, as test numbers are
    curves = pd.DataFrame(
        {"unit": "nalu", "x": numbers, "mae_median": numbers % 7 + 1.0, "mae_mean": 1e6}
    ).assign(mae_q25=lambda frame: frame["mae_median"] / 2, mae_q75=lambda frame: frame["mae_median"] * 2)
    record = provenance({"unit": ["nalu"]}, rows="unit", columns="unit")
    drawn = figures_sweep.curve_figure(curves, record, tmp_path / "figure.png")
    binned = line(drawn.axes[0], "nalu")
    first = curves[curves["x"] < figures_sweep.BIN_WIDTH]["mae_median"].median()
    assert len(binned.get_xdata()) == 20 and binned.get_ydata()[0] == pytest.approx(first)
    assert drawn.axes[0].get_yscale() == "log"


def overlaps_a_panel(figure_):
    """The legends of ``figure_`` that overlap one of its visible panels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure_)  # a saved figure is closed: drawn again on a canvas of its own
    canvas.draw()
    renderer = canvas.get_renderer()
    panels = [axis.get_window_extent(renderer) for axis in figure_.axes if axis.get_visible()]
    legends = [*figure_.legends, *(axis.get_legend() for axis in figure_.axes if axis.get_legend())]
    assert legends, "a figure with lines of several names has a legend"
    return [
        legend for legend in legends if any(legend.get_window_extent(renderer).overlaps(p) for p in panels)
    ]


def test_legends_sit_outside_every_panel(tmp_path):
    drawn = grid_figures(tmp_path)
    del drawn["heatmap"]  # a colour bar, no legend
    curves = sweep_curves()
    one_axis = provenance({"unit": ["nau", "nac"]}, rows="unit", columns="unit", shade="train_range")
    drawn["sweep"] = figures_sweep.sweep_figure(curves, one_axis, tmp_path / "sweep.png")
    drawn["rewards"] = rewards.reward_figure(curves, one_axis, tmp_path / "rewards.png")
    many = pd.concat([curves.assign(unit=f"unit{i}") for i in range(8)])  # two panels of lines of their own
    drawn["panels"] = figures_sweep.curve_figure(
        many, provenance({"unit": [f"unit{i}" for i in range(8)]}), tmp_path / "panels.png"
    )
    for name, figure_ in drawn.items():
        assert overlaps_a_panel(figure_) == [], name


def test_every_figure_of_an_experiment_puts_its_panels_and_lines_in_the_grid_order(tmp_path):
    drawn = grid_figures(tmp_path)

    def order(texts, axis):  # the values of ``axis`` in titles ("op = add\nrange = wide", or on one line)
        parts = [part for text in texts for part in text.replace(", ", "\n").split("\n")]
        return list(dict.fromkeys(part.split(" = ")[1] for part in parts if part.startswith(axis)))

    for name in ("scores", "solved", "curves"):
        titles = [axis.get_title() for axis in drawn[name].axes if axis.get_visible()]
        assert order(titles, "op") == GRID["op"] and order(titles, "range") == GRID["range"], name
    heatmap = [axis for axis in drawn["heatmap"].axes if axis.get_title()]
    assert order([axis.get_title() for axis in heatmap], "range") == GRID["range"]
    assert [label.get_text() for label in heatmap[0].get_yticklabels()] == GRID["op"]
    assert [label.get_text() for label in heatmap[0].get_xticklabels()] == GRID["unit"]
    assert [text.get_text() for text in drawn["scores"].axes[0].get_xticklabels()] == GRID["unit"]
    for name in ("solved", "curves"):
        assert [text.get_text() for text in drawn[name].legends[0].get_texts()][:2] == GRID["unit"], name
        colours = {
            drawn_line.get_label(): drawn_line.get_color() for drawn_line in drawn[name].axes[0].get_lines()
        }
        assert colours["nau"] != colours["nac"], name


def test_the_scores_figure_marks_the_papers_score_beside_ours(tmp_path):
    paper = {"wide": {"extrapolation": {"sub": {"nau": 0.0, "nac": "96-98"}}}}
    drawn = grid_figures(tmp_path, {"rows": "op", "columns": "unit", "paper": paper})
    marks = [
        drawn_line for drawn_line in drawn["scores"].axes[0].get_lines() if "paper" in drawn_line.get_label()
    ]
    assert len(marks) == 1 and marks[0].get_label().startswith("paper (recalled)")
    np.testing.assert_allclose(marks[0].get_ydata(), [figures.SCORE_BOTTOM, 97.0])  # 0 at the axis' foot
    assert "paper (recalled)" in [
        text.get_text().split(" (a score")[0] for text in drawn["scores"].legends[0].get_texts()
    ]


def results_folder(root, claim, successes, steps):
    """A results folder with what the index reads: provenance, runs, history and table (one cell, 4 seeds)."""
    directory = root / "static_arithmetic_madsen"
    directory.mkdir(parents=True)
    config = {
        "name": "static_arithmetic_madsen",
        "profile": root.name,
        "seeds": [0, 1, 2, 3],
        "source": "configs/static_arithmetic_madsen.yaml",
        "training": {"steps": steps},
        "grid": {"unit": ["nmu"]},
        "report": {
            "findings": [
                {"claim": claim, "cell": {"unit": "nmu"}, "published": 1.0},
                {"claim": "NMU fails on a / b", "cell": {"unit": "nmu"}, "published": 0.0},
            ]
        },
    }
    environment = dict.fromkeys(
        ("python", "tensorflow", "keras", "numpy", "pandas", "platform", "device"), "x"
    )
    record = {
        "config": config,
        "points_run": 1,
        "points_resumed": 0,
        "wall_time_s": 60.0,
        "git_commit": "0" * 40,
        "environment": environment,
    }
    (directory / "provenance.json").write_text(json.dumps(record))
    runs = pd.DataFrame(
        {
            "unit": "nmu",
            "seed": range(4),
            "success": [seed < successes for seed in range(4)],
            "solved_at": [10.0 if seed < successes else np.nan for seed in range(4)],
            "extrapolation_score": 0.0,
            "wall_time_s": 60.0,
        }
    )
    runs.to_csv(directory / "runs.csv", index=False)
    history = pd.DataFrame(
        [
            {"unit": "nmu", "seed": seed, "step": step, "extrapolation_mse": 1.0}
            for seed in range(4)
            for step in (0, steps)
        ]
    )
    history.to_csv(directory / "history.csv", index=False)
    (directory / "table.md").write_text("# table\n")
    return directory


def test_a_claim_the_long_profile_also_tested_shows_its_verdict_linked_to_its_results(tmp_path):
    default = results_folder(tmp_path / "results", "NMU learns a * b", successes=0, steps=100)
    findings = build.collect_findings([default])
    alone = build.index_markdown([default])
    results_folder(tmp_path / "results" / "long", "NMU learns a * b", successes=4, steps=3000)
    (tmp_path / "results" / "long" / "README.md").write_text("# Results\n")
    index = build.index_markdown([default])
    (row,) = [text for text in index.splitlines() if text.startswith("| NMU learns a * b |")]
    verdict = row.split(" | ")[4]
    assert verdict.startswith(findings[0].verdict + "<br>")  # the default profile's verdict, unchanged
    assert "<br>long profile: reproduced ([results](long/README.md#static-arithmetic-madsen))" in row
    assert "<br>long profile, 3,000 steps: 100% [" in row
    assert build.collect_findings([default]) == findings  # the scorecard counts this folder's verdicts only
    (other,) = [text for text in index.splitlines() if text.startswith("| NMU fails on a / b |")]
    assert "long profile" in other  # tested there too
    assert "long profile" not in alone and "(long/README.md#static-arithmetic-madsen)" in index


def test_the_intermediate_outputs_figure_draws_each_models_best_seed_by_validation_not_test(tmp_path):
    from experiments.report import figures_trace

    grid = {"unit": ["nalu", "linear"]}
    runs = pd.DataFrame(
        {
            "unit": ["linear"] * 3 + ["nalu"] * 3,
            "seed": [0, 1, 2] * 2,
            # linear: seed 1 is best on validation, seed 2 on test (never the chooser); nalu: seed 0
            # diverged (inf), seed 2 ties seed 1 and loses to the lower seed
            "interpolation_mae": [0.5, 0.2, 0.9, np.inf, 0.3, 0.3],
            "extrapolation_mae": [5.0, 4.0, 0.1, np.inf, 1.0, 0.5],
        }
    )
    assert figures_trace.best_seeds(runs, ["unit"]) == {("linear",): (1, 0.2), ("nalu",): (1, 0.3)}
    # a further grid axis: each point its own best seed, never seeds of two points pooled
    two = pd.concat(
        [runs.assign(lr=1), runs.assign(lr=2, interpolation_mae=runs["interpolation_mae"][::-1].values)]
    )
    assert figures_trace.best_seeds(two, ["unit", "lr"]) == {
        ("linear", 1): (1, 0.2),
        ("nalu", 1): (1, 0.3),
        ("linear", 2): (0, 0.3),
        ("nalu", 2): (1, 0.2),
    }
    traces = pd.DataFrame(
        [
            {
                "unit": unit,
                "seed": seed,
                "name": name,
                "step": step,
                "target": target,
                "prediction": target + seed,
            }
            for unit in ("linear", "nalu")
            for seed in (0, 1, 2)
            for name, targets in (("7 (training)", [7.0]), ("770 (test)", [7.0, 700.0, 770.0]))
            for step, target in enumerate(targets, 1)
        ]
    )
    drawn = figures_trace.trace_figure(traces, runs, provenance(grid), tmp_path / "intermediate.png")
    panels = drawn.axes[:2]
    assert [axis.get_title() for axis in panels] == [
        "nalu: seed 1 (validation MAE 0.3)",
        "linear: seed 1 (validation MAE 0.2)",
    ]
    outputs = [line for line in panels[1].get_lines() if line.get_marker() == "o"]
    assert [list(line.get_ydata()) for line in outputs] == [[8.0], [8.0, 701.0, 771.0]]  # seed 1's
    assert (tmp_path / "intermediate.png").stat().st_size > 0
