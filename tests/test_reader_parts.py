"""The reader and the core of a table-reading model measured apart (experiments/engine/parts.py)."""

import numpy as np

from experiments.engine import LayerSpec, ReaderParts, StackedModel
from experiments.engine import parts
from experiments.tasks import mnist_sequences

ITEMS = 400
SMUDGED = 10  # items of label 5 that seed 1's reader reads as 3


def labelled_items():
    """Items of 11 features: the label's one-hot code and a smudge flag; and their labels."""
    labels = np.arange(ITEMS) % 10
    items = np.zeros((ITEMS, 11), "float32")
    items[np.arange(ITEMS), labels] = 1.0
    items[np.flatnonzero(labels == 5)[:SMUDGED], 10] = 1.0
    return items, labels


def counting_model(items):
    """A linear reader (a permutation of the classes) and a NAC counter, two seeds: seed 0 reads every item
    right and its counter leaks (recurrent weight 0.999), seed 1 reads smudged 5s as 3s and counts exactly."""
    layers = [LayerSpec("dense", 10, {"use_bias": False}), LayerSpec("nac", 10, recurrent=True)]
    model = StackedModel(layers, items.shape[1:], seeds=[0, 1], table=items)
    order = np.roll(np.arange(10), 3)  # the reader's class order is its own: label l fires class order[l]
    reader = np.zeros((2, 11, 10), "float32")
    reader[:, np.arange(10), order] = 1.0
    reader[1, 10, order[5]], reader[1, 10, order[3]] = -2.0, 2.0
    model.params[0]["kernel"].assign(reader)
    core = np.zeros((2, 20, 10), "float32")  # rows: the reader's classes, then the state
    core[:, order, np.arange(10)] = 40.0  # class order[l] adds 1 to count l (tanh(40) = 1 in float32)
    core[:, 10 + np.arange(10), np.arange(10)] = 40.0
    core[0, 10 + np.arange(10), np.arange(10)] = np.arctanh(0.999)
    model.params[1]["w_hat"].assign(core)
    model.params[1]["m_hat"].assign(np.full((2, 20, 10), 40.0, "float32"))
    return model


def test_the_reader_is_scored_on_single_items_and_the_core_on_ideal_codes():
    items, labels = labelled_items()
    model = counting_model(items)
    digits = np.random.default_rng(0).integers(0, 10, size=(4, 1000))
    split = ReaderParts(
        reading="classes",
        calibration=(np.arange(ITEMS), labels),
        items=(np.arange(ITEMS), labels),
        sequences=[(1000, digits, mnist_sequences.targets(digits, "counting"))],
    )
    metrics, extra = parts.measure(model, split, model.params)
    np.testing.assert_allclose(metrics["reader_accuracy"], [1.0, 1 - SMUDGED / ITEMS])
    core = extra[1000]
    assert core["core_accuracy"][1] == 1.0 and core["core_mae"][1] == 0.0  # exact, whatever it reads
    assert core["core_accuracy"][0] < 0.5 and core["core_mae"][0] > 10  # 0.999^1000: a third is lost


def test_classes_are_named_by_the_label_they_fire_for_most_on_the_calibration_items():
    labels = np.repeat(np.arange(10), 10)
    order = np.arange(10)[::-1]
    codes = np.eye(10)[order[labels]][None]  # one member; label l fires class 9 - l
    codes[0, 0] = np.eye(10)[5]  # one 0 read as 4's class: outvoted
    naming, ideal = parts.calibrate("classes", codes, labels)
    np.testing.assert_array_equal(naming[0], order)  # class c reads as label 9 - c
    np.testing.assert_array_equal(ideal[0], np.eye(10)[order])
    read = parts.read("classes", naming, codes)
    assert (read[0] == labels).mean() == 0.99


def test_a_value_reader_is_read_on_its_own_scale():
    labels = np.tile(np.arange(10), 5)
    codes = (2.5 * labels + np.where(labels == 7, 0.6, 0.0))[None, :, None]  # 7s read 2.5 * 7.24
    slope, ideal = parts.calibrate("value", codes, labels)
    np.testing.assert_allclose(slope, [2.5 + 0.6 * 7 * 5 / (labels**2).sum()])
    np.testing.assert_allclose(ideal[0, :, 0], slope[0] * np.arange(10))
    read = parts.read("value", slope, codes)
    np.testing.assert_array_equal(read[0], labels)  # 7.24 rounds to 7 at this scale


def test_the_mnist_task_hands_its_test_sequences_labels_to_the_core(tmp_path):
    from tests.test_mnist import sequence_point

    point = sequence_point(tmp_path, target="addition", train_length=3, unit="nau")
    task = mnist_sequences.build(point)
    assert task.parts.reading == "value"
    label_of = dict(zip(*task.parts.items))  # a test digit's table row -> its label
    for (length, (x, y)), (value, labels, targets) in zip(task.sweep, task.parts.sequences):
        assert value == length and labels.shape == x.shape
        np.testing.assert_array_equal(labels, np.vectorize(label_of.get)(x.astype(int)))
        np.testing.assert_array_equal(targets, y)


def test_a_finding_names_the_part_that_limits_a_reader_and_core_model():
    import pandas as pd

    from experiments.report.limits import limiting_part

    runs = pd.DataFrame(
        {
            "reader_accuracy": [0.8, 0.85, 0.9],
            "mae_at_10": [1.0, 1.0, 1.0],
            "core_mae_at_10": [0.9, 0.9, 0.9],
            "mae_at_100": [10.0, 12.0, 14.0],
            "core_mae_at_100": [1.0, 2.0, 3.0],
        }
    )
    assert limiting_part(runs) == (
        "limited by the reader: single digits read right 85.0%; at length 100 MAE 12 for the whole model, "
        "2 for the core alone fed ideal codes (medians over seeds)"
    )
    runs["core_mae_at_100"] = [9.0, 11.0, 13.0]  # fed ideal codes, the core errs about as much
    assert limiting_part(runs).startswith("limited by the core:")
    assert limiting_part(runs.drop(columns="reader_accuracy")) is None
