"""The equations of every arithmetic unit, written once (the baseline layers the experiments compare
them against, dense, convolution, LSTM and GRU, live in ``experiments/baselines.py``).

Everything that computes a unit (the Keras layers, the recurrent cells and the vectorised multi-seed
trainer in ``experiments/``) calls these functions; nothing re-derives them elsewhere.

Shapes. ``x`` is ``(..., in_features)`` and a weight matrix is ``(in_features, out_features)``. The
multi-seed trainer stacks parameters along a leading seed axis: ``x`` is ``(seeds, batch, in_features)``,
matrices are ``(seeds, in_features, out_features)`` and vectors ``(seeds, 1, out_features)``. Every
function below is written with ``keras.ops.matmul`` and broadcasting, so both layouts give the same
numbers seed by seed.

Each unit is also described by a :class:`Unit` record (its parameters, their default initialisers and its
forward function) in :data:`UNITS`, which is how the layers and the trainer find the maths by name. The
file is ordered by unit: the shared pieces first, then each unit's equation, parameters and record
together (the record types are in ``nalu_tf.records``).
"""

from __future__ import annotations

import math
from typing import Sequence

from keras import initializers, ops

from nalu_tf.initializers import CappedGlorotUniform
from nalu_tf.records import Axis, Cell, Parameter, Split, Tensor, Unit, linear_split, unit_cell

__all__ = ["Axis", "Cell", "Parameter", "Split", "Tensor", "Unit", "unit_cell", "UNITS", "CELLS"]

DEFAULT_EPSILON = 1e-7
INALU_MAX_LOG = 20.0  # iNALU clips its log path at exp(20) (Schlor et al. 2020)
INALU_SATURATION = 20.0  # iNALU's regulariser pushes raw parameters out to |p| >= 20


# --- shared by several units --------------------------------------------------------------------------
def nac_weight(w_hat: Tensor, m_hat: Tensor) -> Tensor:
    """Effective NAC weight, pushed towards {-1, 0, 1}."""
    # W = tanh(W_hat) * sigmoid(M_hat)
    return ops.tanh(w_hat) * ops.sigmoid(m_hat)


def sparsity_error(weight: Tensor, axis: Axis = None) -> Tensor:
    """Largest distance of any weight from the nearest of {-1, 0, 1} (Madsen & Johansen 2020).

    ``axis``: the axes to reduce over (all by default; ``(1, 2)`` for per-seed stacked matrices).
    """
    # max_ij min(|W_ij|, |1 - |W_ij||)
    magnitude = ops.abs(weight)
    return ops.max(ops.minimum(magnitude, ops.abs(1.0 - magnitude)), axis=axis)


def regularization_ramp(step: Tensor | int, maximum: float, start: int, end: int) -> Tensor:
    """Regulariser weight at ``step``: 0 until ``start``, rising linearly to ``maximum`` at ``end``.

    Madsen & Johansen (2020) ramp the sparsity regulariser in this way, so it acts only once the loss
    has found a rough solution. With ``end <= start`` the weight jumps to ``maximum`` at ``start``.
    """
    # lambda(t) = maximum * clip((t - start) / (end - start), 0, 1)
    step = ops.cast(step, "float32")
    if end <= start:
        return ops.where(step >= start, maximum, 0.0)
    return maximum * ops.clip((step - start) / float(end - start), 0.0, 1.0)


def _clamp(low, high):
    return lambda value: ops.clip(value, low, high)


# --- NAC (Trask et al. 2018) ------------------------------------------------------------------------------
def nac(x: Tensor, w_hat: Tensor, m_hat: Tensor) -> Tensor:
    """Neural accumulator: a linear map with no bias whose weights lean towards {-1, 0, 1}."""
    # a = x W
    return ops.matmul(x, nac_weight(w_hat, m_hat))


def _nac_parameters(in_features, units, **_):
    return {
        "w_hat": Parameter((in_features, units), "glorot_uniform"),
        "m_hat": Parameter((in_features, units), "glorot_uniform"),
    }


NAC = Unit(
    parameters=_nac_parameters,
    forward=lambda x, p: nac(x, p["w_hat"], p["m_hat"]),
    weights=lambda p: [nac_weight(p["w_hat"], p["m_hat"])],
    split=linear_split(lambda p: nac_weight(p["w_hat"], p["m_hat"])),
)


