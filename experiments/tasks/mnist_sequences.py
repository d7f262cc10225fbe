"""MNIST digit counting and digit addition over sequences: Table 2 of Trask et al. (2018).

A sequence of ``length`` digit images; the target is, for ``counting``, how many of each digit it holds
(10 outputs) and, for ``addition``, the sum of its digits (1 output). The model never sees a digit label:
it learns end to end from the sequence targets.

Model: a digit reader reads each image: with ``reader: cnn`` ``conv_filters`` ReLU convolutions of
``kernel_size`` squares ``conv_stride`` pixels apart and one max pool of ``pool_size`` (1: none), with
``reader: mlp`` the pixels as they are; then one dense ReLU layer of ``reader_units`` and a
softmax layer of 10 (class probabilities) for counting; for addition one value per image, as Madsen &
Johansen's sequential MNIST feeds a scalar: a linear output (``digit_value: linear``, their default) or
the expected digit sum_k k p_k under a softmax of 10 (``digit_value: expected``, their
``softmax_transform``).
A recurrent core (grid axis ``unit``) reads those image by image. The arithmetic cores (NAC, NALU, NAU)
have as many units as outputs and their state is the answer, so exact accumulation is h_t = x_t +
h_{t-1}: recurrent and input weights 1 (per class for counting), a few weights on {0, 1}. The standard
cores (LSTM, GRU, RNN-tanh, RNN-ReLU) have ``core_units`` units and a linear read-out. With
``every_step_loss`` the training loss is the MSE over every prefix of the sequence (each prefix's
count or sum), as Madsen & Johansen train; validation (model selection) uses the final target of
sequences of the training length.

Training sequences come from the training digits, validation sequences from the validation digits and
test sequences of every length in ``test_lengths`` from the test digits; the longest is the extrapolation
set (its error at every evaluation, the normalised score and the findings' verdicts). Accuracy: the
fraction of outputs whose rounded value equals the target (for counting, each of the ten counts).

The kept models' reader and core are also measured apart (``ReaderParts``): the reader's accuracy on
single test digits (``reader_accuracy``), and the core alone fed each test sequence's digits as ideal
codes (``core_mae_at_N``, ``core_accuracy_at_N``), beside the whole model (``mae_at_N``, ...).

Images live in one table (training, validation, then test digits) and sequences are indices into it,
so the CNN runs once per image position of a training batch, and once per image of the table when a
long test sequence holds more positions than the table has images.
"""

from __future__ import annotations

import numpy as np

from experiments import schema

from experiments.tasks import mnist_data
from experiments.engine import LayerSpec, ReaderParts, Task
from experiments.unit_options import OPTION_SCHEMA

CORES = {
    "lstm": ("lstm", {}),
    "gru": ("gru", {}),
    "rnn_tanh": ("dense", {"activation": "tanh"}),
    "rnn_relu": ("dense", {"activation": "relu"}),
    "nac": ("nac", {}),
    "nalu": ("nalu", {}),
    "nau": ("nau", {}),
}
ARITHMETIC_CORES = ("nac", "nalu", "nau")  # their state is the answer: no read-out
TARGETS = ("counting", "addition")
READERS = ("cnn", "mlp")
DIGIT_VALUES = ("linear", "expected")  # addition: how the reader turns an image into one value

AXES = {"unit": tuple(CORES)}
# Settings added after results existed, at the values that compute what was computed before them (3x3
# convolutions at every position): left out of a point's hash (experiments.config.point_hash).
NEUTRAL_TASK_DEFAULTS = {"kernel_size": 3, "conv_stride": 1}

TASK_SCHEMA = {
    "target": schema.Choice(TARGETS),
    "mnist_path": schema.Optional(schema.Text()),
    "train_length": schema.Integer(minimum=1),
    "test_lengths": schema.IntegerList(minimum=1),
    "validation_sequences": schema.Integer(minimum=1),
    "test_sequences": schema.Integer(minimum=1),
    "validation_seed": schema.Integer(minimum=0),
    "test_seed": schema.Integer(minimum=0),
    "reader": schema.Choice(READERS),
    "reader_units": schema.Integer(minimum=1),
    "digit_value": schema.Choice(DIGIT_VALUES),
    "conv_filters": schema.IntegerList(minimum=1),
    "kernel_size": schema.Integer(minimum=1),
    "conv_stride": schema.Integer(minimum=1),
    "pool_size": schema.Integer(minimum=1),
    "core_units": schema.Integer(minimum=1),
    "every_step_loss": schema.Boolean(),
    "epsilon": OPTION_SCHEMA["epsilon"],
}


