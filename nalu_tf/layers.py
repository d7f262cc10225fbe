"""Keras 3 layers for the neural accumulator (NAC) and the neural arithmetic logic unit (NALU)."""

from __future__ import annotations

import keras
from keras import initializers

from nalu_tf import maths

PACKAGE = "nalu_tf"


def check_units(units):
    """Return ``units`` as an int, or raise ValueError naming the bad value."""
    if isinstance(units, bool) or not isinstance(units, int) or units < 1:
        raise ValueError(f"units must be a positive integer, got {units!r}")
    return units


def check_epsilon(epsilon):
    """Return ``epsilon`` as a float, or raise ValueError naming the bad value."""
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
        raise ValueError(f"epsilon must be a number > 0, got {epsilon!r}")
    return float(epsilon)


def add_unit_weights(layer, unit_name, in_features, units, initializers_by_name):
    """Create a unit's parameters on ``layer`` with ``add_weight`` and return them by name."""
    params = {}
    for name, parameter in maths.UNITS[unit_name].parameters(in_features, units).items():
        params[name] = layer.add_weight(
            name=name,
            shape=parameter.shape,
            initializer=initializers_by_name[name],
            trainable=True,
        )
    return params


@keras.saving.register_keras_serializable(package=PACKAGE)
class NAC(keras.layers.Layer):
    """Neural accumulator (Trask et al. 2018).

    ``W = tanh(w_hat) * sigmoid(m_hat)`` and ``y = x W``, with no bias. W is recomputed from ``w_hat`` and
    ``m_hat`` on every call, so both receive gradients.

    Args:
        units: number of outputs, >= 1.
        w_hat_initializer, m_hat_initializer: Keras initialisers (default Glorot uniform).
    """

    def __init__(
        self,
        units,
        w_hat_initializer="glorot_uniform",
        m_hat_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_units(units)
        self.w_hat_initializer = initializers.get(w_hat_initializer)
        self.m_hat_initializer = initializers.get(m_hat_initializer)

    def build(self, input_shape):
        self._params = add_unit_weights(
            self,
            "nac",
            input_shape[-1],
            self.units,
            {"w_hat": self.w_hat_initializer, "m_hat": self.m_hat_initializer},
        )
        self.w_hat, self.m_hat = self._params["w_hat"], self._params["m_hat"]

    def call(self, inputs):
        return maths.nac(inputs, self.w_hat, self.m_hat)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "w_hat_initializer": initializers.serialize(self.w_hat_initializer),
            "m_hat_initializer": initializers.serialize(self.m_hat_initializer),
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class NALU(keras.layers.Layer):
    """Neural arithmetic logic unit, faithful to Trask et al. (2018).

    ``W = tanh(w_hat) * sigmoid(m_hat)``; ``a = x W``; ``m = exp(log(|x| + epsilon) W)``;
    ``g = sigmoid(x G)``; ``y = g * a + (1 - g) * m``. The additive and multiplicative paths share the same
    W (one ``w_hat`` and one ``m_hat``), and the gate ``G`` (variable ``gate_kernel``) reads the input and
    has no bias, as in the paper.

    Args:
        units: number of outputs, >= 1.
        epsilon: added to |x| before the logarithm, > 0 (the paper gives no value; 1e-7 is common).
        w_hat_initializer, m_hat_initializer, gate_initializer: Keras initialisers (Glorot uniform).
    """

    def __init__(
        self,
        units,
        epsilon=maths.DEFAULT_EPSILON,
        w_hat_initializer="glorot_uniform",
        m_hat_initializer="glorot_uniform",
        gate_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_units(units)
        self.epsilon = check_epsilon(epsilon)
        self.w_hat_initializer = initializers.get(w_hat_initializer)
        self.m_hat_initializer = initializers.get(m_hat_initializer)
        self.gate_initializer = initializers.get(gate_initializer)

    def build(self, input_shape):
        self._params = add_unit_weights(
            self,
            "nalu",
            input_shape[-1],
            self.units,
            {
                "w_hat": self.w_hat_initializer,
                "m_hat": self.m_hat_initializer,
                "gate_kernel": self.gate_initializer,
            },
        )
        self.w_hat = self._params["w_hat"]
        self.m_hat = self._params["m_hat"]
        self.gate_kernel = self._params["gate_kernel"]

    def call(self, inputs):
        return maths.nalu(inputs, self.w_hat, self.m_hat, self.gate_kernel, self.epsilon)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "epsilon": self.epsilon,
            "w_hat_initializer": initializers.serialize(self.w_hat_initializer),
            "m_hat_initializer": initializers.serialize(self.m_hat_initializer),
            "gate_initializer": initializers.serialize(self.gate_initializer),
        }
