"""What every unit layer and cell shares: its parameters created from ``nalu_tf.maths.UNITS``, its
forward pass through the same maths, its input spec, and the weight of its regulariser where it has one."""

from __future__ import annotations

import keras
from keras import initializers, ops

from nalu_tf import maths
from nalu_tf.checks import check_number, check_units
from nalu_tf.maths import Tensor

PACKAGE = "nalu_tf"
# The non-trainable weight of a regulariser, which RegularizationRamp finds by this name.
REGULARIZATION_WEIGHT = "regularization_weight"


def own_draw(initializer: keras.initializers.Initializer, use: int) -> keras.initializers.Initializer:
    """``initializer`` for its ``use``-th parameter (0 first): a fresh copy whose seed, if it has one, is
    shifted by ``use``. Keras initialisers fix their seed when built, so one instance shared by several
    parameters would give them all the same values."""
    if use == 0:
        return initializer
    config = initializer.get_config()
    if "seed" in config:
        config["seed"] = None if config["seed"] is None else config["seed"] + use
    return type(initializer).from_config(config)


def add_unit_weights(
    layer: keras.layers.Layer, unit_name: str, in_features: int, units: int, initializers_by_name: dict
) -> dict:
    """Create a unit's parameters on ``layer`` with ``add_weight`` and return them by name.

    A parameter with a constraint in :mod:`nalu_tf.maths` (the NAU's and NMU's clamps) gets it as its
    Keras constraint, which the optimiser applies after every update. Parameters that share one
    initialiser instance each get their own draw (see :func:`own_draw`).
    """
    params, uses = {}, {}
    for name, parameter in maths.UNITS[unit_name].parameters(in_features, units).items():
        initializer = initializers_by_name[name]
        use = uses[id(initializer)] = uses.get(id(initializer), -1) + 1
        params[name] = layer.add_weight(
            name=name,
            shape=parameter.shape,
            initializer=own_draw(initializer, use),
            constraint=parameter.constraint,
            trainable=True,
            # Read as stored (float32 under a mixed policy): the layer casts them for its forward pass
            # and keeps its regulariser in the variables' dtype (see UnitLayer.compute_params).
            autocast=False,
        )
    return params


class UnitLayer(keras.layers.Layer):
    """Shared plumbing of every unit layer (``nalu_tf.layers``) and cell: parameters from
    ``maths.UNITS[unit_name]``, a forward pass through the same maths, an input spec (rank >= 2; its last
    axis fixed once built, as Keras' Dense), and, for units with a sparsity regulariser, a non-trainable
    ``regularization_weight`` whose product with the regulariser is added to the model's losses.
    """

    unit_name = ""
    initializer_arguments: dict = {}  # parameter name -> constructor argument holding its initialiser

    def __init__(self, units: int, regularization: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = keras.layers.InputSpec(min_ndim=2)  # as Dense: (..., features), never rank 1
        self.units = check_units(units)
        if maths.UNITS[self.unit_name].regularizer is None and regularization is not None:
            raise ValueError(
                f"{type(self).__name__} has no sparsity regulariser, so regularization={regularization!r} "
                "is not an option; NAU, NMU and INALU have one"
            )
        self.regularization = check_number(
            "regularization", 0.0 if regularization is None else regularization
        )
        defaults = maths.UNITS[self.unit_name].parameters(1, 1)
        for parameter, argument in self.initializer_arguments.items():
            chosen = getattr(self, argument, None)
            setattr(
                self,
                argument,
                initializers.get(defaults[parameter].initializer if chosen is None else chosen),
            )

    @property
    def unit_options(self) -> dict:
        """The unit's keyword options (those its forward pass declares), from this layer's attributes."""
        return {name: getattr(self, name) for name in maths.UNITS[self.unit_name].options}

    def build(self, input_shape: tuple) -> None:
        chosen = {name: getattr(self, argument) for name, argument in self.initializer_arguments.items()}
        self._params = add_unit_weights(self, self.unit_name, input_shape[-1], self.units, chosen)
        # Its width is fixed once built: a later input of another width is a Keras error naming both.
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: input_shape[-1]})
        for name, variable in self._params.items():
            setattr(self, name, variable)
        if maths.UNITS[self.unit_name].regularizer is not None:
            self.regularization_weight = self.add_weight(
                name=REGULARIZATION_WEIGHT,
                shape=(),
                initializer=initializers.Constant(self.regularization),
                trainable=False,
                autocast=False,
            )

    def compute_params(self) -> dict:
        """The unit's parameters cast to the layer's compute dtype (float16 under ``mixed_float16``;
        the variables themselves stay in the variable dtype, float32)."""
        return {name: ops.cast(variable, self.compute_dtype) for name, variable in self._params.items()}

    def regularization_loss(self) -> Tensor | None:
        """``regularization_weight * R`` of the unit's regulariser (None for a unit without one), computed
        from the variables in their own dtype (float32 under a mixed policy), like the other loss terms."""
        regularizer = maths.UNITS[self.unit_name].regularizer
        if regularizer is None:
            return None
        return self.regularization_weight * regularizer(self._params)

    def call(self, inputs: Tensor) -> Tensor:
        loss = self.regularization_loss()
        if loss is not None:
            self.add_loss(loss)
        return maths.UNITS[self.unit_name].forward(inputs, self.compute_params(), **self.unit_options)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict:
        config = {**super().get_config(), "units": self.units}
        if maths.UNITS[self.unit_name].regularizer is not None:
            config["regularization"] = self.regularization
        for argument in self.initializer_arguments.values():
            config[argument] = initializers.serialize(getattr(self, argument))
        return {**config, **self.unit_options}
