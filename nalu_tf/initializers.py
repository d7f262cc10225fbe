"""Initialisers the arithmetic units need beyond Keras' own."""

from __future__ import annotations

import math

import keras


@keras.saving.register_keras_serializable(package="nalu_tf")
class CappedGlorotUniform(keras.initializers.Initializer):
    """Glorot uniform ``U[-r, r]`` with ``r = min(cap, sqrt(6 / (fan_in + fan_out)))``.

    The NAU's initialiser (Madsen & Johansen 2020): Glorot's variance, but never wider than ``cap`` so
    that no weight starts beyond the middle of [-1, 1].
    """

    def __init__(self, cap: float = 0.5, seed: int | None = None):
        if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not cap > 0:
            raise ValueError(f"cap must be a number > 0, got {cap!r}")
        self.cap = float(cap)
        self.seed = seed

    def __call__(self, shape: tuple[int, ...], dtype: str | None = None):
        fan_in, fan_out = (shape[-2], shape[-1]) if len(shape) >= 2 else (shape[0], shape[0])
        limit = min(self.cap, math.sqrt(6.0 / (fan_in + fan_out)))
        return keras.random.uniform(shape, -limit, limit, dtype=dtype, seed=self.seed)

    def get_config(self) -> dict:
        return {"cap": self.cap, "seed": self.seed}


def nac_weight_variance(limit: float) -> float:
    """Var[tanh(u) sigmoid(v)] for u, v ~ U[-limit, limit] independent (the mean is 0).

    Closed forms: E[tanh(u)^2] = (r - tanh r) / r and E[sigmoid(v)^2] = (r - tanh(r / 2)) / (2 r).
    """
    r = float(limit)
    return (r - math.tanh(r)) / r * (r - math.tanh(r / 2)) / (2 * r)


def nac_uniform_limit(fan_in: int, fan_out: int) -> float:
    """The r of Madsen & Johansen's NAC initialisation: Var[W] = 2 / max(fan_in + fan_out, 5)."""
    target = 2.0 / max(fan_in + fan_out, 5)
    if target >= 0.5:  # the variance never reaches 1/2 (its limit as r grows)
        raise ValueError(
            f"no uniform limit gives a NAC weight variance of {target} (fans {fan_in}, {fan_out})"
        )
    low, high = 1e-6, 1.0
    while nac_weight_variance(high) < target:
        high *= 2
    for _ in range(200):  # bisection: the variance rises with r
        middle = (low + high) / 2
        low, high = (middle, high) if nac_weight_variance(middle) < target else (low, middle)
    return (low + high) / 2


@keras.saving.register_keras_serializable(package="nalu_tf")
class NACUniform(keras.initializers.Initializer):
    """``U[-r, r]`` for a NAC's ``w_hat`` and ``m_hat`` (Madsen & Johansen 2020, as in their reference code).

    ``r`` is solved so that the effective weight ``tanh(w_hat) * sigmoid(m_hat)`` has Glorot's variance
    ``2 / max(fan_in + fan_out, 5)``: r = 0.5039 for 100 -> 2 and 9.4714 for 2 -> 1.
    """

    def __init__(self, seed: int | None = None):
        self.seed = seed

    def __call__(self, shape: tuple[int, ...], dtype: str | None = None):
        fan_in, fan_out = (shape[-2], shape[-1]) if len(shape) >= 2 else (shape[0], shape[0])
        limit = nac_uniform_limit(fan_in, fan_out)
        return keras.random.uniform(shape, -limit, limit, dtype=dtype, seed=self.seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}
