"""MNIST sequence tasks: the loader's sources and errors, the table-reading model, an oracle NAC core."""

import gzip
import struct

import numpy as np
import pytest

from experiments.tasks import mnist_data, mnist_sequences
from experiments.spec import LayerSpec, Task, Training
from experiments.trainer import MultiSeedTrainer, StackedModel

RNG = np.random.default_rng(0)
ARRAYS = {
    "x_train": RNG.integers(0, 256, size=(6, 28, 28), dtype=np.uint8),
    "y_train": np.array([0, 1, 2, 3, 4, 9], np.uint8),
    "x_test": RNG.integers(0, 256, size=(3, 28, 28), dtype=np.uint8),
    "y_test": np.array([5, 6, 7], np.uint8),
}


def idx_bytes(array):
    code = 0x08  # unsigned bytes
    return struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_idx_folder(folder, gzipped):
    folder.mkdir()
    for index, (key, stem) in enumerate(mnist_data.IDX_FILES.items()):
        data = idx_bytes(ARRAYS[key])
        zipped = gzipped if gzipped in (True, False) else index % 2 == 0  # "mixed": some of each
        (folder / (stem + (".gz" if zipped else ""))).write_bytes(gzip.compress(data) if zipped else data)
    return folder


def assert_matches_arrays(digits):
    assert digits.name == "MNIST"
    assert digits.x_train.shape == (6, 28, 28, 1) and digits.x_test.shape == (3, 28, 28, 1)
    expected = (ARRAYS["x_train"] / 255.0 - mnist_data.MNIST_MEAN) / mnist_data.MNIST_STD
    np.testing.assert_allclose(digits.x_train[..., 0], expected, rtol=1e-6)
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


def test_without_mnist_the_substitute_is_used_and_labelled(monkeypatch, capsys):
    monkeypatch.delenv(mnist_data.ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setattr(mnist_data, "keras_mnist", lambda: None)
    mnist_data.load.cache_clear()
    try:
        digits = mnist_data.load(None)
    finally:
        mnist_data.load.cache_clear()
    assert digits.name.startswith("OFFLINE SUBSTITUTE") and "MNIST" in digits.name and digits.name != "MNIST"
    assert digits.x_train.shape[1:] == (8, 8, 1) and len(digits.y_train) + len(digits.y_test) == 1797
    assert set(digits.y_test) == set(range(10))
    assert "OFFLINE SUBSTITUTE" in capsys.readouterr().err


def test_every_result_row_names_the_dataset(tmp_path, monkeypatch):
    np.savez(tmp_path / "mnist.npz", **ARRAYS)
    point = {
        "target": "addition", "mnist_path": str(tmp_path / "mnist.npz"), "train_length": 3, "test_lengths": [1, 4],
        "validation_sequences": 8, "test_sequences": 4, "validation_seed": 1, "test_seed": 2, "conv_filters": [2],
        "pool_size": 2, "core_units": 10, "epsilon": 1e-7, "unit": "nac",
    }
    task = mnist_sequences.build(point)
    assert task.labels == {"dataset": "MNIST"} and task.table.shape == (9, 28, 28, 1)
    x, y = task.sweep[1][1]
    assert x.min() >= 6 and x.max() < 9  # test sequences index the test split
    np.testing.assert_array_equal(y[:, 0], ARRAYS["y_test"][x.astype(int) - 6].sum(axis=1))


def oracle(target, length=1000, sequences=3):
    """A NAC core with ideal weights on one-hot digit codes (the encoder replaced by the truth)."""
    digits = np.random.default_rng(1).integers(0, 10, size=(sequences, length))
    y = mnist_sequences.targets(digits, target)
    outputs = y.shape[-1]
    pair = (digits.astype("float32"), y)
    layers = [LayerSpec("nac", 10, recurrent=True), LayerSpec("dense", outputs)]
    task = Task(input_size=(10,), layers=layers, sample=None, validation=pair, test=pair,
                sweep=[(length, pair)], table=np.eye(10, dtype="float32"), accuracy=True)
    trainer = MultiSeedTrainer(task, [0, 1], Training(steps=1, batch_size=1, learning_rate=1e-3, eval_every=1))
    core, readout = trainer.model.params
    identity_twice = np.vstack([np.eye(10), np.eye(10)])  # h_t = x_t + h_{t-1}, digit by digit
    core["w_hat"].assign(np.stack([40.0 * identity_twice] * 2).astype("float32"))
    core["m_hat"].assign(np.full((2, 20, 10), 40.0, "float32"))
    kernel = np.eye(10) if target == "counting" else np.arange(10.0)[:, None]
    readout["kernel"].assign(np.stack([kernel] * 2).astype("float32"))
    readout["bias"].assign(np.zeros((2, 1, outputs), "float32"))
    return trainer._errors(trainer.fixed_set([pair[0]], [pair[1]]), accuracy=True)


@pytest.mark.parametrize("target", ["counting", "addition"])
def test_oracle_encoder_with_an_ideal_nac_core_is_exact_on_length_1000(target):
    mse, mae, accuracy = (t.numpy() for t in oracle(target))
    np.testing.assert_array_equal(mse, 0.0)
    np.testing.assert_array_equal(accuracy, 1.0)


def test_encoding_the_table_once_equals_encoding_each_position():
    table = np.random.default_rng(2).normal(size=(20, 6, 6, 1)).astype("float32")
    layers = mnist_sequences.layers(
        {"conv_filters": [3], "pool_size": 2, "unit": "lstm", "core_units": 4, "epsilon": 1e-7}, outputs=2
    )
    model = StackedModel(layers, table.shape[1:], seeds=[0, 1], table=table)
    x = np.random.default_rng(3).integers(0, 20, size=(1, 4, 10)).astype("float32")  # 40 positions > 20 items
    whole = model(x).numpy()
    one_by_one = np.concatenate([model(x[:, i : i + 1]).numpy() for i in range(4)], axis=1)  # 10 < 20 each
    np.testing.assert_allclose(whole, one_by_one, rtol=1e-5, atol=1e-6)


def test_smoke_run_names_the_dataset_in_rows_table_figure_and_provenance(tmp_path, monkeypatch):
    import json
    import pathlib

    import pandas as pd

    from experiments import cli

    np.savez(tmp_path / "mnist.npz", **ARRAYS)
    monkeypatch.setenv(mnist_data.ENVIRONMENT_VARIABLE, str(tmp_path / "mnist.npz"))
    mnist_data.load.cache_clear()
    config = pathlib.Path(__file__).resolve().parent.parent / "configs" / "mnist_addition.yaml"
    try:
        args = ["run", str(config), "--profile", "smoke", "--results", str(tmp_path / "out"), "--set", "task.conv_filters=[2]"]
        assert cli.main(args) == 0
    finally:
        mnist_data.load.cache_clear()
    out = tmp_path / "out" / "mnist_addition"
    assert set(pd.read_csv(out / "runs.csv")["dataset"]) == {"MNIST"}
    assert json.loads((out / "provenance.json").read_text())["datasets"] == ["MNIST"]
    table = (out / "table.md").read_text()
    assert table.startswith("# Table 2: MNIST digit addition — data: MNIST")
    assert "| unit | sequence length 1 | sequence length 10 | sequence length 100 |" in table
    assert (out / "figure.png").stat().st_size > 0
