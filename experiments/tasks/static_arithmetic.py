"""Static simple-function learning: Table 1 (static block) of Trask et al. (2018).

x is a vector of ``input_size`` numbers drawn uniformly from a range. ``a`` and ``b`` are sums of two
fixed, overlapping slices of x (the same slices for every sample and every seed); the target is op(a, b).
Each model has two layers, input_size -> 2 -> 1.

Slices: the subset length is ``round(subset_ratio * input_size)``; ``a`` covers the first subset, ``b``
starts so that ``round(overlap_ratio * length)`` elements are shared: with the defaults (100, 0.25, 0.5),
a = sum(x[0:25]) and b = sum(x[13:38]) (round(12.5) = 12 shared elements).

Success criterion (Madsen & Johansen 2020, as their reference code computes it): the nearly perfect
first layer W_eps (input_size x 2) is eps everywhere except 1 - eps on a's rows of column 1 and on b's
rows of column 2; the operation itself is applied exactly to z = x W_eps (no second weight layer): add
z1 + z2, sub z1 - z2, mul z1 z2, div z1 / z2, square z1^2, sqrt sqrt(z1). The threshold is the MSE of that
against the exact result on the extrapolation test set; a seed succeeds when the extrapolation MSE of its
kept model (lowest interpolation validation MSE) is below it. With 100 inputs and U[2, 6] it is about
1.6e-5 (add), 1.4e-8 (sub), 0.16 (mul), 5.9e-12 (div), 0.16 (square) and 1.0e-8 (sqrt).
"""

from __future__ import annotations

import numpy as np

from experiments import schema
from experiments.engine import LayerSpec, Task
from experiments.tasks.arithmetic import (  # noqa: F401 (also this task's public names)
    COMMON_SCHEMA,
    INITIALIZATIONS,
    OPERATIONS,
    mask_matrix,
    nac_initializers,
    nearly_perfect_first_layer,
    reference,
    slice_masks,
)

UNITS = ("relu6", "linear", "nac", "nalu", "nau", "nmu", "inalu", "real_npu")  # the keys of models()
# Units whose model has a regulariser (the config's per-unit regularisation settings apply): the NMU and
# RealNPU models' first layer is an NAU.
REGULARIZED_UNITS = ("nau", "nmu", "inalu", "real_npu")


def models(initialization="glorot"):
    """The two-layer models, by name: Table 1 (static) of Trask et al. and the later units.

    As in Madsen & Johansen (2020), a multiplicative unit that cannot add (NMU, RealNPU) sits on an NAU
    first layer, which forms a and b; NAU, iNALU, NAC and NALU are used for both layers. ``initialization``
    ("glorot" or "madsen") chooses the NAC and NALU initialisation (see :func:`nac_initializers`).
    """

    nac_init = nac_initializers(initialization)
    layer = LayerSpec
    return {
        "relu6": [LayerSpec("dense", 2, {"activation": "relu6"}), LayerSpec("dense", 1)],
        "linear": [LayerSpec("dense", 2), LayerSpec("dense", 1)],
        "nac": [layer("nac", 2, initializers=nac_init), layer("nac", 1, initializers=nac_init)],
        "nalu": [layer("nalu", 2, initializers=nac_init), layer("nalu", 1, initializers=nac_init)],
        "nau": [layer("nau", 2), layer("nau", 1)],
        "nmu": [layer("nau", 2), layer("nmu", 1)],
        "inalu": [layer("inalu", 2), layer("inalu", 1)],
        "real_npu": [layer("nau", 2), layer("real_npu", 1)],
    }


# Grid points that differ only in these axes train as one stack: every operation of a unit, range and
# seed reads the same draws, taken once per step (the inputs are the same; only the targets differ).
STACK_AXES = ("op",)
# Stacks that differ only in these axes train on one draw per seed and step (a seed-major stack): every
# unit of a table reads the same inputs; each keeps its own model and training settings.
SEED_MAJOR_AXES = ("unit",)

AXES = {
    "op": tuple(OPERATIONS),
    "unit": UNITS,
    "range": lambda task: tuple(task["ranges"]),
}

TASK_SCHEMA = {
    **COMMON_SCHEMA,
    "ranges": schema.NamedRanges(),
    "initialization": schema.Choice(INITIALIZATIONS),
}


def nearly_perfect_mse(x, point):
    """MSE on x (rows, input_size) of the op applied exactly to z = x W_eps, against the exact result."""
    x = np.asarray(x, dtype="float64")
    z = x @ nearly_perfect_first_layer(point)
    off = OPERATIONS[point["op"]](z[:, 0], z[:, 1])[:, None]
    return float(np.mean((off - reference(x, point)) ** 2))


def fixed_set(point, range_key, rows, seed):
    low, high = point["ranges"][point["range"]][range_key]
    x = np.random.default_rng(seed).uniform(low, high, size=(rows, point["input_size"]))
    return x.astype("float32"), reference(x, point).astype("float32")


def build(point):
    """The Task of one grid point: models, in-graph training data and the fixed evaluation sets."""
    import tensorflow as tf  # here, not at the top: validating a config must not load TensorFlow

    masks = mask_matrix(point["input_size"], point["subset_ratio"], point["overlap_ratio"])  # (input_size, 2)
    operation = OPERATIONS[point["op"]]
    low, high = point["ranges"][point["range"]]["interpolation"]

    def sample(draw, batch_size):
        x = draw((batch_size, point["input_size"]), low, high)
        a_and_b = tf.matmul(x, masks)
        return x, operation(a_and_b[..., :1], a_and_b[..., 1:])

    test = fixed_set(point, "extrapolation", point["test_size"], point["test_seed"])
    return Task(
        input_size=point["input_size"],
        layers=models(point["initialization"])[point["unit"]],
        sample=sample,
        validation=fixed_set(point, "interpolation", point["validation_size"], point["validation_seed"]),
        test=test,
        success_threshold=nearly_perfect_mse(test[0], point),
    )
