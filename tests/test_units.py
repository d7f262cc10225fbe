"""NAU, NMU, iNALU and RealNPU layers: NumPy references, ideal weights, constraints, regulariser, saving."""

import inspect
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

import nalu_tf
from nalu_tf import maths
from test_layers import SATURATED, numpy_nac_weight


def numpy_nau(x, w):
    return x @ np.clip(w, -1, 1)


def numpy_nmu(x, w):
    w = np.clip(w, 0, 1)
    return np.prod(w[None] * x[:, :, None] + 1 - w[None], axis=1)


def numpy_inalu(x, w_add, m_add, w_mul, m_mul, gate_bias, epsilon, max_log):
    weight_add, weight_mul = numpy_nac_weight(w_add, m_add), numpy_nac_weight(w_mul, m_mul)
    magnitude = np.exp(np.minimum(np.log(np.abs(x) + epsilon) @ weight_mul, max_log))
    used = np.abs(weight_mul)[None]
    sign = np.prod(np.sign(x)[:, :, None] * used + 1 - used, axis=1)
    gate = 1 / (1 + np.exp(-gate_bias))
    return gate * (x @ weight_add) + (1 - gate) * magnitude * sign


def numpy_real_npu(x, w, relevance, epsilon):
    g = np.clip(relevance, 0, 1)
    r = g * (np.abs(x) + epsilon) + 1 - g
    k = g * (x < 0)
    return np.exp(np.log(r) @ w) * np.cos(np.pi * (k @ w))


def built(layer, in_features, **values):
    layer.build((None, in_features))
    for name, value in values.items():
        getattr(layer, name).assign(np.asarray(value, dtype=layer.dtype))
    return layer


def test_units_match_numpy_references():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4))
    wide = rng.uniform(-1.5, 1.5, size=(4, 3))  # beyond the clamps, to test them too
    nau = built(nalu_tf.NAU(3, dtype="float64"), 4, kernel=wide)
    np.testing.assert_allclose(nau(x).numpy(), numpy_nau(x, wide), rtol=1e-12)
    nmu = built(nalu_tf.NMU(3, dtype="float64"), 4, kernel=wide)
    np.testing.assert_allclose(nmu(x).numpy(), numpy_nmu(x, wide), rtol=1e-12)

    inalu = nalu_tf.INALU(3, epsilon=1e-6, max_log=3.0, dtype="float64")
    inalu(x)
    values = [v.numpy() for v in (inalu.w_hat_add, inalu.m_hat_add, inalu.w_hat_mul, inalu.m_hat_mul)]
    gate = rng.normal(size=3)
    inalu.gate_bias.assign(gate)
    expected = numpy_inalu(x, *values, gate, 1e-6, 3.0)
    np.testing.assert_allclose(inalu(x).numpy(), expected, rtol=1e-10)

    relevance = rng.uniform(-0.2, 1.2, size=4)
    npu = nalu_tf.RealNPU(3, epsilon=1e-6, dtype="float64")
    npu(x)
    npu.relevance.assign(relevance)
    np.testing.assert_allclose(
        npu(x).numpy(), numpy_real_npu(x, npu.kernel.numpy(), relevance, 1e-6), rtol=1e-10
    )


def test_ideal_nau_adds_and_subtracts_exactly():
    x = np.random.default_rng(1).normal(size=(64, 3)) * 100
    layer = built(nalu_tf.NAU(2, dtype="float64"), 3, kernel=[[1, 1], [1, -1], [0, 0]])
    np.testing.assert_array_equal(layer(x).numpy(), np.stack([x[:, 0] + x[:, 1], x[:, 0] - x[:, 1]], 1))


def test_ideal_nmu_multiplies_and_squares_exactly_for_any_sign():
    x = np.random.default_rng(2).normal(size=(64, 3)) * 10
    layer = built(nalu_tf.NMU(2, dtype="float64"), 3, kernel=[[1, 1], [1, 0], [0, 0]])
    np.testing.assert_allclose(layer(x).numpy(), np.stack([x[:, 0] * x[:, 1], x[:, 0]], 1), rtol=1e-12)
    nau_then_nmu = keras.Sequential(
        [
            keras.Input((3,), dtype="float64"),
            built(nalu_tf.NAU(2, dtype="float64"), 3, kernel=[[1, 1], [0, 0], [0, 0]]),
            built(nalu_tf.NMU(1, dtype="float64"), 2, kernel=[[1], [1]]),
        ]
    )
    np.testing.assert_allclose(nau_then_nmu(x).numpy()[:, 0], x[:, 0] ** 2, rtol=1e-12)


