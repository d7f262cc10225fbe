"""Recurrent cells of every unit inside keras.layers.RNN, against NumPy recurrences."""

import keras
import numpy as np
import pytest

import nalu_tf
from test_layers import ideal_hats, numpy_nac_weight, numpy_nalu
from test_units import numpy_inalu, numpy_nau, numpy_nmu, numpy_real_npu

# Every cell with a NumPy version of one step on [x_t, h_{t-1}].
CELLS = {
    nalu_tf.NACCell: lambda c, z: z @ numpy_nac_weight(c.w_hat.numpy(), c.m_hat.numpy()),
    nalu_tf.NALUCell: lambda c, z: numpy_nalu(
        z, c.w_hat.numpy(), c.m_hat.numpy(), c.gate_kernel.numpy(), c.epsilon
    ),
    nalu_tf.NAUCell: lambda c, z: numpy_nau(z, c.kernel.numpy()),
    nalu_tf.NMUCell: lambda c, z: numpy_nmu(z, c.kernel.numpy()),
    nalu_tf.INALUCell: lambda c, z: numpy_inalu(
        z,
        c.w_hat_add.numpy(),
        c.m_hat_add.numpy(),
        c.w_hat_mul.numpy(),
        c.m_hat_mul.numpy(),
        c.gate_bias.numpy(),
        c.epsilon,
        c.max_log,
    ),
    nalu_tf.RealNPUCell: lambda c, z: numpy_real_npu(z, c.kernel.numpy(), c.relevance.numpy(), c.epsilon),
}


def test_every_unit_layer_has_an_exported_cell():
    layers = {
        name
        for name in nalu_tf.__all__
        if isinstance(getattr(nalu_tf, name), type)
        and issubclass(getattr(nalu_tf, name), keras.layers.Layer)
        and not name.endswith("Cell")
    }
    cells = {name[: -len("Cell")] for name in nalu_tf.__all__ if name.endswith("Cell")}
    assert layers == cells == {cell.__name__[: -len("Cell")] for cell in CELLS}


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


def test_rnn_of_ideal_nau_cell_sums_1000_steps_exactly():
    x = np.random.default_rng(0).uniform(-1, 1, size=(4, 1000, 3))
    cell = nalu_tf.NAUCell(1, dtype="float64")
    rnn = keras.layers.RNN(cell, dtype="float64")
    rnn.build((None, 1000, 3))
    cell.kernel.assign(np.ones((4, 1)))
    np.testing.assert_allclose(rnn(x).numpy()[:, 0], x.sum(axis=(1, 2)), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell_class", list(CELLS), ids=lambda c: c.__name__)
def test_cell_step_matches_numpy_recurrence(cell_class):
    x = np.random.default_rng(1).uniform(0.5, 1.5, size=(2, 5, 3))
    cell = cell_class(2, dtype="float64")
    rnn = keras.layers.RNN(cell, return_sequences=True, dtype="float64")
    outputs = rnn(x).numpy()
    state = np.zeros((2, 2))
    for t in range(5):
        state = CELLS[cell_class](cell, np.concatenate([x[:, t], state], axis=-1))
        np.testing.assert_allclose(outputs[:, t], state, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell_class", list(CELLS), ids=lambda c: c.__name__)
def test_rnn_model_keras_file_round_trip(cell_class, tmp_path):
    x = np.random.default_rng(2).uniform(0.5, 1.5, size=(3, 6, 4)).astype("float32")
    model = keras.Sequential([keras.Input((6, 4)), keras.layers.RNN(cell_class(2))])
    expected = model(x).numpy()
    model.save(tmp_path / "rnn.keras")
    loaded = keras.saving.load_model(tmp_path / "rnn.keras")
    assert type(loaded.layers[0].cell) is cell_class
    np.testing.assert_array_equal(loaded(x).numpy(), expected)


def test_cell_regularization_loss_is_its_weight_times_the_regularizer():
    cell = nalu_tf.NAUCell(2, regularization=0.5)
    keras.layers.RNN(cell).build((None, 4, 3))
    w = np.clip(cell.kernel.numpy(), -1, 1)
    expected = 0.5 * np.mean(np.minimum(np.abs(w), 1 - np.abs(w)))
    np.testing.assert_allclose(float(cell.regularization_loss()), expected, rtol=1e-6)
    assert nalu_tf.NACCell(2).regularization_loss() is None


def accumulator(cell, steps, seed=0):
    """``keras.layers.RNN(cell)`` fitted to the running sum of sequences of 10 numbers in U[0, 1] (the example
    of docs/library.md), then measured on sequences of 1,000: (weights, relative error at 1,000)."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((None, 1)), keras.layers.RNN(cell)])
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(steps * 32, 10, 1)).astype("float32")
    model.fit(x, x.sum(axis=1), batch_size=32, epochs=1, verbose=0)
    long = rng.uniform(0, 1, size=(64, 1000, 1)).astype("float32")
    exact = long.astype("float64").sum(axis=1)
    relative = np.max(np.abs(model.predict(long, verbose=0) - exact) / exact)
    return [w.numpy() for w in cell.trainable_weights], relative


def test_a_trained_nau_cell_is_an_exact_accumulator_at_length_1000():
    weights, relative = accumulator(nalu_tf.NAUCell(1), steps=1500)
    np.testing.assert_array_equal(weights[0], np.ones((2, 1)))  # clamped at exactly 1
    assert relative < 1e-5


def test_a_trained_nac_cell_stays_short_of_exact():
    weights, relative = accumulator(nalu_tf.NACCell(1), steps=1500)
    effective = numpy_nac_weight(*weights)
    assert np.all(effective < 1) and relative > 1e-3  # tanh * sigmoid reaches 1 only in the limit
