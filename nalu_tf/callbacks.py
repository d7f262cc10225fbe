"""Keras callbacks for training models that hold the units' layers and cells."""

from __future__ import annotations

import keras

from nalu_tf import maths
from nalu_tf.checks import check_number
from nalu_tf.unit_layer import REGULARIZATION_WEIGHT


class RegularizationRamp(keras.callbacks.Callback):
    """Ramp the regulariser of every NAU, NMU and INALU layer and cell in the model, as Madsen &
    Johansen (2020) ramp their sparsity regularisers.

    Before each training batch, every ``regularization_weight`` variable of those layers and cells
    (nested models and ``keras.layers.RNN`` cells included) is set to
    ``maximum * clip((step - start) / (end - start), 0, 1)``, where ``step`` is the optimiser's iteration
    count (see :func:`nalu_tf.maths.regularization_ramp`). The weights are found among the model's
    non-trainable variables, through public Keras API only; a model without any is a ValueError when
    training begins (after the first batch for a model that it builds).

    Args:
        maximum: the weight reached at ``end``, >= 0.
        start, end: optimiser steps between which the weight rises linearly (with ``end <= start`` it
            jumps to ``maximum`` at ``start``).

    Example:

        import keras
        import numpy as np
        import nalu_tf

        model = keras.Sequential([keras.Input((2,)), nalu_tf.NAU(1)])
        model.compile(keras.optimizers.Adam(1e-2), "mse")
        ramp = nalu_tf.RegularizationRamp(maximum=1.0, start=0, end=4)
        model.fit(np.ones((8, 2)), np.full((8, 1), 2.0), batch_size=1, verbose=0, callbacks=[ramp])
        assert float(model.layers[0].regularization_weight.numpy()) == 1.0  # reached at step 4 of 8
    """

    def __init__(self, maximum: float = 10.0, start: int = 0, end: int = 0):
        super().__init__()
        self.maximum = check_number("maximum", maximum)
        self.start = int(check_number("start", start))
        self.end = int(check_number("end", end))

    def regularization_weights(self) -> list:
        """The ``regularization_weight`` variables this callback sets, in the model's variable order."""
        return [
            variable
            for variable in self.model.non_trainable_variables
            if variable.name == REGULARIZATION_WEIGHT
        ]

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.checked = False
        if self.model.built:  # else (a Sequential without an Input, say) once its first batch has built it
            self.check_regularizers()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if not self.checked:
            self.check_regularizers()

    def check_regularizers(self) -> None:
        """Raise ValueError if the model has no regulariser weight: ramping nothing would silently train
        without the regulariser the callback was given for."""
        if not self.regularization_weights():
            raise ValueError(
                "RegularizationRamp: no layer or cell of the model has a regulariser, so there is nothing "
                "to ramp; NAU, NMU and INALU layers and cells have one (NAC, NALU and RealNPU do not)"
            )
        self.checked = True

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        weight = maths.regularization_ramp(
            self.model.optimizer.iterations, self.maximum, self.start, self.end
        )
        for variable in self.regularization_weights():
            variable.assign(weight)
