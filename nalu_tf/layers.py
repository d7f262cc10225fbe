"""Keras 3 layers: NAC and NALU (Trask et al. 2018) and the later units NAU, NMU, iNALU and RealNPU."""

from __future__ import annotations

import keras
from keras import initializers, ops

from nalu_tf import maths
from nalu_tf.checks import check_epsilon, check_number, check_units
from nalu_tf.maths import Tensor

# An initialiser as Keras takes one: a name ("glorot_uniform"), a config dict or an instance.
InitializerLike = str | dict | keras.initializers.Initializer

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
            # and keeps its regulariser in the variables' dtype (see _UnitLayer.compute_params).
            autocast=False,
        )
    return params


class _UnitLayer(keras.layers.Layer):
    """Shared plumbing of every layer below: parameters from ``maths.UNITS[unit_name]``, a forward pass
    through the same maths, and, for units with a sparsity regulariser, a non-trainable
    ``regularization_weight`` whose product with the regulariser is added to the model's losses.
    """

    unit_name = ""
    initializer_arguments: dict = {}  # parameter name -> constructor argument holding its initialiser

    def __init__(self, units: int, regularization: float | None = None, **kwargs):
        super().__init__(**kwargs)
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


@keras.saving.register_keras_serializable(package=PACKAGE)
class NAC(_UnitLayer):
    """Neural accumulator (Trask et al. 2018).

    ``W = tanh(w_hat) * sigmoid(m_hat)`` and ``y = x W``, with no bias. W is recomputed from ``w_hat`` and
    ``m_hat`` on every call, so both receive gradients.

    Args:
        units: number of outputs, >= 1.
        w_hat_initializer, m_hat_initializer: Keras initialisers (default Glorot uniform).
    """

    unit_name = "nac"
    initializer_arguments = {"w_hat": "w_hat_initializer", "m_hat": "m_hat_initializer"}

    def __init__(
        self,
        units: int,
        w_hat_initializer: InitializerLike = "glorot_uniform",
        m_hat_initializer: InitializerLike = "glorot_uniform",
        **kwargs,
    ):
        self.w_hat_initializer = w_hat_initializer
        self.m_hat_initializer = m_hat_initializer
        super().__init__(units, **kwargs)


@keras.saving.register_keras_serializable(package=PACKAGE)
class NALU(_UnitLayer):
    """Neural arithmetic logic unit, faithful to Trask et al. (2018).

    ``W = tanh(w_hat) * sigmoid(m_hat)``; ``a = x W``; ``m = exp(log(|x| + epsilon) W)``;
    ``g = sigmoid(x G)``; ``y = g * a + (1 - g) * m``. The additive and multiplicative paths share the same
    W (one ``w_hat`` and one ``m_hat``), and the gate ``G`` (variable ``gate_kernel``) reads the input and
    has no bias, as in the paper.

    Under a float16 compute dtype (``mixed_float16``) the multiplicative path overflows to inf beyond
    65,504; give the layer ``dtype="float32"`` where products may grow that large.

    Args:
        units: number of outputs, >= 1.
        epsilon: added to |x| before the logarithm, > 0 (the paper gives no value; 1e-7 is common).
        w_hat_initializer, m_hat_initializer, gate_initializer: Keras initialisers (Glorot uniform).
    """

    unit_name = "nalu"
    initializer_arguments = {
        "w_hat": "w_hat_initializer",
        "m_hat": "m_hat_initializer",
        "gate_kernel": "gate_initializer",
    }

    def __init__(
        self,
        units: int,
        epsilon: float = maths.DEFAULT_EPSILON,
        w_hat_initializer: InitializerLike = "glorot_uniform",
        m_hat_initializer: InitializerLike = "glorot_uniform",
        gate_initializer: InitializerLike = "glorot_uniform",
        **kwargs,
    ):
        self.w_hat_initializer = w_hat_initializer
        self.m_hat_initializer = m_hat_initializer
        self.gate_initializer = gate_initializer
        super().__init__(units, **kwargs)
        self.epsilon = check_epsilon(epsilon)


class _KernelUnitLayer(_UnitLayer):
    """A unit whose one parameter is ``kernel`` and whose regulariser weight is a constructor argument
    (NAU, NMU): the constructor they share."""

    initializer_arguments = {"kernel": "kernel_initializer"}

    def __init__(
        self,
        units: int,
        regularization: float = 0.0,
        kernel_initializer: InitializerLike | None = None,
        **kwargs,
    ):
        self.kernel_initializer = kernel_initializer
        super().__init__(units, regularization, **kwargs)


@keras.saving.register_keras_serializable(package=PACKAGE)
class NAU(_KernelUnitLayer):
    """Neural addition unit (Madsen & Johansen 2020).

    ``z = x W`` with W clamped to [-1, 1] (in the forward pass, and as a constraint after every
    optimiser step), no bias. Sparsity regulariser ``R = mean(min(|W|, 1 - |W|))``, added to the
    model's losses times ``regularization_weight`` (ramp it with :class:`RegularizationRamp`).

    Args:
        units: number of outputs, >= 1.
        regularization: initial regulariser weight, >= 0 (default 0: off unless ramped).
        kernel_initializer: Keras initialiser; default Glorot uniform capped at [-1/2, 1/2].
    """

    unit_name = "nau"


