"""MNIST parity (Table 4): the composed images, their labels, the splits they draw from, an ideal read-out,
and the strided convolution the network's first layer uses."""

import numpy as np
import pytest

from experiments.engine import MultiSeedTrainer, Task, Training, baselines
from experiments.schema import ConfigError
from experiments.tasks import mnist_data, mnist_parity

CANVAS, DOWNSAMPLE, TRAIN_MAX, TEST_MAX = 56, 2, 5, 10
POINT = {
    "mnist_path": None,
    "canvas": CANVAS,
    "downsample": DOWNSAMPLE,
    "train_max_digits": TRAIN_MAX,
    "test_max_digits": TEST_MAX,
    "train_images": 40,
    "validation_images": 3,
    "test_images": 4,
    "train_seed": 3,
    "validation_seed": 1,
    "test_seed": 2,
    "conv_filters": [8, 16],
    "patch_size": 4,
    "kernel_size": 3,
    "pool_size": 2,
    "hidden_units": 32,
}


@pytest.fixture(scope="module")
def data():
    return mnist_parity.data_of(POINT)


@pytest.fixture(scope="module")
def digits():
    return mnist_data.load(None)


def boxes(canvases, crops, image):
    """(top, left, bottom, right) of every digit's ink box on one image."""
    return [
        (top, left, top + crops[index].shape[0], left + crops[index].shape[1])
        for index, (top, left) in zip(canvases.digits[image], canvases.corners[image])
    ]


def redraw(canvases, crops, image):
    """One image drawn again from ``crops`` at its recorded places, as uint8 pixels."""
    drawn = np.zeros((CANVAS, CANVAS), np.float32)
    for index, (top, left, bottom, right) in zip(canvases.digits[image], boxes(canvases, crops, image)):
        drawn[top:bottom, left:right] += crops[index]
    return np.round(drawn * 255.0).astype(np.uint8)


def test_digits_do_not_overlap_and_stay_on_the_canvas(data, digits):
    crops = mnist_parity.split_crops(digits.x_test, DOWNSAMPLE)
    crowded = data.sweep[TEST_MAX]
    for image in range(len(crowded.counts)):
        placed = boxes(crowded, crops, image)
        assert len(placed) == TEST_MAX
        ink = np.zeros((CANVAS, CANVAS), int)
        for top, left, bottom, right in placed:
            assert 0 <= top and 0 <= left and bottom <= CANVAS and right <= CANVAS
            ink[top:bottom, left:right] += 1
        assert ink.max() == 1  # no pixel inside two digits' ink boxes
        # and the image is exactly the digits pasted, so nothing else was drawn on it
        np.testing.assert_array_equal(redraw(crowded, crops, image), crowded.images[image])


def test_the_label_is_the_number_of_even_digits_placed(data, digits):
    labels = {"train": digits.y_train, "validation": digits.y_validation, "test": digits.y_test}
    sets = [("train", data.train), ("validation", data.validation)] + [
        ("test", s) for s in data.sweep.values()
    ]
    for split, canvases in sets:
        for image, chosen in enumerate(canvases.digits):
            assert len(set(chosen.tolist())) == len(chosen)  # each digit at most once per image
            evens = sum(1 for label in labels[split][chosen] if label in (0, 2, 4, 6, 8))
            assert canvases.counts[image] == evens
    for count, canvases in data.sweep.items():  # the sweep is keyed by digits on the image
        assert all(len(chosen) == count for chosen in canvases.digits)
    assert max(len(chosen) for chosen in data.train.digits) <= TRAIN_MAX
    assert max(len(chosen) for chosen in data.validation.digits) <= TRAIN_MAX


def test_each_split_draws_only_its_own_digits(data, digits):
    crops = {
        split: mnist_parity.split_crops(images, DOWNSAMPLE)
        for split, images in (
            ("train", digits.x_train),
            ("validation", digits.x_validation),
            ("test", digits.x_test),
        )
    }
    sets = [("train", data.train), ("validation", data.validation)] + [
        ("test", s) for s in data.sweep.values()
    ]
    for split, canvases in sets:
        for image in range(len(canvases.counts)):
            np.testing.assert_array_equal(redraw(canvases, crops[split], image), canvases.images[image])
    # the check tells the splits apart: a test image is not the training digits of the same indices
    crowded = data.sweep[TEST_MAX]
    assert not np.array_equal(redraw(crowded, crops["train"], 0), crowded.images[0])


def test_the_task_sets_are_the_composed_images_and_beyond_training_is_the_extrapolation_set(data):
    task = mnist_parity.build({**POINT, "unit": "nac"})
    assert [count for count, _ in task.sweep] == list(range(TEST_MAX + 1))
    beyond = np.concatenate([data.sweep[n].counts for n in range(TRAIN_MAX + 1, TEST_MAX + 1)])
    np.testing.assert_array_equal(task.test[1][:, 0], beyond)
    np.testing.assert_array_equal(task.validation[1][:, 0], data.validation.counts)
    assert task.validation[0].shape == (len(data.validation.counts), CANVAS, CANVAS, 1)


