"""Identity autoencoder extrapolation: Figure 1 of Trask et al. (2018).

An MLP 1 -> 8 -> 8 -> 8 -> 1 with one nonlinearity in every hidden layer (the output layer is affine) is
trained with MSE to reproduce its input on ``train_range``; it is then evaluated on a dense grid over
``test_range``. Interpolation error is measured on a fixed sample of the training range, extrapolation
error on the grid points outside it; the whole grid is kept as the error-against-input curve.

Activations come from ``keras.activations`` (whose defaults hold: leaky ReLU slope 0.2, shrink
thresholds 0.5); PReLU has a learned slope per unit (``experiments.engine.baselines.prelu``, initialised at 0 like
Keras's PReLU layer). ``linear`` has no nonlinearity; ``nac`` and ``nalu`` are stacks of those units with
the same widths and depth (no biases).
"""

from __future__ import annotations

import numpy as np

from experiments import schema
from experiments.engine import LayerSpec, Task
from experiments.unit_options import OPTION_SCHEMA

ACTIVATIONS = (
    "hard_tanh",
    "sigmoid",
    "relu6",
    "tanh",
    "tanh_shrink",
    "hard_shrink",
    "leaky_relu",
    "soft_shrink",
    "softsign",
    "relu",
    "prelu",
    "softplus",
    "elu",
    "selu",
)
MODELS = (*ACTIVATIONS, "linear", "nac", "nalu")

AXES = {"unit": MODELS}

TASK_SCHEMA = {
    "hidden_width": schema.Integer(minimum=1),
    "hidden_layers": schema.Integer(minimum=1),
    "train_range": schema.Range(),
    "test_range": schema.Range(),
    "test_points": schema.Integer(minimum=2),
    "validation_size": schema.Integer(minimum=1),
    "validation_seed": schema.Integer(minimum=0),
    "epsilon": OPTION_SCHEMA["epsilon"],
}


def layers(point):
    """The model of one grid point as layer specs."""

    width, depth, model = point["hidden_width"], point["hidden_layers"], point["unit"]
    if model in ("nac", "nalu"):
        return [LayerSpec(model, width) for _ in range(depth)] + [LayerSpec(model, 1)]
    activation = None if model == "linear" else model
    return [LayerSpec("dense", width, {"activation": activation}) for _ in range(depth)] + [
        LayerSpec("dense", 1)
    ]


def probe_grid(point):
    """The dense evaluation grid over test_range, as a column."""
    low, high = point["test_range"]
    return np.linspace(low, high, point["test_points"], dtype="float64")[:, None]


def build(point):
    """The Task of one grid point: identity targets, fixed validation sample, extrapolation grid."""
    low, high = point["train_range"]
    grid = probe_grid(point)
    outside = (grid[:, 0] < low) | (grid[:, 0] > high)
    validation = np.random.default_rng(point["validation_seed"]).uniform(
        low, high, size=(point["validation_size"], 1)
    )

    def sample(draw, batch_size):
        x = draw((batch_size, 1), low, high)
        return x, x

    as_pair = lambda x: (x.astype("float32"), x.astype("float32"))  # noqa: E731 (identity targets)
    return Task(
        input_size=1,
        layers=layers(point),
        sample=sample,
        validation=as_pair(validation),
        test=as_pair(grid[outside]),
        probe=as_pair(grid),
    )