@keras.saving.register_keras_serializable(package=PACKAGE)
class NMU(_KernelUnitLayer):
    """Neural multiplication unit (Madsen & Johansen 2020).

    ``z_j = prod_i (W_ij x_i + 1 - W_ij)`` with W clamped to [0, 1]. Sparsity regulariser
    ``R = mean(min(W, 1 - W))``, weighted by ``regularization_weight`` as for :class:`NAU`.

    Args:
        units: number of outputs, >= 1.
        regularization: initial regulariser weight, >= 0.
        kernel_initializer: Keras initialiser; default U[1/4, 3/4] (mean 1/2, as published; the
            published variance 1/4 is capped, as in the reference code, to stay inside [0, 1]).
    """

    unit_name = "nmu"


@keras.saving.register_keras_serializable(package=PACKAGE)
class INALU(_UnitLayer):
    """Improved NALU (Schlor, Ring & Hotho 2020).

    ``a = x W_a``; ``m = exp(min(log(|x| + eps) W_m, max_log))``;
    ``s_j = prod_i (sign(x_i) |W_m,ij| + 1 - |W_m,ij|)``; ``g = sigmoid(b_g)``;
    ``y = g * a + (1 - g) * m * s``, where ``W_a`` and ``W_m`` are NAC weights
    (``tanh(w_hat) * sigmoid(m_hat)``) with their own parameters and the gate ``b_g`` (``gate_bias``) does
    not read the input. The paper's gradient clipping is an optimiser setting in Keras
    (``clipvalue``); the multi-seed trainer has ``clip_value`` and ``reinitialise_patience``.

    Args:
        units: number of outputs, >= 1.
        epsilon: added to |x| before the logarithm, > 0.
        max_log: the log path is clipped at ``exp(max_log)``, > 0 (default 20).
        regularization: weight of iNALU's regulariser ``sum_p mean(max(20 - |p|, 0))`` over the five raw
            parameters, >= 0 (default 0: off unless ramped with :class:`RegularizationRamp`; its authors
            use 0.05 once the training loss is below 1).
        w_hat_initializer, m_hat_initializer: initialisers of ``w_hat_add``, ``w_hat_mul`` and of
            ``m_hat_add``, ``m_hat_mul`` (default N(0.88, 0.2) and N(0.5, 0.2), iNALU's own); the two
            parameters that share an initialiser still get separate draws.
        gate_initializer: initialiser of the gate bias (default N(0, 0.2): the gate starts near 1/2).
    """

    unit_name = "inalu"
    initializer_arguments = {
        "w_hat_add": "w_hat_initializer",
        "m_hat_add": "m_hat_initializer",
        "w_hat_mul": "w_hat_initializer",
        "m_hat_mul": "m_hat_initializer",
        "gate_bias": "gate_initializer",
    }

    def __init__(
        self,
        units: int,
        epsilon: float = maths.DEFAULT_EPSILON,
        max_log: float = maths.INALU_MAX_LOG,
        w_hat_initializer: InitializerLike | None = None,
        m_hat_initializer: InitializerLike | None = None,
        gate_initializer: InitializerLike | None = None,
        **kwargs,
    ):
        self.w_hat_initializer = w_hat_initializer
        self.m_hat_initializer = m_hat_initializer
        self.gate_initializer = gate_initializer
        super().__init__(units, **kwargs)
        self.epsilon = check_epsilon(epsilon)
        self.max_log = check_number("max_log", max_log, minimum=1e-12)


@keras.saving.register_keras_serializable(package=PACKAGE)
class RealNPU(_UnitLayer):
    """Real neural power unit (Heim, Pevny & Smidl 2020).

    ``g = clip(relevance, 0, 1)``; ``r = g (|x| + eps) + (1 - g)``; ``k = g [x < 0]``;
    ``z = exp(log(r) W) * cos(pi k W)``. An input with relevance 0 is replaced by the neutral 1; the
    cosine gives the sign of (odd) powers of negative inputs. As the NALU's, its exp overflows to inf
    beyond 65,504 under a float16 compute dtype; ``dtype="float32"`` keeps one layer in float32.

    Args:
        units: number of outputs, >= 1.
        epsilon: added to |x| inside the logarithm, > 0.
        kernel_initializer: initialiser of W (Glorot uniform).
        relevance_initializer: initialiser of the relevance gate (constant 1/2).
    """

    unit_name = "real_npu"
    initializer_arguments = {"kernel": "kernel_initializer", "relevance": "relevance_initializer"}

    def __init__(
        self,
        units: int,
        epsilon: float = maths.DEFAULT_EPSILON,
        kernel_initializer: InitializerLike | None = None,
        relevance_initializer: InitializerLike | None = None,
        **kwargs,
    ):
        self.kernel_initializer = kernel_initializer
        self.relevance_initializer = relevance_initializer
        super().__init__(units, **kwargs)
        self.epsilon = check_epsilon(epsilon)


def _unit_layers(base: type) -> list:
    """The subclasses of ``base`` at any depth, in order of definition, that name a unit themselves."""
    found = []
    for layer in base.__subclasses__():
        if "unit_name" in vars(layer):  # not a shared base such as _KernelUnitLayer
            found.append(layer)
        found += _unit_layers(layer)
    return found


# Every layer above by its unit's name in ``maths.UNITS`` (a new unit's layer joins by subclassing).
LAYERS: dict[str, type[_UnitLayer]] = {layer.unit_name: layer for layer in _unit_layers(_UnitLayer)}
