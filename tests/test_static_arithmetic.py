"""The static arithmetic task: data formula, fixed slices, success threshold."""

import numpy as np
import pytest
import tensorflow as tf

from experiments import static_arithmetic
from test_runner import POINT


def test_slices_match_the_documented_layout():
    mask_a, mask_b = static_arithmetic.slice_masks(100, 0.25, 0.5)
    assert np.flatnonzero(mask_a).tolist() == list(range(0, 25))
    assert np.flatnonzero(mask_b).tolist() == list(range(13, 38))


@pytest.mark.parametrize("op", list(static_arithmetic.OPERATIONS))
def test_training_batches_follow_the_formula_with_fixed_slices(op):
    point = {**POINT, "op": op}
    task = static_arithmetic.build(point)
    draws = iter([np.random.default_rng(k).uniform(1, 2, size=(3, 8, 100)).astype("float32") for k in range(2)])
    for _ in range(2):  # two batches: the slices must not be redrawn
        def draw(shape, low, high):
            return tf.constant(next(draws))

        x, y = task.sample(draw, 8)
        x64 = x.numpy().astype("float64")
        a, b = x64[..., :25].sum(-1), x64[..., 13:38].sum(-1)
        expected = {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b, "square": a * a, "sqrt": np.sqrt(a)}[op]
        np.testing.assert_allclose(y.numpy()[..., 0], expected, rtol=1e-5, atol=1e-4)  # float32 a - b cancels


def test_fixed_sets_use_their_own_seeds_and_ranges():
    task = static_arithmetic.build(POINT)
    (xv, yv), (xt, yt) = task.validation, task.test
    assert xv.min() >= 1 and xv.max() <= 2 and xt.min() >= 2 and xt.max() <= 6
    again = static_arithmetic.build(POINT)
    np.testing.assert_array_equal(again.validation[0], xv)
    for x, y in ((xv, yv), (xt, yt)):  # POINT's op is a * b
        np.testing.assert_allclose(y[:, 0], x[:, :25].astype("float64").sum(1) * x[:, 13:38].astype("float64").sum(1), rtol=1e-5)


@pytest.mark.parametrize("op", list(static_arithmetic.OPERATIONS))
def test_success_threshold_is_positive_and_tiny_relative_to_targets(op):
    task = static_arithmetic.build({**POINT, "op": op})
    target_scale = float(np.mean(task.test[1].astype("float64") ** 2))
    assert 0 < task.success_threshold < 1e-6 * target_scale
