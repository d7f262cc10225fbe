"""Recurrent cells for ``keras.layers.RNN``: the unit reads the input and its own previous output."""

from __future__ import annotations

import keras
from nalu_tf import layers, maths


def _previous_output(states):
    return states[0] if isinstance(states, (list, tuple)) else states


class _RecurrentUnit:
    """Mixin turning a unit layer into a cell: ``h_t = unit([x_t, h_{t-1}])``.

    The unit's weight matrices have ``in_features + units`` rows: the first rows read x_t, the last
    ``units`` rows read h_{t-1}.
    """

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def build(self, input_shape):
        super().build((*input_shape[:-1], input_shape[-1] + self.units))

    def call(self, inputs, states, training=None):
        output = maths.recurrent_step(self.unit_name, inputs, _previous_output(states), self._params, **self.unit_options)
        return output, [output]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)


@keras.saving.register_keras_serializable(package=layers.PACKAGE)
class NACCell(_RecurrentUnit, layers.NAC):
    """NAC recurrent cell: ``h_t = [x_t, h_{t-1}] W`` with ``W = tanh(w_hat) * sigmoid(m_hat)``.

    With ideal weights (ones for every row) it keeps an exact running sum. Use inside
    ``keras.layers.RNN(NACCell(units))``. Arguments as :class:`nalu_tf.NAC`.
    """

@keras.saving.register_keras_serializable(package=layers.PACKAGE)
class NALUCell(_RecurrentUnit, layers.NALU):
    """NALU recurrent cell: ``h_t = NALU([x_t, h_{t-1}])`` with the paper's shared W and input gate.

    Use inside ``keras.layers.RNN(NALUCell(units))``. Arguments as :class:`nalu_tf.NALU`.
    """

