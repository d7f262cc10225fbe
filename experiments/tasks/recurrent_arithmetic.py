"""Recurrent simple-function learning: Table 1 (recurrent block) of Trask et al. (2018).

The paper does not define the task; this follows the reference recurrent task of Madsen & Johansen's
re-implementation of the NALU paper's code (AndreasMadsen/stable-nalu at commit 5a22a55,
``stable_nalu/dataset/simple_function_recurrent.py``): a vector of ``input_size`` numbers drawn from
``value_range`` arrives at every time step; ``a`` and ``b`` are sums of two fixed, overlapping slices of
the inputs over the slices and over the whole sequence; the target op(a, b) is read once at the end.

Models: a recurrent layer of ``hidden_units`` (LSTM, ReLU RNN, linear RNN, NAC, NALU or NAU cell) reads
the sequence from a learned initial state (a trained parameter per seed, initialised at 0); an output
layer of the matching kind (dense for LSTM, ReLU and linear; the unit itself for NAC, NALU and NAU) maps
its last output to the answer. ``initialization`` picks the NAC's and NALU's initialisers as in the
static task (the units' Glorot default or Madsen & Johansen's).

Interpolation: sequences of ``train_length`` steps. Extrapolation: sequences of ``test_length`` steps
from the same value range, so the totals grow with the length. The sweep measures the selected models on
each of ``sweep_lengths`` for the error-against-length figure.

Success criterion: Madsen & Johansen's nearly perfect solution carried through the recurrence. Its
input rows are W_eps (eps everywhere, 1 - eps on a's and b's slices), its recurrent block is 1 - eps on
the diagonal and eps off it (the identity, off by eps), and the op is applied exactly to the final state:
h_t = x_t A_eps + h_{t-1} B_eps, y = op(h_T). The threshold is that model's MSE on the test set, computed
in float64 (:func:`nearly_perfect_mse`).
"""

from __future__ import annotations

import numpy as np

from experiments import schema

from experiments.tasks import arithmetic
from experiments.engine import LayerSpec, Task

MODELS = ("lstm", "relu", "linear", "nac", "nalu", "nau")

# Every operation of a unit trains in one stack on its seeds' one set of draws (only the targets differ).
STACK_AXES = ("op",)

AXES = {"op": tuple(arithmetic.OPERATIONS), "unit": MODELS}

TASK_SCHEMA = {
    **arithmetic.COMMON_SCHEMA,
    "value_range": schema.Range(),
    "hidden_units": schema.Integer(minimum=1),
    "train_length": schema.Integer(minimum=1),
    "test_length": schema.Integer(minimum=1),
    "sweep_lengths": schema.IntegerList(minimum=1),
    "sweep_size": schema.Integer(minimum=1),
    "initialization": schema.Choice(arithmetic.INITIALIZATIONS),
}


def layers(point):
    """Recurrent layer plus output layer for one grid point."""

    width, unit = point["hidden_units"], point["unit"]
    if unit in ("nac", "nalu", "nau"):
        init = arithmetic.nac_initializers(point["initialization"]) if unit != "nau" else {}
        return [
            LayerSpec(unit, width, recurrent=True, initial_state="learned", initializers=init),
            LayerSpec(unit, 1, initializers=init),
        ]
    if unit == "lstm":
        recurrent = LayerSpec("lstm", width, recurrent=True, initial_state="learned")
    else:
        activation = "relu" if unit == "relu" else None
        recurrent = LayerSpec(
            "dense", width, {"activation": activation}, recurrent=True, initial_state="learned"
        )
    return [recurrent, LayerSpec("dense", 1)]


def sequences(point, rows, length, seed):
    """A fixed set: inputs (rows, length, input_size) and float64-exact targets (rows, 1)."""
    low, high = point["value_range"]
    x = np.random.default_rng(seed).uniform(low, high, size=(rows, length, point["input_size"]))
    return x.astype("float32"), arithmetic.reference(x.astype("float64").sum(axis=1), point).astype("float32")


def nearly_perfect_recurrence(point):
    """(A_eps, B_eps): the input rows W_eps (input_size, 2) and the recurrent block (2, 2), 1 - eps on the
    diagonal and eps off it."""
    eps = point["success_epsilon"]
    return arithmetic.nearly_perfect_first_layer(point), np.array([[1 - eps, eps], [eps, 1 - eps]])


def nearly_perfect_mse(x, point):
    """MSE on sequences x (rows, length, input_size) of the op applied exactly to the final state of
    h_t = x_t A_eps + h_{t-1} B_eps (h_0 = 0), against the exact result; float64."""
    x = np.asarray(x, dtype="float64")
    inputs, recurrent = nearly_perfect_recurrence(point)
    projected = x @ inputs  # (rows, length, 2)
    h = np.zeros((x.shape[0], 2))
    for t in range(x.shape[1]):
        h = projected[:, t] + h @ recurrent
    off = arithmetic.OPERATIONS[point["op"]](h[:, 0], h[:, 1])[:, None]
    exact = arithmetic.reference(x.sum(axis=1), point)
    return float(np.mean((off - exact) ** 2))


def build(point):
    """The Task of one grid point."""
    import tensorflow as tf  # here, not at the top: validating a config must not load TensorFlow

    masks = arithmetic.mask_matrix(
        point["input_size"], point["subset_ratio"], point["overlap_ratio"]
    )  # (input_size, 2)
    operation = arithmetic.OPERATIONS[point["op"]]
    low, high = point["value_range"]

    def sample(draw, batch_size):
        x = draw((batch_size, point["train_length"], point["input_size"]), low, high)
        a_and_b = tf.matmul(tf.reduce_sum(x, axis=-2), masks)
        return x, operation(a_and_b[..., :1], a_and_b[..., 1:])

    test = sequences(point, point["test_size"], point["test_length"], point["test_seed"])
    return Task(
        input_size=point["input_size"],
        layers=layers(point),
        sample=sample,
        validation=sequences(
            point, point["validation_size"], point["train_length"], point["validation_seed"]
        ),
        test=test,
        success_threshold=nearly_perfect_mse(test[0], point),
        sweep=[
            (length, sequences(point, point["sweep_size"], length, point["test_seed"] + length))
            for length in point["sweep_lengths"]
        ],
    )
