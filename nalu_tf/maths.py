"""The equations of every unit, written once.

Everything that computes a unit (the Keras layers, the recurrent cells and the vectorised multi-seed
trainer in ``experiments/``) calls these functions; nothing re-derives them elsewhere.

Shapes. ``x`` is ``(..., in_features)`` and a weight matrix is ``(in_features, out_features)``. The
multi-seed trainer stacks parameters along a leading seed axis: ``x`` is ``(seeds, batch, in_features)``,
matrices are ``(seeds, in_features, out_features)`` and vectors ``(seeds, 1, out_features)``. Every
function below is written with ``keras.ops.matmul`` and broadcasting, so both layouts give the same
numbers seed by seed.

Each unit is also described by a :class:`Unit` record (its parameters, their default initialisers and its
forward function) in :data:`UNITS`, which is how the layers and the trainer find the maths by name.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping

from keras import activations, ops

DEFAULT_EPSILON = 1e-7


def nac_weight(w_hat, m_hat):
    """Effective NAC weight, pushed towards {-1, 0, 1}."""
    # W = tanh(W_hat) * sigmoid(M_hat)
    return ops.tanh(w_hat) * ops.sigmoid(m_hat)


def nac(x, w_hat, m_hat):
    """Neural accumulator: a linear map with no bias whose weights lean towards {-1, 0, 1}."""
    # a = x W
    return ops.matmul(x, nac_weight(w_hat, m_hat))


def nalu(x, w_hat, m_hat, gate_kernel, epsilon=DEFAULT_EPSILON):
    """Neural arithmetic logic unit as published (Trask et al. 2018, equations 1-2).

    The additive path and the log-space path share ONE weight matrix W (the same ``w_hat`` and
    ``m_hat``); the gate is input dependent and has no bias.
    """
    weight = nac_weight(w_hat, m_hat)
    # a = x W
    additive = ops.matmul(x, weight)
    # m = exp(log(|x| + epsilon) W)
    multiplicative = ops.exp(ops.matmul(ops.log(ops.abs(x) + epsilon), weight))
    # g = sigmoid(x G)
    gate = ops.sigmoid(ops.matmul(x, gate_kernel))
    # y = g * a + (1 - g) * m
    return gate * additive + (1.0 - gate) * multiplicative


def prelu(x, alpha):
    """Parametric ReLU (He et al. 2015) with a learned slope per unit."""
    # f(x) = max(0, x) + alpha * min(0, x)
    return ops.maximum(x, 0.0) + alpha * ops.minimum(x, 0.0)


def dense(x, kernel, bias=None, activation=None, alpha=None):
    """Affine map followed by an activation: the baseline layers (linear, ReLU6, ...).

    ``activation`` is any name ``keras.activations.get`` knows, or ``"prelu"`` with its slope ``alpha``.
    """
    # y = f(x K + b)
    y = ops.matmul(x, kernel)
    if bias is not None:
        y = y + bias
    if activation == "prelu":
        return prelu(y, alpha)
    return activations.get(activation)(y)


def recurrent_step(unit, x_t, h, params, **options):
    """One step of a unit used as a recurrent cell: it reads the input and its own previous output."""
    # h_t = unit([x_t, h_{t-1}])
    return UNITS[unit].forward(ops.concatenate([x_t, h], axis=-1), params, **options)


def lstm_step(x_t, h, c, kernel, bias):
    """One LSTM step (Hochreiter & Schmidhuber 1997, with a forget gate), the recurrent baseline."""
    # [i, f, g, o] = [x_t, h_{t-1}] K + b
    z = ops.matmul(ops.concatenate([x_t, h], axis=-1), kernel) + bias
    i, f, g, o = ops.split(z, 4, axis=-1)
    # c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g);  h_t = sigmoid(o) * tanh(c_t)
    c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
    return ops.sigmoid(o) * ops.tanh(c), c


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One trainable parameter of a unit: its shape and its default initialiser."""

    shape: tuple[int, ...]
    initializer: str


