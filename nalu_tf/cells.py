"""Recurrent cells for ``keras.layers.RNN``: the unit reads the input and its own previous output.

Every unit of :mod:`nalu_tf.layers` has a cell, ``h_t = unit([x_t, h_{t-1}])``, computed by the same
maths as the multi-seed trainer's cells (``nalu_tf.maths.CELLS``, each unit's :func:`nalu_tf.records.unit_cell`).
"""

from __future__ import annotations

import keras

from nalu_tf import layers, maths
from nalu_tf.maths import Tensor


def _previous_output(states):
    return states[0] if isinstance(states, (list, tuple)) else states


class _RecurrentUnit:
    """Mixin turning a unit layer into a cell: ``h_t = unit([x_t, h_{t-1}])``.

    The unit's weight matrices have ``in_features + units`` rows: the first rows read x_t, the last
    ``units`` rows read h_{t-1}.

    A cell's regulariser (NAU, NMU, iNALU) is not added to ``model.losses``: ``keras.layers.RNN`` runs the
    cell inside a loop, from which no loss can be added. Add ``cell.regularization_loss()`` to the loss
    of a custom training step instead; :class:`nalu_tf.RegularizationRamp` ramps the cell's
    ``regularization_weight`` as a layer's.
    """

    @property
    def state_size(self) -> int:
        return self.units

    @property
    def output_size(self) -> int:
        return self.units

    def build(self, input_shape: tuple) -> None:
        super().build((*input_shape[:-1], input_shape[-1] + self.units))

    def call(self, inputs: Tensor, states: Tensor | list, training: bool | None = None) -> tuple:
        params = self.compute_params()
        # h_t = unit([x_t, h_{t-1}]), as the trainer's cells compute it
        output = maths.CELLS[self.unit_name].step(
            inputs, (_previous_output(states),), params, **self.unit_options
        )[0]
        return output, [output]

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], self.units)


@keras.saving.register_keras_serializable(package=layers.PACKAGE)
class NACCell(_RecurrentUnit, layers.NAC):
    """NAC recurrent cell: ``h_t = [x_t, h_{t-1}] W`` with ``W = tanh(w_hat) * sigmoid(m_hat)``.

    With ideal weights (ones for every row) it keeps an exact running sum, but tanh and sigmoid reach 1
    only in the limit, so a trained NAC cell stays a little short of it (see the README: weights of
    0.997 and 0.998 after 5,000 steps on sums of 10 numbers are 59% off at length 1,000). Use inside ``keras.layers.RNN(NACCell(units))``.
    Arguments as :class:`nalu_tf.NAC`.
    """


@keras.saving.register_keras_serializable(package=layers.PACKAGE)
class NALUCell(_RecurrentUnit, layers.NALU):
    """NALU recurrent cell: ``h_t = NALU([x_t, h_{t-1}])`` with the paper's shared W and input gate.

    Use inside ``keras.layers.RNN(NALUCell(units))``. Arguments as :class:`nalu_tf.NALU`.
    """


@keras.saving.register_keras_serializable(package=layers.PACKAGE)
class NAUCell(_RecurrentUnit, layers.NAU):
    """NAU recurrent cell: ``h_t = [x_t, h_{t-1}] W`` with W clamped to [-1, 1].

    The clamp makes 1 an attainable weight, so a trained cell can hold an exact running sum (the
    accumulator of Madsen & Johansen 2020). Use inside ``keras.layers.RNN(NAUCell(units))``. Arguments as
    :class:`nalu_tf.NAU`; its regulariser is ``regularization_loss()``, not a model loss (see above).
    """


@keras.saving.register_keras_serializable(package=layers.PACKAGE)
class NMUCell(_RecurrentUnit, layers.NMU):
    """NMU recurrent cell: ``h_t = NMU([x_t, h_{t-1}])``, a running product of gated inputs.

    ``h_t = prod_i (W_i x_t,i + 1 - W_i) * (W_h h_{t-1} + 1 - W_h)``, W clamped to [0, 1]; start it from
    a state of 1 (``keras.layers.RNN(...)(x, initial_state=[ones])``) for a product. Arguments as
    :class:`nalu_tf.NMU`.
    """


@keras.saving.register_keras_serializable(package=layers.PACKAGE)
class INALUCell(_RecurrentUnit, layers.INALU):
    """iNALU recurrent cell: ``h_t = INALU([x_t, h_{t-1}])``. Arguments as :class:`nalu_tf.INALU`."""


@keras.saving.register_keras_serializable(package=layers.PACKAGE)
class RealNPUCell(_RecurrentUnit, layers.RealNPU):
    """RealNPU recurrent cell: ``h_t = RealNPU([x_t, h_{t-1}])``. Arguments as :class:`nalu_tf.RealNPU`."""


# Every cell above by its unit's name in ``maths.UNITS`` (a new unit's cell joins by subclassing).
CELLS: dict[str, type] = {cell.unit_name: cell for cell in _RecurrentUnit.__subclasses__()}
