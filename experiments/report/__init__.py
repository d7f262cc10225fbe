"""The report: from the result files alone, summary.csv, table.md and figures per experiment, and
results/README.md. ``summary`` computes the statistics, ``tables`` writes Markdown, ``figures`` draws,
``verdicts`` judges the published claims, ``scorecard`` counts the verdicts and holds the order of the
experiments (the paper's), ``build`` puts an experiment's report (or the index) together.
What a config's ``report:`` may say is checked config-side (``experiments.report_schema``), and the compute
time of a results folder is read by ``experiments.results``, which the scheduler uses too.
"""

from experiments.report.build import report_all, report_experiment, write_index
from experiments.report.scorecard import EXPERIMENT_ORDER, summary_sentence
from experiments.report.summary import solved_fractions, summarise
from experiments.report.verdicts import Finding, classify, finding_rows, wilson_interval

__all__ = [
    "EXPERIMENT_ORDER",
    "Finding",
    "classify",
    "finding_rows",
    "report_all",
    "report_experiment",
    "solved_fractions",
    "summarise",
    "summary_sentence",
    "wilson_interval",
    "write_index",
]