def test_ideal_inalu_multiplies_and_divides_negative_inputs_with_the_right_sign():
    x = np.random.default_rng(3).uniform(0.5, 3, size=(64, 2)) * np.array([-1, 1])  # a < 0 < b
    ones = np.full((2, 1), SATURATED)
    for signs, expected in (([1, 1], x[:, 0] * x[:, 1]), ([1, -1], x[:, 0] / x[:, 1])):
        layer = built(
            nalu_tf.INALU(1, epsilon=1e-300, dtype="float64"),
            2,
            w_hat_add=np.zeros((2, 1)),
            m_hat_add=np.zeros((2, 1)),
            w_hat_mul=SATURATED * np.array(signs, float)[:, None],
            m_hat_mul=ones,
            gate_bias=[-SATURATED * 20],
        )
        np.testing.assert_allclose(layer(x).numpy()[:, 0], expected, rtol=1e-12)


def test_inalu_log_path_is_clipped():
    layer = built(
        nalu_tf.INALU(1, max_log=20.0, dtype="float64"),
        1,
        w_hat_mul=[[SATURATED]],
        m_hat_mul=[[SATURATED]],
        gate_bias=[-SATURATED * 20],
    )
    np.testing.assert_allclose(layer(np.array([[1e12]])).numpy(), [[np.exp(20.0)]], rtol=1e-12)


def test_ideal_real_npu_multiplies_and_divides_any_sign_and_ignores_irrelevant_inputs():
    x = np.random.default_rng(4).uniform(0.5, 3, size=(64, 3)) * np.array([-1, 1, -1])
    layer = built(
        nalu_tf.RealNPU(2, epsilon=1e-300, dtype="float64"),
        3,
        kernel=[[1, 1], [1, -1], [0, 0]],
        relevance=[1, 1, 0],
    )
    np.testing.assert_allclose(
        layer(x).numpy(), np.stack([x[:, 0] * x[:, 1], x[:, 0] / x[:, 1]], 1), rtol=1e-10
    )


def test_regularizers_match_their_definitions():
    w = np.array([[0.2, -0.9], [1.0, 0.5]])
    np.testing.assert_allclose(maths.nau_regularizer(w), np.mean([0.2, 0.1, 0.0, 0.5]))
    np.testing.assert_allclose(
        maths.nmu_regularizer(np.array([[0.2, 0.9], [1.0, 0.5]])), np.mean([0.2, 0.1, 0.0, 0.5])
    )
    assert [float(maths.regularization_ramp(t, 10.0, 100, 200)) for t in (0, 100, 150, 200, 999)] == [
        0,
        0,
        5,
        10,
        10,
    ]
    assert [float(maths.regularization_ramp(t, 4.0, 50, 50)) for t in (49, 50)] == [0, 4]


@pytest.mark.parametrize("layer_class, low, high", [(nalu_tf.NAU, -1, 1), (nalu_tf.NMU, 0, 1)])
def test_training_keeps_weights_clamped_and_ramp_sets_the_regularizer(layer_class, low, high):
    x = np.random.default_rng(5).uniform(1, 2, size=(256, 3)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), layer_class(2), nalu_tf.NAU(1)])
    model.compile(keras.optimizers.SGD(5.0), "mse")  # a huge step pushes weights far out of range
    model.fit(
        x,
        100 * x[:, :1],
        epochs=1,
        batch_size=32,
        verbose=0,
        callbacks=[nalu_tf.RegularizationRamp(10, 0, 4)],
    )
    kernel = model.layers[0].kernel.numpy()
    assert kernel.min() >= low and kernel.max() <= high
    assert float(model.layers[0].regularization_weight.numpy()) == 10.0  # 8 batches, ramp over steps 0..4
    assert len(model.losses) == 2  # one regulariser term per layer


