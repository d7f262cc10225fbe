"""Stacks of cells: every operation of a unit trains in one graph on its seeds' one set of draws, and each
seed's numbers are those it would get trained alone."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from experiments import runner

from experiments.tasks import single_module, static_arithmetic
from experiments.engine import MultiSeedTrainer, Training, make_draw
from test_runner import POINT
from test_trainer_units import POINT as SINGLE_POINT

OPS = list(static_arithmetic.OPERATIONS)


def cells(unit, ops, point=POINT, module=static_arithmetic):
    return [module.build({**point, "unit": unit, "op": op}) for op in ops]


@pytest.mark.parametrize("stream", ["independent", "shared"])
def test_a_seeds_data_and_initial_weights_do_not_depend_on_its_stack(stream):
    training = Training(steps=1, batch_size=8, learning_rate=0.01, eval_every=1, data_stream=stream)
    stacked = MultiSeedTrainer(cells("nalu", OPS), [2, 3, 4, 7], training)
    step = tf.constant(11, tf.int64)
    x_stacked, y_stacked = stacked.learner.sample(
        make_draw(stacked.seeds, step, stream, 0), stacked.training.batch_size
    )
    for op_index, op in enumerate(OPS):
        alone = MultiSeedTrainer(cells("nalu", [op]), [4], training)
        x_alone, y_alone = alone.learner.sample(
            make_draw(alone.seeds, step, stream, 0), alone.training.batch_size
        )
        member = op_index * 4 + 2  # seed 4 is the third seed of each cell
        np.testing.assert_array_equal(
            np.broadcast_to(x_stacked, (4, 8, 100))[2], np.broadcast_to(x_alone, (1, 8, 100))[0]
        )
        np.testing.assert_array_equal(y_stacked.numpy()[member], np.broadcast_to(y_alone, (1, 8, 1))[0])
        for together, single in zip(stacked.model.variables, alone.model.variables):
            np.testing.assert_array_equal(together.numpy()[member], single.numpy()[0])


@pytest.mark.parametrize("unit", ["nalu", "nmu", "inalu"])
def test_shared_inputs_give_the_same_outputs_as_copied_inputs(unit):
    # The stacked model reads each seed's inputs once for all cells (weights side by side as columns);
    # it must compute what it computes on the inputs copied once per cell.
    trainer = MultiSeedTrainer(
        cells(unit, OPS), [0, 1, 2], Training(steps=1, batch_size=8, learning_rate=0.01, eval_every=1)
    )
    x = tf.constant(np.random.default_rng(1).uniform(1, 2, size=(3, 8, 100)), tf.float32)
    shared = trainer.model(x).numpy()
    copied = trainer.model(tf.tile(x, [len(OPS), 1, 1])).numpy()
    np.testing.assert_allclose(shared, copied, rtol=2e-5, atol=1e-6)


def test_units_with_a_per_input_parameter_share_inputs_by_broadcasting():
    # RealNPU's relevance is one value per input, so its weights cannot sit side by side as columns.
    stack = cells("real_npu", ["mul", "div"], SINGLE_POINT, single_module)
    trainer = MultiSeedTrainer(
        stack, [0, 1], Training(steps=1, batch_size=8, learning_rate=0.01, eval_every=1)
    )
    trainer.model.params[0]["relevance"].assign(
        np.random.default_rng(2).uniform(0, 1, size=(4, 1, 2)).astype("float32")
    )
    x = tf.constant(np.random.default_rng(3).uniform(-2, 2, size=(2, 8, 2)), tf.float32)
    np.testing.assert_allclose(
        trainer.model(x).numpy(), trainer.model(tf.tile(x, [2, 1, 1])).numpy(), rtol=1e-5, atol=1e-6
    )


def test_a_stack_trains_each_cell_as_it_would_train_alone():
    training = Training(steps=200, batch_size=16, learning_rate=0.01, eval_every=50)
    resolved = [
        {
            "experiment": "static_arithmetic",
            "task": {**POINT, "unit": "nac", "op": op},
            "training": dataclasses.asdict(training),
            "seeds": [0, 5],
        }
        for op in ("add", "sub", "square")
    ]
    together = runner.run_stack(resolved)
    for point, result in zip(resolved, together):
        alone = runner.run_point(point)
        for column in ("interpolation_mse", "extrapolation_mse", "final_interpolation_mse", "sparsity_error"):
            np.testing.assert_allclose(result.rows[column], alone.rows[column], rtol=1e-4, err_msg=column)
        np.testing.assert_array_equal(result.rows["selected_step"], alone.rows["selected_step"])
        np.testing.assert_array_equal(result.rows["success_threshold"], alone.rows["success_threshold"])
        assert result.history[["seed", "step"]].equals(alone.history[["seed", "step"]])


@pytest.mark.parametrize("unit", ["nalu", "lstm"])
def test_a_recurrent_stack_trains_and_sweeps_each_cell_as_it_would_alone(unit):
    # Recurrent cells project every step's inputs at once, for all cells of a seed; the length sweep
    # of each cell must be its own, as if trained alone. Few steps: the sums' rounding differs in the
    # last bit between the stacked and the lone matmuls, and training amplifies it (NALU: 1e-9 at the
    # start, 5e-6 after 5 steps, a few % after 40).
    from test_recurrent_arithmetic import POINT as RECURRENT_POINT

    training = Training(steps=6, batch_size=8, learning_rate=0.01, eval_every=3)
    task = {**RECURRENT_POINT, "unit": unit, "test_length": 12, "sweep_lengths": [1, 12]}
    resolved = [
        {
            "experiment": "recurrent_arithmetic",
            "task": {**task, "op": op},
            "training": dataclasses.asdict(training),
            "seeds": [0, 3],
        }
        for op in ("add", "mul")
    ]
    together = runner.run_stack(resolved)
    for point, result in zip(resolved, together):
        alone = runner.run_point(point)
        for column in ("interpolation_mse", "extrapolation_mse", "final_interpolation_mse"):
            np.testing.assert_allclose(result.rows[column], alone.rows[column], rtol=1e-4, err_msg=column)
        np.testing.assert_allclose(result.curve["mae_mean"], alone.curve["mae_mean"], rtol=1e-4)
        assert list(result.curve["x"]) == [1, 12]


def test_cells_that_cannot_share_inputs_are_refused():
    mixed = cells("nac", ["add"]) + cells("nalu", ["add"])
    with pytest.raises(ValueError, match="same layers"):
        MultiSeedTrainer(mixed, [0], Training(steps=1, batch_size=8, learning_rate=0.01, eval_every=1))


def test_runner_stacks_only_points_that_differ_on_stack_axes():
    points = [{"op": op, "unit": unit, "range": "a"} for unit in ("nac", "nalu") for op in ("add", "mul")]
    assert runner.stack_points(points, [0, 1, 2, 3], ("op",)) == [[0, 1], [2, 3]]
    assert runner.stack_points(points, [1, 2, 3], ("op",)) == [[1], [2, 3]]  # finished points stay out
    assert runner.stack_points(points, [0, 1, 2, 3], ()) == [[0], [1], [2], [3]]


def test_a_stack_across_ranges_reads_each_ranges_own_sets():
    # The single-module benchmark stacks its ranges too: each cell maps the same U[0, 1) draws onto its
    # own range and is measured on its own validation and test sets.
    training = Training(steps=120, batch_size=16, learning_rate=0.05, eval_every=40)
    resolved = [
        {
            "experiment": "single_module",
            "task": {**SINGLE_POINT, "unit": "nau", "op": op, "range": name},
            "training": dataclasses.asdict(training),
            "seeds": [1, 2],
        }
        for op in ("add", "sub")
        for name in ("pos", "both")
    ]
    together = runner.run_stack(resolved)
    thresholds = {result.rows["success_threshold"].iloc[0] for result in together}
    assert len(thresholds) == 4  # each op and range has its own criterion
    for point, result in zip(resolved, together):
        alone = runner.run_point(point)
        for column in (
            "interpolation_mse",
            "extrapolation_mse",
            "interpolation_mse_init",
            "extrapolation_mse_init",
        ):
            np.testing.assert_allclose(result.rows[column], alone.rows[column], rtol=1e-4, err_msg=column)
        np.testing.assert_array_equal(result.rows["success_threshold"], alone.rows["success_threshold"])


def test_a_seeds_data_on_each_range_of_a_stack_equals_its_data_alone():
    # The first range maps U[0, 1) numbers with rounding ([-20, -10]); mapping its numbers back and onto
    # another range would differ from that range's own draw in the last bit for a quarter of them.
    training = Training(steps=1, batch_size=8, learning_rate=0.01, eval_every=1)
    point = {
        **SINGLE_POINT,
        "ranges": {
            **SINGLE_POINT["ranges"],
            "wide": {"interpolation": [-20.0, -10.0], "extrapolation": [[-40.0, -20.0]]},
        },
    }
    ranges = ("wide", "pos", "both")
    stack = [single_module.build({**point, "unit": "nau", "op": "add", "range": name}) for name in ranges]
    stacked = MultiSeedTrainer(stack, [3, 4], training)
    step = tf.constant(7, tf.int64)
    x_stacked, _ = stacked.learner.sample(
        make_draw(stacked.seeds, step, "independent", 0), stacked.training.batch_size
    )
    for index, name in enumerate(ranges):
        alone = MultiSeedTrainer(
            [single_module.build({**point, "unit": "nau", "op": "add", "range": name})], [4], training
        )
        x_alone, _ = alone.learner.sample(
            make_draw(alone.seeds, step, "independent", 0), alone.training.batch_size
        )
        np.testing.assert_array_equal(x_stacked.numpy()[index * 2 + 1], x_alone.numpy()[0])


@pytest.mark.parametrize("unit,length", [("lstm", 6), ("nac", 6), ("lstm", 40)])
def test_a_recurrent_input_projected_once_per_table_item_is_the_input_read_at_every_position(unit, length):
    # More positions than items: the cell's input part is computed once per item and looked up; the
    # model reads the same as its core fed each position's code (to float rounding), unrolled (6 steps)
    # or in the loop of long sequences (40), and trains the same encoder.
    from experiments.engine import LayerSpec, StackedModel

    table = np.eye(7, dtype=np.float32)
    layers = [LayerSpec("dense", 5, {"use_bias": False}), LayerSpec(unit, 3, recurrent=True)]
    layers.append(LayerSpec("dense", 1))
    model = StackedModel(layers, 7, [0, 1, 2], table=table)
    indices = tf.constant(np.random.default_rng(0).integers(0, 7, (3, 4, length)), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        codes = model.encode(tf.constant(table)[None])
        codes = tf.gather(codes, tf.cast(indices, tf.int32), batch_dims=1)
        looked_up, read = model(indices), model(codes, codes=True)
    np.testing.assert_allclose(looked_up, read, rtol=1e-5, atol=1e-6)
    for a, b in zip(tape.gradient(looked_up, model.variables), tape.gradient(read, model.variables)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
