"""Verdicts on published claims, computed from a cell's runs and its history, never typed into a config.

A claim names one grid cell and what was published for it: a success rate over seeds (``published``), the
paper's normalised extrapolation score (``published_score``: 100 is a randomly initialised model's error,
0 an exact one), or, where the paper shows a figure without numbers, its outcome (``published_outcome``:
``extrapolates``, a median score at most :data:`FITS`; ``fails``, at least :data:`FAILING_SCORE`). The
verdict:

- **reproduced**: the published rate lies in our Wilson 95% interval; or, for a score, our median score
  is what the paper prints (at most the published score plus 0.05 where the paper reports a near-exact
  score below 1, at least 10 where it reports failure, within a factor of 2 otherwise);
- **refuted as published**: not reproduced, and a follow-up's published rate for the same cell
  (``followup``) lies in our interval: two independent studies agree against the paper;
- **beyond this budget**: not reproduced, and the failing seeds' median extrapolation error fell by more
  than :data:`FALLING` over the last third of the run, or fell at every evaluation of it by more than
  :data:`STEADY` in all (the numbers are given), or the published median solved-at step exceeds our budget;
- **not reproduced**: otherwise, with the evidence: diverged seeds, kept models that do not fit their
  interpolation data, or a plateau (less than :data:`FALLING` lower over the last third, with its range);
  or, where the paper reports a failure or a low rate, how many of our seeds do better;
- **no verdict**: the claim has no published number we know (``published_unknown`` says why); our rate is
  shown alone.

A claim the paper makes as a direction rather than a number (an agent's reward stays at or above 0; one
agent degrades more slowly than another) is a bound on one column's median over seeds
(``published_bound``) or a comparison with another cell (``published_comparison``), judged in
:mod:`experiments.report.directions`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from experiments.report import directions

FALLING = 2.0  # the failing seeds' median error fell more than this factor over the last third: still falling
STEADY = 1.1  # ... or fell at every evaluation of the last third, by more than this factor in all
NEAR_EXACT = 0.05  # a published score below 1 is reproduced by a median score at most this much above it
FAILING_SCORE = 10.0  # a published score at or above this is a failure to extrapolate; ours must be too
FITS = 1.0  # a kept model fits its interpolation data when its interpolation score is at most this
VERDICTS = ("reproduced", "refuted as published", "beyond this budget", "not reproduced", "no verdict")


wilson_interval = directions.wilson_interval
_number = directions.number


def _finite(values):
    values = np.asarray(values, dtype=float)
    return np.where(np.isfinite(values), values, np.inf)


def score_matches(published, scores):
    """Whether scores (an array) match the band the published score stands for, element by element."""
    scores = _finite(scores)
    if published < 1:
        return scores <= published + NEAR_EXACT
    if published >= FAILING_SCORE:
        return scores >= FAILING_SCORE
    return (scores >= published / 2) & (scores <= published * 2)


def failing_trend(history, failing_seeds, steps):
    """The failing seeds' median extrapolation MSE over the last third of the run: (step nearest two
    thirds of ``steps``, the median there, last step, the median there, lowest and highest median in
    between, whether it fell at every evaluation of the last third (three or more)). None without history."""
    rows = history[history["seed"].isin(failing_seeds)]
    if rows.empty:
        return None
    medians = (
        rows.assign(error=_finite(rows["extrapolation_mse"])).groupby("step")["error"].median().sort_index()
    )
    last_step, last = int(medians.index[-1]), float(medians.iloc[-1])
    earlier_step = int(medians.index[np.argmin(np.abs(medians.index.to_numpy() - 2 * steps / 3))])
    third = medians.loc[earlier_step:]
    return (
        earlier_step,
        float(medians.loc[earlier_step]),
        last_step,
        last,
        float(third.min()),
        float(third.max()),
        (len(third) >= 3 and bool(np.all(np.diff(third.to_numpy()) < 0))),
    )


def _evidence(runs, history, failing, steps, finding):
    """(verdict, reason) for a claim that is not reproduced, from the failing seeds' runs and history."""
    threshold = runs["success_threshold"].iloc[0] if "success_threshold" in runs else math.nan
    threshold_text = f"; threshold {_number(threshold)}" if np.isfinite(threshold) else ""
    seeds = runs.loc[failing, "seed"].tolist()
    trend = failing_trend(history, seeds, steps)
    if trend is not None:
        earlier_step, earlier, last_step, last, _, _, steady = trend
        if np.isfinite(last) and (earlier > FALLING * last or (steady and earlier > STEADY * last)):
            how = ", lower at every evaluation" if steady else ""
            return "beyond this budget", (
                f"still falling: the failing seeds' median extrapolation MSE went {_number(earlier)} at step "
                f"{earlier_step:,} to {_number(last)} at {last_step:,} ({earlier / last:.3g}x lower in the last third"
                f"{how}){threshold_text}"
            )
    solved_at = finding.get("published_solved_at")
    if solved_at is not None and solved_at > steps:
        return (
            "beyond this budget",
            f"the published median solved-at step, {solved_at:,.0f}, is beyond our {steps:,} steps",
        )
    diverged = int(runs.loc[failing, "diverged"].astype(bool).sum()) if "diverged" in runs else 0
    if diverged * 2 >= len(seeds):
        return "not reproduced", f"{diverged} of {len(seeds)} failing seeds diverged (non-finite error)"
    if "interpolation_score" in runs:
        fit = float(np.median(_finite(runs.loc[failing, "interpolation_score"])))
        if fit > FITS:
            reason = (
                f"the kept models do not fit their interpolation data: the failing seeds' median interpolation "
                f"score is {_number(fit)} (100 = a random model)"
            )
            if (
                "training_mae" in runs and runs["training_mae"].notna().any()
            ):  # a task with a fixed training set
                reason += f"; median training MAE {_number(float(np.median(_finite(runs.loc[failing, 'training_mae']))))}"
            return "not reproduced", reason
    if trend is None:
        return "not reproduced", "no history to tell budget from design"
    earlier_step, earlier, last_step, last, lowest, highest, _ = trend
    reason = (
        f"a plateau: the failing seeds' median extrapolation MSE went {_number(earlier)} at step {earlier_step:,} to "
        f"{_number(last)} at {last_step:,} (less than {FALLING:g}x lower; between {_number(lowest)} and "
        f"{_number(highest)} in the last third){threshold_text}"
    )
    met = int(runs["solved_at"].notna().sum()) if "solved_at" in runs else 0
    if met > len(runs) - len(seeds) and 2 * met >= len(runs):
        reason += (
            f"; {met} of {len(runs)} seeds met the criterion at some evaluation: the error sits around the "
            "threshold, and the model kept on interpolation error lands on either side of it"
        )
    return "not reproduced", reason


