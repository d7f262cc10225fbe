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
        if len(input_shape) < 2:  # keras.layers.RNN hands over (batch, features) per step of a sequence
            raise ValueError(
                f"{type(self).__name__} reads sequences of shape (batch, time, features); the "
                f"recurrent layer around it got a sequence of rank {len(input_shape) + 1} (one time step "
                f"of shape {tuple(input_shape)})"
            )
        super().build((*input_shape[:-1], input_shape[-1] + self.units))
        # The spec checks what the cell itself reads at each step: x_t, without h_{t-1}.
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: input_shape[-1]})

    def call(
        self, inputs: Tensor, states: Tensor | list | None = None, training: bool | None = None
    ) -> tuple:
        if states is None:  # called as a layer: Keras would only say that `states` is missing
            name = type(self).__name__
            raise ValueError(
                f"{name} is a recurrent cell: run it over inputs of shape (batch, time, features) with "
                f"keras.layers.RNN({name}(units)), or call it on one step with its state, "
                f"cell(x_t, [h_previous]); got inputs of shape {tuple(inputs.shape)} and no state"
            )
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
    only in the limit, so a trained NAC cell stays a little short of it (see docs/library.md: weights of
    0.997 and 0.998 after 5,000 steps on sums of 10 numbers are 59% off at length 1,000). Use inside
    ``keras.layers.RNN(NACCell(units))``.
    Arguments as :class:`nalu_tf.NAC`.

    Example:

        import keras
        import numpy as np
        import nalu_tf

        cell = nalu_tf.NACCell(1)
        rnn = keras.layers.RNN(cell)
        x = np.ones((1, 10, 1), "float32")
        rnn(x)  # builds the cell: one row of weights for x_t, one for h_{t-1}
        cell.w_hat.assign([[40.0], [40.0]])
        cell.m_hat.assign([[40.0], [40.0]])  # h_t = x_t + h_{t-1}
        np.testing.assert_allclose(rnn(x), [[10.0]])  # the sum of the sequence
    """


@keras.saving.register_keras_serializable(package=layers.PACKAGE)
class NALUCell(_RecurrentUnit, layers.NALU):
    """NALU recurrent cell: ``h_t = NALU([x_t, h_{t-1}])`` with the paper's shared W and input gate.

    Use inside ``keras.layers.RNN(NALUCell(units))``. Arguments as :class:`nalu_tf.NALU`.

    Example:

        import keras
        import numpy as np
        import nalu_tf

        model = keras.Sequential([keras.Input((None, 3)), keras.layers.RNN(nalu_tf.NALUCell(2))])
        assert model(np.ones((4, 7, 3), "float32")).shape == (4, 2)  # (batch, time, features) -> (batch, units)
    """


@keras.saving.register_keras_serializable(package=layers.PACKAGE)
class NAUCell(_RecurrentUnit, layers.NAU):
    """NAU recurrent cell: ``h_t = [x_t, h_{t-1}] W`` with W clamped to [-1, 1].

    The clamp makes 1 an attainable weight, so a trained cell can hold an exact running sum (the
    accumulator of Madsen & Johansen 2020). Use inside ``keras.layers.RNN(NAUCell(units))``. Arguments as
    :class:`nalu_tf.NAU`; its regulariser is ``regularization_loss()``, not a model loss (see above).

    Example:

        import keras
        import numpy as np
        import nalu_tf

        cell = nalu_tf.NAUCell(1)
        rnn = keras.layers.RNN(cell)
        x = np.ones((1, 1000, 1), "float32")
        rnn(x)  # builds the cell
        cell.kernel.assign([[1.0], [1.0]])  # h_t = x_t + h_{t-1}, exact: the clamp lets W reach 1
        np.testing.assert_array_equal(rnn(x), [[1000.0]])
    """


@keras.saving.register_keras_serializable(package=layers.PACKAGE)
class NMUCell(_RecurrentUnit, layers.NMU):
    """NMU recurrent cell: ``h_t = NMU([x_t, h_{t-1}])``, a running product of gated inputs.

    ``h_t = prod_i (W_i x_t,i + 1 - W_i) * (W_h h_{t-1} + 1 - W_h)``, W clamped to [0, 1]; start it from
    a state of 1 (``keras.layers.RNN(...)(x, initial_state=[ones])``) for a product. Arguments as
    :class:`nalu_tf.NMU`.

    Example:

        import keras
        import numpy as np
        import nalu_tf

        cell = nalu_tf.NMUCell(1)
        rnn = keras.layers.RNN(cell)
        x, ones = np.full((1, 4, 1), 2.0, "float32"), np.ones((1, 1), "float32")
        rnn(x, initial_state=[ones])  # builds the cell
        cell.kernel.assign([[1.0], [1.0]])  # h_t = x_t * h_{t-1}, from h_0 = 1
        np.testing.assert_array_equal(rnn(x, initial_state=[ones]), [[16.0]])  # 2^4
    """


@keras.saving.register_keras_serializable(package=layers.PACKAGE)
class INALUCell(_RecurrentUnit, layers.INALU):
    """iNALU recurrent cell: ``h_t = INALU([x_t, h_{t-1}])``. Arguments as :class:`nalu_tf.INALU`.

    Example:

        import keras
        import numpy as np
        import nalu_tf

        cell = nalu_tf.INALUCell(2, regularization=0.05)
        model = keras.Sequential([keras.Input((None, 3)), keras.layers.RNN(cell)])
        assert model(np.ones((4, 7, 3), "float32")).shape == (4, 2)
        assert float(cell.regularization_loss()) >= 0  # add it to the loss of a custom training step
    """


@keras.saving.register_keras_serializable(package=layers.PACKAGE)
class RealNPUCell(_RecurrentUnit, layers.RealNPU):
    """RealNPU recurrent cell: ``h_t = RealNPU([x_t, h_{t-1}])``. Arguments as :class:`nalu_tf.RealNPU`.

    Example:

        import keras
        import numpy as np
        import nalu_tf

        model = keras.Sequential([keras.Input((None, 3)), keras.layers.RNN(nalu_tf.RealNPUCell(2))])
        assert model(np.ones((4, 7, 3), "float32")).shape == (4, 2)
    """


# Every cell above by its unit's name in ``maths.UNITS`` (a new unit's cell joins by subclassing).
CELLS: dict[str, type] = {cell.unit_name: cell for cell in _RecurrentUnit.__subclasses__()}
