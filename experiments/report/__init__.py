"""The report: from the result files alone, summary.csv, table.md and figures per experiment, and
results/README.md. ``summary`` computes the statistics, ``tables`` writes Markdown, ``figures`` draws,
``build`` puts an experiment's report (or the index) together, ``schema`` checks a config's ``report:``.
"""

from experiments.report.build import report_all, report_experiment, write_index
from experiments.report.summary import finding_rows, solved_fractions, summarise, wilson_interval

__all__ = ["finding_rows", "report_all", "report_experiment", "solved_fractions", "summarise", "wilson_interval", "write_index"]
