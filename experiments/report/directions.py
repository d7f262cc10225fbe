"""Verdicts on claims the paper makes as a direction rather than a number.

- ``published_bound``: a bound on the median over seeds of one column, or of the per-seed mean of
  ``columns`` (an agent's reward stays at or above 0, say): reproduced when the median meets it, with the
  seeds' values as evidence. For a measure that is a share of items (an accuracy over test images), the
  bound's ``trials`` names the column holding each seed's number of items per column; the row then shows
  the share pooled over seeds and items with its Wilson 95% interval.
- ``published_comparison``: the claim's cell does better than another cell (``than``) on a measure (one
  column, or the per-seed mean of ``columns``: an agent's reward over every instruction beyond the training
  range, say), higher or lower as ``better`` says. Reproduced when the 95% bootstrap interval of the
  difference of the two cells' medians (claim cell minus the other; the seeds of each cell resampled
  independently, :data:`RESAMPLES` times, from a fixed generator) lies wholly on the better side of 0;
  otherwise not reproduced, with the difference and its interval.

With ``fitted`` (a bound on another column, such as the reward inside the training range) either kind is
judged only where the median meets that first (for a comparison, in both cells), and is "not judged"
otherwise: a model that learned nothing says nothing about extrapolation.
"""

from __future__ import annotations

import math

import numpy as np

RESAMPLES = 10_000
SIDES = {"at_least": ">=", "at_most": "<="}


NOT_JUDGED = "not judged"  # the verdict on a claim whose models did not fit first


def wilson_interval(successes, trials, z=1.959964):
    """95% Wilson score interval for a binomial proportion."""
    if trials == 0:
        return math.nan, math.nan
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def number(value):
    """A number as the reasons print it: three significant digits, or inf."""
    if not np.isfinite(value):
        return "inf" if value > 0 else str(value)
    return f"{value:.3g}"


def columns_of(spec):
    """The columns a bound's or comparison's measure reads: its ``column``, or its ``columns``."""
    return spec.get("columns") or [spec["column"]]


def _measure_text(spec):
    columns = columns_of(spec)
    return (
        columns[0] if len(columns) == 1 else f"mean of {columns[0]} to {columns[-1]} ({len(columns)} columns)"
    )


def bound_text(bound):
    """``median COLUMN >= X`` (or ``<=``) for a bound ``{column | columns, at_least | at_most}``."""
    side = "at_least" if "at_least" in bound else "at_most"
    return f"median {_measure_text(bound)} {SIDES[side]} {bound[side]:g}"


def _within(bound, values):
    """Whether each of ``values`` meets the bound (at least or at most its value)."""
    return values >= bound["at_least"] if "at_least" in bound else values <= bound["at_most"]


def meets(bound, runs):
    """(whether the median of the bound's measure meets it, the median, the seeds' values)."""
    values = measure(bound, runs)
    median = float(np.median(values))
    return bool(_within(bound, median)), median, values


def measure(spec, runs):
    """Each seed's value of a bound's or comparison's measure: its ``column``, or the mean of its
    ``columns``."""
    return runs[columns_of(spec)].to_numpy(dtype=float).mean(axis=1)


def pooled(bound, runs):
    """A share pooled over seeds and items: (successes, trials) of the bound's columns, each seed holding
    ``runs[bound["trials"]]`` items per column."""
    columns = columns_of(bound)
    items = runs[bound["trials"]].to_numpy(dtype=float)[:, None]
    successes = int(round(float((runs[columns].to_numpy(dtype=float) * items).sum())))
    return successes, int(items.sum() * len(columns))


def median_difference_interval(ours, theirs, resamples=RESAMPLES, seed=0):
    """95% percentile-bootstrap interval of median(ours) - median(theirs), each resampled on its own."""
    rng = np.random.default_rng(seed)
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    a = np.median(ours[rng.integers(0, len(ours), (resamples, len(ours)))], axis=1)
    b = np.median(theirs[rng.integers(0, len(theirs), (resamples, len(theirs)))], axis=1)
    low, high = np.percentile(a - b, [2.5, 97.5])
    return float(low), float(high)


