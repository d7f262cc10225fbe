"""The later units (NAU, NMU, iNALU, RealNPU) in the multi-seed trainer, and the single-module task."""

import dataclasses

import numpy as np
import pytest

import nalu_tf
from experiments.engine import measures
from experiments import config as config_module
from experiments.tasks import single_module
from experiments.engine import LayerSpec, Task
from experiments.engine import MultiSeedTrainer, StackedModel, Training

LAYERS = nalu_tf.layers.LAYERS  # every unit of the library, from its registry

POINT = {
    "ranges": {
        "pos": {"interpolation": [1.0, 2.0], "extrapolation": [[2.0, 6.0]]},
        "both": {"interpolation": [-2.0, 2.0], "extrapolation": [[-6.0, -2.0], [2.0, 6.0]]},
    },
    "range": "pos",
    "validation_size": 256,
    "test_size": 256,
    "validation_seed": 1,
    "test_seed": 2,
    "success_epsilon": 1e-5,
    "epsilon": 1e-7,
    "op": "add",
    "unit": "nau",
    "initialization": "glorot",
}
TRAINING = Training(steps=300, batch_size=64, learning_rate=0.05, eval_every=100)


def task(**changes):
    return single_module.build({**POINT, **changes})


@pytest.mark.parametrize("unit", sorted(LAYERS))
def test_stacked_model_matches_the_keras_layer_seed_by_seed(unit):
    x = np.random.default_rng(0).uniform(-2, 2, size=(32, 3)).astype("float32")
    model = StackedModel([LayerSpec(unit, 2)], 3, seeds=[4, 9])
    stacked = model(x[None]).numpy()
    for k in range(2):
        layer = LAYERS[unit](2)
        layer.build((None, 3))
        for name, variable in model.params[0].items():
            value = variable.numpy()[k]
            getattr(layer, name).assign(value[0] if value.ndim == 2 and value.shape[0] == 1 else value)
        np.testing.assert_allclose(stacked[k], layer(x).numpy(), rtol=1e-5, atol=1e-6)


def test_trainer_applies_the_clamps_after_every_step():
    big_steps = dataclasses.replace(TRAINING, steps=50, learning_rate=5.0, eval_every=50)
    for unit, name, (low, high) in (
        ("nau", "kernel", (-1, 1)),
        ("nmu", "kernel", (0, 1)),
        ("real_npu", "relevance", (0, 1)),
    ):
        trainer = MultiSeedTrainer(task(unit=unit, op="mul"), [0, 1, 2], big_steps)
        trainer.run()
        values = trainer.model.params[0][name].numpy()
        assert values.min() >= low and values.max() <= high, unit
        assert np.any(np.isin(values, [low, high])), unit  # the huge steps really hit the bounds


def test_stacked_regularizer_matches_the_per_seed_definition():
    model = StackedModel([LayerSpec("nau", 2), LayerSpec("nmu", 1)], 3, seeds=[0, 1])
    expected = [
        nalu_tf.maths.nau_regularizer(model.params[0]["kernel"].numpy()[k]).numpy()
        + nalu_tf.maths.nmu_regularizer(model.params[1]["kernel"].numpy()[k]).numpy()
        for k in range(2)
    ]
    np.testing.assert_allclose(measures.regularizer(model).numpy(), expected, rtol=1e-6)


def zero_task(layers):
    """Inputs and targets all zero: the MSE has no gradient, so only the regulariser moves weights."""
    zeros = (np.zeros((8, 3), "float32"), np.zeros((8, 1), "float32"))
    sample = lambda draw, batch: (draw((batch, 3), 0.0, 0.0), draw((batch, 1), 0.0, 0.0))  # noqa: E731
    return Task(input_size=3, layers=layers, sample=sample, validation=zeros, test=zeros)


def test_sparsity_regularizer_alone_drives_weights_to_integers_once_ramped_in():
    layers = [LayerSpec("nau", 2), LayerSpec("nau", 1)]  # zero in, zero out: no MSE gradient at all
    seeds = [0, 1, 2]
    results = {}
    for name, start in (("on", 0), ("after the run", 10_000)):
        training = dataclasses.replace(
            TRAINING,
            learning_rate=0.01,
            regularization=10.0,
            regularization_start=start,
            regularization_end=start + 100,
        )
        trainer = MultiSeedTrainer(zero_task(layers), seeds, training)
        before = measures.regularizer(trainer.model).numpy()
        trainer.run()
        results[name] = (before, measures.regularizer(trainer.model).numpy())
    before, after = results["on"]
    assert np.all(before > 0.1) and np.all(after < 0.01)  # 300 Adam steps of 0.01 reach {-1, 0, 1}
    np.testing.assert_array_equal(*results["after the run"])  # not yet ramped in: nothing moves


