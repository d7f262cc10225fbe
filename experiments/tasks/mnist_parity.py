"""MNIST parity: Section 4.6 and Table 4 of Trask et al. (2018), on the task of Seguí et al. (2015).

An image holds a few MNIST digits at random places, kept apart; the target is how many of them are even.
The model never sees a digit label: a convolutional network reads the whole image, then a dense ReLU layer
of ``hidden_units``, then the final layer (grid axis ``unit``): ``affine`` (a dense layer of 1 with bias),
``nac`` (a NAC of 1) or, beyond the paper, ``nau`` (an NAU of 1), trained by MSE on the count. An exact
read-out exists for each: with hidden features that flag each even digit, weights of 1 sum them.

Images (Seguí et al.: 100x100, digits 28x28, minimum centre distance 14 px): digits shrunk by ``downsample``
(2x2 means: 14x14) on a ``canvas`` x ``canvas`` image, each placed by rejection sampling so that the
bounding boxes of the digits' ink are disjoint (no pixel has ink of two digits). Training images hold 0 to
``train_max_digits`` digits (uniform) of the training digits, a fixed pool of ``train_images``; model
selection uses ``validation_images`` images per digit count 0..``train_max_digits`` of the validation
digits; the sweep holds ``test_images`` images per digit count 0..``test_max_digits`` of the test digits,
and the images with more digits than any training image form the extrapolation set. Accuracy: the rounded
output equals the count.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from experiments import schema
from experiments.engine import LayerSpec, Task
from experiments.schema import ConfigError
from experiments.tasks import mnist_data

FINAL_LAYERS = {"affine": "dense", "nac": "nac", "nau": "nau"}
AXES = {"unit": tuple(FINAL_LAYERS)}
PLACEMENT_TRIES = 200  # positions tried for one digit before the image is laid out again
LAYOUT_TRIES = 100  # layouts tried for one image before the canvas is declared too small

TASK_SCHEMA = {
    "mnist_path": schema.Optional(schema.Text()),
    "canvas": schema.Integer(minimum=8),
    "downsample": schema.Integer(minimum=1),
    "train_max_digits": schema.Integer(minimum=0),
    "test_max_digits": schema.Integer(minimum=0),
    "train_images": schema.Integer(minimum=1),
    "validation_images": schema.Integer(minimum=1),
    "test_images": schema.Integer(minimum=1),
    "train_seed": schema.Integer(minimum=0),
    "validation_seed": schema.Integer(minimum=0),
    "test_seed": schema.Integer(minimum=0),
    "conv_filters": schema.IntegerList(minimum=1),
    "patch_size": schema.Integer(minimum=1),
    "kernel_size": schema.Integer(minimum=1),
    "pool_size": schema.Integer(minimum=1),
    "hidden_units": schema.Integer(minimum=1),
}


@dataclasses.dataclass(frozen=True)
class Canvases:
    """Composed images and what is on them.

    ``images`` (count, canvas, canvas) uint8 pixels; ``counts`` (count,) float32 targets (even digits);
    per image, ``digits``: indices of the digits placed (into the split they were drawn from) and
    ``corners``: the top-left pixel of each digit's ink box, (digits, 2)."""

    images: np.ndarray
    counts: np.ndarray
    digits: list
    corners: list


@dataclasses.dataclass(frozen=True)
class ParityData:
    """Every fixed image set of one configuration: the training pool (training digits), validation
    (validation digits) and the sweep, digit count -> Canvases (test digits); ``dataset``: the MNIST used."""

    train: Canvases
    validation: Canvases
    sweep: dict
    dataset: str


