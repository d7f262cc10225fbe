"""Every layer and cell under Keras' mixed_float16 policy: float32 variables and loss terms, float16
maths, and the documented float16 overflow of the exp paths."""

import keras
import numpy as np
import pytest

import nalu_tf

# From the registries: a new unit's layer and cell join these tests by existing.
LAYERS = list(nalu_tf.layers.LAYERS.values())
CELLS = list(nalu_tf.cells.CELLS.values())


@pytest.fixture
def mixed_policy():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


def regularized(layer_class, units):
    has_regularizer = layer_class in (
        nalu_tf.NAU,
        nalu_tf.NMU,
        nalu_tf.INALU,
        nalu_tf.NAUCell,
        nalu_tf.NMUCell,
        nalu_tf.INALUCell,
    )
    return layer_class(units, regularization=0.1) if has_regularizer else layer_class(units)


@pytest.mark.parametrize("layer_class", LAYERS, ids=lambda c: c.__name__)
def test_every_layer_fits_under_mixed_float16(layer_class, mixed_policy):
    x = np.random.default_rng(0).uniform(1, 2, size=(64, 2)).astype("float32")
    layer = regularized(layer_class, 1)
    model = keras.Sequential([keras.Input((2,)), layer])
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    history = model.fit(x, x.sum(axis=1, keepdims=True), batch_size=16, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert all(variable.dtype == "float32" for variable in layer.weights)
    assert all(keras.backend.standardize_dtype(loss.dtype) == "float32" for loss in model.losses)
    assert len(model.losses) == (1 if layer.regularization_loss() is not None else 0)
    assert (
        keras.backend.standardize_dtype(layer(x).dtype) == "float16"
    )  # the maths runs in the policy's compute dtype


@pytest.mark.parametrize("cell_class", CELLS, ids=lambda c: c.__name__)
def test_every_cell_fits_under_mixed_float16(cell_class, mixed_policy):
    x = np.random.default_rng(0).uniform(0, 1, size=(64, 5, 1)).astype("float32")
    cell = cell_class(1)
    model = keras.Sequential([keras.Input((5, 1)), keras.layers.RNN(cell)])
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    history = model.fit(x, x.sum(axis=1), batch_size=16, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert all(variable.dtype == "float32" for variable in cell.weights)


def test_nalu_exp_path_overflows_in_float16_and_a_float32_layer_does_not(mixed_policy):
    # Ideal multiplication weights: the exp path gives 300 * 300 = 90,000, beyond float16's 65,504.
    x = np.array([[300.0, 300.0]], dtype="float32")
    outputs = {}
    for dtype in (None, "float32"):
        layer = nalu_tf.NALU(1, dtype=dtype)
        layer.build((None, 2))
        layer.w_hat.assign(np.full((2, 1), 20.0))
        layer.m_hat.assign(np.full((2, 1), 20.0))
        layer.gate_kernel.assign(np.full((2, 1), -20.0))  # gate 0: the multiplicative path
        outputs[dtype] = np.asarray(layer(x), dtype="float64")[0, 0]
    assert np.isinf(outputs[None])
    np.testing.assert_allclose(outputs["float32"], 90_000.0, rtol=1e-3)
