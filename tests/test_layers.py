"""NAC and NALU layers against an independent NumPy implementation and against ideal weights."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import nalu_tf

SATURATED = 40.0  # tanh(40) and sigmoid(40) round to exactly 1.0 in float64


def numpy_nac_weight(w_hat, m_hat):
    return np.tanh(w_hat) / (1.0 + np.exp(-m_hat))


def numpy_nalu(x, w_hat, m_hat, gate, epsilon):
    weight = numpy_nac_weight(w_hat, m_hat)
    g = 0.5 * (1.0 + np.tanh(0.5 * (x @ gate)))  # sigmoid without overflow
    return g * (x @ weight) + (1 - g) * np.exp(np.log(np.abs(x) + epsilon) @ weight)


def ideal_hats(weight):
    """w_hat, m_hat giving exactly ``weight`` (entries -1, -0.5, 0, 0.5 or 1) in float64."""
    weight = np.asarray(weight, dtype="float64")
    w_hat = SATURATED * np.sign(weight)  # tanh(w_hat) in {-1, 0, 1}
    m_hat = np.where(np.abs(weight) == 0.5, 0.0, SATURATED)  # sigmoid(0) = 0.5, sigmoid(40) = 1
    return w_hat, m_hat


def seeded(seed):
    return keras.initializers.GlorotUniform(seed=seed)


def set_weights(layer, **values):
    for name, value in values.items():
        getattr(layer, name).assign(value.astype(layer.dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nac_matches_numpy(dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 5)).astype(dtype)  # two leading batch dimensions
    # Seeded weights: with fresh random ones an output near 0 now and then fails a float32 relative bound.
    layer = nalu_tf.NAC(4, w_hat_initializer=seeded(1), m_hat_initializer=seeded(2), dtype=dtype)
    y = keras.ops.convert_to_numpy(layer(x))
    expected = x @ numpy_nac_weight(layer.w_hat.numpy(), layer.m_hat.numpy())
    assert y.shape == (2, 3, 4) and y.dtype == dtype
    np.testing.assert_allclose(y, expected, rtol=1e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nalu_matches_numpy(dtype):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 5)).astype(dtype)
    layer = nalu_tf.NALU(
        4,
        epsilon=1e-6,
        w_hat_initializer=seeded(1),
        m_hat_initializer=seeded(2),
        gate_initializer=seeded(3),
        dtype=dtype,
    )
    y = keras.ops.convert_to_numpy(layer(x))
    expected = numpy_nalu(x, layer.w_hat.numpy(), layer.m_hat.numpy(), layer.gate_kernel.numpy(), 1e-6)
    assert y.shape == (2, 3, 4) and y.dtype == dtype
    np.testing.assert_allclose(y, expected, rtol=1e-4 if dtype == "float32" else 1e-12)


def test_nalu_shares_one_weight_and_has_an_input_gate_without_bias():
    layer = nalu_tf.NALU(3)
    layer.build((None, 4))
    assert sorted(v.path.split("/")[-1] for v in layer.trainable_variables) == [
        "gate_kernel",
        "m_hat",
        "w_hat",
    ]
    assert tuple(layer.gate_kernel.shape) == (4, 3)


@pytest.mark.parametrize("op, signs", [("add", [1, 1, 0]), ("sub", [1, -1, 0])])
@pytest.mark.parametrize("layer_class", [nalu_tf.NAC, nalu_tf.NALU])
def test_ideal_weights_add_and_subtract_exactly(layer_class, op, signs):
    x = np.random.default_rng(2).normal(size=(64, 3))
    layer = layer_class(1, dtype="float64")
    layer.build((None, 3))
    w_hat, m_hat = ideal_hats(np.array(signs)[:, None])
    set_weights(layer, w_hat=w_hat, m_hat=m_hat)
    if layer_class is nalu_tf.NALU:
        set_weights(layer, gate_kernel=np.full((3, 1), 1e3))  # gate fully on the additive path
        x = np.abs(x) + 0.1  # keep x G large and positive so sigmoid saturates
    expected = x[:, 0] + x[:, 1] if op == "add" else x[:, 0] - x[:, 1]
    np.testing.assert_allclose(layer(x).numpy()[:, 0], expected, rtol=1e-12, atol=1e-12)


def ideal_nalu(weight, path):
    """A float64 NALU with W = ``weight`` and the gate saturated on ``path`` for positive inputs."""
    weight = np.asarray(weight, dtype="float64")
    layer = nalu_tf.NALU(weight.shape[1], epsilon=1e-300, dtype="float64")
    layer.build((None, weight.shape[0]))
    w_hat, m_hat = ideal_hats(weight)
    gate = np.full(weight.shape, 1e3 if path == "add" else -1e3)
    set_weights(layer, w_hat=w_hat, m_hat=m_hat, gate_kernel=gate)
    return layer


@pytest.mark.parametrize(
    "weight, function",
    [
        ([[1], [1]], lambda a, b: a * b),
        ([[1], [-1]], lambda a, b: a / b),
        ([[0.5], [0]], lambda a, b: np.sqrt(a)),
    ],
    ids=["mul", "div", "sqrt"],
)
def test_ideal_weights_multiplicative_path_is_exact(weight, function):
    x = np.random.default_rng(3).uniform(0.5, 3.0, size=(64, 2))
    y = ideal_nalu(weight, "multiply")(x).numpy()[:, 0]
    np.testing.assert_allclose(y, function(x[:, 0], x[:, 1]), rtol=1e-12)


def test_ideal_two_layer_nalu_squares_exactly():
    x = np.random.default_rng(4).uniform(0.5, 3.0, size=(64, 2))
    model = keras.Sequential(
        [
            keras.Input((2,), dtype="float64"),
            ideal_nalu([[1, 1], [0, 0]], "add"),  # both hidden units copy a = x0
            ideal_nalu([[1], [1]], "multiply"),  # a * a
        ]
    )
    np.testing.assert_allclose(model(x).numpy()[:, 0], x[:, 0] ** 2, rtol=1e-12)


@pytest.mark.parametrize("layer_class", [nalu_tf.NAC, nalu_tf.NALU])
def test_gradients_reach_every_parameter(layer_class):
    # Guards the bug of ports that computed W once at construction: then w_hat and m_hat never train.
    x = np.random.default_rng(5).uniform(0.5, 2.0, size=(16, 3)).astype("float32")
    layer = layer_class(2)
    layer.build((None, 3))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    gradients = tape.gradient(loss, layer.trainable_variables)
    names = [v.path.split("/")[-1] for v in layer.trainable_variables]
    expected = {"w_hat", "m_hat"} | ({"gate_kernel"} if layer_class is nalu_tf.NALU else set())
    assert set(names) == expected
    for name, gradient in zip(names, gradients):
        assert gradient is not None, name
        assert np.all(np.isfinite(gradient)) and np.any(gradient.numpy() != 0), name


def test_training_changes_w_hat_and_m_hat():
    x = np.random.default_rng(6).uniform(0, 1, size=(256, 4)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), nalu_tf.NAC(1)])
    before = [v.numpy().copy() for v in model.trainable_variables]
    model.compile(keras.optimizers.Adam(0.05), "mse")
    model.fit(x, x[:, :1] + x[:, 1:2], epochs=2, batch_size=32, verbose=0)
    for old, variable in zip(before, model.trainable_variables):
        assert not np.allclose(old, variable.numpy()), variable.path


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: nalu_tf.NAC(3),
        lambda: nalu_tf.NALU(3, epsilon=1e-5),
        lambda: nalu_tf.NAU(3, regularization=0.5),
        lambda: nalu_tf.NMU(3),
        lambda: nalu_tf.INALU(3, max_log=10.0),
        lambda: nalu_tf.RealNPU(3, epsilon=1e-5),
    ],
    ids=["NAC", "NALU", "NAU", "NMU", "INALU", "RealNPU"],
)
def test_config_and_keras_file_round_trip(make_layer, tmp_path):
    x = np.random.default_rng(7).uniform(0.5, 2.0, size=(8, 4)).astype("float32")
    layer = make_layer()
    model = keras.Sequential([keras.Input((4,)), layer, nalu_tf.NAC(1)])
    expected = model(x).numpy()

    clone = type(layer).from_config(layer.get_config())
    clone.build((None, 4))
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x).numpy(), layer(x).numpy())
    assert clone.get_config() == layer.get_config()

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.layers[0]) is type(layer)
    np.testing.assert_array_equal(loaded(x).numpy(), expected)


@pytest.mark.parametrize("units", [0, -1, 2.5, "3", True, None])
@pytest.mark.parametrize("layer_class", [nalu_tf.NAC, nalu_tf.NALU])
def test_bad_units_raise_value_error_naming_the_value(layer_class, units):
    with pytest.raises(ValueError, match=re.escape(repr(units))):
        layer_class(units)


@pytest.mark.parametrize("epsilon", [0, -1e-7, float("nan"), "small"])
def test_bad_epsilon_raises_value_error_naming_the_value(epsilon):
    with pytest.raises(ValueError, match=re.escape(repr(epsilon))):
        nalu_tf.NALU(2, epsilon=epsilon)
