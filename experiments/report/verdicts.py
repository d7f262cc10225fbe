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
- **not judged**: the claim is that a model fails outside its training range (``published_outcome: fails``,
  or a published score at least :data:`FAILING_SCORE`), and its kept models' median interpolation score is
  above :data:`FITS`: a model that did not fit the range it was trained on says nothing about extrapolation.
  A bound or a comparison with a ``fitted`` bound that the models do not meet is not judged either. A
  claim stated as a success rate is judged as it stands: the follow-ups' rates count a unit that never
  fits the task among its failures;
- **no verdict**: the claim has no published number we know (``published_unknown`` says why); our rate is
  shown alone.

Each claim also says what its source published (:func:`claimed_outcome`): a success (the model
extrapolates, learns, translates, counts, does better) or a failure; the scorecard counts them apart.

A claim the paper makes as a direction rather than a number (an agent's reward stays at or above 0; one
agent degrades more slowly than another) is a bound on one column's median over seeds
(``published_bound``) or a comparison with another cell (``published_comparison``), judged in
:mod:`experiments.report.directions`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from experiments.report import directions
from experiments.report.limits import limiting_part

FALLING = 2.0  # the failing seeds' median error fell more than this factor over the last third: still falling
STEADY = 1.1  # ... or fell at every evaluation of the last third, by more than this factor in all
NEAR_EXACT = 0.05  # a published score below 1 is reproduced by a median score at most this much above it
FAILING_SCORE = 10.0  # a published score at or above this is a failure to extrapolate; ours must be too
# A model fits data when its normalised score there (100 = a random model's error, 0 = exact) is at most this,
# 1% of a random model's error: its training range (the interpolation score: a failing seed's evidence, and
# whether a claim of failure outside the range is judged at all) or, for ``extrapolates``, beyond it.
FITS = 1.0
MAJORITY = 0.5  # a published success rate below this says that most seeds fail: a claim of failure
NOT_JUDGED = directions.NOT_JUDGED
VERDICTS = (
    "reproduced",
    "refuted as published",
    "beyond this budget",
    "not reproduced",
    NOT_JUDGED,
    "no verdict",
)
OUTCOMES = ("success", "failure")  # what a source published (see claimed_outcome); None where none is known


@dataclasses.dataclass(frozen=True)
class Finding:
    """One row of the findings table: a published claim of ``experiment`` beside ours, its verdict and the
    reason, what the source published (``outcome``: one of :data:`OUTCOMES`, or None where no published
    number is known) and the unit of the claim's cell (None where the grid has no unit axis)."""

    experiment: str
    claim: str
    published: str
    ours: str
    verdict: str
    reason: str
    outcome: str | None
    unit: str | None


def claimed_outcome(finding):
    """What the source of ``finding`` published: "failure" for an outcome ``fails``, a score at least
    :data:`FAILING_SCORE`, a success rate below :data:`MAJORITY` or a bound from above (``at_most``: every
    bound the configs state is on a measure where higher is better, an accuracy or a reward); "success" for
    the rest and for a comparison (one model does better than another); None where no number is known."""
    if "published_outcome" in finding:
        return "failure" if finding["published_outcome"] == "fails" else "success"
    if "published_score" in finding:
        return "failure" if float(finding["published_score"]) >= FAILING_SCORE else "success"
    if "published" in finding:
        return "failure" if float(finding["published"]) < MAJORITY else "success"
    if "published_bound" in finding:
        return "failure" if "at_most" in finding["published_bound"] else "success"
    if "published_comparison" in finding:
        return "success"
    return None


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
        ours = f"verdict on the median score {_number(median)}; within the threshold {rate}"
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
    # a claim that a model fails outside its training range (an outcome or a score, not a rate) is judged
    # only on models that fitted inside it
    unfitted = (
        _unfitted(runs) if "published" not in finding and claimed_outcome(finding) == "failure" else None
    )
    if unfitted:
        return {**row, "verdict": NOT_JUDGED, "reason": unfitted}
    if reproduced:
        return {**row, "verdict": "reproduced", "reason": ""}
    followup = finding.get("followup")
    if followup and low - 1e-12 <= followup["published"] <= high + 1e-12:
        # a score claim: the median score missed the paper's, and the rate within the threshold decides here
        step = "" if "published" in finding else "the median score is not the paper's, and on the rate: "
        return {
            **row,
            "verdict": "refuted as published",
            "reason": (
                f"{step}ours {100 * successes / trials:.0f}% as {followup['source']} "
                f"{100 * followup['published']:.0f}%, against the paper's {published_text}"
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


def _unfitted(runs):
    """Why a claim of failure outside the training range is not judged on ``runs``: their kept models'
    median interpolation score is above :data:`FITS`; None when it is not (or is not measured)."""
    if "interpolation_score" not in runs:
        return None
    fit = float(np.median(_finite(runs["interpolation_score"])))
    if fit <= FITS:
        return None
    return (
        f"the model did not fit its training range: median interpolation score {_number(fit)} "
        f"(needs at most {FITS:g})"
    )


def finding_rows(runs: pd.DataFrame, history: pd.DataFrame, config):
    """Every finding of ``config`` whose cell is in this grid, classified (see :func:`classify`), as
    :class:`Finding` rows of the experiment ``config["name"]``."""
    rows = []
    steps = int(config["training"]["steps"])
    for finding in config.get("report", {}).get("findings", []):
        cell_runs = _select(runs, finding["cell"])
        if cell_runs.empty:
            continue  # the cell is not in this profile's grid
        compared = finding.get("published_comparison")
        other = _select(runs, {**finding["cell"], **compared["than"]}) if compared else None
        row = classify(finding, cell_runs, _select(history, finding["cell"]), steps, other)
        limit = limiting_part(cell_runs)
        if limit:  # a reader-and-core model: the part that limits it, measured apart
            row["reason"] = f"{row['reason']}; {limit}" if row["reason"] else limit
        outcome, unit = claimed_outcome(finding), finding["cell"].get("unit")
        rows.append(Finding(experiment=config["name"], outcome=outcome, unit=unit, **row))
    return rows


def _select(frame, cell):
    """The rows of ``frame`` in ``cell`` (grid axes and their values)."""
    for axis, value in cell.items():
        frame = frame[frame[axis] == value]
    return frame
