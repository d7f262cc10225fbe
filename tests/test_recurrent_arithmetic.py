"""Table 1 (recurrent): LSTM maths, exact recurrent sums, the data formula and a smoke run."""

import pathlib

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import nalu_tf
from experiments.engine import measures
from experiments.tasks import recurrent_arithmetic
from experiments.engine import LayerSpec
from experiments.engine import MultiSeedTrainer, StackedModel, Training
from experiments.engine import registry
from test_layers import ideal_hats

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "recurrent_arithmetic.yaml"
POINT = {
    "input_size": 10,
    "subset_ratio": 0.2,
    "overlap_ratio": 0.5,
    "value_range": [1.0, 2.0],
    "hidden_units": 2,
    "train_length": 10,
    "test_length": 1000,
    "sweep_lengths": [1, 100],
    "validation_size": 32,
    "test_size": 16,
    "sweep_size": 8,
    "validation_seed": 1,
    "test_seed": 2,
    "success_epsilon": 1e-5,
    "epsilon": 1e-7,
    "op": "add",
    "unit": "nac",
    "initialization": "glorot",
}
MASK_A, MASK_B = np.arange(10) < 2, (np.arange(10) >= 1) & (np.arange(10) < 3)  # a = x0 + x1, b = x1 + x2


def test_lstm_step_matches_keras_lstm_cell():
    rng = np.random.default_rng(0)
    x, h, c = rng.normal(size=(5, 3)), rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    kernel, bias = rng.normal(size=(3 + 4, 16)), rng.normal(size=(16,))
    cell = keras.layers.LSTMCell(4, dtype="float64")
    cell.build((None, 3))
    cell.set_weights([kernel[:3], kernel[3:], bias])  # Keras orders the gates i, f, c, o, as we do
    expected_h, (_, expected_c) = cell(x, [h, c])
    # the cell the trainer runs, projected and advanced as in training
    h_new, (_, c_new) = registry.CELLS["lstm"].step(x, (h, c), {"kernel": kernel, "bias": bias})
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


def recurrent_rows():
    """[x_t, h_{t-1}] -> h_t of the exact running sums: the slices' rows read x_t, the identity reads h."""
    weight = np.zeros((10 + 2, 2))
    weight[:10, 0], weight[:10, 1] = MASK_A, MASK_B
    weight[10:] = np.eye(2)
    return weight


def set_ideal(model, unit, op):
    """Ideal weights for the NAC, NALU, NAU or linear RNN: h_T = (a, b), then the op (add, sub or mul)."""
    readout = {"add": [[1.0], [1.0]], "sub": [[1.0], [-1.0]], "mul": [[1.0], [1.0]]}[op]
    for layer, weight, additive in (
        (model.params[0], recurrent_rows(), True),
        (model.params[1], readout, op != "mul"),
    ):
        weight = np.asarray(weight)
        if unit in ("linear", "nau"):
            layer["kernel"].assign(np.broadcast_to(weight, layer["kernel"].shape).astype("float32"))
            continue
        w_hat, m_hat = ideal_hats(weight)
        layer["w_hat"].assign(np.broadcast_to(w_hat, layer["w_hat"].shape).astype("float32"))
        layer["m_hat"].assign(np.broadcast_to(m_hat, layer["m_hat"].shape).astype("float32"))
        if unit == "nalu":  # inputs and states are positive: a saturated gate picks one path exactly
            gate = np.full(layer["gate_kernel"].shape, 1e3 if additive else -1e3, "float32")
            layer["gate_kernel"].assign(gate)


@pytest.mark.parametrize(
    "unit, op",
    [
        ("nac", "add"),
        ("nac", "sub"),
        ("linear", "add"),
        ("linear", "sub"),
        ("nau", "add"),
        ("nau", "sub"),
        ("nalu", "add"),
        ("nalu", "sub"),
        ("nalu", "mul"),
    ],
)
def test_ideal_weights_are_exact_at_length_1000(unit, op):
    # The oracle: the exact recurrence, read out, gives op(a, b) of 1,000-step sums (a, b about 3,000).
    task = recurrent_arithmetic.build({**POINT, "unit": unit, "op": op})
    model = StackedModel(task.layers, task.input_size, seeds=[0, 1])
    set_ideal(model, unit, op)
    x, y = task.test
    assert x.shape == (16, 1000, 10)
    prediction = model(tf.constant(x)[None]).numpy()
    # float32 sums of about 3,000 carry absolute errors of ~1e-3 that a - b does not cancel
    np.testing.assert_allclose(prediction, np.broadcast_to(y, prediction.shape), rtol=2e-5, atol=0.05)