@dataclasses.dataclass(frozen=True)
class Unit:
    """A unit's maths by name: its parameters, its forward pass and its effective weight matrices.

    ``parameters(in_features, units, **options)`` gives the per-seed parameter shapes;
    ``forward(x, params, **options)`` computes the unit; ``weights(params)`` gives the matrices whose
    distance from {-1, 0, 1} is the sparsity error.
    """

    parameters: Callable[..., dict[str, Parameter]]
    forward: Callable[..., object]
    weights: Callable[[Mapping[str, object]], list]


def _nac_parameters(in_features, units, **_):
    return {
        "w_hat": Parameter((in_features, units), "glorot_uniform"),
        "m_hat": Parameter((in_features, units), "glorot_uniform"),
    }


def _nalu_parameters(in_features, units, **_):
    return {
        **_nac_parameters(in_features, units),
        "gate_kernel": Parameter((in_features, units), "glorot_uniform"),
    }


def _dense_parameters(in_features, units, use_bias=True, activation=None, **_):
    parameters = {"kernel": Parameter((in_features, units), "glorot_uniform")}
    if use_bias:
        parameters["bias"] = Parameter((units,), "zeros")
    if activation == "prelu":
        parameters["alpha"] = Parameter((units,), "zeros")  # Keras PReLU's default slope initialiser
    return parameters


UNITS: dict[str, Unit] = {
    "nac": Unit(
        parameters=_nac_parameters,
        forward=lambda x, p: nac(x, p["w_hat"], p["m_hat"]),
        weights=lambda p: [nac_weight(p["w_hat"], p["m_hat"])],
    ),
    "nalu": Unit(
        parameters=_nalu_parameters,
        forward=lambda x, p, epsilon=DEFAULT_EPSILON: nalu(
            x, p["w_hat"], p["m_hat"], p["gate_kernel"], epsilon
        ),
        weights=lambda p: [nac_weight(p["w_hat"], p["m_hat"])],
    ),
    "dense": Unit(
        parameters=_dense_parameters,
        forward=lambda x, p, activation=None, use_bias=True: dense(
            x, p["kernel"], p.get("bias"), activation, p.get("alpha")
        ),
        weights=lambda p: [p["kernel"]],
    ),
}


def sparsity_error(weight, axis=None):
    """Largest distance of any weight from the nearest of {-1, 0, 1} (Madsen & Johansen 2020).

    ``axis``: the axes to reduce over (all by default; ``(1, 2)`` for per-seed stacked matrices).
    """
    # max_ij min(|W_ij|, |1 - |W_ij||)
    magnitude = ops.abs(weight)
    return ops.max(ops.minimum(magnitude, ops.abs(1.0 - magnitude)), axis=axis)


@dataclasses.dataclass(frozen=True)
class Cell:
    """A recurrent cell's maths by name.

    ``parameters(in_features, units, **options)`` gives the per-seed parameter shapes for inputs of width
    ``in_features``; ``step(x_t, states, params, **options)`` returns ``(output, new_states)`` where
    ``states`` is a tuple of ``state_count`` tensors of width ``units``, all zeros at t = 0.
    """

    parameters: Callable[..., dict[str, Parameter]]
    step: Callable[..., tuple]
    weights: Callable[[Mapping[str, object]], list]
    state_count: int = 1


def _unit_cell(name):
    def step(x_t, states, params, **options):
        h = recurrent_step(name, x_t, states[0], params, **options)
        return h, (h,)

    return Cell(
        parameters=lambda in_features, units, **options: UNITS[name].parameters(in_features + units, units, **options),
        step=step,
        weights=UNITS[name].weights,
    )


def _lstm_step(x_t, states, params):
    h, c = lstm_step(x_t, states[0], states[1], params["kernel"], params["bias"])
    return h, (h, c)


CELLS: dict[str, Cell] = {
    "nac": _unit_cell("nac"),
    "nalu": _unit_cell("nalu"),
    "dense": _unit_cell("dense"),  # a simple RNN: h_t = f([x_t, h_{t-1}] K + b)
    "lstm": Cell(
        parameters=lambda in_features, units, **_: {
            "kernel": Parameter((in_features + units, 4 * units), "glorot_uniform"),
            "bias": Parameter((4 * units,), "zeros"),
        },
        step=_lstm_step,
        weights=lambda p: [p["kernel"]],
        state_count=2,
    ),
}
