"""Errors of a stacked model on fixed sets (validation, test, a sweep), per member, in chunks.

A fixed set holds every cell's rows: inputs (1, rows, ...) when the cells share them, else (cells, rows,
...); targets (cells, rows, outputs). Member ``c * seeds + i`` is seed i of cell c.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

EVALUATION_CHUNK = 2048  # rows of a fixed evaluation set evaluated at once, to bound memory
TABLE_CHUNK_POSITIONS = 20_000  # sequence positions per evaluation chunk for tasks that read a table


class Errors(NamedTuple):
    """Per-member errors on one data set: MSE, MAE and, where asked for, the fraction of outputs that,
    rounded, equal their targets (None otherwise); ``extra``: further per-member measures a learner
    reports by name (an agent's mean reward, say), or None."""

    mse: tf.Tensor
    mae: tf.Tensor
    accuracy: tf.Tensor | None = None
    extra: dict | None = None


def fixed_set(inputs, targets):
    """A fixed set of every cell as the evaluation reads it: inputs (1, rows, ...) when the cells share
    them (or there is one cell), else (cells, rows, ...); targets (cells, rows, outputs)."""
    shared = all(np.array_equal(x, inputs[0]) for x in inputs[1:])
    x = np.asarray(inputs[0])[None] if shared else np.stack(inputs)
    return tf.constant(x, tf.float32), tf.constant(np.stack(targets), tf.float32)


def chunk_rows(table, x):
    """Rows of a fixed set (x: (1 or cells, rows, ...)) evaluated at once: fewer for long sequences read
    from a table of items."""
    if table is None:
        return EVALUATION_CHUNK
    return max(1, TABLE_CHUNK_POSITIONS // int(np.prod(x.shape[2:])))


def errors(model, data, seeds, cells, params=None, accuracy=False, chunk=EVALUATION_CHUNK) -> Errors:
    """Per-member :class:`Errors` of ``model`` on the fixed set ``data`` (x, y), for ``cells`` cells of
    ``seeds`` seeds each, ``chunk`` rows at a time; ``accuracy`` adds the exact-match fraction (each
    output of each row counts once).

    Errors are squared and summed in float64: extrapolating models can output ~1e30, whose square
    overflows float32, and sums over thousands of rows lose float32 precision.
    """
    x, y = data
    squared = absolute = exact = tf.zeros(seeds * cells, tf.float64)
    rows = int(x.shape[1])
    for start in range(0, rows, chunk):
        inputs = x[:, start : start + chunk]
        if inputs.shape[0] > 1:  # each cell's own inputs, for each of its seeds
            inputs = tf.repeat(inputs, seeds, axis=0)
        prediction = tf.cast(model(inputs, params), tf.float64)
        target = tf.cast(y[:, start : start + chunk], tf.float64)
        if cells > 1:  # each cell's targets for each of its seeds
            target = tf.repeat(target, seeds, axis=0)
        error = prediction - target
        squared += tf.reduce_sum(tf.square(error), axis=[1, 2])
        absolute += tf.reduce_sum(tf.abs(error), axis=[1, 2])
        if accuracy:
            exact += tf.reduce_sum(tf.cast(tf.equal(tf.round(prediction), target), tf.float64), axis=[1, 2])
    count = float(rows * int(y.shape[-1]))
    return Errors(squared / count, absolute / count, exact / count if accuracy else None)


def predict(model, x, chunk, params=None, every_step=False):
    """Per-member predictions (members, rows, outputs) on inputs x (rows, ...) shared by every member;
    with ``every_step``, after every step of a sequence (members, rows, time, outputs)."""
    rows = int(x.shape[0])
    return tf.concat(
        [
            model(x[None, start : start + chunk], params, every_step=every_step)
            for start in range(0, rows, chunk)
        ],
        axis=1,
    )
