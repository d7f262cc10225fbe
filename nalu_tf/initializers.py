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

    def __init__(self, cap=0.5, seed=None):
        if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not cap > 0:
            raise ValueError(f"cap must be a number > 0, got {cap!r}")
        self.cap = float(cap)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = (shape[-2], shape[-1]) if len(shape) >= 2 else (shape[0], shape[0])
        limit = min(self.cap, math.sqrt(6.0 / (fan_in + fan_out)))
        return keras.random.uniform(shape, -limit, limit, dtype=dtype, seed=self.seed)

    def get_config(self):
        return {"cap": self.cap, "seed": self.seed}
