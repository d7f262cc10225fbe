"""Configuration mistakes fail before any work: one line, exit 2, no traceback, no file written."""

import json
import pathlib
import subprocess
import sys

import pytest
import yaml

from experiments import cli, config
from experiments.tasks import static_arithmetic

ROOT = pathlib.Path(__file__).resolve().parent.parent
STATIC = ROOT / "configs" / "static_arithmetic.yaml"


def write_config(tmp_path, edit):
    data = yaml.safe_load(STATIC.read_text())
    edit(data)
    path = tmp_path / "static_arithmetic.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run_cli(args, capsys):
    code = cli.main(args)
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines()


def comparison(published_comparison):
    """An edit that makes the findings one claim comparing the add cell with another."""
    finding = {"claim": "c", "cell": {"op": "add"}, "published_comparison": published_comparison}
    return set_key("report", "findings", value=[finding])


def set_key(*keys, value):
    def edit(data):
        node = data
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return edit


def delete_key(*keys):
    def edit(data):
        node = data
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return edit


CASES = {
    "unknown top-level key": (set_key("learnin_rate", value=0.1), "learnin_rate", "unknown key"),
    "unknown training key": (set_key("training", "stesp", value=3), "training.stesp", "unknown key"),
    "unknown task key": (set_key("task", "size", value=3), "task.size", "unknown key"),
    "wrong type": (set_key("training", "steps", value="many"), "training.steps", "'many'"),
    "lr zero": (set_key("training", "learning_rate", value=0), "training.learning_rate", "> 0"),
    "lr negative": (set_key("training", "learning_rate", value=-1e-3), "training.learning_rate", "-0.001"),
    "steps zero": (set_key("training", "steps", value=0), "training.steps", ">= 1"),
    "seeds zero": (set_key("seeds", value=0), "seeds", ">= 1"),
    "batch zero": (set_key("training", "batch_size", value=0), "training.batch_size", ">= 1"),
    "reversed range": (
        set_key("task", "ranges", "madsen", "interpolation", value=[2, 1]),
        "task.ranges",
        "reversed",
    ),
    "empty range": (
        set_key("task", "ranges", "trask", "extrapolation", value=[1, 1]),
        "task.ranges",
        "empty",
    ),
    "unknown op": (set_key("grid", "op", value=["add", "pow"]), "grid.op", "'pow'"),
    "unknown unit": (set_key("grid", "unit", value=["nalu", "nalu9"]), "grid.unit", "'nalu9'"),
    "unknown range name": (set_key("grid", "range", value=["huge"]), "grid.range", "'huge'"),
    "empty grid axis": (set_key("grid", "op", value=[]), "grid.op", "non-empty"),
    "missing axis": (delete_key("grid", "unit"), "grid.unit", "missing"),
    "unknown experiment": (
        set_key("experiment", value="static_arithmetics"),
        "experiment",
        "static_arithmetics",
    ),
    "unknown profile key": (set_key("profiles", "fast", value={"seeds": 1}), "profiles.fast", "unknown key"),
    "bad data stream": (set_key("training", "data_stream", value="mixed"), "training.data_stream", "'mixed'"),
    "bad learning-rate schedule": (
        set_key("training", "learning_rate_schedule", value="linear"),
        "training.learning_rate_schedule",
        "'linear'",
    ),
    "missing task key": (delete_key("task", "input_size"), "task.input_size", "missing"),
    "jit_compile not a boolean": (
        set_key("training", "jit_compile", value="yes"),
        "training.jit_compile",
        "true or false",
    ),
    "two published kinds": (
        set_key(
            "report",
            "findings",
            value=[{"claim": "c", "cell": {"op": "add"}, "published": 1.0, "published_score": 0.0}],
        ),
        "report.findings[0]",
        "exactly one of published",
    ),
    "unknown published outcome": (
        set_key(
            "report", "findings", value=[{"claim": "c", "cell": {"op": "add"}, "published_outcome": "works"}]
        ),
        "report.findings[0].published_outcome",
        "'works'",
    ),
    "followup without a source": (
        set_key(
            "report",
            "findings",
            value=[{"claim": "c", "cell": {"op": "add"}, "published": 0.0, "followup": {"published": 0.0}}],
        ),
        "report.findings[0].followup.source",
        "missing",
    ),
    "selection after the end": (
        set_key("training", "select_from", value=10**9),
        "training.select_from",
        "must be at most training.steps",
    ),
    "a comparison with an unknown cell": (
        comparison({"column": "x", "than": {"op": "pow"}, "better": "higher"}),
        "report.findings[0].published_comparison.than.op",
        "'pow'",
    ),
    "a comparison that is neither higher nor lower": (
        comparison({"columns": ["x"], "than": {"op": "sub"}, "better": "faster"}),
        "report.findings[0].published_comparison.better",
        "'faster'",
    ),
    "a typed-in reason": (
        set_key(
            "report",
            "findings",
            value=[{"claim": "c", "cell": {"op": "add"}, "published": 0.0, "reason": "budget"}],
        ),
        "report.findings[0].reason",
        "unknown key",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_config_error_is_one_line_exit_2_and_writes_nothing(name, tmp_path, capsys):
    edit, key, fragment = CASES[name]
    path = write_config(tmp_path, edit)
    results = tmp_path / "results"
    code, lines = run_cli(["run", str(path), "--profile", "smoke", "--results", str(results)], capsys)
    assert code == 2
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}: {key}"), lines[0]
    assert fragment in lines[0]
    assert not results.exists()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--profile", "huge"], "'huge'"),
        (["--set", "training.steps"], "malformed"),
        (["--set", "=3"], "malformed"),
        (["--set", "training.steps=0"], "training.steps"),
        (["--set", "training.learning_rate=-1"], "training.learning_rate"),
        (["--set", "grid.op=[add, pow]"], "grid.op"),
    ],
)
def test_bad_command_line_is_rejected_before_work(args, fragment, tmp_path, capsys):
    results = tmp_path / "results"
    code, lines = run_cli(["run", str(STATIC), *args, "--results", str(results)], capsys)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert not results.exists()


