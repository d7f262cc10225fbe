"""Static simple-function learning: Table 1 (static block) of Trask et al. (2018).

x is a vector of ``input_size`` numbers drawn uniformly from a range. ``a`` and ``b`` are sums of two
fixed, overlapping slices of x (the same slices for every sample and every seed); the target is op(a, b).
Each model has two layers, input_size -> 2 -> 1.

Slices: the subset length is ``round(subset_ratio * input_size)``; ``a`` covers the first subset, ``b``
starts so that ``round(overlap_ratio * length)`` elements are shared: with the defaults (100, 0.25, 0.5),
a = sum(x[0:25]) and b = sum(x[13:38]) (round(12.5) = 12 shared elements).

Nearly perfect solution (for the success criterion of Madsen & Johansen 2020): every weight of the ideal
two-layer solution is off by +epsilon. The first layer gives a' = sum_i (w*_i + eps) x_i (and b'
likewise), the second applies the op with its own weights off by +eps: (1 + eps) a' + (1 + eps) b' for
a + b, (1 + eps) a' + (-1 + eps) b' for a - b, a'^(1 + eps) b'^(1 + eps) for a * b, a'^(1 + eps)
b'^(-1 + eps) for a / b, a'^(2 + 2 eps) for a^2 and a'^(0.5 + eps) for sqrt(a). A seed succeeds when its
extrapolation MSE is below the MSE of that solution on the same extrapolation set.
"""

from __future__ import annotations

import numpy as np

from experiments import schema
from experiments.spec import LayerSpec, Task

OPERATIONS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "square": lambda a, b: a * a,
    "sqrt": lambda a, b: a**0.5,
}

# The op applied with its output weights off by +eps (see the module docstring).
NEARLY_PERFECT = {
    "add": lambda a, b, e: (1 + e) * a + (1 + e) * b,
    "sub": lambda a, b, e: (1 + e) * a + (-1 + e) * b,
    "mul": lambda a, b, e: a ** (1 + e) * b ** (1 + e),
    "div": lambda a, b, e: a ** (1 + e) * b ** (-1 + e),
    "square": lambda a, b, e: a ** (2 + 2 * e),
    "sqrt": lambda a, b, e: a ** (0.5 + e),
}


def models(epsilon):
    """The two-layer models, by name: Table 1 (static) of Trask et al. and the later units.

    As in Madsen & Johansen (2020), a multiplicative unit that cannot add (NMU, RealNPU) sits on an NAU
    first layer, which forms a and b; NAU, iNALU, NAC and NALU are used for both layers.
    """
    return {
        "relu6": [LayerSpec("dense", 2, {"activation": "relu6"}), LayerSpec("dense", 1)],
        "linear": [LayerSpec("dense", 2), LayerSpec("dense", 1)],
        "nac": [LayerSpec("nac", 2), LayerSpec("nac", 1)],
        "nalu": [LayerSpec("nalu", 2, {"epsilon": epsilon}), LayerSpec("nalu", 1, {"epsilon": epsilon})],
        "nau": [LayerSpec("nau", 2), LayerSpec("nau", 1)],
        "nmu": [LayerSpec("nau", 2), LayerSpec("nmu", 1)],
        "inalu": [LayerSpec("inalu", 2, {"epsilon": epsilon}), LayerSpec("inalu", 1, {"epsilon": epsilon})],
        "real_npu": [LayerSpec("nau", 2), LayerSpec("real_npu", 1, {"epsilon": epsilon})],
    }


AXES = {
    "op": tuple(OPERATIONS),
    "unit": tuple(models(1e-7)),
    "range": lambda task: tuple(task["ranges"]),
}

# Settings shared with the recurrent variant of the task (experiments/recurrent_arithmetic.py).
COMMON_SCHEMA = {
    "input_size": schema.Integer(minimum=2),
    "subset_ratio": schema.Number(minimum=0, maximum=0.5, exclusive_minimum=True),
    "overlap_ratio": schema.Number(minimum=0, maximum=1),
    **schema.ARITHMETIC_EVALUATION,
}

TASK_SCHEMA = {**COMMON_SCHEMA, "ranges": schema.NamedRanges()}


def slice_masks(input_size, subset_ratio, overlap_ratio):
    """Indicator vectors (input_size,) of the fixed slices that sum to a and b."""
    length = max(1, round(subset_ratio * input_size))
    shared = round(overlap_ratio * length)
    mask_a = np.zeros(input_size)
    mask_b = np.zeros(input_size)
    mask_a[:length] = 1
    mask_b[length - shared : 2 * length - shared] = 1
    return mask_a, mask_b


def reference(x, point):
    """Targets op(a, b) computed in float64 from inputs x of shape (rows, input_size)."""
    mask_a, mask_b = slice_masks(point["input_size"], point["subset_ratio"], point["overlap_ratio"])
    x = np.asarray(x, dtype="float64")
    return OPERATIONS[point["op"]](x @ mask_a, x @ mask_b)[:, None]


def nearly_perfect_mse(x, point):
    """MSE on x of the ideal solution with every weight off by +success_epsilon."""
    eps = point["success_epsilon"]
    mask_a, mask_b = slice_masks(point["input_size"], point["subset_ratio"], point["overlap_ratio"])
    x = np.asarray(x, dtype="float64")
    a_off, b_off = x @ (mask_a + eps), x @ (mask_b + eps)
    off = NEARLY_PERFECT[point["op"]](a_off, b_off, eps)[:, None]
    return float(np.mean((off - reference(x, point)) ** 2))


def fixed_set(point, range_key, rows, seed):
    low, high = point["ranges"][point["range"]][range_key]
    x = np.random.default_rng(seed).uniform(low, high, size=(rows, point["input_size"]))
    return x.astype("float32"), reference(x, point).astype("float32")


def build(point):
    """The Task of one grid point: models, in-graph training data and the fixed evaluation sets."""
    import tensorflow as tf  # here, not at the top: validating a config must not load TensorFlow
    mask_a, mask_b = slice_masks(point["input_size"], point["subset_ratio"], point["overlap_ratio"])
    masks = tf.constant(np.stack([mask_a, mask_b], axis=1), tf.float32)  # (input_size, 2)
    operation = OPERATIONS[point["op"]]
    low, high = point["ranges"][point["range"]]["interpolation"]

    def sample(draw, batch_size):
        x = draw((batch_size, point["input_size"]), low, high)
        a_and_b = tf.matmul(x, masks)
        return x, operation(a_and_b[..., :1], a_and_b[..., 1:])

    test = fixed_set(point, "extrapolation", point["test_size"], point["test_seed"])
    return Task(
        input_size=point["input_size"],
        layers=models(point["epsilon"])[point["unit"]],
        sample=sample,
        validation=fixed_set(point, "interpolation", point["validation_size"], point["validation_seed"]),
        test=test,
        success_threshold=nearly_perfect_mse(test[0], point),
    )
