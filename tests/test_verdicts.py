"""The findings' verdict classifier on synthetic runs and histories: every verdict and its computed reason."""

import numpy as np
import pandas as pd
import pytest

from experiments.report import directions, verdicts

STEPS = 90_000
EVALUATIONS = np.arange(0, STEPS + 1, 10_000)


def cell(successes, seeds=10, curve=lambda step: np.full_like(step, 1.0, dtype=float), **columns):
    """Runs (one row per seed; the first ``successes`` succeed) and a history in which every failing
    seed's extrapolation MSE follows ``curve(step)``."""
    runs = pd.DataFrame(
        {
            "seed": range(seeds),
            "success": [s < successes for s in range(seeds)],
            "solved_at": [1000.0 if s < successes else np.nan for s in range(seeds)],
            "diverged": False,
            "success_threshold": 1e-3,
            "interpolation_score": 1e-4,
            "extrapolation_score": [0.0 if s < successes else 50.0 for s in range(seeds)],
        }
    )
    for name, value in columns.items():
        runs[name] = value
    history = pd.DataFrame(
        [
            {
                "seed": s,
                "step": int(step),
                "extrapolation_mse": 1e-5 if s < successes else float(curve(np.array([step]))[0]),
            }
            for s in range(seeds)
            for step in EVALUATIONS
        ]
    )
    return runs, history


def verdict(finding, runs, history):
    return verdicts.classify({"claim": "c", "cell": {}, **finding}, runs, history, STEPS)


def test_a_published_rate_inside_our_interval_is_reproduced():
    row = verdict({"published": 0.3}, *cell(3))
    assert row["verdict"] == "reproduced" and row["reason"] == ""
    assert row["ours"] == "30% [11, 60], met at some evaluation 3/10"


def test_errors_still_falling_over_the_last_third_are_beyond_the_budget():
    row = verdict({"published": 1.0}, *cell(2, curve=lambda step: 10.0 ** (-step / 10_000)))
    assert row["verdict"] == "beyond this budget"
    # step 60,000 is two thirds of 90,000: 1e-6 there, 1e-9 at the end
    assert (
        "1e-06 at step 60,000 to 1e-09 at 90,000 (1e+03x lower in the last third, lower at every evaluation)"
        in row["reason"]
    )


def test_an_error_falling_slowly_at_every_evaluation_is_still_falling():
    row = verdict({"published": 1.0}, *cell(2, curve=lambda step: 100.0 - step / 2000))
    assert row["verdict"] == "beyond this budget"
    assert "(1.27x lower in the last third, lower at every evaluation)" in row["reason"]
    noisy = lambda step: 100.0 - step / 2000 + np.where(step == 80_000, 20.0, 0.0)  # noqa: E731
    assert verdict({"published": 1.0}, *cell(2, curve=noisy))["verdict"] == "not reproduced"


def test_a_flat_error_is_a_plateau_with_its_range_over_the_last_third():
    plateau = lambda step: np.where(step < 30_000, 100.0, np.where(step == 70_000, 8.0, 5.0))  # noqa: E731
    row = verdict({"published": 1.0}, *cell(2, curve=plateau))
    assert row["verdict"] == "not reproduced"
    assert row["reason"] == (
        "a plateau: the failing seeds' median extrapolation MSE went 5 at step 60,000 to 5 at 90,000 "
        "(less than 2x lower; between 5 and 8 in the last third); threshold 0.001"
    )
    runs, history = cell(2, curve=plateau)
    runs["solved_at"] = 5000.0  # every seed met the criterion once, two at the kept model
    assert (
        "10 of 10 seeds met the criterion at some evaluation"
        in verdict({"published": 1.0}, runs, history)["reason"]
    )


def test_a_published_solved_at_step_beyond_our_budget_is_beyond_the_budget():
    row = verdict({"published": 1.0, "published_solved_at": 1.5e6}, *cell(0))
    assert row["verdict"] == "beyond this budget"
    assert row["reason"] == "the published median solved-at step, 1,500,000, is beyond our 90,000 steps"


def test_diverged_seeds_and_unfitted_models_are_named():
    runs, history = cell(0, diverged=True)
    assert (
        verdict({"published": 1.0}, runs, history)["reason"]
        == "10 of 10 failing seeds diverged (non-finite error)"
    )
    runs, history = cell(0, interpolation_score=30.0)
    row = verdict({"published": 1.0}, runs, history)
    assert row["verdict"] == "not reproduced" and "median interpolation score is 30" in row["reason"]
    assert "training MAE" not in row["reason"]  # no fixed training set
    runs, history = cell(0, interpolation_score=30.0, training_mae=12.5)  # a task with one (Table 3)
    assert verdict({"published": 1.0}, runs, history)["reason"].endswith("; median training MAE 12.5")