# --- NALU (Trask et al. 2018) -----------------------------------------------------------------------------
def nalu(
    x: Tensor, w_hat: Tensor, m_hat: Tensor, gate_kernel: Tensor, epsilon: float = DEFAULT_EPSILON
) -> Tensor:
    """Neural arithmetic logic unit as published (Trask et al. 2018, equations 1-2).

    The additive path and the log-space path share ONE weight matrix W (the same ``w_hat`` and
    ``m_hat``); the gate is input dependent and has no bias.
    """
    weight = nac_weight(w_hat, m_hat)
    return nalu_output(*nalu_preactivations(x, weight, gate_kernel, epsilon))


def nalu_preactivations(
    x: Tensor, weight: Tensor, gate_kernel: Tensor, epsilon: float = DEFAULT_EPSILON
) -> tuple[Tensor, Tensor, Tensor]:
    """The NALU's three sums over its inputs: ``(x W, log(|x| + epsilon) W, x G)``.

    Each is a sum over the rows of W and G, so the inputs may be split (a recurrent cell's x_t and
    h_{t-1}) and the parts added: that is how a cell projects every time step's input at once.
    """
    # a = x W;  log m = log(|x| + epsilon) W;  gate logit = x G
    return (
        ops.matmul(x, weight),
        ops.matmul(ops.log(ops.abs(x) + epsilon), weight),
        ops.matmul(x, gate_kernel),
    )


def nalu_output(additive: Tensor, log_magnitude: Tensor, gate_logit: Tensor) -> Tensor:
    """The NALU's output from its three sums (see :func:`nalu_preactivations`)."""
    # g = sigmoid(x G);  m = exp(log(|x| + epsilon) W);  y = g * a + (1 - g) * m
    gate = ops.sigmoid(gate_logit)
    return gate * additive + (1.0 - gate) * ops.exp(log_magnitude)


def _nalu_parameters(in_features, units, **_):
    return {
        **_nac_parameters(in_features, units),
        "gate_kernel": Parameter((in_features, units), "glorot_uniform"),
    }


NALU = Unit(
    parameters=_nalu_parameters,
    forward=lambda x, p, epsilon=DEFAULT_EPSILON: nalu(x, p["w_hat"], p["m_hat"], p["gate_kernel"], epsilon),
    weights=lambda p: [nac_weight(p["w_hat"], p["m_hat"])],
    split=Split(
        matrices=lambda p: (nac_weight(p["w_hat"], p["m_hat"]), p["gate_kernel"]),
        sums=lambda x, m, epsilon=DEFAULT_EPSILON: nalu_preactivations(x, m[0], m[1], epsilon),
        output=lambda sums, p, **_: nalu_output(*sums),
    ),
)


# --- NAU (Madsen & Johansen 2020) -------------------------------------------------------------------------
def nau(x: Tensor, weight: Tensor) -> Tensor:
    """Neural addition unit (Madsen & Johansen 2020): a linear map with W clamped to [-1, 1], no bias."""
    # z = x clamp(W, -1, 1)
    return ops.matmul(x, ops.clip(weight, -1.0, 1.0))


def nau_regularizer(weight: Tensor, axis: Axis = None) -> Tensor:
    """Sparsity regulariser of the NAU: mean distance of the weights from {-1, 0, 1}."""
    # R = mean_ij min(|W_ij|, 1 - |W_ij|)
    magnitude = ops.abs(weight)
    return ops.mean(ops.minimum(magnitude, 1.0 - magnitude), axis=axis)


def _nau_parameters(in_features, units, **_):
    return {"kernel": Parameter((in_features, units), CappedGlorotUniform(0.5), _clamp(-1.0, 1.0))}


NAU = Unit(
    parameters=_nau_parameters,
    forward=lambda x, p: nau(x, p["kernel"]),
    weights=lambda p: [ops.clip(p["kernel"], -1.0, 1.0)],
    regularizer=lambda p, axis=None: nau_regularizer(p["kernel"], axis),
    split=linear_split(lambda p: ops.clip(p["kernel"], -1.0, 1.0)),
)


# --- NMU (Madsen & Johansen 2020) -------------------------------------------------------------------------
def nmu(x: Tensor, weight: Tensor) -> Tensor:
    """Neural multiplication unit (Madsen & Johansen 2020): each output multiplies a gated subset of x.

    ``W_ij = 1`` puts ``x_i`` in the product of output j; ``W_ij = 0`` replaces it with 1.
    """
    # z_j = prod_i (W_ij x_i + 1 - W_ij), W clamped to [0, 1]
    weight = ops.expand_dims(
        ops.clip(weight, 0.0, 1.0), -3
    )  # (..., 1, in, out) against x (..., batch, in, 1)
    return ops.prod(weight * ops.expand_dims(x, -1) + 1.0 - weight, axis=-2)