def test_ramp_reaches_nested_models_and_rnn_cells_through_public_api():
    # Public Keras API only: no private attribute (model._flatten_layers, say) in the callback's code.
    assert not re.search(r"\._[a-z]", inspect.getsource(nalu_tf.RegularizationRamp))
    inner = keras.Sequential([keras.Input((3,)), nalu_tf.INALU(2)])
    cell = nalu_tf.NAUCell(1)
    sequence = keras.Input((4, 3))
    summed = keras.layers.RNN(cell)(sequence)
    inputs = keras.Input((3,))
    outputs = keras.layers.Concatenate()([nalu_tf.NMU(1)(inner(inputs)), summed])
    model = keras.Model([inputs, sequence], outputs)
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    ramp = nalu_tf.RegularizationRamp(3.0, start=0, end=2)
    x = np.random.default_rng(0).uniform(1, 2, size=(8, 3)).astype("float32")
    s = np.random.default_rng(1).uniform(1, 2, size=(8, 4, 3)).astype("float32")
    model.fit([x, s], np.ones((8, 2), "float32"), batch_size=2, epochs=1, verbose=0, callbacks=[ramp])
    assert len(ramp.regularization_weights()) == 3  # the nested INALU, the NMU and the RNN's NAU cell
    assert [float(w.numpy()) for w in ramp.regularization_weights()] == [3.0, 3.0, 3.0]


def test_regularization_weight_adds_its_loss():
    layer = built(nalu_tf.NAU(1, regularization=2.0, dtype="float64"), 2, kernel=[[0.25], [-0.5]])
    layer(np.ones((1, 2)))
    np.testing.assert_allclose(float(layer.losses[0]), 2.0 * np.mean([0.25, 0.5]))


def test_default_initialisers():
    nau = built(nalu_tf.NAU(50), 100)
    assert np.abs(nau.kernel.numpy()).max() <= 0.5 and nau.kernel.numpy().std() > 0.1
    nmu = built(nalu_tf.NMU(50), 100)
    assert 0.25 <= nmu.kernel.numpy().min() and nmu.kernel.numpy().max() <= 0.75
    assert abs(nmu.kernel.numpy().mean() - 0.5) < 0.02
    npu = built(nalu_tf.RealNPU(2), 4)
    np.testing.assert_array_equal(npu.relevance.numpy(), 0.5)


