"""The rule for the cells of one stack: tasks that train as one model on one set of draws."""

from __future__ import annotations

import numpy as np


def _describe(layer):
    """A layer spec as plain values (initialiser objects by class and config), to compare two specs."""
    initializers = {
        name: (type(value).__name__, value.get_config()) if hasattr(value, "get_config") else value
        for name, value in layer.initializers.items()
    }
    return (layer.unit, layer.width, layer.options, layer.recurrent, layer.initial_state, initializers)


def check_stack(cells):
    """Cells of one stack must share the model, the learner, the inputs of the fixed sets and the task
    kind; raise ValueError otherwise."""
    first = cells[0]
    if first.success_metric not in ("mse", "mae"):
        raise ValueError(f"success_metric must be 'mse' or 'mae', got {first.success_metric!r}")
    for cell in cells[1:]:
        same = (
            [_describe(layer) for layer in cell.layers] == [_describe(layer) for layer in first.layers]
            and cell.input_size == first.input_size
            and cell.learner is first.learner
            and all(
                np.shape(a[0]) == np.shape(b[0])
                for a, b in ((cell.validation, first.validation), (cell.test, first.test))
            )
            and (cell.success_threshold is None) == (first.success_threshold is None)
            and cell.success_metric == first.success_metric
        )
        same_sweep = [value for value, _ in cell.sweep or []] == [
            value for value, _ in first.sweep or []
        ] and all(np.shape(a[1][0]) == np.shape(b[1][0]) for a, b in zip(cell.sweep or [], first.sweep or []))
        if not (same and same_sweep):
            raise ValueError(
                "cells of one stack need the same layers, learner, input size and evaluation set shapes"
            )
        if cell.table is not None or cell.probe is not None or cell.trace is not None or cell.accuracy:
            raise ValueError("tasks with a table, a probe set, a trace or accuracy train one cell at a time")