def test_a_followup_that_agrees_with_us_refutes_the_paper():
    finding = {"published_score": 0.0, "followup": {"published": 0.0, "source": "Madsen & Johansen (2020)"}}
    row = verdict(finding, *cell(0))
    assert row["verdict"] == "refuted as published"
    assert row["reason"] == (
        "the median score is not the paper's, and on the rate: ours 0% as Madsen & Johansen (2020) 0%, "
        "against the paper's score 0"
    )
    rate = verdict({"published": 1.0, "followup": {"published": 0.0, "source": "M"}}, *cell(0))
    assert rate["reason"] == "ours 0% as M 0%, against the paper's 100%"  # a rate claim: the rate alone


@pytest.mark.parametrize(
    "published, successes, expected",
    [
        (0.0, 8, "reproduced"),  # median score 0.0: the paper's 0.0
        (0.0, 3, "not reproduced"),  # median 50
        (96.0, 3, "reproduced"),  # a reported failure, and ours fail too
        (96.0, 8, "not reproduced"),  # ours extrapolate where the paper reports failure
    ],
)
def test_a_published_score_is_matched_on_the_median_score(published, successes, expected):
    row = verdict({"published_score": published}, *cell(successes))
    assert row["verdict"] == expected
    if published >= 10 and expected == "not reproduced":
        assert row["reason"] == "ours do better: 8 of 10 seeds extrapolate (score below 10)"
    assert "within the threshold" in row["ours"]


def test_a_rate_above_the_published_one_is_named():
    row = verdict({"published": 0.07}, *cell(9))
    assert (
        row["verdict"] == "not reproduced"
        and row["reason"] == "ours do better: 9 of 10 seeds meet the criterion"
    )


def test_findings_of_cells_outside_the_grid_are_left_out():
    runs, history = cell(3)
    runs["op"], history["op"] = "add", "add"
    config = {
        "name": "static_arithmetic",
        "training": {"steps": STEPS},
        "report": {
            "findings": [
                {"claim": "in", "cell": {"op": "add"}, "published": 0.3},
                {"claim": "out", "cell": {"op": "sub"}, "published": 0.3},
            ]
        },
    }
    assert [row.claim for row in verdicts.finding_rows(runs, history, config)] == ["in"]


@pytest.mark.parametrize(
    "outcome, successes, expected",
    [
        ("extrapolates", 8, "reproduced"),
        ("extrapolates", 3, "not reproduced"),
        ("fails", 3, "reproduced"),
        ("fails", 8, "not reproduced"),
    ],
)
def test_a_published_outcome_is_matched_on_the_median_score(outcome, successes, expected):
    row = verdict({"published_outcome": outcome, "source": "Figure 1"}, *cell(successes))
    assert row["verdict"] == expected and row["published"] == f"{outcome} (Figure 1)"
    if outcome == "fails" and expected == "not reproduced":
        assert row["reason"] == "ours do better: 8 of 10 seeds extrapolate (score below 10)"


def test_quantiles_of_cells_with_infinite_seeds_are_inf_not_nan():
    from experiments.report.summary import quantile

    values = [1.0, 2.0, np.inf, np.inf, np.inf]
    with np.errstate(invalid="ignore"):
        assert quantile(values, 0.75) == np.inf and np.isnan(np.quantile(values, 0.75))  # numpy: inf - inf
    assert quantile(values, 0.25) == 2.0 and quantile([1.0, 3.0], 0.5) == 2.0 == np.quantile([1.0, 3.0], 0.5)
    assert quantile([1.0, 2.0, 3.0, np.inf], 0.75) == np.inf  # between 3 and inf


def test_every_figure_kind_the_schema_allows_has_a_drawing_function():
    from experiments import report_schema
    from experiments.report import build

    assert set(build.FIGURE_KINDS) == set(report_schema.FIGURE_FILES)
    report = {"figure": ["error_curves", "scores", "solved_curve"]}
    assert build.figure_files(report) == [
        ("error_curves", "figure.png"),
        ("scores", "scores.png"),
        ("solved_curve", "solved.png"),
    ]


def test_a_claim_without_a_known_published_number_shows_ours_without_a_verdict():
    row = verdict(
        {"published_unknown": "their rates are not in our notes", "source": "Mistry et al. 2021"}, *cell(7)
    )
    assert row == {
        "claim": "c",
        "published": "not known here (Mistry et al. 2021)",
        "ours": "70% [40, 89], met at some evaluation 7/10",
        "verdict": "no verdict",
        "reason": "their rates are not in our notes",
    }


