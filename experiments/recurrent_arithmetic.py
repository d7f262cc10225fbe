"""Recurrent simple-function learning: Table 1 (recurrent block) of Trask et al. (2018).

The static task's ``input_size``-wide vectors arrive one per time step. ``a`` and ``b`` are sums of the
same two fixed slices accumulated over the whole sequence, and the target op(a, b) is read once at the
end. A recurrent layer of ``hidden_units`` (LSTM, ReLU RNN, linear RNN, NAC cell or NALU cell) reads the
sequence; an output layer of the matching kind (dense for LSTM, ReLU and linear, NAC for NAC, NALU for
NALU) maps its last output to the answer.

Interpolation: sequences of ``train_length`` steps. Extrapolation: sequences of ``test_length`` steps from
the same value range, so the totals grow with the length. The sweep measures the selected models on
each of ``sweep_lengths`` for the error-against-length figure.

Success criterion: the static task's nearly perfect first layer (Madsen & Johansen's W_eps) applied to
the time-summed input; the error a recurrent weight off by eps would add is not modelled, so this
threshold is, if anything, strict for long sequences.
"""

from __future__ import annotations

import numpy as np

from experiments import schema, static_arithmetic
from experiments.spec import LayerSpec, Task

MODELS = ("lstm", "relu", "linear", "nac", "nalu")

AXES = {"op": tuple(static_arithmetic.OPERATIONS), "unit": MODELS}

TASK_SCHEMA = {
    **static_arithmetic.COMMON_SCHEMA,
    "value_range": schema.Range(),
    "hidden_units": schema.Integer(minimum=1),
    "train_length": schema.Integer(minimum=1),
    "test_length": schema.Integer(minimum=1),
    "sweep_lengths": schema.IntegerList(minimum=1),
    "sweep_size": schema.Integer(minimum=1),
}


def layers(point):
    """Recurrent layer plus output layer for one grid point."""
    width, unit = point["hidden_units"], point["unit"]
    if unit in ("nac", "nalu"):
        options = {"epsilon": point["epsilon"]} if unit == "nalu" else {}
        return [LayerSpec(unit, width, options, recurrent=True), LayerSpec(unit, 1, options)]
    if unit == "lstm":
        return [LayerSpec("lstm", width, recurrent=True), LayerSpec("dense", 1)]
    activation = "relu" if unit == "relu" else None
    return [LayerSpec("dense", width, {"activation": activation}, recurrent=True), LayerSpec("dense", 1)]


def sequences(point, rows, length, seed):
    """A fixed set: inputs (rows, length, input_size) and float64-exact targets (rows, 1)."""
    low, high = point["value_range"]
    x = np.random.default_rng(seed).uniform(low, high, size=(rows, length, point["input_size"]))
    return x.astype("float32"), static_arithmetic.reference(x.sum(axis=1), point).astype("float32")


def build(point):
    """The Task of one grid point."""
    import tensorflow as tf  # here, not at the top: validating a config must not load TensorFlow

    mask_a, mask_b = static_arithmetic.slice_masks(point["input_size"], point["subset_ratio"], point["overlap_ratio"])
    masks = tf.constant(np.stack([mask_a, mask_b], axis=1), tf.float32)
    operation = static_arithmetic.OPERATIONS[point["op"]]
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
        validation=sequences(point, point["validation_size"], point["train_length"], point["validation_seed"]),
        test=test,
        success_threshold=static_arithmetic.nearly_perfect_mse(test[0].astype("float64").sum(axis=1), point),
        sweep=[
            (length, sequences(point, point["sweep_size"], length, point["test_seed"] + length))
            for length in point["sweep_lengths"]
        ],
    )