def nmu_regularizer(weight: Tensor, axis: Axis = None) -> Tensor:
    """Sparsity regulariser of the NMU: mean distance of the weights from {0, 1}."""
    # R = mean_ij min(W_ij, 1 - W_ij)
    return ops.mean(ops.minimum(weight, 1.0 - weight), axis=axis)


def _nmu_parameters(in_features, units, **_):
    # Mean 1/2. The published variance 1/4 is capped, as in the reference code, so that the draw stays
    # inside the clamp [0, 1]: U[1/4, 3/4] (variance 1/48).
    return {
        "kernel": Parameter((in_features, units), initializers.RandomUniform(0.25, 0.75), _clamp(0.0, 1.0))
    }


NMU = Unit(
    parameters=_nmu_parameters,
    forward=lambda x, p: nmu(x, p["kernel"]),
    weights=lambda p: [ops.clip(p["kernel"], 0.0, 1.0)],
    regularizer=lambda p, axis=None: nmu_regularizer(p["kernel"], axis),
)


# --- iNALU (Schlor, Ring & Hotho 2020) --------------------------------------------------------------------
def inalu(
    x: Tensor,
    w_hat_add: Tensor,
    m_hat_add: Tensor,
    w_hat_mul: Tensor,
    m_hat_mul: Tensor,
    gate_bias: Tensor,
    epsilon: float = DEFAULT_EPSILON,
    max_log: float = INALU_MAX_LOG,
) -> Tensor:
    """Improved NALU (Schlor, Ring & Hotho 2020).

    Against the paper's NALU: the additive and multiplicative paths have separate weights, the log path
    is clipped at ``exp(max_log)``, a sign term restores the sign of products of negative inputs, and the
    gate is a learned per-output bias that does not read the input.
    """
    weight_add = nac_weight(w_hat_add, m_hat_add)
    weight_mul = nac_weight(w_hat_mul, m_hat_mul)
    # a = x W_a
    additive = ops.matmul(x, weight_add)
    # m = exp(min(log(|x| + eps) W_m, max_log))
    magnitude = ops.exp(ops.minimum(ops.matmul(ops.log(ops.abs(x) + epsilon), weight_mul), max_log))
    # s_j = prod_i (sign(x_i) |W_m,ij| + 1 - |W_m,ij|): every factor is 1 where no input is negative or 0,
    # so the product is then exactly 1 (its matmuls would give 0 and its gradient 0 times a finite number)
    sign = ops.cond(
        ops.any(x <= 0.0),
        lambda: inalu_sign(x, ops.abs(weight_mul)),
        lambda: ops.ones_like(magnitude),
    )
    # g = sigmoid(b_g);  y = g * a + (1 - g) * m * s
    gate = ops.sigmoid(gate_bias)
    return gate * additive + (1.0 - gate) * magnitude * sign


def inalu_sign(x: Tensor, used: Tensor) -> Tensor:
    """``prod_i (sign(x_i) u_ij + 1 - u_ij)`` for ``u = |W_m|`` in [0, 1], computed with two matmuls.

    The factor is 1 for x_i > 0, ``1 - u`` for x_i = 0 and ``1 - 2u`` for x_i < 0, so the product is
    ``exp(sum of log|factor|) * (-1)^(number of negative factors)``. A direct product over an
    (batch, in, out) tensor costs ~in times more and dominated training time with 100 inputs. A factor
    of exactly 0 contributes log(1e-37) instead of -inf (the product is then ~1e-37 instead of 0), which
    keeps the matmuls free of 0 * inf.
    """
    negative = ops.cast(x < 0, x.dtype)
    zero = ops.cast(ops.equal(x, 0), x.dtype)
    tiny = 1e-37
    log_magnitude = ops.matmul(zero, ops.log(ops.maximum(1.0 - used, tiny))) + ops.matmul(
        negative, ops.log(ops.maximum(ops.abs(1.0 - 2.0 * used), tiny))
    )
    flips = ops.matmul(negative, ops.cast(2.0 * used > 1.0, x.dtype))
    return ops.exp(log_magnitude) * ops.cos(math.pi * flips)


