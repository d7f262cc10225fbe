"""Table 1 (recurrent): LSTM maths, exact recurrent sums, the data formula and a smoke run."""

import pathlib

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import nalu_tf
from experiments import cli, recurrent_arithmetic
from experiments.trainer import StackedModel
from nalu_tf import maths
from test_layers import ideal_hats

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "recurrent_arithmetic.yaml"
POINT = {
    "input_size": 10, "subset_ratio": 0.3, "overlap_ratio": 0.0, "value_range": [0.0, 1.0],
    "hidden_units": 2, "train_length": 4, "test_length": 100, "sweep_lengths": [1, 100],
    "validation_size": 32, "test_size": 32, "sweep_size": 8, "validation_seed": 1, "test_seed": 2,
    "success_epsilon": 1e-5, "epsilon": 1e-7, "op": "add", "unit": "nac",
}


def test_lstm_step_matches_keras_lstm_cell():
    rng = np.random.default_rng(0)
    x, h, c = rng.normal(size=(5, 3)), rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    kernel, bias = rng.normal(size=(3 + 4, 16)), rng.normal(size=(16,))
    cell = keras.layers.LSTMCell(4, dtype="float64")
    cell.build((None, 3))
    cell.set_weights([kernel[:3], kernel[3:], bias])  # Keras orders the gates i, f, c, o, as we do
    expected_h, (_, expected_c) = cell(x, [h, c])
    h_new, c_new = maths.lstm_step(x, h, c, kernel, bias)
    np.testing.assert_allclose(h_new, expected_h, rtol=1e-12)
    np.testing.assert_allclose(c_new, expected_c, rtol=1e-12)


def test_rnn_of_ideal_nalu_cell_sums_1000_steps_exactly():
    x = np.random.default_rng(1).uniform(0.1, 1.0, size=(4, 1000, 3))
    cell = nalu_tf.NALUCell(1, dtype="float64")
    rnn = keras.layers.RNN(cell, dtype="float64")
    rnn.build((None, 1000, 3))
    w_hat, m_hat = ideal_hats(np.ones((3 + 1, 1)))
    cell.w_hat.assign(w_hat)
    cell.m_hat.assign(m_hat)
    cell.gate_kernel.assign(np.full((3 + 1, 1), 1e3))  # inputs are positive: the gate saturates on add
    np.testing.assert_allclose(rnn(x).numpy()[:, 0], x.sum(axis=(1, 2)), rtol=1e-10)


@pytest.mark.parametrize("unit", ["nac", "nalu"])
def test_trainer_recurrence_with_ideal_weights_is_exact_on_long_sequences(unit):
    point = {**POINT, "unit": unit}
    task = recurrent_arithmetic.build(point)
    model = StackedModel(task.layers, task.input_size, seeds=[0, 1])
    mask_a, mask_b = (np.arange(10) < 3), (np.arange(10) >= 3) & (np.arange(10) < 6)
    recurrent_weight = np.zeros((10 + 2, 2))
    recurrent_weight[:10, 0], recurrent_weight[:10, 1] = mask_a, mask_b
    recurrent_weight[10:, :] = np.eye(2)  # h_t = h_{t-1} + (slice sums of x_t)
    for layer, weight in ((model.params[0], recurrent_weight), (model.params[1], np.ones((2, 1)))):
        w_hat, m_hat = ideal_hats(weight)
        layer["w_hat"].assign(np.broadcast_to(w_hat, layer["w_hat"].shape).astype("float32"))
        layer["m_hat"].assign(np.broadcast_to(m_hat, layer["m_hat"].shape).astype("float32"))
        if unit == "nalu":
            layer["gate_kernel"].assign(np.full(layer["gate_kernel"].shape, 1e3, "float32"))
    x, y = task.test  # 100 steps, 25 times the training length
    prediction = model(tf.constant(x)[None]).numpy()
    assert prediction.shape == (2, 32, 1)
    np.testing.assert_allclose(prediction, np.broadcast_to(y, prediction.shape), rtol=1e-5)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "square", "sqrt"])
def test_training_batches_follow_the_stated_formula(op):
    task = recurrent_arithmetic.build({**POINT, "op": op})
    x = np.random.default_rng(3).uniform(0, 1, size=(2, 5, 4, 10)).astype("float32")
    batch_x, batch_y = task.sample(lambda shape, low, high: tf.constant(x), 5)
    totals = x.astype("float64").sum(axis=2)
    a, b = totals[..., :3].sum(-1), totals[..., 3:6].sum(-1)
    expected = {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b, "square": a * a, "sqrt": np.sqrt(a)}[op]
    np.testing.assert_allclose(batch_y.numpy()[..., 0], expected, rtol=1e-5, atol=1e-4)
    assert batch_x.shape == (2, 5, 4, 10)


def test_smoke_run_writes_tables_and_length_curve(tmp_path, capsys):
    assert cli.main(["run", str(CONFIG), "--profile", "smoke", "--results", str(tmp_path)]) == 0
    out = tmp_path / "recurrent_arithmetic"
    for name in ("runs.csv", "curves.csv", "summary.csv", "table.md", "figure.png", "scores.png", "provenance.json"):
        assert (out / name).stat().st_size > 0, name
    curves = pd.read_csv(out / "curves.csv")
    assert sorted(set(curves["x"])) == [1, 10, 100] and len(curves) == 6 * 3
    assert "paper (recalled)" in (out / "table.md").read_text()
