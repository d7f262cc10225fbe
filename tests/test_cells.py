"""Recurrent NAC and NALU cells inside keras.layers.RNN."""

import keras
import numpy as np
import pytest

import nalu_tf
from test_layers import ideal_hats, numpy_nac_weight, numpy_nalu


def test_rnn_of_ideal_nac_cell_sums_1000_steps_exactly():
    x = np.random.default_rng(0).uniform(-1, 1, size=(4, 1000, 3))
    cell = nalu_tf.NACCell(1, dtype="float64")
    rnn = keras.layers.RNN(cell, dtype="float64")
    rnn.build((None, 1000, 3))
    w_hat, m_hat = ideal_hats(np.ones((3 + 1, 1)))  # every input and the previous sum, weight 1
    cell.w_hat.assign(w_hat)
    cell.m_hat.assign(m_hat)
    total = rnn(x).numpy()[:, 0]
    np.testing.assert_allclose(total, x.sum(axis=(1, 2)), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("cell_class", [nalu_tf.NACCell, nalu_tf.NALUCell])
def test_cell_step_matches_numpy_recurrence(cell_class):
    x = np.random.default_rng(1).uniform(0.5, 1.5, size=(2, 5, 3))
    cell = cell_class(2, dtype="float64")
    rnn = keras.layers.RNN(cell, return_sequences=True, dtype="float64")
    outputs = rnn(x).numpy()
    state = np.zeros((2, 2))
    for t in range(5):
        joined = np.concatenate([x[:, t], state], axis=-1)
        if cell_class is nalu_tf.NACCell:
            state = joined @ numpy_nac_weight(cell.w_hat.numpy(), cell.m_hat.numpy())
        else:
            state = numpy_nalu(
                joined, cell.w_hat.numpy(), cell.m_hat.numpy(), cell.gate_kernel.numpy(), cell.epsilon
            )
        np.testing.assert_allclose(outputs[:, t], state, rtol=1e-10)


@pytest.mark.parametrize("cell_class", [nalu_tf.NACCell, nalu_tf.NALUCell])
def test_rnn_model_keras_file_round_trip(cell_class, tmp_path):
    x = np.random.default_rng(2).uniform(0.5, 1.5, size=(3, 6, 4)).astype("float32")
    model = keras.Sequential([keras.Input((6, 4)), keras.layers.RNN(cell_class(2))])
    expected = model(x).numpy()
    model.save(tmp_path / "rnn.keras")
    loaded = keras.saving.load_model(tmp_path / "rnn.keras")
    np.testing.assert_array_equal(loaded(x).numpy(), expected)
