"""Figure 1 (identity extrapolation): activations, the smoke run, and who extrapolates."""

import pathlib

import keras
import numpy as np
import pandas as pd
import pytest

from experiments import config

from experiments.tasks import identity_extrapolation
from experiments.engine import MultiSeedTrainer
from experiments.engine import baselines, registry

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "identity_extrapolation.yaml"

SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805
DEFINITIONS = {
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "relu6": lambda x: np.clip(x, 0, 6),
    "tanh": np.tanh,
    "tanh_shrink": lambda x: x - np.tanh(x),
    "hard_shrink": lambda x: np.where(np.abs(x) > 0.5, x, 0.0),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "soft_shrink": lambda x: np.sign(x) * np.maximum(np.abs(x) - 0.5, 0),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "relu": lambda x: np.maximum(x, 0),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)),
}


def test_every_activation_has_a_definition_here():
    assert set(DEFINITIONS) | {"prelu"} == set(identity_extrapolation.ACTIVATIONS)


@pytest.mark.parametrize("name", sorted(DEFINITIONS))
def test_activation_matches_its_definition(name):
    x = np.linspace(-8, 8, 321)
    y = keras.ops.convert_to_numpy(baselines.dense(x[:, None], np.eye(1), None, name))[:, 0]
    np.testing.assert_allclose(y, DEFINITIONS[name](x), rtol=1e-6, atol=1e-7)


def test_prelu_matches_its_definition_and_learns_a_slope_per_unit():
    x = np.linspace(-4, 4, 9)[:, None] * np.ones((1, 3))
    alpha = np.array([0.0, 0.25, -1.0])
    y = keras.ops.convert_to_numpy(baselines.dense(x, np.eye(3), np.zeros(3), "prelu", alpha))
    np.testing.assert_allclose(y, np.where(x > 0, x, alpha * x))
    assert set(registry.UNITS["dense"].parameters(3, 3, activation="prelu")) == {"kernel", "bias", "alpha"}


def test_smoke_run_writes_table_curve_and_figure(smoke_results):
    out = smoke_results / "identity_extrapolation"
    for name in ("runs.csv", "curves.csv", "summary.csv", "table.md", "figure.png", "provenance.json"):
        assert (out / name).stat().st_size > 0, name
    curves = pd.read_csv(out / "curves.csv")
    assert set(curves["unit"]) == {"linear", "nac", "sigmoid", "tanh"}
    assert len(curves) == 4 * 401 and curves["x"].min() == -20 and curves["x"].max() == 20
    assert "Extrapolation: MAE" in (out / "table.md").read_text()


@pytest.fixture(scope="module")
def smoke_models():
    """Train the smoke profile's four models once; keep each trainer (its selected weights) and errors."""
    loaded = config.load(CONFIG, "smoke")
    trained = {}
    for point in loaded.points():
        resolved = loaded.resolve(point)["task"]
        task = identity_extrapolation.build(resolved)
        trainer = MultiSeedTrainer(task, loaded.seeds, loaded.training)
        result = trainer.run()
        x = task.probe[0][:, 0]
        errors = np.abs(result.probe_predictions[..., 0] - x[None])  # (seeds, grid)
        trained[point["unit"]] = (trainer, dict(zip(np.round(x, 6), errors.T)))
    return trained


@pytest.mark.parametrize("model", ["linear", "nac"])
def test_linear_and_nac_extrapolate(smoke_models, model):
    # Both models are affine in x (NAC without a bias is linear), so the error e(x) = (a - 1) x + b obeys
    # e(20) = 4 e(5) - 3 b with b = (e(5) + e(-5)) / 2: |e(+-20)| <= 7 max(|e(5)|, |e(-5)|). Float32
    # rounding of 20 (ulp 2e-6) is the only slack.
    _, errors = smoke_models[model]
    inside = np.maximum(errors[5.0], errors[-5.0])
    for end in (20.0, -20.0):
        assert np.all(errors[end] <= 7 * inside + 1e-5), (end, errors[end], inside)


@pytest.mark.parametrize("model", ["sigmoid", "tanh"])
def test_saturating_activations_do_not_extrapolate(smoke_models, model):
    # The output layer is affine over hidden units bounded by 1 in magnitude, so |y| <= sum|w| + |b| = B
    # whatever the input, and the error at |x| = 20 is at least 20 - B.
    trainer, errors = smoke_models[model]
    output = trainer.best[-1]
    bound = np.abs(output["kernel"].numpy()).sum(axis=(1, 2)) + np.abs(output["bias"].numpy()).reshape(-1)
    inside = np.maximum(errors[5.0], errors[-5.0])
    for end in (20.0, -20.0):
        assert np.all(errors[end] >= 20 - bound - 1e-4)
        # ...and that floor is far above what any affine model with the same in-range error could reach.
        assert np.all(20 - bound > 7 * inside + 1.0), (bound, inside)