@pytest.mark.parametrize("unit", list(mnist_parity.FINAL_LAYERS))
def test_an_ideal_final_layer_counts_even_digit_flags_exactly(unit, data, digits):
    """Hidden features that flag each placed digit (slot i: features i if even, 16 + i if odd) and weights
    of 1 on the even flags, 0 elsewhere, give every count exactly, 0 to 10 digits."""
    slots = POINT["hidden_units"] // 2
    rows, counts = [], []
    for canvases in data.sweep.values():
        for chosen, count in zip(canvases.digits, canvases.counts):
            flags = np.zeros(2 * slots, np.float32)
            for slot, label in enumerate(digits.y_test[chosen]):
                flags[slot if label % 2 == 0 else slots + slot] = 1.0
            rows.append(flags)
            counts.append(count)
    pair = (np.array(rows), np.array(counts, np.float32)[:, None])
    final = mnist_parity.layers({**POINT, "unit": unit})[-1]
    assert final.width == 1
    task = Task(
        input_size=(2 * slots,), layers=[final], sample=None, validation=pair, test=pair, accuracy=True
    )
    trainer = MultiSeedTrainer(task, [0], Training(steps=1, batch_size=1, learning_rate=1e-3, eval_every=1))
    params = trainer.model.params[0]
    ideal = np.concatenate([np.ones(slots), np.zeros(slots)]).astype(np.float32)[None, :, None]
    if unit == "nac":  # W = tanh(w_hat) sigmoid(m_hat): 1 at +40, 4e-18 at m_hat = -40 (float32)
        params["w_hat"].assign(np.full_like(ideal, 40.0))
        params["m_hat"].assign(np.where(ideal > 0, 40.0, -40.0).astype(np.float32))
    else:
        params["kernel"].assign(ideal)
        if unit == "affine":
            params["bias"].assign(np.zeros_like(params["bias"].numpy()))
    errors = trainer.learner.errors(
        trainer.model, trainer.learner.fixed_set([pair[0]], [pair[1]]), accuracy=True
    )
    assert pair[1].max() > TRAIN_MAX  # counts never seen in training are in the set
    # the NAC's 0 is 4e-18: an image of odd digits only reads about 1e-17, whose square is ~1e-35
    np.testing.assert_allclose(errors.mse.numpy(), 0.0, atol=1e-30 if unit == "nac" else 0.0)
    np.testing.assert_array_equal(errors.accuracy.numpy(), 1.0)


def numpy_conv(x, kernel, bias, stride):
    """(seeds or 1, images, height, width, channels) with (seeds, 3, 3, channels, filters), window by window."""
    x = np.broadcast_to(x, (kernel.shape[0], *x.shape[1:]))
    out_h, out_w = (x.shape[2] - 3) // stride + 1, (x.shape[3] - 3) // stride + 1
    expected = np.zeros((kernel.shape[0], x.shape[1], out_h, out_w, kernel.shape[-1]), np.float32)
    for i in range(out_h):
        for j in range(out_w):
            window = x[:, :, stride * i : stride * i + 3, stride * j : stride * j + 3, :]
            expected[:, :, i, j] = np.einsum("sbuvc,suvcf->sbf", window, kernel) + bias
    return expected


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_a_strided_convolution_matches_numpy(stride):
    rng = np.random.default_rng(stride)
    x = rng.normal(size=(2, 3, 11, 10, 2)).astype(np.float32)  # (seeds, images, height, width, channels)
    kernel = rng.normal(size=(2, 3, 3, 2, 4)).astype(np.float32)
    bias = rng.normal(size=(2, 1, 4)).astype(np.float32)
    expected = numpy_conv(x, kernel, bias, stride)
    got = np.asarray(baselines.conv2d(x, kernel, bias, stride=stride))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    # images shared by every seed (a leading 1), under one more leading axis
    shared = np.asarray(baselines.conv2d(x[:1, None], kernel, bias, stride=stride))
    np.testing.assert_allclose(shared[:, 0], numpy_conv(x[:1], kernel, bias, stride), rtol=1e-5, atol=1e-5)
    # one kernel for every image
    single = np.asarray(baselines.conv2d(x, kernel[1], bias[1, 0], stride=stride))
    np.testing.assert_allclose(single[1], expected[1], rtol=1e-5, atol=1e-5)
    shape = baselines.BASELINE_UNITS["conv2d"].output_shape((11, 10, 2), 4, kernel_size=3, stride=stride)
    assert shape == expected.shape[2:]


def test_a_canvas_too_small_for_its_digits_is_an_error_naming_the_setting():
    with pytest.raises(ConfigError, match="task.canvas: 15 is too small"):
        mnist_parity.place([(10, 10)] * 5, 15, np.random.default_rng(0))
