"""Seed-major stacks: the units of a table train as one step on one draw per seed and step, each with its
own model and training settings, and each seed's data and initial weights are those it has alone."""

import dataclasses

import numpy as np
import pytest

from experiments import files, runner
from experiments.config import load
from experiments.engine import MultiSeedTrainer, SeedMajorStack, Training, checkpoints
from experiments.tasks import static_arithmetic
from test_runner import POINT, ROOT

TRAINING = Training(steps=12, batch_size=8, learning_rate=0.01, eval_every=4)
UNITS = ("nac", "nalu", "nmu", "inalu")


def trainers(units=UNITS, seeds=(2, 5), training=TRAINING):
    return [
        MultiSeedTrainer(
            [static_arithmetic.build({**POINT, "unit": u, "op": op}) for op in ("add", "mul")],
            seeds,
            training,
        )
        for u in units
    ]


def test_each_model_reads_the_batch_and_starts_from_the_weights_it_has_alone():
    together = SeedMajorStack(trainers())
    steps, batches = together.batch()
    assert [int(step) for step in steps] == [1] * len(UNITS)
    for alone, (x, y) in zip(trainers(), batches):
        step, (x_alone, y_alone) = alone.batch()
        assert int(step) == 1
        np.testing.assert_array_equal(x, x_alone)
        np.testing.assert_array_equal(y, y_alone)
    for joined, alone in zip(together.trainers, trainers()):
        for a, b in zip(joined.model.variables, alone.model.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_seed_major_run_gives_each_model_its_lone_numbers():
    # The same ops on the same numbers: equal to float rounding (a graph of several models may fuse or
    # order its reductions otherwise), and each model keeps its own settings (here iNALU's clipping).
    clipped = dataclasses.replace(TRAINING, clip_value=0.1)
    settings = [TRAINING, TRAINING, TRAINING, clipped]
    joined = SeedMajorStack([trainers((u,), training=t)[0] for u, t in zip(UNITS, settings)]).run()
    assert len(joined) == len(UNITS)
    for unit, training, result in zip(UNITS, settings, joined):
        alone = trainers((unit,), training=training)[0].run()
        assert [e["step"] for e in result.history] == [e["step"] for e in alone.history] == [0, 4, 8, 12]
        for name in ("interpolation_mse", "extrapolation_mse", "final_interpolation_mse", "selected_step"):
            np.testing.assert_allclose(result.metrics[name], alone.metrics[name], rtol=1e-5, err_msg=name)


def test_models_that_cannot_share_a_draw_are_refused():
    longer = dataclasses.replace(TRAINING, steps=24)
    with pytest.raises(ValueError, match="differ in \\['steps'\\]"):
        SeedMajorStack([trainers(("nac",))[0], trainers(("nalu",), training=longer)[0]])
    with pytest.raises(ValueError, match="seeds"):
        SeedMajorStack([trainers(("nac",))[0], trainers(("nalu",), seeds=(2, 6))[0]])


def test_a_seed_major_checkpoint_restores_every_model_or_none(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "SECONDS", 0.0)
    path = tmp_path / "stack.checkpoint.npz"
    whole = SeedMajorStack(trainers(("nac", "nalu"))).run()

    class Stop(Exception):
        pass

    def stop_at_second(amount, calls=[]):  # noqa: B006 (the count of calls)
        calls.append(amount)
        if len(calls) == 2:
            raise Stop

    with pytest.raises(Stop):
        SeedMajorStack(trainers(("nac", "nalu"))).run(stop_at_second, checkpoint=path)
    resumed = SeedMajorStack(trainers(("nac", "nalu"))).run(checkpoint=path)
    for a, b in zip(whole, resumed):
        np.testing.assert_array_equal(a.metrics["interpolation_mse"], b.metrics["interpolation_mse"])
    # another stack's checkpoint (other models) loads nothing into any model: training starts afresh
    other = SeedMajorStack(trainers(("nac", "nmu")))
    before = [v.numpy() for t in other.trainers for v in t.model.variables]
    assert checkpoints.restore_all(other.trainers, files.load_arrays(path)) is None
    after = [v.numpy() for t in other.trainers for v in t.model.variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


def test_the_runner_deals_a_tables_units_into_one_stack_per_lane():
    config = load(ROOT / "configs" / "static_arithmetic_madsen.yaml", "default", [])
    units = lambda stack: sorted({config.points()[i]["unit"] for i in stack})  # noqa: E731
    assert [units(s) for s in runner.config_stacks(config)] == [["linear", "nac", "nalu", "nau", "nmu"]]
    assert [units(s) for s in runner.config_stacks(config, lanes=2)] == [
        ["linear", "nalu", "nmu"],
        ["nac", "nau"],
    ]
    assert len(runner.config_stacks(config, lanes=8)) == 5  # never more stacks than models
    assert len(runner.config_stacks(config, seed_major=False)) == 5
    assert sorted(i for s in runner.config_stacks(config, lanes=2) for i in s) == list(range(30))
    # A resumed run, its second stack finished, forms its first stack again (so finds its checkpoint).
    first, second = runner.config_stacks(config, lanes=2)
    assert runner.config_stacks(config, pending=first, lanes=2) == [first]
    assert runner.config_stacks(config, pending=sorted(first + second[:6]), lanes=2) == [first, second[:6]]


def test_run_stack_returns_its_points_in_the_stacks_order():
    training = dataclasses.asdict(dataclasses.replace(TRAINING, steps=4))
    resolved = [
        {
            "experiment": "static_arithmetic",
            "task": {**POINT, "unit": u, "op": op},
            "training": training,
            "seeds": [0, 1],
        }
        for op in ("add", "mul")
        for u in ("nac", "nau")
    ]  # op-major: the models' points interleave
    results = runner.run_stack(resolved)
    for point, result in zip(resolved, results):
        alone = runner.run_point(point)
        np.testing.assert_allclose(
            result.rows["interpolation_mse"], alone.rows["interpolation_mse"], rtol=1e-5
        )


def test_a_unit_may_compile_its_own_step_in_a_seed_major_stack():
    # The Madsen paper profile compiles the steps of the units XLA shortens (its header's measurement).
    config = load(ROOT / "configs" / "static_arithmetic_madsen.yaml", "paper")
    compiled = {p["unit"] for p in config.points() if config.training_for(p).jit_compile}
    assert compiled == {"relu6", "linear", "nau", "nmu"}
    # One stack, NMU compiled and NAC not: each model's lone numbers, to float rounding.
    jit = dataclasses.replace(TRAINING, jit_compile=True)
    units, settings = ("nac", "nmu"), [TRAINING, jit]
    joined = SeedMajorStack([trainers((u,), training=t)[0] for u, t in zip(units, settings)]).run()
    for unit, training, result in zip(units, settings, joined):
        alone = trainers((unit,), training=training)[0].run()
        for name in ("interpolation_mse", "extrapolation_mse"):
            np.testing.assert_allclose(result.metrics[name], alone.metrics[name], rtol=1e-4, err_msg=name)


def test_models_that_replay_a_stacks_draws_share_them_and_map_each_range_once():
    from experiments.engine.streams import replaying

    calls = []

    def source(shape, low, high):  # stands for make_draw: the n-th call's numbers are n + U-ish values
        calls.append((shape, low, high))
        return low + (high - low) * np.full(shape, 0.25 * len(calls))

    stack = replaying(source)
    models = [replaying(stack()) for _ in range(3)]  # each model's cells replay the stack's draws again
    for model in models:
        for _ in range(2):  # two cells per model, each drawing twice per step on two ranges
            cell = model()
            first, second = cell((2,), 1.0, 2.0), cell((3,), -1.0, 1.0)
            np.testing.assert_array_equal(first, [1.25, 1.25])  # the stack's first draw, mapped onto [1, 2]
            np.testing.assert_array_equal(second, [0.0, 0.0, 0.0])  # its second, mapped onto [-1, 1]
    assert calls == [((2,), 0.0, 1.0), ((3,), 0.0, 1.0)]  # the source drawn once per draw of the step
    assert models[1]()((2,), 1.0, 2.0) is models[0]()((2,), 1.0, 2.0)  # one mapped tensor for every model