def agents(nac_far, lstm_far, nac_near=0.9):
    """Runs of two agents (8 seeds each): reward at T = 12 (inside the range) and at T = 24 and 32."""
    rows = []
    for unit, near, far in (("nac", nac_near, nac_far), ("lstm", 0.95, lstm_far)):
        for seed, (a, b) in enumerate(zip(near, far) if np.ndim(near) else zip([near] * len(far), far)):
            rows.append(
                {"unit": unit, "seed": seed, "reward_at_12": a, "reward_at_24": b, "reward_at_32": b - 0.5}
            )
    runs = pd.DataFrame(rows)
    runs["success"] = False
    return runs, pd.DataFrame({"unit": [], "seed": [], "step": [], "extrapolation_mse": []})


FITTED = {"column": "reward_at_12", "at_least": 0.5}


def test_a_bound_on_a_median_is_judged_only_on_models_that_fitted():
    runs, history = agents(nac_far=[-0.2, 0.1, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], lstm_far=[-1.0] * 8)
    finding = {"published_bound": {"column": "reward_at_24", "at_least": 0.0}, "fitted": FITTED}
    nac = runs[runs.unit == "nac"]
    assert verdict(finding, nac, history)["verdict"] == "reproduced"
    below = verdict({**finding, "published_bound": {"column": "reward_at_24", "at_least": 0.5}}, nac, history)
    assert below["verdict"] == "not reproduced"
    assert below["reason"] == "4 of 8 seeds meet the bound; median reward_at_24 >= 0.5 fails with 0.45"
    unfitted = verdict(finding, nac.assign(reward_at_12=0.2), history)
    assert unfitted["verdict"] == "not judged"
    assert unfitted["reason"].startswith("the models did not fit (reward_at_12 median 0.2")


def comparison(runs, history, columns=("reward_at_24", "reward_at_32")):
    finding = {
        "claim": "NAC degrades more slowly",
        "cell": {"unit": "nac"},
        "published_comparison": {"columns": list(columns), "than": {"unit": "lstm"}, "better": "higher"},
        "fitted": FITTED,
    }
    config = {"name": "grid_world", "training": {"steps": STEPS}, "report": {"findings": [finding]}}
    return verdicts.finding_rows(runs, history, config)[0]


def test_a_comparison_is_reproduced_only_when_its_interval_excludes_no_difference():
    apart = comparison(*agents(nac_far=np.linspace(0.2, 0.6, 8), lstm_far=np.linspace(-1.0, -0.6, 8)))
    assert apart.verdict == "reproduced", apart
    assert (apart.experiment, apart.outcome, apart.unit) == ("grid_world", "success", "nac")
    # medians of the per-seed mean over T = 24 and 32: 0.15 against -1.05
    assert apart.ours.startswith("medians 0.15 against -1.05; difference 1.2 [")
    overlapping = comparison(*agents(nac_far=np.linspace(-1.0, 0.4, 8), lstm_far=np.linspace(-0.9, 0.3, 8)))
    assert overlapping.verdict == "not reproduced"
    assert overlapping.reason == "the difference's 95% bootstrap interval includes 0: no difference measured"
    reversed_ = comparison(*agents(nac_far=np.linspace(-1.0, -0.6, 8), lstm_far=np.linspace(0.2, 0.6, 8)))
    assert reversed_.reason == "the difference's 95% bootstrap interval lies on the other side of 0"


def test_a_comparison_is_not_judged_when_either_cell_did_not_fit_or_a_column_is_missing():
    runs, history = agents(nac_far=np.linspace(0.2, 0.6, 8), lstm_far=np.linspace(-1.0, -0.6, 8))
    runs.loc[runs.unit == "lstm", "reward_at_12"] = 0.1
    row = comparison(runs, history)
    assert row.verdict == "not judged" and row.reason.startswith("the compared cell's models did not fit")
    row = comparison(runs, history, columns=("reward_at_24", "reward_at_48"))
    assert (row.verdict, row.reason) == ("no verdict", "not measured in this run: no column reward_at_48")


def test_the_bootstrap_interval_of_a_median_difference_in_closed_cases():
    # constant cells: every resample's difference is the difference itself
    assert directions.median_difference_interval([2.0] * 5, [0.5] * 7) == (1.5, 1.5)
    # cells that do not overlap: every resampled difference lies between the smallest and largest gap
    low, high = directions.median_difference_interval([3.0, 4.0, 5.0], [0.0, 1.0, 2.0])
    assert 1.0 <= low < high <= 5.0
    # the same seed gives the same interval
    assert directions.median_difference_interval([1.0, 4.0, 2.0], [0.0, 3.0]) == (
        directions.median_difference_interval([1.0, 4.0, 2.0], [0.0, 3.0])
    )