def test_nearly_perfect_recurrence_matches_its_closed_form():
    # h_T = sum_t x_t A B^(T - t), computed with matrix powers instead of the loop.
    point = {**POINT, "op": "mul"}
    x = np.random.default_rng(5).uniform(1, 2, size=(6, 50, 10))
    inputs, recurrent = recurrent_arithmetic.nearly_perfect_recurrence(point)
    h = sum(x[:, t] @ inputs @ np.linalg.matrix_power(recurrent, 49 - t) for t in range(50))
    exact = (x.sum(axis=1) @ MASK_A) * (x.sum(axis=1) @ MASK_B)
    expected = np.mean((h[:, 0] * h[:, 1] - exact) ** 2)
    assert recurrent_arithmetic.nearly_perfect_mse(x, point) == pytest.approx(expected, rel=1e-9)
    assert expected > 0


@pytest.mark.parametrize("unit", sorted(registry.CELLS))  # every cell the trainer knows
def test_projecting_every_step_at_once_equals_stepping_on_the_concatenation(unit):
    # The trainer projects all time steps' inputs in one matmul (per group of cells sharing inputs);
    # it must equal the plain cell h_t = unit([x_t, h_{t-1}]) stepped one time step at a time.
    cell = registry.CELLS[unit]
    layers = [LayerSpec(unit, 3, recurrent=True, initial_state="learned")]
    model = StackedModel(layers, 4, seeds=list(range(6)))
    rng = np.random.default_rng(7)
    for variable in model.variables:
        variable.assign(rng.uniform(-0.9, 0.9, size=variable.shape).astype("float32"))
    x = rng.uniform(0.5, 1.5, size=(2, 5, 7, 4)).astype("float32")  # 2 input sets, read by members m % 2
    at_once = model(tf.constant(x)).numpy()
    params = {name: value.numpy().astype("float64") for name, value in model.params[0].items()}
    for member in range(6):
        own = {name: value[member] for name, value in params.items() if name != "initial_state"}
        states = tuple(
            np.broadcast_to(part, (5, 3))
            for part in np.split(params["initial_state"][member], cell.state_count, axis=-1)
        )
        for t in range(7):
            if unit in ("lstm", "gru"):
                output, states = cell.step(x[member % 2, :, t].astype("float64"), states, own)
            else:  # the unit's own forward pass on [x_t, h_{t-1}]
                output = registry.UNITS[unit].forward(
                    np.concatenate([x[member % 2, :, t], states[0]], -1).astype("float64"), own
                )
                states = (output,)
        np.testing.assert_allclose(at_once[member], np.asarray(output), rtol=2e-4, atol=1e-5)


def test_the_learned_initial_state_trains():
    task = recurrent_arithmetic.build({**POINT, "unit": "lstm", "test_length": 20})
    trainer = MultiSeedTrainer(
        task, [0, 1], Training(steps=20, batch_size=8, learning_rate=0.01, eval_every=20)
    )
    initial = trainer.model.params[0]["initial_state"]
    assert initial.shape == (2, 1, 4) and not initial.numpy().any()  # (h_0, c_0) per seed, zeros at first
    trainer.run()
    assert np.abs(initial.numpy()).min() > 1e-3


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "square", "sqrt"])
def test_training_batches_follow_the_stated_formula(op):
    task = recurrent_arithmetic.build({**POINT, "op": op})
    x = np.random.default_rng(3).uniform(0, 1, size=(2, 5, 4, 10)).astype("float32")
    batch_x, batch_y = task.sample(lambda shape, low, high: tf.constant(x), 5)
    totals = x.astype("float64").sum(axis=2)
    a, b = totals[..., :2].sum(-1), totals[..., 1:3].sum(-1)
    expected = {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b, "square": a * a, "sqrt": np.sqrt(a)}[
        op
    ]
    np.testing.assert_allclose(batch_y.numpy()[..., 0], expected, rtol=1e-5, atol=1e-4)
    assert batch_x.shape == (2, 5, 4, 10)


def test_smoke_run_writes_tables_and_length_curve(smoke_results):
    out = smoke_results / "recurrent_arithmetic"
    for name in (
        "runs.csv",
        "curves.csv",
        "summary.csv",
        "table.md",
        "figure.png",
        "scores.png",
        "provenance.json",
    ):
        assert (out / name).stat().st_size > 0, name
    curves = pd.read_csv(out / "curves.csv")
    assert sorted(set(curves["x"])) == [1, 10, 100] and len(curves) == 6 * 3
    assert "paper (recalled)" in (out / "table.md").read_text()


