"""The one registry of the units and cells the trainer builds models from: the library's (``nalu_tf.maths``)
and the baselines (``baselines.py``), and the rule that gives each layer its options.

Tasks name a unit and its width (``LayerSpec("nalu", 2)``); the trainer gives every layer the options its
unit declares (its forward pass's keyword arguments: ``epsilon``, ``max_log``) from the point's settings
(:func:`experiments.unit_options.point_settings`: the task's ``epsilon`` and a config's ``units:`` block),
so no task forwards them and each is reachable from YAML. A layer's own ``options`` (a baseline's
activation, say) come first.
"""

from __future__ import annotations

import dataclasses

from experiments.engine.baselines import BASELINE_CELLS, BASELINE_UNITS
from nalu_tf import maths
from nalu_tf.maths import Cell, Unit

UNITS: dict[str, Unit] = {**maths.UNITS, **BASELINE_UNITS}
CELLS: dict[str, Cell] = {**maths.CELLS, **BASELINE_CELLS}


def declared_options(unit):
    """The option names the unit's forward pass takes (none for the LSTM and GRU cells)."""
    if unit not in UNITS and unit not in CELLS:
        raise ValueError(f"unknown unit {unit!r}; known: {sorted({*UNITS, *CELLS})}")
    return UNITS[unit].options if unit in UNITS else ()


def options_for(unit, **values):
    """Of ``values`` (``epsilon=...``, say), the options the unit's forward pass takes."""
    declared = declared_options(unit)
    return {name: value for name, value in values.items() if name in declared}


def with_options(layers, settings):
    """``layers`` with each layer's declared options filled in from ``settings`` (its own win)."""
    return [
        dataclasses.replace(layer, options={**options_for(layer.unit, **(settings or {})), **layer.options})
        for layer in layers
    ]
