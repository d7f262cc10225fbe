"""Turn results/<name>/runs.csv into summary.csv, table.md and figures, and results/README.md (with its
scorecard, and the scorecard's sentence in the project README when the results are the repository's own),
from the files alone."""

from __future__ import annotations

import dataclasses
import json
import pathlib

import pandas as pd

from experiments.files import write_atomic, write_csv
from experiments.report import scorecard
from experiments.report.rewards import reward_figure
from experiments.report.figures import figure, solved_curve, success_heatmap
from experiments.report.figures_sweep import curve_figure, sweep_figure
from experiments.report.figures_trace import trace_figure
from experiments.report.summary import dataset_of, summarise
from experiments.report.verdicts import FITS, Finding, finding_rows
from experiments.report.tables import table_markdown
from experiments.report_schema import FIGURE_FILES
from experiments.results import compute_time, grid_axes

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]  # the project README and its results/ folder
LONG_PROFILE = "long"  # `make long` writes that profile's results under results/long/<experiment>/


def figure_files(report):
    """(kind, file name) of each figure the config's ``report: figure:`` names (default: scores): the
    first is figure.png, every other one has a file of its own."""
    kinds = report.get("figure", "scores")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return [(kind, "figure.png" if index == 0 else FIGURE_FILES[kind]) for index, kind in enumerate(kinds)]


@dataclasses.dataclass
class ReportInputs:
    """What a figure may draw from: one results folder's files, read once (the history on demand)."""

    directory: pathlib.Path
    provenance: dict
    runs: pd.DataFrame
    summary: pd.DataFrame
    curves: pd.DataFrame | None
    dataset: str | None

    def history(self):
        return pd.read_csv(self.directory / "history.csv")

    def traces(self):
        """traces.csv, or None where the runs predate it (a rerun of the config writes it)."""
        path = self.directory / "traces.csv"
        return pd.read_csv(path) if path.exists() else None


# Every figure kind a config's ``report: figure:`` may name, drawn by a function of figures.py (the grid's
# figures), figures_sweep.py (curves against a swept value), figures_trace.py (outputs part way through
# sequences) or rewards.py, on figure_parts.py. A new kind needs three edits: that function, its kind and
# file name in FIGURE_FILES (experiments/report_schema.py, which the config check allows kinds from), and
# its entry here (a test checks the two lists agree).
FIGURE_KINDS = {
    "scores": lambda inputs, path: figure(inputs.summary, inputs.provenance, path),
    "success_heatmap": lambda inputs, path: success_heatmap(inputs.summary, inputs.provenance, path),
    "solved_curve": lambda inputs, path: solved_curve(inputs.history(), inputs.runs, inputs.provenance, path),
    "error_curves": lambda inputs, path: curve_figure(inputs.curves, inputs.provenance, path),
    "sweep_accuracy": lambda inputs, path: sweep_figure(
        inputs.curves, inputs.provenance, path, inputs.dataset
    ),
    "reward_curves": lambda inputs, path: reward_figure(inputs.curves, inputs.provenance, path),
    "intermediate_outputs": lambda inputs, path: trace_figure(
        inputs.traces(), inputs.runs, inputs.provenance, path
    ),
}


def report_experiment(directory):
    """Regenerate summary.csv, table.md and the figures of one results directory."""
    directory = pathlib.Path(directory)
    provenance = json.loads((directory / "provenance.json").read_text())
    runs = pd.read_csv(directory / "runs.csv")
    summary = summarise(runs, grid_axes(provenance["config"]))
    curves = pd.read_csv(directory / "curves.csv") if (directory / "curves.csv").exists() else None
    dataset = dataset_of(runs)
    write_csv(directory / "summary.csv", summary)
    write_atomic(directory / "table.md", table_markdown(summary, provenance, curves, dataset))
    inputs = ReportInputs(directory, provenance, runs, summary, curves, dataset)
    for kind, name in figure_files(provenance["config"].get("report", {})):
        FIGURE_KINDS[kind](inputs, directory / name)
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
    """Write results/README.md from the experiments' tables, figures and provenance; for the repository's
    own results/, also the scorecard's sentence between the project README's markers."""
    done = complete_experiments(results_root)
    if not done:
        return
    findings = collect_findings(done)
    write_atomic(pathlib.Path(results_root) / "README.md", index_markdown(done, findings))
    if pathlib.Path(results_root).resolve() == REPOSITORY / "results" and findings:
        readme = REPOSITORY / "README.md"
        text = readme.read_text()
        updated = scorecard.with_readme_block(text, findings)
        if updated != text:
            write_atomic(readme, updated)


def _entries(directories):
    """(directory, provenance) of each experiment, in the order of the paper (scorecard.EXPERIMENT_ORDER)."""
    entries = [
        (directory, json.loads((directory / "provenance.json").read_text())) for directory in directories
    ]
    return sorted(entries, key=lambda entry: scorecard.experiment_rank(entry[1]["config"]["name"]))


def collect_findings(directories):
    """Every finding of the experiments in ``directories``, classified (verdicts.Finding rows), in the order
    of the paper and, within an experiment, of its config."""
    return [
        finding
        for directory, provenance in _entries(directories)
        if provenance["config"].get("report", {}).get("findings")
        for finding in finding_rows(
            pd.read_csv(directory / "runs.csv"), pd.read_csv(directory / "history.csv"), provenance["config"]
        )
    ]


