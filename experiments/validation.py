"""The blocks of one merged config checked in turn: training, units, task and grid.

``config.load`` merges a profile and the ``--set`` overrides into the config first, then calls these in
the order written here, so the first mistake in a file is the one reported. Each returns its block
cleaned (numbers as floats, defaults filled in) and raises :class:`ConfigError` naming the file, the
key, the bad value and what is allowed. The report block has its own schema (``report_schema``).
"""

from __future__ import annotations

import dataclasses
import itertools
import json

from experiments.engine import DATA_STREAMS, LEARNING_RATE_SCHEDULES, Training
from experiments.schema import Boolean, Choice, ConfigError, Integer, Number, Optional, shown
from experiments.schema import check_value as _check, reject_unknown as _unknown, require_mapping as _mapping
from experiments.unit_options import OPTION_SCHEMA, REGULARIZED_UNITS, UNIT_OPTIONS

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
    "learning_rate_schedule": Choice(LEARNING_RATE_SCHEDULES),
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
    "jit_compile",  # XLA pays for some units' steps and costs others' (measured per unit in a config header)
)
# The settings of a unit's own regulariser: a unit without one cannot use them (unit_options.REGULARIZED_UNITS).
REGULARIZATION_KEYS = (
    "regularization",
    "regularization_start",
    "regularization_end",
    "regularization_loss_below",
)


def allowed_values(choices, task):
    """An axis' allowed values: a tuple, or a function of the task settings."""
    return choices(task) if callable(choices) else choices


def check_training(source, raw):
    """The ``training:`` block over :data:`TRAINING_DEFAULTS`, every setting present and checked."""
    training = {**TRAINING_DEFAULTS, **_mapping(source, "training", raw)}
    _unknown(source, "training.", training, TRAINING_SCHEMA)
    for key, field in TRAINING_SCHEMA.items():
        if key not in training:
            raise ConfigError(source, f"training.{key}", "missing")
        training[key] = _check(source, f"training.{key}", field, training[key])
    if training["select_from"] > training["steps"]:
        message = f"{shown(training['select_from'])} is not allowed; must be at most training.steps ({shown(training['steps'])})"
        raise ConfigError(source, "training.select_from", message)
    return training


def check_units(source, raw, module, experiment, training):
    """The ``units:`` block: per unit of the task's ``unit`` axis, its own training settings (of
    :data:`UNIT_TRAINING_KEYS`; those of :data:`REGULARIZATION_KEYS` only for a unit with a regulariser)
    and options (of the unit's ``UNIT_OPTIONS``), each checked; then the L1 ramp of every unit with its
    own settings on top of ``training``."""
    units = _mapping(source, "units", raw)
    if units and "unit" not in module.AXES:
        raise ConfigError(
            source, "units", f"{shown(experiment)} has no unit axis, so per-unit settings do not apply"
        )
    for unit, settings in units.items():
        _check(source, "units", Choice(module.AXES["unit"]), unit)
        settings = _mapping(source, f"units.{unit}", settings or {})
        _check_unit_keys(source, unit, settings, module)
        units[unit] = {
            key: _check(source, f"units.{unit}.{key}", {**TRAINING_SCHEMA, **OPTION_SCHEMA}[key], value)
            for key, value in settings.items()
        }
    for unit, settings in {None: {}, **units}.items():
        effective = {**training, **{k: v for k, v in settings.items() if k in UNIT_TRAINING_KEYS}}
        if effective["l1_start"] > 0 and effective["l1_end"] < effective["l1_start"]:
            key = f"units.{unit}.l1_end" if unit else "training.l1_end"
            message = f"{shown(effective['l1_end'])} is not allowed; must be >= l1_start ({shown(effective['l1_start'])})"
            raise ConfigError(source, key, message)
    return units


def unit_keys(unit, module):
    """What a ``units:`` block may set for ``unit`` of an experiment ``module``: the training settings
    (less those of a regulariser, unless the unit has one) and the unit's own options."""
    regularized = getattr(module, "REGULARIZED_UNITS", REGULARIZED_UNITS)
    training = [k for k in UNIT_TRAINING_KEYS if unit in regularized or k not in REGULARIZATION_KEYS]
    return (*training, *UNIT_OPTIONS.get(unit, ()))


def _check_unit_keys(source, unit, settings, module):
    """Reject a setting ``unit`` cannot use: unknown, or a regulariser's where the unit has none."""
    allowed = unit_keys(unit, module)
    for key in settings:
        if key in REGULARIZATION_KEYS and key not in allowed:
            regularized = getattr(module, "REGULARIZED_UNITS", REGULARIZED_UNITS)
            having = [name for name in module.AXES["unit"] if name in regularized]
            raise ConfigError(
                source,
                f"units.{unit}.{key}",
                f"{unit} has no regulariser, so this setting would do nothing; allowed for {unit}: "
                f"{', '.join(allowed)} (the regulariser settings are for {', '.join(having) or 'no unit here'})",
            )
    _unknown(source, f"units.{unit}.", settings, allowed)


def check_task(source, raw, module):
    """The ``task:`` block against the experiment module's ``TASK_SCHEMA``: every setting present."""
    task = _mapping(source, "task", raw)
    _unknown(source, "task.", task, module.TASK_SCHEMA)
    for key, field in module.TASK_SCHEMA.items():
        if key not in task:
            raise ConfigError(source, f"task.{key}", "missing")
        task[key] = _check(source, f"task.{key}", field, task[key])
    return task


def check_grid(source, raw_grid, module, task):
    """The ``grid:`` as a list of product blocks: the grid itself, or each block of a list of them (a
    union: every block with the same axes, no point in two blocks)."""
    if not isinstance(raw_grid, list):
        return [_grid_block(source, "grid", module, task, raw_grid)]
    if not raw_grid:
        raise ConfigError(source, "grid", "[] is not allowed; must be a mapping or a non-empty list of them")
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
        for point in grid_points(block):
            key = json.dumps(point, sort_keys=True)
            if key in seen:
                raise ConfigError(
                    source,
                    f"grid[{index}]",
                    f"{shown(point)} is already in an earlier block; list a point once",
                )
            seen.add(key)
    return blocks


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
                source, f"{where}.{axis}", f"{shown(values)} is not allowed; must be a non-empty list"
            )
        if axis in module.AXES:
            field = Choice(allowed_values(module.AXES[axis], task))
        else:
            field = module.TASK_SCHEMA[axis]
        checked[axis] = [_check(source, f"{where}.{axis}", field, value) for value in values]
        if len({json.dumps(v, sort_keys=True) for v in checked[axis]}) != len(checked[axis]):
            raise ConfigError(source, f"{where}.{axis}", f"{shown(values)} lists a value twice")
    return checked


def grid_points(block):
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