@pytest.mark.parametrize("unit", ["linear", "nac", "nau", "nalu"])
def test_recurrent_eigenvalues_of_the_exact_recurrence_are_one(unit):
    task = recurrent_arithmetic.build({**POINT, "unit": unit})
    model = StackedModel(task.layers, task.input_size, seeds=[0, 1, 2])
    set_ideal(model, unit, "add")
    np.testing.assert_allclose(measures.recurrent_eigenvalues(model), 1.0, atol=1e-6)


def test_recurrent_eigenvalues_are_the_moduli_of_the_hidden_block_largest_first():
    task = recurrent_arithmetic.build({**POINT, "unit": "linear"})
    model = StackedModel(task.layers, task.input_size, seeds=[0, 1])
    kernel = np.random.default_rng(4).normal(size=(2, 12, 2))
    kernel[1, 10:] = [[0.0, -2.0], [0.5, 0.0]]  # eigenvalues +-i: moduli 1 and 1
    kernel[0, 10:] = [[0.9, 0.0], [0.3, 1.2]]  # triangular: 1.2 and 0.9
    model.params[0]["kernel"].assign(kernel.astype("float32"))
    np.testing.assert_allclose(measures.recurrent_eigenvalues(model), [[1.2, 0.9], [1.0, 1.0]], rtol=1e-6)
    model.params[0]["kernel"].assign(
        np.where(np.arange(2)[:, None, None] == 0, np.nan, kernel).astype("float32")
    )
    eigenvalues = measures.recurrent_eigenvalues(model)
    assert np.isnan(eigenvalues[0]).all() and np.allclose(eigenvalues[1], 1.0)
    lstm = recurrent_arithmetic.build({**POINT, "unit": "lstm"})
    assert (
        measures.recurrent_eigenvalues(StackedModel(lstm.layers, lstm.input_size, seeds=[0])) is None
    )  # 2 x 8 block


def test_a_compiled_step_reads_the_same_draws_and_trains_to_float_rounding():
    from experiments.engine import make_draw

    task = recurrent_arithmetic.build(
        {**POINT, "unit": "nalu", "train_length": 4, "test_length": 20, "sweep_lengths": [1, 5]}
    )

    def batch(step):
        return task.sample(make_draw([0, 5], step, "independent", 0), 16)[0]

    step = tf.constant(7, tf.int64)
    plain_x, compiled_x = tf.function(batch)(step).numpy(), tf.function(batch, jit_compile=True)(step).numpy()
    # XLA's Philox gives other numbers: the trainer draws outside the compiled update
    assert not np.array_equal(plain_x, compiled_x)
    trained = {}
    for jit in (False, True):
        training = Training(steps=6, batch_size=16, learning_rate=1e-3, eval_every=3, jit_compile=jit)
        trainer = MultiSeedTrainer(task, [0, 5], training)
        trained[jit] = trainer.run(), [v.numpy() for v in trainer.model.variables]
        assert int(trainer.step.numpy()) == 6
    # other draws would move the weights far apart (the batches above differ by up to 0.98)
    (plain, plain_weights), (compiled, compiled_weights) = trained[False], trained[True]
    for before, after in zip(plain_weights, compiled_weights):
        np.testing.assert_allclose(before, after, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        plain.metrics["interpolation_mse"], compiled.metrics["interpolation_mse"], rtol=1e-3
    )
    assert "recurrent_eigenvalue_2" in compiled.metrics


@pytest.mark.parametrize("unit", ["lstm", "nalu"])
def test_inputs_shared_by_groups_of_members_give_each_member_its_own_outputs(unit):
    # A stack of cells reads each seed's inputs once: the projection of every time step is computed with
    # the groups' weights side by side, split by time and laid out per member. Copying the inputs to every
    # member (the plain per-member path) must give the same outputs at every step.
    task = recurrent_arithmetic.build({**POINT, "unit": unit, "op": "add"})
    members = [0, 3, 0, 3, 0, 3]  # three cells of seeds 0 and 3
    model = StackedModel(task.layers, task.input_size, members)
    for params in model.params:  # distinct weights per member, so a wrong layout shows
        for variable in params.values():
            variable.assign(np.random.default_rng(len(variable.shape)).normal(0, 0.5, variable.shape))
    x = tf.constant(np.random.default_rng(1).uniform(1, 2, (2, 4, 10, POINT["input_size"])), tf.float32)
    grouped = model(x, every_step=True).numpy()
    copied = model(tf.tile(x, [3, 1, 1, 1]), every_step=True).numpy()
    np.testing.assert_allclose(grouped, copied, rtol=1e-5, atol=1e-6)
