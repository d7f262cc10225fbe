"""Edits that used to do nothing silently, and files that used to end in a traceback: each is now one line
``error: FILE: KEY: message`` with exit status 2 and nothing written, or does what the edit says."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from experiments import cli, config, schema
from experiments.unit_options import REGULARIZED_UNITS

ROOT = pathlib.Path(__file__).resolve().parent.parent
STATIC = ROOT / "configs" / "static_arithmetic.yaml"
SINGLE = ROOT / "configs" / "single_module_benchmark.yaml"


def run_cli(args, capsys):
    code = cli.main(args)
    return code, capsys.readouterr().err.strip().splitlines()


# A later mistake (the task block is checked last): were the check under test broken, the run would stop
# there rather than train.
LATER_MISTAKE = ("--profile", "smoke", "--set", "task.not_a_setting=0")


def one_line_error(path, capsys, tmp_path, *extra):
    """Run ``path`` with the CLI; check exit 2, one line, nothing written; return the line."""
    results = tmp_path / "results"
    code, lines = run_cli(["run", str(path), *extra, "--results", str(results)], capsys)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: ") and not results.exists()
    return lines[0]


def edited(tmp_path, old, new, name="static_arithmetic.yaml"):
    """The static config with one text replacement (a key added where YAML keeps the last silently)."""
    text = STATIC.read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return path


# -- item 8: silent edits -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "old, new, key",
    [
        ("report:\n", "training:\n  steps: 5\nreport:\n", "training"),
        ("  batch_size: 128\n", "  batch_size: 128\n  steps: 7\n", "training.steps"),
        (
            "    training: {steps: 40, eval_every: 20}\n",
            "    training: {steps: 40, steps: 20}\n",
            "profiles.smoke.training.steps",
        ),
    ],
    ids=["second training block", "a training key twice", "twice in one flow mapping"],
)
def test_a_key_written_twice_names_its_path_and_lines(old, new, key, tmp_path, capsys):
    path = edited(tmp_path, old, new)
    line = one_line_error(path, capsys, tmp_path, "--profile", "smoke")
    assert line.startswith(f"error: {path}: {key}: appears twice (line"), line


def test_a_key_twice_in_a_set_value_is_named_under_the_set_key(tmp_path, capsys):
    line = one_line_error(STATIC, capsys, tmp_path, "--set", "training={steps: 1, steps: 2}")
    assert line == "error: --set: training.steps: appears twice (line 1); a key may appear once in a mapping"


def test_a_merge_key_may_be_overridden_as_yaml_means(tmp_path):
    path = edited(tmp_path, "training:\n  steps: 100000\n", "training:\n  <<: {steps: 3}\n  steps: 100000\n")
    assert config.load(path).training.steps == 100000


def test_regularizer_settings_only_for_units_with_a_regularizer(tmp_path, capsys):
    line = one_line_error(SINGLE, capsys, tmp_path, "--set", "units.nac.regularization=1", *LATER_MISTAKE)
    assert line.startswith(f"error: {SINGLE}: units.nac.regularization: nac has no regulariser"), line
    assert "allowed for nac: learning_rate, adam_epsilon, l1_start" in line
    assert "regularization_start" not in line.split("allowed for nac:")[1].split("(")[0]
    assert "(the regulariser settings are for nau, nmu, inalu)" in line
    line = one_line_error(
        SINGLE, capsys, tmp_path, "--set", "units.real_npu.regularization_start=5", *LATER_MISTAKE
    )
    assert "units.real_npu.regularization_start: real_npu has no regulariser" in line and "epsilon" in line
    loaded = config.load(SINGLE, "smoke", ["units.nmu.regularization=2", "units.nac.learning_rate=0.01"])
    assert loaded.units["nmu"]["regularization"] == 2.0 and loaded.units["nac"]["learning_rate"] == 0.01


def test_the_regularized_units_are_the_librarys():
    from nalu_tf import maths

    assert set(REGULARIZED_UNITS) == {name for name, unit in maths.UNITS.items() if unit.regularizer}


@pytest.mark.parametrize("written", ["1e5", "100000.0", "1.0e+5"])
def test_a_whole_float_is_an_integer_in_yaml_and_in_set(written, tmp_path):
    path = edited(tmp_path, "  steps: 100000\n", f"  steps: {written}\n")
    from_file, plain = config.load(path), config.load(STATIC)
    assert from_file.training.steps == 100000 and type(from_file.training.steps) is int
    assert from_file.hash() == plain.hash()  # the same points, the same result files
    from_set = config.load(STATIC, "default", [f"training.steps={written}", "seeds=3e0"])
    assert from_set.training.steps == 100000 and from_set.seeds == [0, 1, 2]


@pytest.mark.parametrize("value", ["1.5", "1e-3", ".inf"])
def test_a_fraction_is_still_not_an_integer(value, tmp_path, capsys):
    line = one_line_error(STATIC, capsys, tmp_path, "--set", f"training.steps={value}", *LATER_MISTAKE)
    assert "training.steps: " in line and "is not an integer" in line


def test_set_wins_over_the_profiles_grid(tmp_path):
    # smoke's grid names op, unit and range; --set is applied last, over the chosen profile
    loaded = config.load(STATIC, "smoke", ["grid.unit=[nau, nmu]"])
    assert loaded.grid == {"op": ["add", "mul"], "unit": ["nau", "nmu"], "range": ["madsen"]}
    assert config.load(STATIC, "smoke").grid["unit"] == ["nac", "nalu"]  # the profile's own


# -- item 9: one line, not a traceback -----------------------------------------------------------------
def test_a_binary_file_is_one_line_naming_the_byte(tmp_path, capsys):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"seeds: 3\n\xff\xfe\x00\x81")
    line = one_line_error(path, capsys, tmp_path)
    assert (
        line
        == f"error: {path}: (file): not a text file: byte 0xff at offset 9 is not UTF-8; a config is YAML text"
    )


def test_a_control_character_is_one_line_naming_it(tmp_path, capsys):
    path = tmp_path / "nul.yaml"
    path.write_text("seeds: 3\x00\n")
    line = one_line_error(path, capsys, tmp_path)
    assert (
        line
        == f"error: {path}: (file): not valid YAML: special characters are not allowed (#x0000 at character 8)"
    )


def test_a_directory_is_not_a_missing_file(tmp_path, capsys):
    line = one_line_error(tmp_path, capsys, tmp_path)
    assert line == f"error: {tmp_path}: (file): is a directory; give a config file, e.g. configs/NAME.yaml"


def laughs(levels, indent):
    """A billion laughs: each level lists the one above ten times (10**levels strings once expanded)."""
    lines = [f"{indent}l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"{indent}l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_under_report_is_rejected_at_load(tmp_path, capsys):
    path = edited(tmp_path, "report:\n", "report:\n  bomb:\n" + laughs(9, "    "))
    line = one_line_error(path, capsys, tmp_path, "--profile", "smoke")
    assert line.startswith(f"error: {path}: report.bomb.l5: expands through YAML aliases to over 1,000,000")
    small = tmp_path / "aliases.yaml"
    small.write_text(
        STATIC.read_text()
        .replace("seeds: 32\n", "seeds: &seeds 32\n")
        .replace("    seeds: 2\n", "    seeds: *seeds\n")
    )
    assert len(config.load(small, "smoke").seeds) == 32  # an alias in itself is fine


def test_an_alias_to_itself_and_a_deep_nesting_are_one_line(tmp_path, capsys):
    path = edited(tmp_path, "report:\n", "report:\n  loop: &loop [1, *loop]\n")
    assert one_line_error(path, capsys, tmp_path).endswith(
        "report.loop[1]: refers to itself through a YAML alias; a config is a tree"
    )
    deep = tmp_path / "deep.yaml"
    deep.write_text("seeds: " + "[" * 20000 + "]" * 20000 + "\n")
    assert one_line_error(deep, capsys, tmp_path).endswith("(file): nested too deeply to be a config")


def test_a_long_value_is_cut_in_the_error_line(tmp_path, capsys):
    values = ", ".join(["add"] * 1500)  # 7,500 characters: the line was 5,415 characters or more
    line = one_line_error(STATIC, capsys, tmp_path, "--set", f"grid.op=[{values}]")
    assert line.startswith(f"error: {STATIC}: grid.op: ['add', 'add'") and line.endswith(
        "… lists a value twice"
    )
    assert len(line) < 300


def test_an_error_line_stays_short_whatever_it_echoes():
    error = schema.ConfigError("f.yaml", "k" * 1000, "m" * 5000 + " allowed: a, b")
    assert len(str(error)) < 900 and str(error).endswith("allowed: a, b") and "…" in error.key
    assert schema.shown("x" * 1000) == repr("x" * 1000)[:199] + "…"
    assert "\n" not in str(schema.ConfigError("f.yaml", "k", "two\nlines"))


def finished_results(tmp_path):
    """A results root with one finished experiment, copied from the committed results."""
    root = tmp_path / "results"
    shutil.copytree(ROOT / "results" / "mnist_parity", root / "mnist_parity")
    return root


def test_report_on_a_folder_it_cannot_write_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    root = finished_results(tmp_path)
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}

    def read_only(dir, prefix):  # as root the tests cannot make a folder read-only: the probe says it is
        raise PermissionError(13, "Permission denied", os.path.join(dir, prefix))

    monkeypatch.setattr(cli.tempfile, "NamedTemporaryFile", read_only)
    code, lines = run_cli(["report", "--results", str(root)], capsys)
    assert code == 2 and lines == [
        f"error: {root}: (folder): cannot write the report here (Permission denied); nothing was written"
    ]
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before


def test_report_that_fails_midway_is_one_line_and_leaves_no_partial_file(tmp_path, capsys):
    root = finished_results(tmp_path)
    (root / "mnist_parity" / "summary.csv").unlink()
    (root / "mnist_parity" / "summary.csv").mkdir()  # a file that cannot be replaced
    code, lines = run_cli(["report", "--results", str(root)], capsys)
    target = root / "mnist_parity" / "summary.csv"
    assert code == 2 and lines == [f"error: {target}: (report): cannot write the report (Is a directory)"]
    assert not [p for p in (root / "mnist_parity").iterdir() if p.name.startswith(".")]  # no temporary left
    code, lines = run_cli(["report", "--results", str(tmp_path / "nowhere")], capsys)
    assert code == 2 and lines == [
        f"error: {tmp_path / 'nowhere'}: --results: no such folder; give a results root, e.g. results"
    ]


def test_the_process_prints_the_one_line_and_no_traceback(tmp_path):
    path = tmp_path / "binary.yaml"
    path.write_bytes(bytes(range(256)))
    done = subprocess.run(
        [sys.executable, "-m", "experiments", "run", str(path), "--results", str(tmp_path / "r")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert "not a text file: byte 0x80 at offset 128" in done.stderr and not (tmp_path / "r").exists()