def classify(finding, runs, history, steps, other=None):
    """The verdict on one ``finding`` from its cell's per-seed ``runs`` rows and ``history`` rows (one per
    seed and evaluation), for a run of ``steps`` steps; ``other``: the compared cell's runs, for a
    ``published_comparison``. Returns a dict: claim, published, ours, verdict, reason."""
    trials = len(runs)
    success = runs["success"].astype(bool).to_numpy()
    successes = int(success.sum())
    low, high = wilson_interval(successes, trials)
    met = int(runs["solved_at"].notna().sum()) if "solved_at" in runs else 0
    rate = f"{100 * successes / trials:.0f}% [{100 * low:.0f}, {100 * high:.0f}], met at some evaluation {met}/{trials}"
    if "published_bound" in finding:
        return directions.bounded(finding, runs)
    if "published_comparison" in finding:
        return directions.compared(finding, runs, runs.iloc[:0] if other is None else other)
    if "published_unknown" in finding:  # ours alone: nothing to judge against
        published_text = "not known here" + (f" ({finding['source']})" if "source" in finding else "")
        row = {"claim": finding["claim"], "published": published_text, "ours": rate}
        return {**row, "verdict": "no verdict", "reason": finding["published_unknown"]}
    scores = _finite(runs["extrapolation_score"])  # the paper's metric, for claims stated in it
    median = float(np.median(scores))
    if "published_outcome" in finding:
        outcome = finding["published_outcome"]
        passes = scores <= FITS if outcome == "extrapolates" else scores >= FAILING_SCORE
        reproduced = median <= FITS if outcome == "extrapolates" else median >= FAILING_SCORE
        published_text = outcome
        ours = f"median score {_number(median)}"
        better = outcome == "fails"
    elif "published_score" in finding:
        published = float(finding["published_score"])
        passes = score_matches(published, scores)
        reproduced = bool(score_matches(published, np.array([median]))[0])
        published_text = f"score {published:g}"
        ours = f"median score {_number(median)}; within the threshold {rate}"
        better = published >= FAILING_SCORE  # a reported failure that we do not see
    else:
        published = float(finding["published"])
        passes = success
        reproduced = low - 1e-12 <= published <= high + 1e-12
        published_text = f"{100 * published:.0f}%"
        ours = rate
        better = not reproduced and successes / trials > published
    if "source" in finding:
        published_text += f" ({finding['source']})"
    row = {"claim": finding["claim"], "published": published_text, "ours": ours}
    if reproduced:
        return {**row, "verdict": "reproduced", "reason": ""}
    followup = finding.get("followup")
    if followup and low - 1e-12 <= followup["published"] <= high + 1e-12:
        return {
            **row,
            "verdict": "refuted as published",
            "reason": (
                f"ours {100 * successes / trials:.0f}% as {followup['source']} {100 * followup['published']:.0f}%, "
                f"against the paper's {published_text}"
            ),
        }
    if better:
        by_score = "published" not in finding
        count = int((~passes).sum()) if by_score else int(passes.sum())
        what = "extrapolate (score below 10)" if by_score else "meet the criterion"
        return {
            **row,
            "verdict": "not reproduced",
            "reason": f"ours do better: {count} of {trials} seeds {what}",
        }
    verdict, reason = _evidence(runs, history, ~passes, steps, finding)
    return {**row, "verdict": verdict, "reason": reason}


def finding_rows(runs: pd.DataFrame, history: pd.DataFrame, config):
    """Every finding of ``config`` whose cell is in this grid, classified (see :func:`classify`)."""
    rows = []
    steps = int(config["training"]["steps"])
    for finding in config.get("report", {}).get("findings", []):
        cell_runs = _select(runs, finding["cell"])
        if cell_runs.empty:
            continue  # the cell is not in this profile's grid
        compared = finding.get("published_comparison")
        other = _select(runs, {**finding["cell"], **compared["than"]}) if compared else None
        rows.append(classify(finding, cell_runs, _select(history, finding["cell"]), steps, other))
    return rows


def _select(frame, cell):
    """The rows of ``frame`` in ``cell`` (grid axes and their values)."""
    for axis, value in cell.items():
        frame = frame[frame[axis] == value]
    return frame
