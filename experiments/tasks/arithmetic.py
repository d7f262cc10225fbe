"""What the arithmetic tasks share (static, recurrent, single-module): the operations, the NAC/NALU
initialisations, the schema of their evaluation settings, the fixed slices that form a and b, exact float64
targets, and Madsen & Johansen's nearly perfect first layer. A helper, not a task: it defines no ``build``.
"""

from __future__ import annotations

import functools

import numpy as np

from experiments import schema
from experiments.unit_options import OPTION_SCHEMA

OPERATIONS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "square": lambda a, b: a * a,
    "sqrt": lambda a, b: a**0.5,
}

INITIALIZATIONS = ("glorot", "madsen")


def nac_initializers(initialization):
    """Initialisers of a NAC's (or NALU's) w_hat and m_hat: the units' defaults (Glorot uniform), or
    Madsen & Johansen's U[-r, r] that gives the effective weight Glorot's variance."""
    if initialization == "glorot":
        return {}
    from nalu_tf.initializers import NACUniform  # loads Keras: only when a task is built

    return {"w_hat": NACUniform(), "m_hat": NACUniform()}


# The fixed evaluation sets and success criterion of every arithmetic task (static, recurrent,
# single-module): sizes and seeds of the validation and test sets, the nearly-perfect offset, and the
# units' epsilon inside NALU-style logarithms (a unit option: its schema is the one of unit_options).
EVALUATION_SCHEMA = {
    "validation_size": schema.Integer(minimum=1),
    "test_size": schema.Integer(minimum=1),
    "validation_seed": schema.Integer(minimum=0),
    "test_seed": schema.Integer(minimum=0),
    "success_epsilon": schema.Number(minimum=0, exclusive_minimum=True),
    "epsilon": OPTION_SCHEMA["epsilon"],
}

# Settings of the tasks built on fixed slices of an input vector (static and recurrent).
COMMON_SCHEMA = {
    "input_size": schema.Integer(minimum=2),
    "subset_ratio": schema.Number(minimum=0, maximum=0.5, exclusive_minimum=True),
    "overlap_ratio": schema.Number(minimum=0, maximum=1),
    **EVALUATION_SCHEMA,
}


def slice_masks(input_size, subset_ratio, overlap_ratio):
    """Indicator vectors (input_size,) of the fixed slices that sum to a and b."""
    length = max(1, round(subset_ratio * input_size))
    shared = round(overlap_ratio * length)
    mask_a = np.zeros(input_size)
    mask_b = np.zeros(input_size)
    mask_a[:length] = 1
    mask_b[length - shared : 2 * length - shared] = 1
    return mask_a, mask_b


@functools.lru_cache(maxsize=None)
def mask_matrix(input_size, subset_ratio, overlap_ratio):
    """The slices' indicator vectors as one (input_size, 2) float32 tensor per setting, made once per process:
    every cell of a stack multiplies its inputs by this very tensor, so TensorFlow computes a and b once for
    them all (its graph optimiser merges identical operations on identical inputs). Made eagerly even when
    first asked for inside a graph, so the cached tensor serves every graph."""
    import tensorflow as tf  # here, not at the top: validating a config must not load TensorFlow

    with tf.init_scope():
        return tf.constant(np.stack(slice_masks(input_size, subset_ratio, overlap_ratio), axis=1), tf.float32)


def reference(x, point):
    """Targets op(a, b) computed in float64 from inputs x of shape (rows, input_size)."""
    mask_a, mask_b = slice_masks(point["input_size"], point["subset_ratio"], point["overlap_ratio"])
    x = np.asarray(x, dtype="float64")
    return OPERATIONS[point["op"]](x @ mask_a, x @ mask_b)[:, None]


def nearly_perfect_first_layer(point):
    """W_eps, (input_size, 2): eps everywhere, 1 - eps on a's rows of column 1 and b's rows of column 2."""
    eps = point["success_epsilon"]
    mask_a, mask_b = slice_masks(point["input_size"], point["subset_ratio"], point["overlap_ratio"])
    return np.stack(
        [mask_a * (1 - eps) + (1 - mask_a) * eps, mask_b * (1 - eps) + (1 - mask_b) * eps], axis=1
    )