def test_missing_file_and_invalid_yaml(tmp_path, capsys):
    code, lines = run_cli(["run", str(tmp_path / "nope.yaml")], capsys)
    assert code == 2 and lines == [f"error: {tmp_path / 'nope.yaml'}: (file): no such file"]
    broken = tmp_path / "broken.yaml"
    broken.write_text("seeds: [1\n")
    code, lines = run_cli(["run", str(broken)], capsys)
    assert code == 2 and len(lines) == 1 and "not valid YAML" in lines[0]


def test_scientific_notation_is_read_as_numbers(tmp_path):
    path = tmp_path / "static_arithmetic.yaml"
    path.write_text(STATIC.read_text().replace("learning_rate: 1.0e-3", "learning_rate: 1e-3"))
    loaded = config.load(path, "smoke", ["task.success_epsilon=2E-5"])
    assert loaded.training.learning_rate == 0.001
    assert loaded.task["success_epsilon"] == 2e-5


def test_profiles_and_overrides_merge():
    loaded = config.load(STATIC, "smoke", ["training.steps=7", "seeds=3"])
    assert loaded.training.steps == 7 and loaded.training.eval_every == 20
    assert loaded.seeds == [0, 1, 2]
    assert loaded.grid["op"] == ["add", "mul"] and loaded.task["input_size"] == 100
    default = config.load(STATIC)
    assert len(default.points()) == 6 * 4  # the trask range; the madsen range is static_arithmetic_madsen's