def _columns_absent(finding, runs):
    wanted = []
    for spec in (finding.get("published_bound"), finding.get("published_comparison"), finding.get("fitted")):
        if spec:
            wanted += columns_of(spec)
            wanted += [spec["trials"]] if "trials" in spec else []
    return [column for column in wanted if column not in runs]


def _unfitted(finding, cells):
    """The reason a claim is not judged (a cell whose models did not fit), or None."""
    if "fitted" not in finding:
        return None
    for name, runs in cells:
        fitted, fit_median, _ = meets(finding["fitted"], runs)
        if not fitted:
            return (
                f"the {name}models did not fit ({_measure_text(finding['fitted'])} median "
                f"{number(fit_median)}; needs {bound_text(finding['fitted'])})"
            )
    return None


def _comparison_text(comparison):
    what = _measure_text(comparison)
    than = ", ".join(f"{axis} {value}" for axis, value in comparison["than"].items())
    return f"median {what} {comparison['better']} than {than}'s"


def bounded(finding, runs):
    """The verdict on a ``published_bound`` claim: a dict claim, published, ours, verdict, reason."""
    bound = finding["published_bound"]
    published = bound_text(bound) + (f" ({finding['source']})" if "source" in finding else "")
    absent = _columns_absent(finding, runs)
    if absent:
        reason = f"not measured in this run: no column {', '.join(absent)}"
        return {
            "claim": finding["claim"],
            "published": published,
            "ours": "-",
            "verdict": "no verdict",
            "reason": reason,
        }
    met, median, values = meets(bound, runs)
    ours = f"median {number(median)} (seeds {number(values.min())} to {number(values.max())})"
    if "trials" in bound:
        successes, trials = pooled(bound, runs)
        low, high = wilson_interval(successes, trials)
        ours += f"; pooled {100 * successes / trials:.1f}% [{100 * low:.1f}, {100 * high:.1f}] of {trials:,}"
    row = {"claim": finding["claim"], "published": published, "ours": ours}
    unfitted = _unfitted(finding, [("", runs)])
    if unfitted:
        return {**row, "verdict": NOT_JUDGED, "reason": unfitted}
    if met:
        return {**row, "verdict": "reproduced", "reason": ""}
    meeting = int(np.sum(_within(bound, values)))
    reason = (
        f"{meeting} of {len(values)} seeds meet the bound; {bound_text(bound)} fails with {number(median)}"
    )
    return {**row, "verdict": "not reproduced", "reason": reason}


def compared(finding, runs, other):
    """The verdict on a ``published_comparison`` claim: ``runs`` the claim cell's rows, ``other`` those of
    the cell it is compared with (``than``)."""
    comparison = finding["published_comparison"]
    published = _comparison_text(comparison) + (f" ({finding['source']})" if "source" in finding else "")
    row = {"claim": finding["claim"], "published": published, "ours": "-"}
    absent = _columns_absent(finding, runs)
    if absent or other.empty:
        missing = f"no column {', '.join(absent)}" if absent else "the compared cell is not in this grid"
        return {**row, "verdict": "no verdict", "reason": f"not measured in this run: {missing}"}
    ours_values, their_values = measure(comparison, runs), measure(comparison, other)
    difference = float(np.median(ours_values) - np.median(their_values))
    low, high = median_difference_interval(ours_values, their_values)
    row["ours"] = (
        f"medians {number(np.median(ours_values))} against {number(np.median(their_values))}; difference "
        f"{number(difference)} [{number(low)}, {number(high)}]"
    )
    unfitted = _unfitted(finding, [("", runs), ("compared cell's ", other)])
    if unfitted:
        return {**row, "verdict": NOT_JUDGED, "reason": unfitted}
    higher = comparison["better"] == "higher"
    if (low > 0) if higher else (high < 0):
        return {**row, "verdict": "reproduced", "reason": ""}
    side = "includes 0: no difference measured" if low <= 0 <= high else "lies on the other side of 0"
    return {**row, "verdict": "not reproduced", "reason": f"the difference's 95% bootstrap interval {side}"}
