"""Model selection: the kept model is the one with the lowest interpolation validation error, a real copy
of the parameters at that step, and the run's history lets anyone check it from the CSVs."""

import json

import numpy as np
import pandas as pd

from experiments import cli
from experiments.engine import LayerSpec, Task
from experiments.engine import MultiSeedTrainer, Training
from test_runner import STATIC


def drifting_task():
    """y = 2 x on validation and test, y = 6 x in training: a bias-free 1 -> 1 linear model starts with a
    weight in [-1.73, 1.73] (Glorot), so training carries it through 2 (the validation optimum) on its way
    to 6. The validation error must reach a minimum and then rise."""
    x = np.linspace(1.0, 2.0, 64, dtype="float32")[:, None]

    def sample(draw, batch_size):
        inputs = draw((batch_size, 1), 1.0, 2.0)
        return inputs, 6.0 * inputs

    return Task(
        input_size=1,
        layers=[LayerSpec("dense", 1, {"use_bias": False})],
        sample=sample,
        validation=(x, 2 * x),
        test=(2 * x, 4 * x),
    )


def test_kept_model_is_the_minimum_of_the_history_not_the_last_step():
    trainer = MultiSeedTrainer(
        drifting_task(), [0, 1, 2, 3], Training(steps=600, batch_size=16, learning_rate=0.02, eval_every=2)
    )
    result = trainer.run()
    metrics = result.metrics
    steps = np.array([evaluation["step"] for evaluation in result.history])
    validation = np.stack(
        [evaluation["interpolation_mse"] for evaluation in result.history]
    )  # (evaluations, seeds)
    test = np.stack([evaluation["extrapolation_mse"] for evaluation in result.history])
    best = validation.argmin(axis=0)
    seeds = np.arange(4)
    np.testing.assert_allclose(metrics["interpolation_mse"], validation[best, seeds], rtol=1e-6)
    np.testing.assert_allclose(metrics["extrapolation_mse"], test[best, seeds], rtol=1e-6)
    np.testing.assert_array_equal(metrics["selected_step"], steps[best])
    np.testing.assert_allclose(metrics["final_interpolation_mse"], validation[-1], rtol=1e-6)
    assert (metrics["interpolation_mse"] < 0.01 * metrics["final_interpolation_mse"]).all()
    # The kept weight is near the validation optimum 2, the live weight near the training target 6.
    kept = trainer.best[0]["kernel"].numpy().ravel()
    live = trainer.model.params[0]["kernel"].numpy().ravel()
    assert np.all(np.abs(kept - 2) < 0.1) and np.all(np.abs(live - 6) < 0.5)


def test_runs_csv_has_final_model_errors_and_history_csv_every_evaluation(tmp_path, capsys):
    assert cli.main(["run", str(STATIC), "--profile", "smoke", "--results", str(tmp_path)]) == 0
    out = tmp_path / "static_arithmetic"
    runs = pd.read_csv(out / "runs.csv")
    history = pd.read_csv(out / "history.csv")
    config = json.loads((out / "provenance.json").read_text())["config"]
    steps, every = config["training"]["steps"], config["training"]["eval_every"]
    assert sorted(history["step"].unique()) == list(range(0, steps + 1, every))
    assert len(history) == len(runs) * (steps // every + 1)
    for column in ("op", "unit", "seed", "step", "interpolation_mse", "extrapolation_mse", "sparsity_error"):
        assert column in history.columns, column
    merged = runs.merge(history, on=["op", "unit", "range", "seed"], suffixes=("", "_history"))
    last = merged[merged["step"] == steps]
    np.testing.assert_allclose(last["final_interpolation_mse"], last["interpolation_mse_history"], rtol=1e-6)
    np.testing.assert_allclose(last["final_extrapolation_mse"], last["extrapolation_mse_history"], rtol=1e-6)
    # The kept model's errors are those of the history's step with the lowest validation error.
    for _, run in runs.iterrows():
        own = merged[
            (merged["op"] == run["op"]) & (merged["unit"] == run["unit"]) & (merged["seed"] == run["seed"])
        ]
        lowest = own.loc[own["interpolation_mse_history"].idxmin()]
        assert lowest["step"] == run["selected_step"]
        np.testing.assert_allclose(run["extrapolation_mse"], lowest["extrapolation_mse_history"], rtol=1e-6)


def test_select_from_keeps_the_best_evaluation_at_or_after_that_step_only():
    """The drifting task's validation minimum comes early; with select_from the kept model is the best of
    the later evaluations, which the history shows."""
    training = Training(steps=600, batch_size=16, learning_rate=0.02, eval_every=2, select_from=300)
    result = MultiSeedTrainer(drifting_task(), [0, 1, 2, 3], training).run()
    steps = np.array([evaluation["step"] for evaluation in result.history])
    validation = np.stack([evaluation["interpolation_mse"] for evaluation in result.history])
    later = steps >= 300
    best = validation[later].argmin(axis=0)
    np.testing.assert_array_equal(result.metrics["selected_step"], steps[later][best])
    np.testing.assert_allclose(
        result.metrics["interpolation_mse"], validation[later][best, np.arange(4)], rtol=1e-6
    )
    assert (
        validation[~later].min(axis=0) < result.metrics["interpolation_mse"]
    ).all()  # an earlier one was better
