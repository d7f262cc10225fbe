"""Load, merge and validate an experiment YAML before any work starts.

A config names an experiment module (``experiments/<name>.py``), a grid, seeds, training settings, the
experiment's task settings and optional profiles (smoke, default, paper) that override any of those.
Every mistake raises :class:`ConfigError` naming the file, the key, the bad value and what is allowed.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib
import itertools
import json
import pathlib
import pkgutil

import yaml

from experiments import tasks
from experiments.report import schema as report_schema
from experiments.schema import check_value as _check, reject_unknown as _unknown, require_mapping as _mapping
from experiments.schema import Boolean, Choice, ConfigError, Integer, Number, Optional, Range
from experiments.engine import DATA_STREAMS, Training
from experiments.unit_options import OPTION_SCHEMA, UNIT_OPTIONS
from experiments.yamlio import apply_override, deep_merge, parse_override, parse_yaml  # noqa: F401 (re-exported)

PROFILES = (
    "smoke",
    "default",
    "long",
    "paper",
)  # long: a night on a CPU or a GPU; paper: the published budget
EXPERIMENTS_DIR = pathlib.Path(__file__).parent

TRAINING_SCHEMA = {
    "steps": Integer(minimum=1),
    "batch_size": Integer(minimum=1),
    "learning_rate": Number(minimum=0, exclusive_minimum=True),
    "eval_every": Integer(minimum=1),
    "data_stream": Choice(DATA_STREAMS),
    "data_seed": Integer(minimum=0),
    "adam_epsilon": Number(minimum=0, exclusive_minimum=True),
    "regularization": Number(minimum=0),
    "regularization_start": Integer(minimum=0),
    "regularization_end": Integer(minimum=0),
    "regularization_loss_below": Optional(Number(minimum=0, exclusive_minimum=True)),
    "l1_start": Number(minimum=0),
    "l1_end": Number(minimum=0),
    "l1_every": Integer(minimum=1),
    "clip_value": Optional(Number(minimum=0, exclusive_minimum=True)),
    "reinitialise_patience": Integer(minimum=0),
    "reinitialise_above": Number(minimum=0),
    "jit_compile": Boolean(),
    "regularization_z": Number(minimum=0),
    "select_from": Integer(minimum=0),
}
TRAINING_DEFAULTS = {
    field.name: field.default
    for field in dataclasses.fields(Training)
    if field.default is not dataclasses.MISSING
}
# What a config's `units:` block may set for one unit (each unit's published protocol); the rest of
# `training` (steps, batch, evaluation, data) is the same for every unit of a table.
UNIT_TRAINING_KEYS = (
    "learning_rate",
    "adam_epsilon",
    "regularization",
    "regularization_start",
    "regularization_end",
    "regularization_loss_below",
    "l1_start",
    "l1_end",
    "l1_every",
    "clip_value",
    "reinitialise_patience",
    "reinitialise_above",
    "regularization_z",
)
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
        return [point for block in self.grid_blocks or [self.grid] for point in _product(block)]

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
        return digest({k: v for k, v in self.as_dict().items() if k not in ("source", "report")})


# Training settings added after results existed, at the value that computes what was computed before them:
# left out of a grid point's hash at that value, so finished points stay valid (a new setting must not
# force every experiment to rerun). Any other value is part of the hash.
NEUTRAL_TRAINING_DEFAULTS = {"jit_compile": False, "regularization_z": 0.0, "select_from": 0}


def point_hash(resolved):
    """The hash that names a grid point's result files: of its whole resolved config, less the training
    settings at their neutral defaults (:data:`NEUTRAL_TRAINING_DEFAULTS`)."""
    training = {
        key: value
        for key, value in resolved["training"].items()
        if not (key in NEUTRAL_TRAINING_DEFAULTS and value == NEUTRAL_TRAINING_DEFAULTS[key])
    }
    return digest({**resolved, "training": training})


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


def _allowed(choices, task):
    """An axis' allowed values: a tuple, or a function of the task settings."""
    return choices(task) if callable(choices) else choices