def layers(point, outputs):
    """Digit reader (class probabilities; for one output, a digit value), recurrent core, read-out."""
    if point["reader"] == "cnn":
        options = {"activation": "relu", "kernel_size": point["kernel_size"], "stride": point["conv_stride"]}
        encoder = [LayerSpec("conv2d", filters, options) for filters in point["conv_filters"]]
        if point["pool_size"] > 1:
            encoder += [LayerSpec("max_pool", 0, {"size": point["pool_size"]})]
        encoder += [LayerSpec("flatten", 0)]
    else:
        encoder = [LayerSpec("flatten", 0)]
    encoder += [LayerSpec("dense", point["reader_units"], {"activation": "relu"})]
    if outputs == 10:  # counting: class probabilities
        encoder += [LayerSpec("dense", 10, {"activation": "softmax"})]
    elif point["digit_value"] == "expected":  # addition: the expected digit under class probabilities
        encoder += [LayerSpec("dense", 10, {"activation": "softmax"}), LayerSpec("expected_digit", 1)]
    else:  # addition: a digit value, linear
        encoder += [LayerSpec("dense", 1)]
    unit = point["unit"]
    cell, options = CORES[unit]
    if unit in ARITHMETIC_CORES:
        return [*encoder, LayerSpec(cell, outputs, options, recurrent=True)]
    return [
        *encoder,
        LayerSpec(cell, point["core_units"], options, recurrent=True),
        LayerSpec("dense", outputs),
    ]


def targets(labels, target):
    """Sequence targets from digit labels (..., length): counts (..., 10) or sums (..., 1)."""
    if target == "counting":
        return (labels[..., None] == np.arange(10)).sum(axis=-2).astype("float32")
    return labels.sum(axis=-1, keepdims=True).astype("float32")


def fixed_sequences(labels, offset, count, length, seed, target):
    """``count`` sequences of ``length`` images drawn from ``labels``: (indices + offset, targets)."""
    picks = np.random.default_rng(seed).integers(0, len(labels), size=(count, length))
    return (picks + offset).astype("float32"), targets(labels[picks], target)


def exact_recurrence(outputs):
    """The arithmetic core's hidden-to-hidden block that accumulates exactly, h_t = x_t A + h_{t-1}: the
    identity. (The input block A may be any permutation: the reader's class order is its own.)"""
    return np.eye(outputs, dtype="float32")


def build(point):
    """The Task of one grid point."""
    import tensorflow as tf  # here, not at the top: validating a config must not load TensorFlow

    from experiments.engine import draw_indices  # its module loads TensorFlow

    digits = mnist_data.load(point["mnist_path"])
    table = np.concatenate([digits.x_train, digits.x_validation, digits.x_test]).astype("float32")
    train_count, validation_count = len(digits.y_train), len(digits.y_validation)
    train_labels = tf.constant(digits.y_train, tf.int32)
    length, target, every_step = point["train_length"], point["target"], point["every_step_loss"]

    def sample(draw, batch_size):
        picks = draw_indices(draw, (batch_size, length), train_count)
        labels = tf.gather(train_labels, picks)
        if target == "counting":
            y = tf.one_hot(labels, 10)
        else:
            y = tf.cast(labels, tf.float32)[..., None]
        # (seeds or 1, batch, time, outputs): the target after every step; or after the last one
        # the inputs are the picks as table indices (floats, as every input)
        return tf.cast(picks, tf.float32), tf.cumsum(y, axis=2) if every_step else tf.reduce_sum(y, axis=2)

    offset = train_count + validation_count  # the test digits' first row in the table

    def test_set(sequence_length):
        return fixed_sequences(
            digits.y_test,
            offset,
            point["test_sequences"],
            sequence_length,
            point["test_seed"] + sequence_length,
            target,
        )

    sweep = [(n, test_set(n)) for n in point["test_lengths"]]
    parts = ReaderParts(
        reading="classes" if target == "counting" else "value",
        calibration=(np.arange(train_count), digits.y_train),
        items=(offset + np.arange(len(digits.y_test)), digits.y_test),
        sequences=[(n, digits.y_test[x.astype(int) - offset], y) for n, (x, y) in sweep],
    )
    validation = fixed_sequences(
        digits.y_validation,
        train_count,
        point["validation_sequences"],
        length,
        point["validation_seed"],
        target,
    )
    outputs = 10 if target == "counting" else 1
    return Task(
        input_size=table.shape[1:],
        layers=layers(point, outputs),
        sample=sample,
        validation=validation,
        test=test_set(point["test_lengths"][-1]),  # the extrapolation set: the longest length
        sweep=sweep,
        table=table,
        accuracy=True,
        every_step_loss=every_step,
        exact_recurrence=exact_recurrence(outputs) if point["unit"] in ARITHMETIC_CORES else None,
        labels={"dataset": digits.name},
        parts=parts,
    )
