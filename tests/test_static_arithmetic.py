"""The static arithmetic task: data formula, fixed slices, success threshold."""

import numpy as np
import pytest
import tensorflow as tf

from experiments.tasks import static_arithmetic
from test_runner import POINT


def test_slices_match_the_documented_layout():
    mask_a, mask_b = static_arithmetic.slice_masks(100, 0.25, 0.5)
    assert np.flatnonzero(mask_a).tolist() == list(range(0, 25))
    assert np.flatnonzero(mask_b).tolist() == list(range(13, 38))


@pytest.mark.parametrize("op", list(static_arithmetic.OPERATIONS))
def test_training_batches_follow_the_formula_with_fixed_slices(op):
    point = {**POINT, "op": op}
    task = static_arithmetic.build(point)
    draws = iter(
        [np.random.default_rng(k).uniform(1, 2, size=(3, 8, 100)).astype("float32") for k in range(2)]
    )
    for _ in range(2):  # two batches: the slices must not be redrawn

        def draw(shape, low, high):
            return tf.constant(next(draws))

        x, y = task.sample(draw, 8)
        x64 = x.numpy().astype("float64")
        a, b = x64[..., :25].sum(-1), x64[..., 13:38].sum(-1)
        expected = {
            "add": a + b,
            "sub": a - b,
            "mul": a * b,
            "div": a / b,
            "square": a * a,
            "sqrt": np.sqrt(a),
        }[op]
        np.testing.assert_allclose(y.numpy()[..., 0], expected, rtol=1e-5, atol=1e-4)  # float32 a - b cancels


def test_fixed_sets_use_their_own_seeds_and_ranges():
    task = static_arithmetic.build(POINT)
    (xv, yv), (xt, yt) = task.validation, task.test
    assert xv.min() >= 1 and xv.max() <= 2 and xt.min() >= 2 and xt.max() <= 6
    again = static_arithmetic.build(POINT)
    np.testing.assert_array_equal(again.validation[0], xv)
    for x, y in ((xv, yv), (xt, yt)):  # POINT's op is a * b
        np.testing.assert_allclose(
            y[:, 0], x[:, :25].astype("float64").sum(1) * x[:, 13:38].astype("float64").sum(1), rtol=1e-5
        )


# Madsen & Johansen's thresholds for 100 inputs, subsets of 25 overlapping by 12, U[2, 6], eps 1e-5,
# computed from their definition with 10,000 samples (../shared/reference/PAPER_NOTES.md, "Reference
# protocols"; under 1% spread over slice offsets and samples).
PUBLISHED_THRESHOLDS = {
    "add": 1.61e-5,
    "sub": 1.40e-8,
    "mul": 0.161,
    "div": 5.9e-12,
    "square": 0.160,
    "sqrt": 1.01e-8,
}


@pytest.mark.parametrize("op", list(static_arithmetic.OPERATIONS))
def test_success_threshold_matches_the_published_definition(op):
    point = {**POINT, "op": op, "test_size": 10000}
    task = static_arithmetic.build(point)
    assert task.success_threshold == pytest.approx(PUBLISHED_THRESHOLDS[op], rel=0.03)
    # The same, written out: W_eps is eps everywhere, 1 - eps on a's rows (column 1) and b's rows (column 2).
    x = task.test[0].astype("float64")
    eps = 1e-5
    z1 = (1 - eps) * x[:, 0:25].sum(1) + eps * (x.sum(1) - x[:, 0:25].sum(1))
    z2 = (1 - eps) * x[:, 13:38].sum(1) + eps * (x.sum(1) - x[:, 13:38].sum(1))
    a, b = x[:, 0:25].sum(1), x[:, 13:38].sum(1)
    exact = {
        "add": (z1 + z2, a + b),
        "sub": (z1 - z2, a - b),
        "mul": (z1 * z2, a * b),
        "div": (z1 / z2, a / b),
        "square": (z1 * z1, a * a),
        "sqrt": (np.sqrt(z1), np.sqrt(a)),
    }[op]
    assert task.success_threshold == pytest.approx(np.mean((exact[0] - exact[1]) ** 2), rel=1e-9)


def test_the_mask_matrix_is_one_eager_tensor_per_setting_even_when_first_made_in_a_graph():
    from experiments.tasks import arithmetic

    inside = tf.function(lambda: arithmetic.mask_matrix(12, 0.25, 0.5))  # a setting no other test uses
    inside()
    masks = arithmetic.mask_matrix(12, 0.25, 0.5)
    assert masks is arithmetic.mask_matrix(12, 0.25, 0.5)
    np.testing.assert_array_equal(masks.numpy(), np.stack(arithmetic.slice_masks(12, 0.25, 0.5), axis=1))
