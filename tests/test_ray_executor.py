"""Grid points as Ray tasks on a local Ray instance: same numbers as local, failures retried then reported."""

import pathlib
import sys
import textwrap

import pandas as pd
import pytest
import ray

from experiments import cli

ROOT = pathlib.Path(__file__).resolve().parent.parent
STATIC = ROOT / "configs" / "static_arithmetic.yaml"
DETERMINISTIC = [
    "op",
    "unit",
    "range",
    "seed",
    "interpolation_mse",
    "extrapolation_mse",
    "interpolation_mae",
    "extrapolation_mae",
    "interpolation_mse_init",
    "selected_step",
    "sparsity_error",
    "success",
    "diverged",
]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_executor_gives_the_same_runs_as_local(local_ray, tmp_path, capsys):
    common = ["run", str(STATIC), "--profile", "smoke", "--set", "grid.op=[add]"]
    assert cli.main([*common, "--results", str(tmp_path / "local")]) == 0
    assert cli.main([*common, "--results", str(tmp_path / "ray"), "--executor", "ray"]) == 0
    local = pd.read_csv(tmp_path / "local" / "static_arithmetic" / "runs.csv")
    remote = pd.read_csv(tmp_path / "ray" / "static_arithmetic" / "runs.csv")
    pd.testing.assert_frame_equal(local[DETERMINISTIC], remote[DETERMINISTIC])
    assert "RayExecutor" in capsys.readouterr().err


def test_failing_point_is_retried_then_reported_and_others_are_kept(local_ray, tmp_path, monkeypatch, capsys):
    package = tmp_path / "flaky_lab"
    package.mkdir()
    (package / "__init__.py").write_text("")
    attempts = tmp_path / "attempts.log"
    (package / "task.py").write_text(
        textwrap.dedent(f"""
        from experiments import schema
        from experiments.tasks import static_arithmetic

        AXES = {{**static_arithmetic.AXES, "unit": (*static_arithmetic.AXES["unit"], "broken")}}
        TASK_SCHEMA = static_arithmetic.TASK_SCHEMA


        def build(point):
            if point["unit"] == "broken":
                with open({str(attempts)!r}, "a") as log:
                    log.write("attempt\\n")
                raise RuntimeError("this grid point always fails")
            return static_arithmetic.build(point)
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config = tmp_path / "flaky.yaml"
    config.write_text(
        STATIC.read_text()
        .replace("experiment: static_arithmetic", "experiment: flaky_lab.task")
        .replace(
            "grid: {op: [add, mul], unit: [nac, nalu], range: [madsen]}",
            "grid: {op: [add], unit: [nac, broken], range: [madsen]}",
        )
    )
    results = tmp_path / "results"
    code = cli.main(
        [
            "run",
            str(config),
            "--profile",
            "smoke",
            "--results",
            str(results),
            "--executor",
            "ray",
            "--retries",
            "1",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1, err
    assert attempts.read_text().count("attempt") == 2  # first try plus one retry
    assert 'FAILED {"op": "add", "unit": "broken", "range": "madsen"}' in err
    assert "RuntimeError: this grid point always fails" in err
    assert err.strip().splitlines()[-1].startswith("error: flaky: 1 of 2 grid points failed")
    out = results / "flaky"
    finished = [
        path for path in (out / "points").glob("*.csv") if path.suffixes == [".csv"]
    ]  # not .history.csv
    assert len(finished) == 1 and len(pd.read_csv(finished[0])) == 2  # the good point, both seeds
    assert not (out / "runs.csv").exists() and not (out / "provenance.json").exists()
    assert not list(out.rglob("*.tmp*"))


def test_missing_ray_names_the_install_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    code = cli.main(
        ["run", str(STATIC), "--profile", "smoke", "--executor", "ray", "--results", str(tmp_path)]
    )
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert "pip install ray==2.60.0" in lines[0]
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--executor", "slurm"], "'slurm'"),
        (["--retries", "-1"], "--retries"),
        (["--ray-address", "x:1"], "only applies"),
    ],
)
def test_bad_executor_options_are_one_line_errors(args, fragment, tmp_path, capsys):
    assert cli.main(["run", str(STATIC), "--profile", "smoke", *args, "--results", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0]