@pytest.mark.parametrize(
    "make, value",
    [
        (lambda v: nalu_tf.NAU(v), 0),
        (lambda v: nalu_tf.NMU(2, regularization=v), -1.0),
        (lambda v: nalu_tf.INALU(2, max_log=v), 0.0),
        (lambda v: nalu_tf.RealNPU(2, epsilon=v), "tiny"),
        (lambda v: nalu_tf.CappedGlorotUniform(v), -0.5),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_value(make, value):
    with pytest.raises(ValueError, match=re.escape(repr(value))):
        make(value)


def test_inalu_sign_term_equals_the_direct_product_with_zeros_and_negatives():
    rng = np.random.default_rng(7)
    x = rng.choice([-2.0, -0.5, 0.0, 0.7, 3.0], size=(32, 5))
    used = rng.uniform(0, 1, size=(5, 3))
    used[0, 0], used[1, 1] = 1.0, 0.5  # factors of exactly 0 for x = 0 and x < 0
    direct = np.prod(np.sign(x)[:, :, None] * used[None] + 1 - used[None], axis=1)
    np.testing.assert_allclose(maths.inalu_sign(x, used).numpy(), direct, rtol=1e-9, atol=1e-30)


@pytest.mark.parametrize("seed", [None, 3])
def test_inalu_parameters_get_their_own_draws(seed):
    # One initialiser for w_hat_add and w_hat_mul (and one for both m_hat): Keras fixes an initialiser's
    # seed when it is made, so a shared instance would start both paths identical.
    other = None if seed is None else seed + 10
    layer = built(
        nalu_tf.INALU(
            4,
            w_hat_initializer=keras.initializers.RandomNormal(seed=seed),
            m_hat_initializer=keras.initializers.RandomNormal(seed=other),
        ),
        6,
    )
    values = [v.numpy() for v in (layer.w_hat_add, layer.w_hat_mul, layer.m_hat_add, layer.m_hat_mul)]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not np.array_equal(values[i], values[j]), (i, j)
    if seed is not None:  # seeded draws stay reproducible
        again = built(
            nalu_tf.INALU(
                4,
                w_hat_initializer=keras.initializers.RandomNormal(seed=seed),
                m_hat_initializer=keras.initializers.RandomNormal(seed=other),
            ),
            6,
        )
        np.testing.assert_array_equal(again.w_hat_mul.numpy(), values[1])


def test_inalu_default_initialisation_is_its_authors():
    layer = built(nalu_tf.INALU(200), 100)
    for variable, mean in (
        (layer.w_hat_add, 0.88),
        (layer.w_hat_mul, 0.88),
        (layer.m_hat_add, 0.5),
        (layer.m_hat_mul, 0.5),
    ):
        assert abs(variable.numpy().mean() - mean) < 0.01 and abs(variable.numpy().std() - 0.2) < 0.01
    assert not np.array_equal(layer.w_hat_add.numpy(), layer.w_hat_mul.numpy())


def test_inalu_regularizer_matches_its_definition():
    layer = built(
        nalu_tf.INALU(1, regularization=0.05, dtype="float64"),
        2,
        w_hat_add=[[25.0], [-5.0]],
        m_hat_add=[[0.0], [20.0]],
        w_hat_mul=[[-30.0], [19.0]],
        m_hat_mul=[[1.0], [-1.0]],
        gate_bias=[2.0],
    )
    layer(np.ones((1, 2)))
    expected = np.mean([0, 15]) + np.mean([20, 0]) + np.mean([0, 1]) + np.mean([19, 19]) + 18
    np.testing.assert_allclose(float(layer.losses[0]), 0.05 * expected)


@pytest.mark.parametrize("layer_class", [nalu_tf.NAC, nalu_tf.NALU, nalu_tf.RealNPU])
def test_regularization_is_an_error_for_units_without_a_regularizer(layer_class):
    with pytest.raises(ValueError, match="regularization=0.5 is not an option"):
        layer_class(2, regularization=0.5)


def test_nac_uniform_gives_madsens_limits_and_glorot_variance():
    from nalu_tf.initializers import nac_uniform_limit

    assert nac_uniform_limit(100, 2) == pytest.approx(0.5039, abs=1e-4)
    assert nac_uniform_limit(2, 1) == pytest.approx(9.4714, abs=1e-4)
    w_hat = nalu_tf.NACUniform(seed=1)((400, 400))
    m_hat = nalu_tf.NACUniform(seed=2)((400, 400))
    weight = np.tanh(w_hat.numpy()) / (1 + np.exp(-m_hat.numpy()))
    assert weight.var() == pytest.approx(2 / 800, rel=0.02)


@pytest.mark.parametrize("low", [0.5, -1.0])  # no input <= 0 (the sign term skipped), some negative
def test_inalu_skips_its_sign_term_only_where_it_is_exactly_one_bit_for_bit(low):
    rng = np.random.default_rng(3)
    x = tf.constant(rng.uniform(low, 2.0, size=(4, 64, 100)), tf.float32)
    params = [tf.Variable(rng.normal(0.5, 0.5, size=(4, 100, 3)).astype("float32")) for _ in range(4)]
    params.append(tf.Variable(rng.normal(0.0, 0.2, size=(4, 1, 3)).astype("float32")))

    def full_formula(w_add, m_add, w_mul, m_mul, bias):  # the sign term always computed
        weight_mul = maths.nac_weight(w_mul, m_mul)
        log_part = tf.matmul(tf.math.log(tf.abs(x) + 1e-7), weight_mul)
        magnitude = tf.exp(tf.minimum(log_part, maths.INALU_MAX_LOG))
        gate = tf.sigmoid(bias)
        additive = tf.matmul(x, maths.nac_weight(w_add, m_add))
        return gate * additive + (1.0 - gate) * magnitude * maths.inalu_sign(x, tf.abs(weight_mul))

    def value_and_gradients(function):
        with tf.GradientTape() as tape:
            y = function(*params)
            loss = tf.reduce_sum(tf.square(y - 3.0))
        return [y.numpy(), *(g.numpy() for g in tape.gradient(loss, params))]

    for ours, formula in zip(
        value_and_gradients(lambda *p: maths.inalu(x, *p, epsilon=1e-7)), value_and_gradients(full_formula)
    ):
        np.testing.assert_array_equal(ours, formula)
