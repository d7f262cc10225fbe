"""The committed results agree with their own histories: every kept model, success and solved-at step in
results/*/runs.csv is recomputed from history.csv (each seed's errors at every evaluation)."""

import json
import pathlib

import numpy as np
import pandas as pd
import pytest

RESULTS = pathlib.Path(__file__).resolve().parent.parent / "results"
# The default profile's results, and the long profile's (results/long/NAME/).
WITH_HISTORY = sorted(
    path.parent for pattern in ("*/history.csv", "long/*/history.csv") for path in RESULTS.glob(pattern)
)


@pytest.mark.parametrize(
    "directory", WITH_HISTORY, ids=[str(path.relative_to(RESULTS)) for path in WITH_HISTORY]
)
def test_runs_follow_from_the_history(directory):
    runs = pd.read_csv(directory / "runs.csv")
    history = pd.read_csv(directory / "history.csv")
    config = json.loads((directory / "provenance.json").read_text())["config"]
    axes = list(config["grid"])
    keys = [*axes, "seed"]
    assert len(runs) == len(runs.drop_duplicates(keys))
    ordered = history.sort_values([*keys, "step"], kind="stable")
    # The kept model: the first evaluation with the lowest validation MSE (NaN never wins), among those at
    # or after training.select_from.
    eligible = ordered[ordered["step"] >= config["training"].get("select_from", 0)]
    finite = eligible.assign(validation=eligible["interpolation_mse"].fillna(np.inf))
    kept = finite.loc[finite.groupby(keys, sort=False)["validation"].idxmin()]
    merged = runs.merge(kept, on=keys, suffixes=("", "_history"), validate="one_to_one")
    assert (merged["selected_step"] == merged["step"]).all()
    np.testing.assert_allclose(merged["interpolation_mse"], merged["interpolation_mse_history"], rtol=1e-6)
    np.testing.assert_allclose(merged["extrapolation_mse"], merged["extrapolation_mse_history"], rtol=1e-6)
    last = ordered.groupby(keys, sort=False).tail(1)
    final = runs.merge(last, on=keys, suffixes=("", "_history"), validate="one_to_one")
    np.testing.assert_allclose(
        final["final_interpolation_mse"], final["interpolation_mse_history"], rtol=1e-6
    )
    if runs["success_threshold"].notna().any():
        success = ~merged["diverged"].astype(bool) & (
            merged["extrapolation_mse_history"] < merged["success_threshold"]
        )
        assert (success == merged["success"].astype(bool)).all()
        thresholds = runs[[*axes, "success_threshold"]].drop_duplicates(axes)
        under = ordered.merge(thresholds, on=axes)
        under = under[under["extrapolation_mse"] < under["success_threshold"]]
        first = under.groupby(keys, sort=False)["step"].min().rename("first_under").reset_index()
        solved = runs.merge(first, on=keys, how="left")
        np.testing.assert_array_equal(
            solved["solved_at"].fillna(-1).to_numpy(float), solved["first_under"].fillna(-1).to_numpy(float)
        )