def shrink(images, factor):
    """Normalised digits (count, 28, 28, 1) as pixels in [0, 1], each ``factor`` x ``factor`` block
    averaged: (count, 28 // factor, 28 // factor)."""
    pixels = np.clip(images[..., 0] * mnist_data.MNIST_STD + mnist_data.MNIST_MEAN, 0.0, 1.0)
    count, height, width = pixels.shape
    size = (height // factor, width // factor)
    blocks = pixels[:, : size[0] * factor, : size[1] * factor].reshape(
        count, size[0], factor, size[1], factor
    )
    return blocks.mean(axis=(2, 4))


def ink_crop(patch):
    """The smallest box of ``patch`` holding all of its ink (pixels above 0)."""
    rows, columns = np.flatnonzero(patch.max(axis=1) > 0), np.flatnonzero(patch.max(axis=0) > 0)
    return patch[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]


def even_count(labels):
    """The target of an image: how many of its digit labels are even."""
    return int(np.sum(np.asarray(labels) % 2 == 0))


def place(shapes, canvas, rng):
    """Top-left corners (len(shapes), 2) for boxes of ``shapes`` (height, width) inside a ``canvas``
    square, no two sharing a pixel: each box at a uniform random position, redrawn while it meets an
    earlier one; after PLACEMENT_TRIES failures for one box, every box is placed afresh (at most
    LAYOUT_TRIES times: then the canvas is too small for them, a ConfigError)."""
    for _ in range(LAYOUT_TRIES):
        corners = []
        for height, width in shapes:
            for _ in range(PLACEMENT_TRIES):
                top, left = rng.integers(0, canvas - height + 1), rng.integers(0, canvas - width + 1)
                if all(
                    top + height <= other_top
                    or other_top + other_height <= top
                    or left + width <= other_left
                    or other_left + other_width <= left
                    for (other_top, other_left), (other_height, other_width) in zip(corners, shapes)
                ):
                    corners.append((top, left))
                    break
            else:
                break
        if len(corners) == len(shapes):
            return np.array(corners, dtype=np.int64).reshape(-1, 2)
    raise ConfigError(
        "mnist_parity",
        "task.canvas",
        f"{canvas} is too small to place {len(shapes)} digits apart; enlarge it",
    )


def compose(crops, labels, digit_counts, canvas, seed):
    """Canvases with ``digit_counts[i]`` digits on image i, drawn without replacement from ``crops``
    (ink boxes in [0, 1]) with their ``labels``, placed by :func:`place`; all from ``seed``."""
    rng = np.random.default_rng(seed)
    images = np.zeros((len(digit_counts), canvas, canvas), np.float32)
    counts, digits, corners = [], [], []
    for image, count in zip(images, digit_counts):
        chosen = rng.choice(len(crops), size=int(count), replace=False)
        where = place([crops[i].shape for i in chosen], canvas, rng)
        for index, (top, left) in zip(chosen, where):
            height, width = crops[index].shape
            image[top : top + height, left : left + width] = crops[index]
        counts.append(even_count(labels[chosen]))
        digits.append(chosen)
        corners.append(where)
    pixels = np.round(images * 255.0).astype(np.uint8)
    return Canvases(pixels, np.array(counts, np.float32), digits, corners)


def normalise(pixels):
    """uint8 canvases (..., canvas, canvas) as the network reads them: (..., canvas, canvas, 1), with
    MNIST's mean and standard deviation (NumPy or TensorFlow)."""
    scaled = pixels / np.float32(255.0) if isinstance(pixels, np.ndarray) else pixels / 255.0
    return ((scaled - mnist_data.MNIST_MEAN) / mnist_data.MNIST_STD)[..., None]


def split_crops(images, factor):
    """Each digit of a split shrunk by ``factor`` and cut to its ink box."""
    return [ink_crop(patch) for patch in shrink(images, factor)]


@functools.lru_cache(maxsize=2)
def parity_data(mnist_path, canvas, downsample, train_max, test_max, sizes, seeds):
    """The fixed image sets (cached: every final layer of a run reads the same images). ``sizes``:
    (training pool, validation images per count, test images per count); ``seeds``: (training,
    validation, test)."""
    digits = mnist_data.load(mnist_path)
    train_count, validation_per_count, test_per_count = sizes
    train_seed, validation_seed, test_seed = seeds
    pool_counts = np.random.default_rng(train_seed).integers(0, train_max + 1, size=train_count)
    train = compose(
        split_crops(digits.x_train, downsample), digits.y_train, pool_counts, canvas, train_seed + 1
    )
    validation_counts = np.repeat(np.arange(train_max + 1), validation_per_count)
    validation = compose(
        split_crops(digits.x_validation, downsample),
        digits.y_validation,
        validation_counts,
        canvas,
        validation_seed,
    )
    test_crops = split_crops(digits.x_test, downsample)
    sweep = {
        count: compose(test_crops, digits.y_test, [count] * test_per_count, canvas, test_seed + count)
        for count in range(test_max + 1)
    }
    return ParityData(train, validation, sweep, digits.name)


def data_of(point):
    """The :class:`ParityData` of a grid point's settings."""
    return parity_data(
        point["mnist_path"],
        point["canvas"],
        point["downsample"],
        point["train_max_digits"],
        point["test_max_digits"],
        (point["train_images"], point["validation_images"], point["test_images"]),
        (point["train_seed"], point["validation_seed"], point["test_seed"]),
    )


def layers(point):
    """ReLU convolutions: the first over non-overlapping ``patch_size`` squares (kernel and stride), the
    others ``kernel_size`` squares at stride 1; one max pool; a dense ReLU layer; the final layer."""
    first, *others = point["conv_filters"]
    patch = point["patch_size"]
    encoder = [LayerSpec("conv2d", first, {"activation": "relu", "kernel_size": patch, "stride": patch})]
    encoder += [
        LayerSpec("conv2d", filters, {"activation": "relu", "kernel_size": point["kernel_size"]})
        for filters in others
    ]
    encoder += [
        LayerSpec("max_pool", 0, {"size": point["pool_size"]}),
        LayerSpec("flatten", 0),
        LayerSpec("dense", point["hidden_units"], {"activation": "relu"}),
    ]
    return [*encoder, LayerSpec(FINAL_LAYERS[point["unit"]], 1)]


def pair(canvases):
    """A fixed (x, y) set: normalised images (count, canvas, canvas, 1) and counts (count, 1)."""
    return normalise(canvases.images), canvases.counts[:, None]


def build(point):
    """The Task of one grid point."""
    import tensorflow as tf  # here, not at the top: validating a config must not load TensorFlow

    from experiments.engine import draw_indices  # its module loads TensorFlow

    data = data_of(point)
    pool = tf.constant(data.train.images)
    pool_counts = tf.constant(data.train.counts[:, None])
    size = len(data.train.counts)

    def sample(draw, batch_size):
        picks = draw_indices(draw, (batch_size,), size)
        return normalise(tf.cast(tf.gather(pool, picks), tf.float32)), tf.gather(pool_counts, picks)

    sweep = {count: pair(canvases) for count, canvases in data.sweep.items()}
    beyond = [sweep[n] for n in sweep if n > point["train_max_digits"]] or [sweep[max(sweep)]]
    extrapolation = tuple(np.concatenate(parts) for parts in zip(*beyond))
    return Task(
        input_size=(point["canvas"], point["canvas"], 1),
        layers=layers(point),
        sample=sample,
        validation=pair(data.validation),
        test=extrapolation,
        sweep=list(sweep.items()),
        accuracy=True,
        labels={"dataset": data.dataset},
    )