def test_a_bound_on_the_mean_of_columns_pools_the_items_with_a_wilson_interval():
    # 4 seeds, 50 images per digit count: accuracies at 0 and 1 digits; per-seed means 0.9, 0.8, 0.7, 0.6
    runs = pd.DataFrame(
        {
            "accuracy_at_0": [1.0, 0.9, 0.8, 0.7],
            "accuracy_at_1": [0.8, 0.7, 0.6, 0.5],
            "test_images": 50,
            "success": False,
        }
    )
    bound = {"columns": ["accuracy_at_0", "accuracy_at_1"], "at_least": 0.7, "trials": "test_images"}
    row = verdict({"published_bound": bound}, runs, None)
    # by hand: (50 + 45 + 40 + 35) + (40 + 35 + 30 + 25) = 300 right of 400
    low, high = verdicts.wilson_interval(300, 400)
    assert row["verdict"] == "reproduced"
    assert row["ours"] == (
        f"median 0.75 (seeds 0.6 to 0.9); pooled 75.0% [{100 * low:.1f}, {100 * high:.1f}] of 400"
    )
    assert verdict({"published_bound": {**bound, "at_least": 0.8}}, runs, None)["verdict"] == "not reproduced"


def test_a_fit_on_the_mean_of_columns_names_that_mean_when_a_cell_did_not_fit():
    runs, history = agents(nac_far=[0.5] * 8, lstm_far=[-1.0] * 8, nac_near=0.2)
    fitted = {"columns": ["reward_at_12", "reward_at_24"], "at_least": 0.5}
    finding = {"published_bound": {"column": "reward_at_24", "at_least": 0.0}, "fitted": fitted}
    row = verdict(finding, runs[runs.unit == "nac"], history)
    assert row["verdict"] == "not judged"
    assert row["reason"] == (
        "the models did not fit (mean of reward_at_12 to reward_at_24 (2 columns) median 0.35; "
        "needs median mean of reward_at_12 to reward_at_24 (2 columns) >= 0.5)"
    )


@pytest.mark.parametrize("claim", [{"published_outcome": "fails"}, {"published_score": 97.0}])
def test_a_claim_of_failure_is_judged_only_on_models_that_fitted_their_training_range(claim):
    # three seeds extrapolate, seven fail (score 50): the failure is reproduced where the models fitted
    assert verdict(claim, *cell(3))["verdict"] == "reproduced"
    assert verdict(claim, *cell(3, interpolation_score=verdicts.FITS))["verdict"] == "reproduced"  # at most
    row = verdict(claim, *cell(3, interpolation_score=30.0))
    assert row["verdict"] == "not judged"
    assert (
        row["reason"]
        == "the model did not fit its training range: median interpolation score 30 (needs at most 1)"
    )
    # and before the seeds that do better: an unfitted model's extrapolation says nothing either way
    assert verdict(claim, *cell(8, interpolation_score=30.0))["verdict"] == "not judged"


def test_claims_of_success_and_rates_are_judged_whether_or_not_the_models_fitted():
    runs, history = cell(8, interpolation_score=30.0)
    assert verdict({"published_outcome": "extrapolates"}, runs, history)["verdict"] == "reproduced"
    assert verdict({"published_score": 0.0}, runs, history)["verdict"] == "reproduced"
    # a follow-up's rate counts a unit that never fits among its failures
    assert verdict({"published": 0.0}, *cell(0, interpolation_score=30.0))["verdict"] == "reproduced"


def test_a_score_row_says_that_its_verdict_rests_on_the_median_score():
    row = verdict({"published_score": 0.0}, *cell(8))
    assert row["ours"] == (
        "verdict on the median score 0; within the threshold 80% [49, 94], met at some evaluation 8/10"
    )


@pytest.mark.parametrize(
    "finding, expected",
    [
        ({"published_outcome": "extrapolates"}, "success"),
        ({"published_outcome": "fails"}, "failure"),
        ({"published_score": 0.0}, "success"),
        ({"published_score": 9.9}, "success"),
        ({"published_score": 10.0}, "failure"),
        ({"published": 0.5}, "success"),
        ({"published": 0.14}, "failure"),
        ({"published_bound": {"column": "accuracy_at_5", "at_least": 0.9}}, "success"),
        ({"published_bound": {"column": "accuracy_at_5", "at_most": 0.1}}, "failure"),
        (
            {"published_comparison": {"column": "reward", "than": {"unit": "lstm"}, "better": "higher"}},
            "success",
        ),
        ({"published_unknown": "not in our notes"}, None),
    ],
)
def test_what_a_claim_says_was_published(finding, expected):
    assert verdicts.claimed_outcome(finding) == expected
