"""Load, merge and validate an experiment YAML before any work starts.

A config names an experiment module (``experiments/tasks/<name>.py``, or any importable dotted path), a
grid, seeds, training settings, the experiment's task settings and optional profiles (smoke, default,
long, paper) that override any of those. Every mistake raises :class:`ConfigError` naming the file, the
key, the bad value and what is allowed: this module reads the file, merges each profile and checks the
experiment module, ``validation`` checks the training, units, task and grid blocks, and
``report_schema`` the report block.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib
import json
import pathlib
import pkgutil

import yaml

from experiments import report_schema, tasks
from experiments.schema import reject_unknown as _unknown, require_mapping as _mapping
from experiments.schema import ConfigError, Integer, Range, check_value, shown
from experiments.engine import Training
from experiments.unit_options import OPTION_SCHEMA
from experiments.validation import UNIT_TRAINING_KEYS, allowed_values, grid_points, grid_union
from experiments.validation import check_grid, check_task, check_training, check_units
from experiments.yamlio import YAMLProblem, problem_of
from experiments.yamlio import apply_override, deep_merge, parse_override, parse_yaml  # noqa: F401 (re-exported)

PROFILES = (
    "smoke",
    "default",
    "long",
    "paper",
)  # long: a night on a CPU or a GPU; paper: the published budget
EXPERIMENTS_DIR = pathlib.Path(__file__).parent

TOP_LEVEL = ("experiment", "seeds", "seed_start", "grid", "training", "units", "task", "profiles", "report")


@dataclasses.dataclass
class Config:
    """A validated experiment configuration with one profile applied."""

    name: str
    source: str
    profile: str
    experiment: str
    seeds: list[int]
    grid: dict[str, list]
    training: Training
    task: dict
    report: dict
    overrides: list[str]
    units: dict = dataclasses.field(default_factory=dict)  # unit name -> its own training settings
    # A grid given as a list of blocks: the blocks (``grid`` is then their union, for the report's layout).
    grid_blocks: list | None = None

    def training_for(self, point):
        """The training settings of one grid point: the shared ones with its unit's own on top."""
        own = self.units.get(point.get("unit"), {})
        return dataclasses.replace(self.training, **{k: v for k, v in own.items() if k in UNIT_TRAINING_KEYS})

    def unit_options_for(self, point):
        """The unit options (``max_log``, say) a config's ``units:`` block sets for the point's unit."""
        own = self.units.get(point.get("unit"), {})
        return {k: v for k, v in own.items() if k in OPTION_SCHEMA}

    @property
    def module(self):
        return experiment_module(self.experiment)

    def points(self):
        """Every grid point as a dict of axis values, in grid order: the product of the grid's axes, or,
        for a grid given as a list of blocks, each block's product in turn."""
        return [point for block in self.grid_blocks or [self.grid] for point in grid_points(block)]

    def resolve(self, point):
        """The complete description of one grid point: all a worker needs to run it."""
        resolved = {
            "experiment": self.experiment,
            "task": {**self.task, **point},
            "training": dataclasses.asdict(self.training_for(point)),
            "seeds": list(self.seeds),
        }
        options = self.unit_options_for(point)
        return {**resolved, "unit_options": options} if options else resolved  # absent: hashes as before

    def as_dict(self):
        return {
            "name": self.name,
            "source": self.source,
            "profile": self.profile,
            "overrides": self.overrides,
            "experiment": self.experiment,
            "seeds": self.seeds,
            "grid": self.grid,
            **({"grid_blocks": self.grid_blocks} if self.grid_blocks else {}),  # absent: hashes as before
            "training": dataclasses.asdict(self.training),
            "units": self.units,
            "task": self.task,
            "report": self.report,
        }

    def hash(self):
        """Of the whole config, less its source, its report and the task settings at neutral values (see
        :func:`point_hash`), so that adding a setting does not rewrite the provenance of finished runs."""
        kept = {k: v for k, v in self.as_dict().items() if k not in ("source", "report")}
        return digest({**kept, "task": _without_neutral(self.task, _neutral_task_settings(self.experiment))})


# Training settings added after results existed, at the value that computes what was computed before them:
# left out of a grid point's hash at that value, so finished points stay valid (a new setting must not
# force every experiment to rerun). Any other value is part of the hash.
NEUTRAL_TRAINING_DEFAULTS = {
    "jit_compile": False,
    "regularization_z": 0.0,
    "select_from": 0,
    "learning_rate_schedule": "constant",
}


def point_hash(resolved):
    """The hash that names a grid point's result files: of its whole resolved config, less the training
    settings at their neutral defaults (:data:`NEUTRAL_TRAINING_DEFAULTS`) and the task settings at the
    neutral values its task module declares (``NEUTRAL_TASK_DEFAULTS``: task settings added after results
    existed, at the value that computes what was computed before them)."""
    return digest(
        {
            **resolved,
            "training": _without_neutral(resolved["training"], NEUTRAL_TRAINING_DEFAULTS),
            "task": _without_neutral(resolved["task"], _neutral_task_settings(resolved["experiment"])),
        }
    )


def _neutral_task_settings(experiment):
    """The task settings an experiment's module declares neutral (``NEUTRAL_TASK_DEFAULTS``), if any."""
    return getattr(experiment_module(experiment), "NEUTRAL_TASK_DEFAULTS", {})


def _without_neutral(settings, neutral):
    return {key: value for key, value in settings.items() if not (key in neutral and value == neutral[key])}


