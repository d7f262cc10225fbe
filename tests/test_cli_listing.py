"""`list`, `run --dry-run` and the results index a run rebuilds: what the commands say matches the configs
and the files on disk, a dry run trains and writes nothing, and neither command loads TensorFlow."""

import pathlib
import subprocess
import sys

import pytest

from experiments import cli, config

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
IDENTITY = ROOT / "configs" / "identity_extrapolation.yaml"
SHORT = ["--profile", "smoke", "--set", "training.steps=20", "--set", "training.eval_every=10"]


def _files(root):
    """Every file under ``root`` with its modification time and size: what a command must leave alone."""
    return {path: (path.stat().st_mtime_ns, path.stat().st_size) for path in root.rglob("*")}


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """A 20-step smoke run of the identity experiment into a results root that held a stale index."""
    root = tmp_path_factory.mktemp("results")
    (root / "README.md").write_text("# stale index\n")
    assert cli.main(["run", str(IDENTITY), *SHORT, "--results", str(root)]) == 0
    return root


def test_list_names_every_config_with_its_profiles_size_and_time(capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line for line in lines[1:-1]}
    assert sorted(rows) == [path.stem for path in CONFIGS]
    for path in CONFIGS:
        loaded = config.load(path)
        row = rows[path.stem]
        assert f" {len(loaded.points())} x {len(loaded.seeds)} " in row
        assert "smoke, default" in row
        assert str(loaded.report["title"]) in row
        committed = ROOT / "results" / path.stem / "provenance.json"
        assert ("not run yet" in row) == (not committed.exists())


def test_list_reads_the_time_of_finished_results(short_run, capsys):
    assert cli.main(["list", "--results", str(short_run)]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:-1]}
    assert "not run yet" not in rows["identity_extrapolation"]  # the smoke profile's results: rescaled
    assert " 0/17 " in rows["identity_extrapolation"]  # none of the default profile's points
    assert "not run yet" in rows["static_arithmetic"]


def test_list_names_a_broken_config_and_exits_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "identity_extrapolation.yaml").write_text(IDENTITY.read_text())
    (tmp_path / "broken.yaml").write_text(IDENTITY.read_text().replace("seeds: 100", "seeds: many"))
    monkeypatch.setattr(cli, "CONFIGS_DIR", tmp_path)
    assert cli.main(["list", "--results", str(tmp_path / "none")]) == 2
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:-1]}
    assert "error:" in rows["broken"] and "seeds" in rows["broken"]
    assert "not run yet" in rows["identity_extrapolation"]


def test_a_dry_run_shows_the_grid_after_set_and_writes_nothing(tmp_path, capsys):
    root = tmp_path / "results"
    arguments = ["run", str(IDENTITY), *SHORT, "--set", "grid.unit=[nac, tanh]", "--results", str(root)]
    assert cli.main([*arguments, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "unit: nac, tanh\n" in out
    assert "points: 2 x 3 seeds (0-2), 20 steps" in out
    assert '{"unit": "nac"}: to run' in out and '{"unit": "tanh"}: to run' in out
    assert f"writes: {root / 'identity_extrapolation'} (0 already complete, 2 to run" in out
    assert "estimate:" in out
    assert not root.exists()


def test_a_dry_run_calls_complete_what_the_runner_would_skip(short_run, tmp_path, capsys):
    arguments = ["run", str(IDENTITY), *SHORT, "--dry-run"]
    before = _files(short_run)
    assert cli.main([*arguments, "--results", str(short_run)]) == 0
    assert _files(short_run) == before
    out = capsys.readouterr().out
    assert "(4 already complete, 0 to run" in out and out.count(": complete\n") == 4
    # a damaged point file: the runner's own check names it, and the dry run plans to rerun that point
    copy = tmp_path / "results"
    subprocess.run(["cp", "-r", str(short_run), str(copy)], check=True)
    victim = next((copy / "identity_extrapolation" / "points").glob("*.history.csv"))
    victim.unlink()
    assert cli.main([*arguments, "--results", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "(3 already complete, 1 to run" in out
    assert f"to run, damaged ({victim.name} is missing)" in out


def test_a_run_rebuilds_the_index_of_its_results_root(short_run):
    index = (short_run / "README.md").read_text()
    assert "stale index" not in index
    assert "## identity_extrapolation" in index
    assert "](identity_extrapolation/figure.png)" in index


def test_list_and_dry_run_load_no_tensorflow():
    script = (
        "import sys\n"
        "from experiments import cli\n"
        "assert cli.main(['list']) == 0\n"
        f"assert cli.main(['run', {str(IDENTITY)!r}, '--profile', 'smoke', '--dry-run']) == 0\n"
        "print('loaded:', sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines()[-1] == "loaded: []"