@dataclasses.dataclass(frozen=True)
class ProfileFinding:
    """A claim's row in another profile's results (the long one): the profile, its steps, the row and the
    link from the index to where that profile's evidence is."""

    profile: str
    steps: int
    finding: Finding
    link: str


def profile_findings(results_root, profile=LONG_PROFILE):
    """{(experiment, claim): ProfileFinding} of the results under ``results_root/profile/`` (each with its
    own verdict, computed as the default profile's are); empty where there are none."""
    directories = complete_experiments(pathlib.Path(results_root) / profile)
    steps, links = {}, {}
    for directory in directories:
        config = json.loads((directory / "provenance.json").read_text())["config"]
        name = config["name"]
        steps[name] = int(config["training"]["steps"])
        # its own index where `make report --results` wrote one, else the experiment's table
        has_index = (directory.parent / "README.md").exists()
        links[name] = f"{profile}/" + (
            f"README.md{scorecard.anchor(name)}" if has_index else f"{directory.name}/table.md"
        )
    return {
        (row.experiment, row.claim): ProfileFinding(
            profile, steps[row.experiment], row, links[row.experiment]
        )
        for row in collect_findings(directories)
    }


def _findings_row(row, other=None):
    """A findings table line; where another profile tested the same claim (``other``), its numbers and
    verdict on a second line of the ours and verdict cells, linked to its results."""
    ours, verdict = row.ours, row.verdict
    if other is not None:
        ours += f"<br>{other.profile} profile, {other.steps:,} steps: {other.finding.ours}"
        verdict += f"<br>{other.profile} profile: {other.finding.verdict} ([results]({other.link}))"
    name = row.experiment
    return f"| {row.claim} | [{name}]({scorecard.anchor(name)}) | {row.published} | {ours} | {verdict} | {row.reason} |"


def _short_commit(commit):
    return commit[:12] + ("-dirty" if commit.endswith("-dirty") else "")


def index_markdown(directories, findings=None):
    """The one page a reader opens first: the scorecard, every finding, every experiment's result, figures
    and provenance, in the order of the paper; ``findings``: those of ``directories`` if already collected."""
    entries = _entries(directories)
    findings = collect_findings(directories) if findings is None else findings
    others = profile_findings(pathlib.Path(directories[0]).parent) if directories else {}
    lines = [
        "# Results",
        "",
        "Generated by `make report` (part of `make reproduce`) from the CSVs in each folder: do not edit by hand.",
        'Paper numbers marked "recalled" come from memory of the paper, not its text; we never tune to them.',
        "",
    ]
    if findings:
        lines += scorecard.scorecard_markdown(findings) + [
            "",
            "## Findings",
            "",
            "Each row: a published claim, the published value, ours (a success rate over seeds with its Wilson 95% "
            "interval and the seeds that met the criterion at some evaluation, or the paper's normalised score: the "
            "median over seeds, 100 = a random model, 0 = exact), and a verdict computed from runs.csv and "
            "history.csv (experiments/report/verdicts.py). The verdicts:",
            "",
            "- **reproduced**: the published rate lies in our interval, or our median score is the paper's;",
            "- **refuted as published**: a follow-up's published rate lies in our interval, the paper's does not;",
            "- **beyond this budget**: the failing seeds' error was still falling over the last third of the run, "
            "or the published solved-at step lies beyond our steps;",
            "- **not reproduced**: a plateau since the step named, diverged seeds, or models that do not fit their "
            "interpolation data;",
            f"- **not judged**: a claim that a model fails outside its training range, where ours did not fit inside "
            f"it (median interpolation score above {FITS:g}), or a bound whose models miss the fit the config asks first;",
            "- **no verdict**: no published number is known to us (ours is shown alone).",
            "",
            "The experiment link leads to the table and figures that hold the evidence."
            + (
                f" Where the {LONG_PROFILE} profile (`make long`, results/{LONG_PROFILE}/) tested the same claim with "
                "a larger budget, a second line gives its numbers and its verdict, linked to its results; the "
                "verdict above it and the scorecard are those of this folder's runs."
                if others
                else ""
            ),
            "",
            "| claim | experiment | published | ours [95%] | verdict | reason |",
            "|---|---|---|---|---|---|",
        ]
        for row in findings:
            lines.append(_findings_row(row, others.get((row.experiment, row.claim))))
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
            f"| [{config['name']}]({scorecard.anchor(config['name'])}) | {config['profile']} | {len(config['seeds'])} "
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
        lines += [
            "",
            f"## {config['name']}",
            "",
            f"**{report.get('title', config['name'])}** (`{config['source']}`).",
        ]
        other = next((row for row in others.values() if row.finding.experiment == config["name"]), None)
        if other is not None:
            lines += [
                "",
                f"The {other.profile} profile's results ({other.steps:,} steps) are in "
                f"[results/{other.profile}/]({other.link}).",
            ]
        if report.get("notes"):
            lines += ["", "### Where we differ from the paper, and why", "", report["notes"].strip()]
        for _, figure_name in figure_files(report):  # every figure the config draws, in its order
            if (directory / figure_name).exists():
                lines += ["", f"![{config['name']} {figure_name}]({directory.name}/{figure_name})"]
        table = (directory / "table.md").read_text().splitlines()
        lines += [""] + [("#" + line) if line.startswith("#") else line for line in table[1:]]
    return "\n".join(lines) + "\n"
