"""Per-unit training protocols: config, the L1 schedule, the loss-gated regulariser, Adam's epsilon."""

import dataclasses
import pathlib

import numpy as np
import pytest
import yaml

from experiments import config as config_module
from experiments import report
from experiments.engine import MultiSeedTrainer, Training
from experiments.engine.penalties import l1_weight
from test_trainer_units import task

ROOT = pathlib.Path(__file__).resolve().parent.parent
MADSEN = ROOT / "configs" / "static_arithmetic_madsen.yaml"


def test_each_unit_gets_its_own_published_settings():
    loaded = config_module.load(MADSEN)
    by_unit = {point["unit"]: loaded.resolve(point)["training"] for point in loaded.points()}
    assert by_unit["nau"]["regularization"] == 0.01 and by_unit["nau"]["regularization_end"] == 50000
    assert by_unit["nmu"]["regularization"] == 10
    assert by_unit["nac"]["regularization"] == 0 and by_unit["linear"]["learning_rate"] == 1e-3
    assert {t["adam_epsilon"] for t in by_unit.values()} == {1e-8}
    paper = config_module.load(MADSEN, "paper")
    resolved = {p["unit"]: paper.resolve(p)["training"] for p in paper.points()}
    assert (
        resolved["real_npu"]["learning_rate"] == 5e-3 and resolved["nmu"]["regularization_start"] == 1_000_000
    )


@pytest.mark.parametrize(
    "units, key, fragment",
    [
        ({"nua": {"regularization": 1}}, "units", "'nua' is not allowed"),
        ({"nau": {"steps": 5}}, "units.nau.steps", "unknown key"),
        ({"nau": {"learning_rate": -1}}, "units.nau.learning_rate", "-1"),
        ({"real_npu": {"l1_start": 1e-5, "l1_end": 1e-7}}, "units.real_npu.l1_end", "l1_start"),
    ],
)
def test_bad_unit_settings_are_one_line_errors_naming_the_key(tmp_path, units, key, fragment):
    data = yaml.safe_load(MADSEN.read_text())
    data["units"] = units
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(config_module.ConfigError, match=fragment) as error:
        config_module.load(path)
    assert error.value.key == key


def test_l1_weight_grows_tenfold_every_interval_up_to_its_end():
    weights = [float(l1_weight(step, 1e-7, 1e-5, 10000)) for step in (0, 9999, 10000, 20000, 45000)]
    np.testing.assert_allclose(weights, [1e-7, 1e-7, 1e-6, 1e-5, 1e-5], rtol=1e-5)


def test_l1_penalty_and_adam_epsilon_reach_the_training():
    # An L1 weight far larger than the loss drives every RealNPU weight towards 0.
    base = Training(steps=200, batch_size=32, learning_rate=0.05, eval_every=200)
    plain = MultiSeedTrainer(task(unit="real_npu", op="mul"), [0], base)
    plain.run()
    penalised = MultiSeedTrainer(
        task(unit="real_npu", op="mul"), [0], dataclasses.replace(base, l1_start=10.0, l1_end=10.0)
    )
    penalised.run()
    assert (
        np.abs(penalised.model.params[0]["kernel"].numpy()).max()
        < 0.1
        < np.abs(plain.model.params[0]["kernel"].numpy()).max()
    )
    assert float(penalised.optimizer.epsilon) == 1e-8


def test_loss_gated_regulariser_acts_only_on_seeds_that_fit():
    # iNALU's rule: its regulariser counts only while the seed's training MSE is below the gate. With a
    # gate no seed can reach, regularised training equals unregularised training exactly.
    base = Training(steps=50, batch_size=32, learning_rate=0.01, eval_every=50)
    point = dict(unit="inalu", op="add")
    free = MultiSeedTrainer(task(**point), [0, 1], base).run().metrics
    gated = (
        MultiSeedTrainer(
            task(**point),
            [0, 1],
            dataclasses.replace(
                base,
                regularization=100.0,
                regularization_start=0,
                regularization_end=0,
                regularization_loss_below=1e-30,
            ),
        )
        .run()
        .metrics
    )
    np.testing.assert_array_equal(free["final_interpolation_mse"], gated["final_interpolation_mse"])
    ungated = (
        MultiSeedTrainer(
            task(**point),
            [0, 1],
            dataclasses.replace(base, regularization=100.0, regularization_start=0, regularization_end=0),
        )
        .run()
        .metrics
    )
    assert not np.array_equal(free["final_interpolation_mse"], ungated["final_interpolation_mse"])


def test_solved_curve_follows_the_history():
    import pandas as pd

    history = pd.DataFrame(
        {
            "op": ["add"] * 6,
            "unit": ["nau"] * 6,
            "seed": [0, 0, 0, 1, 1, 1],
            "step": [0, 10, 20] * 2,
            "extrapolation_mse": [5.0, 0.5, 2.0, 5.0, 5.0, 0.1],
        }
    )
    runs = pd.DataFrame({"op": ["add", "add"], "unit": ["nau", "nau"], "success_threshold": [1.0, 1.0]})
    fractions = report.solved_fractions(history, runs, ["op", "unit"])
    assert fractions["fraction"].tolist() == [
        0.0,
        0.5,
        1.0,
    ]  # seed 0 solved at 10 (and stays counted), seed 1 at 20
