"""MNIST for the digit-sequence tasks, from wherever this machine can get it, never silently.

Order: (1) a path given in the config (``task.mnist_path``) or in the environment variable
``NALU_MNIST_PATH``: either a ``mnist.npz`` (Keras' layout: x_train, y_train, x_test, y_test) or a
folder with the four IDX files (gzipped or not); (2) ``keras.datasets.mnist`` (its cache, or a
download); (3) when neither works, a clearly labelled offline substitute: the 8x8 handwritten digits
bundled inside scikit-learn (1,797 real images, UCI), split into train and test with a fixed seed.

The dataset used is printed once per process, and its name goes into every result row, table and figure.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import os
import pathlib
import socket
import sys

import numpy as np

from experiments.schema import ConfigError

ENVIRONMENT_VARIABLE = "NALU_MNIST_PATH"
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # of MNIST's training pixels in [0, 1]
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
SUBSTITUTE_NAME = "OFFLINE SUBSTITUTE for MNIST: scikit-learn 8x8 digits"
SUBSTITUTE_TEST_FRACTION = 0.25
SUBSTITUTE_SPLIT_SEED = 0
DOWNLOAD_TIMEOUT_S = 20


class DataError(ConfigError):
    """A dataset file that cannot be used: one line naming the file, the setting that named it and what
    is wrong (``error: FILE: KEY: message``, exit 2, like every configuration mistake)."""

    def __init__(self, source, message, key="task.mnist_path"):
        super().__init__(source, key, message)


@dataclasses.dataclass(frozen=True)
class Digits:
    """Images (N, H, W, 1) float32, normalised; labels (N,) int in 0..9; where they came from."""

    name: str
    source: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _check_split(source, images, labels, split):
    if images.ndim != 3 or min(images.shape) < 1:
        raise DataError(source, f"{split} images have shape {images.shape}; expected (count, height, width)")
    if labels.shape != (images.shape[0],):
        raise DataError(source, f"{split} labels have shape {labels.shape}; expected ({images.shape[0]},)")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(source, f"{split} labels span {labels.min()}..{labels.max()}; expected digits 0..9")


def _normalise_mnist(images):
    return ((images.astype("float32") / 255.0 - MNIST_MEAN) / MNIST_STD)[..., None]


def _from_arrays(name, source, arrays):
    for split in ("train", "test"):
        _check_split(source, np.asarray(arrays[f"x_{split}"]), np.asarray(arrays[f"y_{split}"]), split)
    return Digits(
        name=name,
        source=source,
        x_train=_normalise_mnist(np.asarray(arrays["x_train"])),
        y_train=np.asarray(arrays["y_train"]).astype("int64"),
        x_test=_normalise_mnist(np.asarray(arrays["x_test"])),
        y_test=np.asarray(arrays["y_test"]).astype("int64"),
    )


def read_npz(path):
    """MNIST from a Keras-layout ``mnist.npz``."""
    path = pathlib.Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in IDX_FILES if key not in data.files]
            if missing:
                raise DataError(str(path), f"lacks the arrays {', '.join(missing)}; expected x_train, y_train, x_test, y_test")
            arrays = {key: data[key] for key in IDX_FILES}
    except DataError:
        raise
    except Exception as error:  # a truncated or non-npz file: say so in one line
        raise DataError(str(path), f"not a readable .npz file ({type(error).__name__}: {error})") from None
    return _from_arrays("MNIST", str(path), arrays)


def read_idx(path):
    """One IDX array (images: magic 2051, 3 dims; labels: magic 2049, 1 dim), gzipped or not."""
    path = pathlib.Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise DataError(str(path), f"a broken gzip file ({error})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(str(path), "not an IDX file of unsigned bytes (bad magic number)")
    dims = raw[3]
    header = 4 + 4 * dims
    if dims < 1 or len(raw) < header:
        raise DataError(str(path), f"truncated IDX header ({len(raw)} bytes)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    if len(raw) - header != int(np.prod(shape)):
        raise DataError(str(path), f"holds {len(raw) - header} bytes of data; its header promises {int(np.prod(shape))} for shape {shape}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_idx_folder(folder):
    """MNIST from a folder holding the four IDX files, each gzipped (``.gz``) or not."""
    folder = pathlib.Path(folder)
    arrays = {}
    for key, stem in IDX_FILES.items():
        candidates = [folder / stem, folder / f"{stem}.gz"]
        found = next((path for path in candidates if path.is_file()), None)
        if found is None:
            raise DataError(str(folder), f"has no {stem} or {stem}.gz; expected the four MNIST IDX files")
        arrays[key] = read_idx(found)
    return _from_arrays("MNIST", str(folder), arrays)


def read_path(path):
    """MNIST from a ``.npz`` file or an IDX folder."""
    path = pathlib.Path(path)
    if path.is_dir():
        return read_idx_folder(path)
    if path.is_file():
        return read_npz(path)
    raise DataError(str(path), "no such file or folder")


def keras_mnist():
    """MNIST through ``keras.datasets`` (cache or download), or None when it cannot be had."""
    import keras

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as error:  # no cache and no network: fall back, and say why
        print(f"MNIST: keras.datasets could not provide it ({type(error).__name__}); using the offline substitute",
              file=sys.stderr)
        return None
    finally:
        socket.setdefaulttimeout(previous)
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    return _from_arrays("MNIST", "keras.datasets.mnist", arrays)


def substitute():
    """scikit-learn's 8x8 digits, split 75/25 with a fixed seed, standardised with the train pixels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = digits.images.astype("float32") / 16.0, digits.target.astype("int64")
    order = np.random.default_rng(SUBSTITUTE_SPLIT_SEED).permutation(len(labels))
    cut = int(round(len(labels) * (1 - SUBSTITUTE_TEST_FRACTION)))
    train, test = order[:cut], order[cut:]
    mean, std = images[train].mean(), images[train].std()
    return Digits(
        name=SUBSTITUTE_NAME,
        source="sklearn.datasets.load_digits",
        x_train=((images[train] - mean) / std)[..., None],
        y_train=labels[train],
        x_test=((images[test] - mean) / std)[..., None],
        y_test=labels[test],
    )


@functools.lru_cache(maxsize=4)
def load(path=None):
    """The digits to use, in the documented order; prints which one once per process.

    ``path`` (from the config) wins over ``NALU_MNIST_PATH``; a given path that cannot be read is an
    error, never a silent fall-back.
    """
    if path:
        digits = read_path(path)
    elif os.environ.get(ENVIRONMENT_VARIABLE):
        try:
            digits = read_path(os.environ[ENVIRONMENT_VARIABLE])
        except DataError as error:
            raise DataError(error.source, error.message, key=ENVIRONMENT_VARIABLE) from None
    else:
        digits = keras_mnist() or substitute()
    print(
        f"dataset: {digits.name} from {digits.source}: {len(digits.y_train)} train and {len(digits.y_test)} test "
        f"images of {digits.x_train.shape[1]}x{digits.x_train.shape[2]}",
        file=sys.stderr,
    )
    return digits
