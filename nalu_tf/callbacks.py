"""Keras callbacks for training models that hold the units' layers and cells."""

from __future__ import annotations

import keras

from nalu_tf import maths
from nalu_tf.checks import check_number
from nalu_tf.layers import REGULARIZATION_WEIGHT


class RegularizationRamp(keras.callbacks.Callback):
    """Ramp the regulariser of every NAU, NMU and INALU layer and cell in the model, as Madsen &
    Johansen (2020) ramp their sparsity regularisers.

    Before each training batch, every ``regularization_weight`` variable of those layers and cells
    (nested models and ``keras.layers.RNN`` cells included) is set to
    ``maximum * clip((step - start) / (end - start), 0, 1)``, where ``step`` is the optimiser's iteration
    count (see :func:`nalu_tf.maths.regularization_ramp`). The weights are found among the model's
    non-trainable variables, through public Keras API only.

    Args:
        maximum: the weight reached at ``end``, >= 0.
        start, end: optimiser steps between which the weight rises linearly (with ``end <= start`` it
            jumps to ``maximum`` at ``start``).
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

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        weight = maths.regularization_ramp(
            self.model.optimizer.iterations, self.maximum, self.start, self.end
        )
        for variable in self.regularization_weights():
            variable.assign(weight)
