"""A kept model's reader and core measured apart (:class:`ReaderParts`): how many single items the reader
reads right, and how exact the core is when fed each item's ideal code, so that a sequence model's error
can be put down to the part that limits it."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from experiments.engine.evaluation import TABLE_CHUNK_POSITIONS

CLASS_COUNT = 10  # labels are 0-9 (digits)


def _codes(model, indices, params):
    """The reader's codes of the table items at ``indices``: (members, n, features) as NumPy."""
    items = tf.gather(model.table, tf.constant(np.asarray(indices, np.int64)))[None]
    codes = tf.function(lambda: model.encode(items, params))()
    return np.broadcast_to(codes.numpy(), (model.seed_count, *codes.shape[1:]))


def calibrate(reading, codes, labels):
    """Per member, how its reader's codes are named (see :class:`ReaderParts`): for ``classes``
    (class_label (members, classes), ideal (members, labels, classes)); for ``value`` (slope (members,),
    ideal (members, labels, 1))."""
    labels = np.asarray(labels)
    if reading == "classes":
        fired = codes.argmax(axis=-1)  # (members, n)
        classes = codes.shape[-1]
        votes = np.zeros((codes.shape[0], CLASS_COUNT, classes))
        for member in range(codes.shape[0]):
            np.add.at(votes[member], (labels, fired[member]), 1)
        class_label = votes.argmax(axis=1)
        ideal = np.eye(classes)[votes.argmax(axis=2)]
        return class_label, ideal
    values = codes[..., 0].astype(np.float64)
    slope = (values * labels).sum(axis=1) / max(float((labels.astype(np.float64) ** 2).sum()), 1e-12)
    ideal = slope[:, None, None] * np.arange(CLASS_COUNT)[None, :, None]
    return slope, ideal


def read(reading, naming, codes):
    """The labels a reader reads from its codes (members, n, features), named by :func:`calibrate`."""
    if reading == "classes":
        return np.take_along_axis(naming, codes.argmax(axis=-1), axis=1)
    slope = np.where(naming == 0, np.nan, naming)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.round(codes[..., 0] / slope[:, None])


def core_errors(model, ideal, labels, targets, params):
    """The core fed the ideal code of each label of ``labels`` (rows, length): per member (MAE, exact
    share) against ``targets`` (rows, outputs), rows in chunks as the whole model's long sequences."""
    rows, length = labels.shape
    chunk = max(1, TABLE_CHUNK_POSITIONS // length)
    run = tf.function(lambda x: model(x, params, codes=True))
    absolute = np.zeros(model.seed_count)
    exact = np.zeros(model.seed_count)
    for start in range(0, rows, chunk):
        block = labels[start : start + chunk]
        x = ideal[:, block]  # (members, chunk, length, features)
        prediction = run(tf.constant(x, tf.float32)).numpy().astype(np.float64)
        error = prediction - targets[None, start : start + chunk]
        absolute += np.abs(error).sum(axis=(1, 2))
        exact += (np.round(prediction) == targets[None, start : start + chunk]).sum(axis=(1, 2))
    count = rows * targets.shape[-1]
    return absolute / count, exact / count


def measure(model, parts, params):
    """(metrics, extra) of the kept models: ``reader_accuracy`` per member, and per value of
    ``parts.sequences`` ``{"core_mae": ..., "core_accuracy": ...}``."""
    naming, ideal = calibrate(
        parts.reading, _codes(model, parts.calibration[0], params), parts.calibration[1]
    )
    indices, labels = parts.items
    readings = read(parts.reading, naming, _codes(model, indices, params))
    metrics = {"reader_accuracy": (readings == np.asarray(labels)[None]).mean(axis=1)}
    extra = {}
    for value, sequence_labels, targets in parts.sequences:
        mae, accuracy = core_errors(
            model, ideal, np.asarray(sequence_labels), np.asarray(targets, np.float64), params
        )
        extra[value] = {"core_mae": mae, "core_accuracy": accuracy}
    return metrics, extra