def load(path, profile="default", overrides=()):
    """Read ``path``, apply ``profile`` and ``--set`` overrides, validate everything, return a Config."""
    path = pathlib.Path(path)
    source = str(path)
    if not path.is_file():
        raise ConfigError(source, "(file)", "no such file")
    try:
        raw = parse_yaml(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise ConfigError(source, where, f"not valid YAML: {getattr(error, 'problem', error)}") from None
    raw = _mapping(source, "(top level)", raw if raw is not None else [])
    _unknown(source, "", raw, TOP_LEVEL)
    if profile not in PROFILES:
        raise ConfigError(
            source, "--profile", f"{profile!r} is not allowed; choose from {', '.join(PROFILES)}"
        )

    profiles = _mapping(source, "profiles", raw.get("profiles", {}))
    _unknown(source, "profiles.", profiles, PROFILES)
    if profile != "default" and profile not in profiles:  # never the default's points under another label
        defined = ", ".join(["default", *(name for name in PROFILES if name in profiles)])
        raise ConfigError(
            source, "--profile", f"{profile!r} is not defined in this config; it defines: {defined}"
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


def _validate(source, name, profile, merged, overrides):
    for key in ("experiment", "seeds", "grid", "training", "task"):
        if key not in merged:
            raise ConfigError(source, key, "missing")
    experiment = merged["experiment"]
    allowed = available_experiments()
    if not isinstance(experiment, str) or ("." not in experiment and experiment not in allowed):
        raise ConfigError(
            source,
            "experiment",
            f"{experiment!r} is not allowed; choose from {', '.join(allowed)}, or give a dotted module path",
        )
    try:
        module = experiment_module(experiment)
    except ImportError as error:
        raise ConfigError(source, "experiment", f"{experiment!r} cannot be imported ({error})") from None
    missing = [name for name in ("AXES", "TASK_SCHEMA", "build") if not hasattr(module, name)]
    if missing:
        raise ConfigError(
            source, "experiment", f"{experiment!r} is not an experiment module; it lacks {', '.join(missing)}"
        )

    count = _check(source, "seeds", Integer(minimum=1), merged["seeds"])
    start = _check(source, "seed_start", Integer(minimum=0), merged.get("seed_start", 0))

    training = {**TRAINING_DEFAULTS, **_mapping(source, "training", merged["training"])}
    _unknown(source, "training.", training, TRAINING_SCHEMA)
    for key, field in TRAINING_SCHEMA.items():
        if key not in training:
            raise ConfigError(source, f"training.{key}", "missing")
        training[key] = _check(source, f"training.{key}", field, training[key])
    if training["select_from"] > training["steps"]:
        message = f"{training['select_from']!r} is not allowed; must be at most training.steps ({training['steps']!r})"
        raise ConfigError(source, "training.select_from", message)

    units = _mapping(source, "units", merged.get("units") or {})
    if units and "unit" not in module.AXES:
        raise ConfigError(
            source, "units", f"{experiment!r} has no unit axis, so per-unit settings do not apply"
        )
    for unit, settings in units.items():
        _check(source, "units", Choice(module.AXES["unit"]), unit)
        settings = _mapping(source, f"units.{unit}", settings or {})
        options = UNIT_OPTIONS.get(unit, ())
        _unknown(source, f"units.{unit}.", settings, (*UNIT_TRAINING_KEYS, *options))
        units[unit] = {
            key: _check(source, f"units.{unit}.{key}", {**TRAINING_SCHEMA, **OPTION_SCHEMA}[key], value)
            for key, value in settings.items()
        }
    for unit, settings in {None: {}, **units}.items():
        effective = {**training, **{k: v for k, v in settings.items() if k in UNIT_TRAINING_KEYS}}
        if effective["l1_start"] > 0 and effective["l1_end"] < effective["l1_start"]:
            key = f"units.{unit}.l1_end" if unit else "training.l1_end"
            message = (
                f"{effective['l1_end']!r} is not allowed; must be >= l1_start ({effective['l1_start']!r})"
            )
            raise ConfigError(source, key, message)

    task = _mapping(source, "task", merged["task"])
    _unknown(source, "task.", task, module.TASK_SCHEMA)
    for key, field in module.TASK_SCHEMA.items():
        if key not in task:
            raise ConfigError(source, f"task.{key}", "missing")
        task[key] = _check(source, f"task.{key}", field, task[key])

    raw_grid = merged["grid"]
    if isinstance(raw_grid, list):  # a union of blocks, each a product of its axes (see grid_union)
        if not raw_grid:
            raise ConfigError(
                source, "grid", "[] is not allowed; must be a mapping or a non-empty list of them"
            )
        blocks = [
            _grid_block(source, f"grid[{index}]", module, task, block) for index, block in enumerate(raw_grid)
        ]
        seen = set()
        for index, block in enumerate(blocks):
            if sorted(block) != sorted(blocks[0]):
                raise ConfigError(
                    source,
                    f"grid[{index}]",
                    f"axes {sorted(block)} are not allowed; every block needs the same axes as grid[0] "
                    f"({sorted(blocks[0])})",
                )
            for point in _product(block):
                key = json.dumps(point, sort_keys=True)
                if key in seen:
                    raise ConfigError(
                        source,
                        f"grid[{index}]",
                        f"{point!r} is already in an earlier block; list a point once",
                    )
                seen.add(key)
    else:
        blocks = [_grid_block(source, "grid", module, task, raw_grid)]
    grid = grid_union(blocks)

    report = report_schema.validate(
        source, merged.get("report", {}), grid, lambda axis: _allowed(module.AXES.get(axis, grid[axis]), task)
    )
    if "shade" in report:
        _check(
            source,
            "report.shade",
            Choice([k for k, f in module.TASK_SCHEMA.items() if isinstance(f, Range)]),
            report["shade"],
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


def _grid_block(source, where, module, task, block):
    """One product block of a grid (``grid`` itself, or one item of a list of them), checked."""
    block = _mapping(source, where, block)
    _unknown(source, f"{where}.", block, [*module.AXES, *module.TASK_SCHEMA])
    for axis in module.AXES:
        if axis not in block:
            raise ConfigError(source, f"{where}.{axis}", "missing; every grid needs this axis")
    checked = {}
    for axis, values in block.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(
                source, f"{where}.{axis}", f"{values!r} is not allowed; must be a non-empty list"
            )
        if axis in module.AXES:
            choices = module.AXES[axis]
            field = Choice(choices(task) if callable(choices) else choices)
        else:
            field = module.TASK_SCHEMA[axis]
        checked[axis] = [_check(source, f"{where}.{axis}", field, value) for value in values]
        if len({json.dumps(v, sort_keys=True) for v in checked[axis]}) != len(checked[axis]):
            raise ConfigError(source, f"{where}.{axis}", f"{values!r} lists a value twice")
    return checked


def _product(block):
    """Every point of one grid block, in order (the last axis varies fastest)."""
    axes = list(block)
    return [dict(zip(axes, values)) for values in itertools.product(*block.values())]


def grid_union(blocks):
    """The axes of several grid blocks with every value any of them takes, in order of first appearance
    (what a report lays its rows and columns out by). Every block has the same axes (checked by load)."""
    axes = list(blocks[0])
    union = {axis: [] for axis in axes}
    for block in blocks:
        for axis in axes:
            for value in block[axis]:
                if value not in union[axis]:
                    union[axis].append(value)
    return union