def inalu_regularizer(params: Sequence[Tensor], axis: Axis = None) -> Tensor:
    """iNALU's regulariser (Schlor et al. 2020, as nalm-benchmark applies it): it pushes every raw
    parameter away from 0 until |p| >= 20, where tanh and sigmoid are saturated and the weights exact."""
    # R = sum over w_hat_add, m_hat_add, w_hat_mul, m_hat_mul, gate_bias of mean(max(20 - |p|, 0))
    return sum(ops.mean(ops.maximum(INALU_SATURATION - ops.abs(p), 0.0), axis=axis) for p in params)


def _inalu_parameters(in_features, units, **_):
    # iNALU's own initialisation (Schlor et al. 2020; nalm-benchmark): w_hat ~ N(0.88, 0.2) and
    # m_hat ~ N(0.5, 0.2), so both paths start near W = tanh(0.88) sigmoid(0.5) = 0.44, and the gate bias
    # ~ N(0, 0.2), so the gate starts near 1/2.
    w_hat = initializers.RandomNormal(0.88, 0.2)
    m_hat = initializers.RandomNormal(0.5, 0.2)
    return {
        "w_hat_add": Parameter((in_features, units), w_hat),
        "m_hat_add": Parameter((in_features, units), m_hat),
        "w_hat_mul": Parameter((in_features, units), w_hat),
        "m_hat_mul": Parameter((in_features, units), m_hat),
        "gate_bias": Parameter((units,), initializers.RandomNormal(0.0, 0.2)),
    }


INALU = Unit(
    parameters=_inalu_parameters,
    forward=lambda x, p, epsilon=DEFAULT_EPSILON, max_log=INALU_MAX_LOG: inalu(
        x,
        p["w_hat_add"],
        p["m_hat_add"],
        p["w_hat_mul"],
        p["m_hat_mul"],
        p["gate_bias"],
        epsilon,
        max_log,
    ),
    weights=lambda p: [
        nac_weight(p["w_hat_add"], p["m_hat_add"]),
        nac_weight(p["w_hat_mul"], p["m_hat_mul"]),
    ],
    regularizer=lambda p, axis=None: inalu_regularizer(
        [p["w_hat_add"], p["m_hat_add"], p["w_hat_mul"], p["m_hat_mul"], p["gate_bias"]], axis
    ),
)


# --- RealNPU (Heim, Pevny & Smidl 2020) -------------------------------------------------------------------
def real_npu(x: Tensor, weight: Tensor, relevance: Tensor, epsilon: float = DEFAULT_EPSILON) -> Tensor:
    """Real neural power unit (Heim, Pevny & Smidl 2020): signed powers of the inputs, gated by relevance.

    The relevance gate ``g`` (one per input, clipped to [0, 1]) blends each input towards the neutral 1:
    an input with ``g = 0`` contributes nothing. ``k`` marks negative inputs (also gated), whose phase
    ``pi W k`` gives the sign of odd powers.
    """
    gate = ops.clip(relevance, 0.0, 1.0)
    # r = g (|x| + eps) + (1 - g);  k = g [x < 0]
    r = gate * (ops.abs(x) + epsilon) + (1.0 - gate)
    k = gate * ops.cast(x < 0, x.dtype)
    # z = exp(log(r) W) * cos(pi k W)
    return ops.exp(ops.matmul(ops.log(r), weight)) * ops.cos(math.pi * ops.matmul(k, weight))


def _real_npu_parameters(in_features, units, **_):
    return {
        "kernel": Parameter((in_features, units), "glorot_uniform"),
        "relevance": Parameter(
            (in_features,), initializers.Constant(0.5), _clamp(0.0, 1.0), per_output=False
        ),
    }


REAL_NPU = Unit(
    parameters=_real_npu_parameters,
    forward=lambda x, p, epsilon=DEFAULT_EPSILON: real_npu(x, p["kernel"], p["relevance"], epsilon),
    weights=lambda p: [p["kernel"]],
)


# --- the registry -----------------------------------------------------------------------------------------

UNITS: dict[str, Unit] = {
    "nac": NAC,
    "nalu": NALU,
    "nau": NAU,
    "nmu": NMU,
    "inalu": INALU,
    "real_npu": REAL_NPU,
}

# Every unit is also a cell, h_t = unit([x_t, h_{t-1}]): a new unit needs no entry here.
CELLS: dict[str, Cell] = {name: unit_cell(unit) for name, unit in UNITS.items()}
