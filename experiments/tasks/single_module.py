"""Single-module arithmetic benchmark (Mistry, Farrahi & Hare 2021): y = a op b from two inputs.

One layer, 2 -> 1, of the unit under test learns ``a op b`` with a and b drawn from an interpolation
range, and is tested on an extrapolation range (a single interval, or a union of intervals that are
sampled in proportion to their lengths). Both inputs come from the same range.

Success (Mistry et al.'s criterion): the extrapolation MSE of the model kept on interpolation validation
data is below that of their nearly perfect solution with eps = ``success_epsilon`` (1e-4 in their
benchmark), written in closed form: a + b - eps(|a| + |b|), a - b - eps(|a| + |b|), (1 - eps)^2 a b and
(1 - eps) / (1 + eps) a / b, each against the exact result on the extrapolation set.
"""

from __future__ import annotations

import numpy as np

from experiments import schema

from experiments.tasks import arithmetic
from experiments.engine import LayerSpec, Task


OPERATIONS = {name: arithmetic.OPERATIONS[name] for name in ("add", "sub", "mul", "div")}

# Mistry et al.'s nearly perfect solutions, each a closed form in the inputs and eps.
NEARLY_PERFECT = {
    "add": lambda a, b, e: a + b - e * (np.abs(a) + np.abs(b)),
    "sub": lambda a, b, e: a - b - e * (np.abs(a) + np.abs(b)),
    "mul": lambda a, b, e: (1 - e) ** 2 * a * b,
    "div": lambda a, b, e: (1 - e) / (1 + e) * a / b,
}

UNITS = ("nac", "nalu", "nau", "nmu", "inalu", "real_npu", "linear")


def model(unit, initialization="glorot"):
    """The single layer (2 -> 1) of a unit; ``linear`` is an affine map with bias. ``initialization``
    chooses the NAC and NALU initialisation (``arithmetic.nac_initializers``)."""

    if unit == "linear":
        return [LayerSpec("dense", 1)]
    initializers = arithmetic.nac_initializers(initialization) if unit in ("nac", "nalu") else {}
    return [LayerSpec(unit, 1, initializers=initializers)]


class Intervals(schema.Field):
    """``[lo, hi]`` or a list of such pairs (a union of disjoint intervals), each with lo < hi."""

    def check(self, value):
        pairs = value if isinstance(value, list) and value and isinstance(value[0], list) else [value]
        return [schema.Range().check(pair) for pair in pairs]


# Grid points that differ only in these axes train as one stack: seed k of every operation and range of
# a unit reads the same U[0, 1) draws, taken once per step and mapped affinely onto each range. Stacking
# the ranges too matters here: a 2-input unit costs little per seed, so wide stacks amortise each step.
STACK_AXES = ("op", "range")
# Stacks that differ only in these axes train on one draw per seed and step (a seed-major stack): every
# unit reads the same draws; each keeps its own model and training settings.
SEED_MAJOR_AXES = ("unit",)

AXES = {"op": tuple(OPERATIONS), "unit": UNITS, "range": lambda task: tuple(task["ranges"])}

TASK_SCHEMA = {
    "ranges": schema.NamedRanges(extrapolation=Intervals()),
    "initialization": schema.Choice(arithmetic.INITIALIZATIONS),
    **arithmetic.EVALUATION_SCHEMA,
}


def sample_intervals(rng, intervals, shape):
    """Uniform draws from a union of intervals, each picked in proportion to its length."""
    lengths = np.array([high - low for low, high in intervals])
    which = rng.choice(len(intervals), size=shape, p=lengths / lengths.sum())
    lows = np.array([low for low, _ in intervals])[which]
    return lows + lengths[which] * rng.uniform(size=shape)


def fixed_set(point, intervals, rows, seed):
    """(x, op(x0, x1)) of ``rows`` inputs drawn from ``intervals``; targets computed in float64."""
    x = sample_intervals(np.random.default_rng(seed), intervals, (rows, 2))
    y = OPERATIONS[point["op"]](x[:, 0], x[:, 1])[:, None]
    return x.astype("float32"), y.astype("float32")


def nearly_perfect_mse(x, point):
    """MSE on x (rows, 2) of the nearly perfect solution against the exact result."""
    x = np.asarray(x, dtype="float64")
    exact = OPERATIONS[point["op"]](x[:, 0], x[:, 1])
    off = NEARLY_PERFECT[point["op"]](x[:, 0], x[:, 1], point["success_epsilon"])
    return float(np.mean((off - exact) ** 2))


def build(point):
    """The Task of one grid point."""
    ranges = point["ranges"][point["range"]]
    low, high = ranges["interpolation"]
    operation = OPERATIONS[point["op"]]

    def sample(draw, batch_size):
        x = draw((batch_size, 2), low, high)
        return x, operation(x[..., :1], x[..., 1:])

    test = fixed_set(point, ranges["extrapolation"], point["test_size"], point["test_seed"])
    return Task(
        input_size=2,
        layers=model(point["unit"], point["initialization"]),
        sample=sample,
        validation=fixed_set(
            point, [ranges["interpolation"]], point["validation_size"], point["validation_seed"]
        ),
        test=test,
        success_threshold=nearly_perfect_mse(test[0], point),
    )