def test_cli_process_prints_no_traceback(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments",
            "run",
            str(STATIC),
            "--set",
            "training.batch_size=0",
            "--results",
            str(tmp_path / "r"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines() == [
        f"error: {STATIC}: training.batch_size: 0 is not allowed; must be an integer >= 1"
    ]
    assert not (tmp_path / "r").exists()


def test_validating_every_config_loads_neither_tensorflow_nor_keras():
    # A config mistake must be reported in a fraction of a second, before any heavy import.
    code = (
        "import sys, pathlib\n"
        "from experiments import config\n"
        "for path in sorted(pathlib.Path('configs').glob('*.yaml')):\n"
        "    config.load(path)\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_static_unit_axis_lists_every_model():
    assert static_arithmetic.AXES["unit"] == tuple(static_arithmetic.models())


def test_startup_notes_are_filtered_and_real_errors_kept():
    from experiments import quiet

    text = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 port.cc:153] oneDNN custom operations are on. You may see slightly different numbers\n"
        "I0000 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.\n"
        "E0000 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"
        "E0000 some_kernel.cc:1] a real error\n"
    )
    assert quiet.filter_startup_lines(text, gpu_present=False) == ["E0000 some_kernel.cc:1] a real error"]
    kept = quiet.filter_startup_lines(text, gpu_present=True)  # with a GPU the CUDA lines mean something
    assert len(kept) == 3 and "cuInit" in kept[1]


def test_commands_import_tensorflow_without_its_startup_notes():
    code = "from experiments import quiet; quiet.import_tensorflow(); import tensorflow; print('imported')"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "imported"
    for note in ("absl::InitializeLog", "oneDNN custom operations", "optimized to use available CPU"):
        assert note not in done.stderr, done.stderr


def test_unit_options_are_the_maths_signatures_and_reach_the_layers_from_yaml(tmp_path, capsys):
    """Every option a library unit's forward pass takes is settable per unit in YAML; the trainer, not the
    task, gives it to the layer, and a config that sets none hashes as before."""
    from experiments.engine import registry
    from experiments.tasks import single_module
    from experiments.unit_options import OPTION_SCHEMA, UNIT_OPTIONS, point_settings
    from nalu_tf import maths

    declared = {name: unit.options for name, unit in maths.UNITS.items() if unit.options}
    assert UNIT_OPTIONS == declared and set(OPTION_SCHEMA) == {
        o for options in declared.values() for o in options
    }
    source = pathlib.Path("configs/single_module_benchmark.yaml")
    plain = config.load(source, "smoke")
    tuned = config.load(source, "smoke", ["units.inalu.max_log=3.0"])
    inalu = {**plain.points()[0], "unit": "inalu"}
    assert "unit_options" not in plain.resolve(inalu)
    assert config.point_hash(plain.resolve(plain.points()[0])) == config.point_hash(
        tuned.resolve(tuned.points()[0])
    )
    resolved = tuned.resolve(inalu)
    assert resolved["unit_options"] == {"max_log": 3.0} and "max_log" not in resolved["training"]
    task = single_module.build(resolved["task"])
    assert task.layers[0].options == {}  # the task forwards nothing
    (layer,) = registry.with_options(task.layers, point_settings(resolved))
    assert layer.options == {"epsilon": resolved["task"]["epsilon"], "max_log": 3.0}
    with pytest.raises(config.ConfigError, match="units.nalu.max_log: unknown key"):
        config.load(source, "smoke", ["units.nalu.max_log=3.0"])


def _grid_config(tmp_path, grid, profile_grid=None):
    def edit(data):
        data["grid"] = grid
        if profile_grid is not None:
            data["profiles"]["smoke"]["grid"] = profile_grid
        else:
            data["profiles"]["smoke"].pop("grid", None)

    return write_config(tmp_path, edit)


def test_a_grid_of_blocks_is_the_union_of_their_products(tmp_path):
    blocks = [
        {"op": ["add", "sub"], "unit": ["nalu"], "range": ["trask"]},
        {"op": ["mul"], "unit": ["nmu", "nau"], "range": ["trask"]},
    ]
    loaded = config.load(_grid_config(tmp_path, blocks))
    assert loaded.points() == [
        {"op": "add", "unit": "nalu", "range": "trask"},
        {"op": "sub", "unit": "nalu", "range": "trask"},
        {"op": "mul", "unit": "nmu", "range": "trask"},
        {"op": "mul", "unit": "nau", "range": "trask"},
    ]
    # The report lays out the union of the values, in order of first appearance.
    assert loaded.grid == {"op": ["add", "sub", "mul"], "unit": ["nalu", "nmu", "nau"], "range": ["trask"]}
    assert loaded.as_dict()["grid_blocks"] == blocks
    # A profile's grid mapping replaces its axes in every block.
    smoke = config.load(_grid_config(tmp_path, blocks, {"range": ["madsen"]}), "smoke")
    assert {point["range"] for point in smoke.points()} == {"madsen"} and len(smoke.points()) == 4
    # One block is the plain mapping: the same points and the same hash (results stay valid).
    single = config.load(_grid_config(tmp_path, blocks[:1]))
    plain = config.load(_grid_config(tmp_path, blocks[0]))
    assert single.points() == plain.points() and "grid_blocks" not in plain.as_dict()
    assert single.hash() == plain.hash()


@pytest.mark.parametrize(
    "grid, key, fragment",
    [
        ([], "grid", "non-empty list"),
        ([{"op": ["add"], "unit": ["nalu"]}], "grid[0].range", "missing"),
        ([{"op": ["add"], "unit": ["nalu"], "range": ["trask"]}, "nac"], "grid[1]", "must be a mapping"),
        (
            [
                {"op": ["add"], "unit": ["nalu"], "range": ["trask"]},
                {"op": ["add", "sub"], "unit": ["nalu"], "range": ["trask"]},
            ],
            "grid[1]",
            "already in an earlier block",
        ),
        ([{"op": ["pow"], "unit": ["nalu"], "range": ["trask"]}], "grid[0].op", "'pow'"),
        (
            [
                {"op": ["add"], "unit": ["nalu"], "range": ["trask"]},
                {"op": ["sub"], "unit": ["nalu"], "range": ["trask"], "input_size": [10]},
            ],
            "grid[1]",
            "the same axes as grid[0]",
        ),
    ],
)
def test_a_bad_grid_block_is_named(tmp_path, grid, key, fragment):
    path = _grid_config(tmp_path, grid)
    with pytest.raises(config.ConfigError) as caught:
        config.load(path)
    assert str(caught.value).startswith(f"{path}: {key}") and fragment in str(caught.value), str(caught.value)


def test_settings_added_at_their_neutral_values_keep_finished_points_valid():
    """A setting added after results existed, at the value that computes what was computed before it, is
    left out of a point's hash; any other value names new result files."""
    source = pathlib.Path("configs/mnist_counting.yaml")
    plain = config.load(source, "smoke")
    point = plain.points()[0]
    resolved = plain.resolve(point)
    before = {
        **resolved,
        "task": {k: v for k, v in resolved["task"].items() if k not in ("kernel_size", "conv_stride")},
    }
    assert config.point_hash(resolved) == config.point_hash(before)
    for change in ("task.conv_stride=2", "task.kernel_size=5", "training.jit_compile=true"):
        changed = config.load(source, "smoke", [change])
        assert config.point_hash(changed.resolve(point)) != config.point_hash(resolved), change
        assert changed.hash() != plain.hash(), change


@pytest.mark.parametrize("path", sorted(pathlib.Path("configs").glob("*.yaml")), ids=lambda path: path.stem)
def test_the_committed_results_were_made_by_the_config_as_it_stands(path):
    """Its default profile's hash is the one in results/NAME/provenance.json, so `make reproduce` on a
    clean clone reuses them rather than rewriting their provenance (or, for a changed point, rerunning)."""
    provenance = json.loads((pathlib.Path("results") / path.stem / "provenance.json").read_text())
    assert provenance["config_hash"] == config.load(path, "default").hash()