def test_stalled_seeds_restart_from_fresh_weights_and_keep_their_best_model():
    frozen = dataclasses.replace(TRAINING, learning_rate=1e-12, reinitialise_patience=1)  # nothing improves
    trainer = MultiSeedTrainer(task(), [0, 1], frozen)
    first = trainer.model.params[0]["kernel"].numpy().copy()
    metrics = trainer.run().metrics
    # Evaluations at steps 100, 200, 300 never improve on step 0 (lr ~ 0): a restart after each one,
    # except when a restart happens to draw better weights.
    assert np.all(metrics["restarts"] >= 1)
    assert not np.allclose(trainer.model.params[0]["kernel"].numpy(), first)
    alone = MultiSeedTrainer(task(), [1], frozen).run().metrics
    assert alone["restarts"][0] == metrics["restarts"][1]
    np.testing.assert_allclose(alone["interpolation_mse"][0], metrics["interpolation_mse"][1], rtol=1e-6)
    above = (
        MultiSeedTrainer(task(), [0, 1], dataclasses.replace(frozen, reinitialise_above=1e9)).run().metrics
    )
    assert np.all(above["restarts"] == 0)


def test_gradient_clipping_reaches_the_optimiser():
    trainer = MultiSeedTrainer(task(), [0], dataclasses.replace(TRAINING, clip_value=0.5))
    assert trainer.optimizer.clipvalue == 0.5
    assert MultiSeedTrainer(task(), [0], TRAINING).optimizer.clipvalue is None


def test_a_cosine_schedule_falls_from_the_learning_rate_to_zero_over_the_steps():
    trainer = MultiSeedTrainer(task(), [0], dataclasses.replace(TRAINING, learning_rate_schedule="cosine"))
    rates = []
    for step in (0, 75, 150, 300):
        trainer.optimizer.iterations.assign(step)
        rates.append(float(trainer.optimizer.learning_rate))
    np.testing.assert_allclose(rates, [0.05, 0.05 * (1 + np.cos(np.pi / 4)) / 2, 0.025, 0.0], atol=1e-7)
    constant = MultiSeedTrainer(task(), [0], TRAINING)
    constant.optimizer.iterations.assign(300)
    assert float(constant.optimizer.learning_rate) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="learning_rate_schedule must be one of"):
        MultiSeedTrainer(task(), [0], dataclasses.replace(TRAINING, learning_rate_schedule="step"))


def test_single_module_data_and_success_threshold():
    both = task(range="both", op="mul", test_size=4000)
    x, y = both.test
    assert np.all((np.abs(x) >= 2) & (np.abs(x) <= 6)) and (x < 0).mean() == pytest.approx(0.5, abs=0.03)
    np.testing.assert_allclose(y[:, 0], x[:, 0] * x[:, 1], rtol=1e-6)
    assert np.isfinite(task(range="both", op="div").success_threshold)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_single_module_threshold_is_mistrys_closed_form(op):
    # Mistry et al.: eps = 1e-4; a + b - eps(|a| + |b|), a - b - eps(|a| + |b|), (1 - eps)^2 ab,
    # (1 - eps)/(1 + eps) a/b. Each squared error is a known multiple of a moment of the test inputs.
    eps = 1e-4
    built = task(range="both", op=op, test_size=4000, success_epsilon=eps)
    a, b = built.test[0].astype("float64").T
    expected = {
        "add": eps**2 * np.mean((np.abs(a) + np.abs(b)) ** 2),
        "sub": eps**2 * np.mean((np.abs(a) + np.abs(b)) ** 2),
        "mul": ((1 - eps) ** 2 - 1) ** 2 * np.mean((a * b) ** 2),
        "div": ((1 - eps) / (1 + eps) - 1) ** 2 * np.mean((a / b) ** 2),
    }[op]
    assert built.success_threshold == pytest.approx(expected, rel=1e-6)
    if (
        op == "add"
    ):  # both inputs U[2, 6] in magnitude: E[(|a| + |b|)^2] = 2 Var + (2 E|a|)^2 = 2 * 16/12 + 64
        assert built.success_threshold == pytest.approx(eps**2 * (2 * 16 / 12 + 64), rel=0.03)


def test_ideal_single_modules_succeed_and_keep_succeeding_when_trained():
    seeds = [0, 1]
    for unit, op, kernel in (("nau", "sub", [[1.0], [-1.0]]), ("nmu", "mul", [[1.0], [1.0]])):
        trainer = MultiSeedTrainer(
            task(unit=unit, op=op, range="both"),
            seeds,
            dataclasses.replace(TRAINING, steps=10, eval_every=10),
        )
        trainer.model.params[0]["kernel"].assign(np.array([kernel] * 2, "float32"))
        metrics = trainer.run().metrics
        assert metrics["success"].all() and np.all(metrics["solved_at"] == 0), unit


@pytest.mark.parametrize(
    "extrapolation, fragment",
    [([2.0], "pair"), ([[2.0, 6.0], [7.0, 3.0]], "reversed"), ("wide", "pair")],
)
def test_bad_single_module_ranges_are_rejected_with_the_key(tmp_path, extrapolation, fragment):
    import yaml

    data = yaml.safe_load(
        open(config_module.EXPERIMENTS_DIR.parent / "configs" / "single_module_benchmark.yaml")
    )
    data["task"]["ranges"]["pos_mid"]["extrapolation"] = extrapolation
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(config_module.ConfigError, match=fragment) as error:
        config_module.load(path)
    assert error.value.key == "task.ranges" and "pos_mid" in str(error.value)
