"""reproduce --jobs: configs side by side in processes of their own, longest first, failures reported."""

import pathlib

import pandas as pd
import pytest
import yaml

from experiments import config, parallel
from experiments.executors import RunFailed
from experiments.schema import ConfigError

CONFIGS = pathlib.Path(__file__).resolve().parent.parent / "configs"


def test_job_count_accepts_auto_and_positive_integers_only(monkeypatch):
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 2)
    assert parallel.job_count("auto", 9) == 2
    assert parallel.job_count("4", 9) == 4 and parallel.job_count("4", 3) == 3
    for bad in ("0", "-1", "two"):
        with pytest.raises(ConfigError, match="positive integer or auto"):
            parallel.job_count(bad, 9)


def test_unknown_durations_start_first_then_the_longest():
    assert parallel.schedule(["a", "b", "c", "d"], [10.0, None, 300.0, 20.0]) == [1, 2, 3, 0]


def test_each_job_gets_its_share_of_the_cores(monkeypatch):
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    environment = parallel.thread_environment(3)
    assert environment["TF_NUM_INTRAOP_THREADS"] == environment["TF_NUM_INTEROP_THREADS"] == "2"


def test_a_config_process_trains_a_stack_per_core_so_the_last_one_left_uses_every_core(monkeypatch):
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: set(range(4)), raising=False)
    command = parallel.config_command("configs/x.yaml", "default", "results")
    assert command[-6:] == ["--profile", "default", "--results", "results", "--stacks", "4"]


def small(tmp_path, name, grid):
    """A copy of configs/NAME.yaml in tmp_path whose smoke profile trains ``grid`` for 20 steps (the
    scheduling is under test here, not the experiments)."""
    raw = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    smoke = raw["profiles"]["smoke"]
    smoke["grid"] = grid
    smoke["training"] = {**smoke.get("training", {}), "steps": 20, "eval_every": 10}
    if "select_from" in smoke["training"]:
        smoke["training"]["select_from"] = 10
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return str(path)


def test_two_configs_run_side_by_side_and_a_failure_is_reported(tmp_path, monkeypatch):
    paths = [
        small(tmp_path, "identity_extrapolation", {"unit": ["linear", "nac"]}),
        small(tmp_path, "static_arithmetic", {"op": ["add"], "unit": ["nac"], "range": ["madsen"]}),
    ]
    loaded = [config.load(path, "smoke") for path in paths]
    walls = parallel.run_configs(paths, loaded, "smoke", str(tmp_path), 2)
    assert [name for name, _ in walls] == ["identity_extrapolation", "static_arithmetic"]
    for name in ("identity_extrapolation", "static_arithmetic"):
        assert len(pd.read_csv(tmp_path / name / "runs.csv")) > 0 and (tmp_path / name / "table.md").exists()
    # A config that fails while running (an unreadable MNIST file) is named; the other still finishes.
    (tmp_path / "bad.npz").write_text("not a zip")
    monkeypatch.setenv("NALU_MNIST_PATH", str(tmp_path / "bad.npz"))
    paths = [str(CONFIGS / "mnist_counting.yaml"), small(tmp_path, "number_words", {"unit": ["linear"]})]
    loaded = [config.load(path, "smoke") for path in paths]
    with pytest.raises(RunFailed, match=r"1 config\(s\) failed: .*mnist_counting.yaml \(exit 2\)"):
        parallel.run_configs(paths, loaded, "smoke", str(tmp_path), 2)
    assert (tmp_path / "number_words" / "table.md").exists()
    assert not (tmp_path / "mnist_counting").exists()  # nothing half-written