def digest(value):
    """Short stable hash of a JSON-serialisable value."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def experiment_module(name):
    """The module of an experiment: ``experiments/tasks/NAME.py``, or any importable dotted path."""
    return importlib.import_module(name if "." in name else f"{tasks.__name__}.{name}")


def available_experiments():
    """The task modules: every module of ``experiments.tasks`` that defines ``build`` (the others are
    helpers the tasks share, such as the MNIST loader)."""
    names = (info.name for info in pkgutil.iter_modules(tasks.__path__) if not info.name.startswith("_"))
    return sorted(name for name in names if callable(getattr(experiment_module(name), "build", None)))


def load(path, profile="default", overrides=()):
    """Read ``path``, apply ``profile`` and ``--set`` overrides, validate everything, return a Config."""
    path = pathlib.Path(path)
    source = str(path)
    raw = _mapping(source, "(top level)", read_config(path))
    _unknown(source, "", raw, TOP_LEVEL)
    if profile not in PROFILES:
        raise ConfigError(
            source, "--profile", f"{shown(profile)} is not allowed; choose from {', '.join(PROFILES)}"
        )

    profiles = _mapping(source, "profiles", raw.get("profiles", {}))
    _unknown(source, "profiles.", profiles, PROFILES)
    if profile != "default" and profile not in profiles:  # never the default's points under another label
        defined = ", ".join(["default", *(name for name in PROFILES if name in profiles)])
        raise ConfigError(
            source, "--profile", f"{shown(profile)} is not defined in this config; it defines: {defined}"
        )
    base = {k: v for k, v in raw.items() if k != "profiles"}
    parsed = [parse_override(text) for text in overrides]
    # Every profile is checked, not only the chosen one, so a mistake hidden by the smoke profile's
    # overrides still fails the smoke run that tests make.
    chosen = None
    for name in sorted(PROFILES, key=lambda p: p != profile):
        merged = base
        if profiles.get(name):
            changes = _mapping(source, f"profiles.{name}", profiles[name])
            _unknown(source, f"profiles.{name}.", changes, [k for k in TOP_LEVEL if k != "profiles"])
            merged = deep_merge(base, changes)
        merged = copy.deepcopy(merged)
        for keys, value in parsed:
            apply_override(merged, keys, value)
        _unknown(source, "", merged, [k for k in TOP_LEVEL if k != "profiles"])
        validated = _validate(source, path.stem, name, merged, list(overrides))
        chosen = chosen or validated
    return chosen


def read_config(path):
    """The YAML of the config file at ``path`` ([] for an empty file); every way it cannot be read (no
    file, a folder, bytes that are not UTF-8, a syntax error, a key twice, an alias bomb) a
    :class:`ConfigError` in one line."""
    source = str(path)
    if path.is_dir():
        raise ConfigError(source, "(file)", "is a directory; give a config file, e.g. configs/NAME.yaml")
    if not path.is_file():
        raise ConfigError(source, "(file)", "no such file" if not path.exists() else "not a regular file")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        message = f"byte 0x{error.object[error.start]:02x} at offset {error.start} is not UTF-8; a config is YAML text"
        raise ConfigError(source, "(file)", f"not a text file: {message}") from None
    except OSError as error:
        raise ConfigError(source, "(file)", f"cannot be read ({error.strerror})") from None
    try:
        raw = parse_yaml(text)
    except YAMLProblem as error:
        raise ConfigError(source, error.key, error.problem) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise ConfigError(source, where, f"not valid YAML: {problem_of(error)}") from None
    except RecursionError:
        raise ConfigError(source, "(file)", "nested too deeply to be a config") from None
    return raw if raw is not None else []


def _validate(source, name, profile, merged, overrides):
    """One profile's merged config, checked (its experiment module here, then each block in turn) as a
    :class:`Config`."""
    for key in ("experiment", "seeds", "grid", "training", "task"):
        if key not in merged:
            raise ConfigError(source, key, "missing")
    experiment = merged["experiment"]
    allowed = available_experiments()
    if not isinstance(experiment, str) or ("." not in experiment and experiment not in allowed):
        raise ConfigError(
            source,
            "experiment",
            f"{shown(experiment)} is not allowed; choose from {', '.join(allowed)}, or give a dotted module path",
        )
    try:
        module = experiment_module(experiment)
    except ImportError as error:
        raise ConfigError(source, "experiment", f"{shown(experiment)} cannot be imported ({error})") from None
    missing = [name for name in ("AXES", "TASK_SCHEMA", "build") if not hasattr(module, name)]
    if missing:
        raise ConfigError(
            source,
            "experiment",
            f"{shown(experiment)} is not an experiment module; it lacks {', '.join(missing)}",
        )

    count = check_value(source, "seeds", Integer(minimum=1), merged["seeds"])
    start = check_value(source, "seed_start", Integer(minimum=0), merged.get("seed_start", 0))
    training = check_training(source, merged["training"])
    units = check_units(source, merged.get("units") or {}, module, experiment, training)
    task = check_task(source, merged["task"], module)
    blocks = check_grid(source, merged["grid"], module, task)
    grid = grid_union(blocks)
    report = report_schema.validate(
        source,
        merged.get("report", {}),
        grid,
        lambda axis: allowed_values(module.AXES.get(axis, grid[axis]), task),
        [key for key, field in module.TASK_SCHEMA.items() if isinstance(field, Range)],
    )
    return Config(
        name=name,
        source=source,
        profile=profile,
        experiment=experiment,
        seeds=list(range(start, start + count)),
        grid=grid,
        grid_blocks=blocks if len(blocks) > 1 else None,
        training=Training(**training),
        task=task,
        report=report,
        overrides=overrides,
        units=units,
    )
