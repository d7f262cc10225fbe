"""make reproduce end to end on the smoke profiles: the report page, the notebook, the recipe."""

import json
import os
import pathlib
import re
import textwrap

import nbformat
import pandas as pd
from nbclient import NotebookClient

from experiments import cli

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIG_NAMES = sorted(path.stem for path in (ROOT / "configs").glob("*.yaml"))


def test_reproduce_writes_an_index_with_every_experiment_and_figure(smoke_results):
    index = (smoke_results / "README.md").read_text()
    for name in CONFIG_NAMES:
        assert f"## {name}" in index
        for figure in (smoke_results / name).glob("*.png"):
            assert f"]({name}/{figure.name})" in index
        assert "Where we differ from the paper" in index
    linked = re.findall(r"\]\(([^)#]+\.png)\)", index)
    assert linked and all((smoke_results / path).exists() for path in linked)


def test_resumed_reproduce_runs_nothing_again(smoke_results, capsys):
    before = {name: (smoke_results / name / "provenance.json").read_bytes() for name in CONFIG_NAMES}
    index = (smoke_results / "README.md").read_bytes()
    capsys.readouterr()
    assert cli.main(["reproduce", "--profile", "smoke", "--results", str(smoke_results)]) == 0
    log = capsys.readouterr().err
    assert log.count("already complete, 0 to run") == len(CONFIG_NAMES)
    for name in CONFIG_NAMES:
        # nothing ran: the record of the run that made the results stays, byte for byte
        assert (smoke_results / name / "provenance.json").read_bytes() == before[name]
        assert json.loads(before[name])["points_run"] > 0
    assert (smoke_results / "README.md").read_bytes() == index


def test_notebook_runs_headless_on_the_results(smoke_results):
    notebook = nbformat.read(ROOT / "notebooks" / "explore_results.ipynb", as_version=4)
    os.environ["NALU_RESULTS"] = str(smoke_results)  # inherited by the kernel
    try:
        NotebookClient(
            notebook, timeout=120, resources={"metadata": {"path": str(ROOT / "notebooks")}}
        ).execute()
    finally:
        del os.environ["NALU_RESULTS"]
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    figures = sum(len(list((smoke_results / name).glob("*.png"))) for name in CONFIG_NAMES)
    assert len(images) >= figures  # every figure shown, plus the comparison plots


def test_add_an_experiment_in_three_steps(tmp_path, monkeypatch, capsys):
    # Step 1: an experiment module (here in a package outside the repository, named by dotted path).
    package = tmp_path / "mylab"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "weighted_sum.py").write_text(
        textwrap.dedent('''
        """Learn y = x0 + x1 - x2 from three inputs."""
        import numpy as np

        from experiments import schema
        from experiments.engine import LayerSpec, Task

        AXES = {"unit": ("nac", "linear")}
        TASK_SCHEMA = {"interpolation": schema.Range(), "extrapolation": schema.Range()}
        WEIGHTS = np.array([[1.0], [1.0], [-1.0]])


        def build(point):
            import tensorflow as tf

            def sample(draw, batch_size):
                x = draw((batch_size, 3), *point["interpolation"])
                return x, tf.matmul(x, tf.constant(WEIGHTS, tf.float32))

            def fixed(bounds, seed):
                x = np.random.default_rng(seed).uniform(*bounds, size=(256, 3)).astype("float32")
                return x, (x @ WEIGHTS).astype("float32")

            unit = point["unit"] if point["unit"] == "nac" else "dense"
            return Task(3, [LayerSpec(unit, 1)], sample, fixed(point["interpolation"], 1),
                        fixed(point["extrapolation"], 2))
    ''')
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    # Step 2: its YAML.
    config = tmp_path / "weighted_sum.yaml"
    config.write_text(
        textwrap.dedent("""
        # Example: y = x0 + x1 - x2. Run: python -m experiments run weighted_sum.yaml --profile smoke
        experiment: mylab.weighted_sum
        seeds: 4
        grid: {unit: [nac, linear]}
        training: {steps: 300, batch_size: 32, learning_rate: 0.05, eval_every: 100}
        task: {interpolation: [0.0, 1.0], extrapolation: [1.0, 10.0]}
        profiles:
          smoke: {seeds: 2}
    """)
    )
    # Step 3: run it.
    results = tmp_path / "results"
    assert cli.main(["run", str(config), "--profile", "smoke", "--results", str(results)]) == 0
    runs = pd.read_csv(results / "weighted_sum" / "runs.csv")
    assert len(runs) == 2 * 2 and set(runs["unit"]) == {"nac", "linear"}
    assert (results / "weighted_sum" / "table.md").exists()
    nac = runs[runs["unit"] == "nac"]
    assert (nac["extrapolation_mse"] < nac["extrapolation_mse_init"]).all()  # it learned something real


def test_a_module_that_is_not_an_experiment_is_rejected(tmp_path, capsys):
    config = tmp_path / "wrong.yaml"
    config.write_text("experiment: json.decoder\nseeds: 1\ngrid: {}\ntraining: {}\ntask: {}\n")
    assert cli.main(["run", str(config)]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"error: {config}: experiment: 'json.decoder' is not an experiment module")
