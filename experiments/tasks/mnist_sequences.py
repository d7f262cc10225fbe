"""MNIST digit counting and digit addition over sequences: Table 2 of Trask et al. (2018).

A sequence of ``length`` digit images; the target is, for ``counting``, how many of each digit it holds
(10 outputs) and, for ``addition``, the sum of its digits (1 output). The model never sees a digit label:
it learns end to end from the sequence target.

Model: a small CNN reads each image (``conv_filters`` 3x3 ReLU convolutions, one max pool, a softmax
layer of 10), a recurrent core (grid axis ``unit``) reads the 10 outputs image by image, and a linear layer reads
the core's last state. Training sequences come from the training split, validation sequences (for model
selection, length ``train_length``) too; test sequences of every length in ``test_lengths`` come from the
test split. Accuracy: the rounded output equals the target (for counting, all ten counts).

Images live in one table (training split, then test split) and sequences are indices into it, so the
CNN runs once per image position of a training batch, and once per image of the table when a long test
sequence holds more positions than the table has images.
"""

from __future__ import annotations

import numpy as np

from experiments import schema

from experiments.tasks import mnist_data
from experiments.spec import LayerSpec, Task

CORES = {
    "lstm": ("lstm", {}),
    "gru": ("gru", {}),
    "rnn_tanh": ("dense", {"activation": "tanh"}),
    "rnn_relu": ("dense", {"activation": "relu"}),
    "nac": ("nac", {}),
    "nalu": ("nalu", {}),
}
TARGETS = ("counting", "addition")

AXES = {"unit": tuple(CORES)}

TASK_SCHEMA = {
    "target": schema.Choice(TARGETS),
    "mnist_path": schema.Optional(schema.Text()),
    "train_length": schema.Integer(minimum=1),
    "test_lengths": schema.IntegerList(minimum=1),
    "validation_sequences": schema.Integer(minimum=1),
    "test_sequences": schema.Integer(minimum=1),
    "validation_seed": schema.Integer(minimum=0),
    "test_seed": schema.Integer(minimum=0),
    "conv_filters": schema.IntegerList(minimum=1),
    "pool_size": schema.Integer(minimum=1),
    "core_units": schema.Integer(minimum=1),
    "epsilon": schema.Number(minimum=0, exclusive_minimum=True),
}


def layers(point, outputs):
    """CNN encoder, recurrent core, linear read-out."""
    from experiments import baselines  # here, not at the top: validating a config must not load Keras

    encoder = [LayerSpec("conv2d", filters, {"activation": "relu"}) for filters in point["conv_filters"]]
    encoder += [LayerSpec("max_pool", 0, {"size": point["pool_size"]}), LayerSpec("flatten", 0)]
    encoder += [LayerSpec("dense", 10, {"activation": "softmax"})]
    cell, options = CORES[point["unit"]]
    options = {**options, **baselines.options_for(cell, epsilon=point["epsilon"])}
    core = LayerSpec(cell, point["core_units"], options, recurrent=True)
    return [*encoder, core, LayerSpec("dense", outputs)]


def targets(labels, target):
    """Sequence targets from digit labels (..., length): counts (..., 10) or sums (..., 1)."""
    if target == "counting":
        return (labels[..., None] == np.arange(10)).sum(axis=-2).astype("float32")
    return labels.sum(axis=-1, keepdims=True).astype("float32")


def fixed_sequences(labels, offset, count, length, seed, target):
    """``count`` sequences of ``length`` images drawn from ``labels``: (indices + offset, targets)."""
    picks = np.random.default_rng(seed).integers(0, len(labels), size=(count, length))
    return (picks + offset).astype("float32"), targets(labels[picks], target)


def build(point):
    """The Task of one grid point."""
    import tensorflow as tf  # here, not at the top: validating a config must not load TensorFlow

    digits = mnist_data.load(point["mnist_path"])
    table = np.concatenate([digits.x_train, digits.x_test]).astype("float32")
    train_count = len(digits.y_train)
    train_labels = tf.constant(digits.y_train, tf.int32)
    length, target = point["train_length"], point["target"]

    def sample(draw, batch_size):
        picks = tf.minimum(tf.floor(draw((batch_size, length), 0.0, float(train_count))), train_count - 1)
        labels = tf.gather(train_labels, tf.cast(picks, tf.int32))
        if target == "counting":
            y = tf.reduce_sum(tf.one_hot(labels, 10), axis=-2)
        else:
            y = tf.cast(tf.reduce_sum(labels, axis=-1, keepdims=True), tf.float32)
        return picks, y

    def test_set(sequence_length):
        return fixed_sequences(
            digits.y_test, train_count, point["test_sequences"], sequence_length, point["test_seed"] + sequence_length, target
        )

    sweep = [(n, test_set(n)) for n in point["test_lengths"]]
    return Task(
        input_size=table.shape[1:],
        layers=layers(point, 10 if target == "counting" else 1),
        sample=sample,
        validation=fixed_sequences(digits.y_train, 0, point["validation_sequences"], length, point["validation_seed"], target),
        test=test_set(max(point["test_lengths"][0], min(100, point["test_lengths"][-1]))),
        sweep=sweep,
        table=table,
        accuracy=True,
        labels={"dataset": digits.name},
    )
