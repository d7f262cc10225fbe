"""Keras 3 layers: NAC and NALU (Trask et al. 2018) and the later units NAU, NMU, iNALU and RealNPU."""

from __future__ import annotations

import keras

from nalu_tf import maths
from nalu_tf.checks import check_epsilon, check_number
from nalu_tf.unit_layer import PACKAGE, REGULARIZATION_WEIGHT, UnitLayer

__all__ = ["NAC", "NALU", "NAU", "NMU", "INALU", "RealNPU", "LAYERS", "PACKAGE", "REGULARIZATION_WEIGHT"]

# An initialiser as Keras takes one: a name ("glorot_uniform"), a config dict or an instance.
InitializerLike = str | dict | keras.initializers.Initializer


@keras.saving.register_keras_serializable(package=PACKAGE)
class NAC(UnitLayer):
    """Neural accumulator (Trask et al. 2018).

    ``W = tanh(w_hat) * sigmoid(m_hat)`` and ``y = x W``, with no bias. W is recomputed from ``w_hat`` and
    ``m_hat`` on every call, so both receive gradients.

    Args:
        units: number of outputs, >= 1.
        w_hat_initializer, m_hat_initializer: Keras initialisers (default Glorot uniform).

    Example:

        import numpy as np
        import nalu_tf

        layer = nalu_tf.NAC(1)
        layer.build((None, 2))
        layer.w_hat.assign([[40.0], [-40.0]])  # tanh(+-40) = +-1 in float32
        layer.m_hat.assign([[40.0], [40.0]])  # sigmoid(40) = 1: W = [[1], [-1]]
        np.testing.assert_array_equal(layer(np.array([[5.0, 3.0]], "float32")), [[2.0]])  # a - b
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
class NALU(UnitLayer):
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

    Example:

        import numpy as np
        import nalu_tf

        layer = nalu_tf.NALU(1)
        layer.build((None, 2))
        layer.w_hat.assign([[40.0], [40.0]])
        layer.m_hat.assign([[40.0], [40.0]])  # W = [[1], [1]]
        layer.gate_kernel.assign([[-40.0], [-40.0]])  # gate 0 on positive inputs: the multiplicative path
        np.testing.assert_allclose(layer(np.array([[5.0, 3.0]], "float32")), [[15.0]], rtol=1e-5)  # a * b
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


class _KernelUnitLayer(UnitLayer):
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

    Example:

        import numpy as np
        import nalu_tf

        layer = nalu_tf.NAU(1)
        layer.build((None, 2))
        layer.kernel.assign([[1.0], [-1.0]])
        np.testing.assert_array_equal(layer(np.array([[5.0, 3.0]], "float32")), [[2.0]])  # a - b
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

    Example:

        import numpy as np
        import nalu_tf

        layer = nalu_tf.NMU(1)
        layer.build((None, 3))
        layer.kernel.assign([[1.0], [1.0], [0.0]])  # the third input is left out (a factor of 1)
        np.testing.assert_array_equal(layer(np.array([[5.0, -3.0, 7.0]], "float32")), [[-15.0]])  # a * b
    """

    unit_name = "nmu"


@keras.saving.register_keras_serializable(package=PACKAGE)
class INALU(UnitLayer):
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

    Example:

        import numpy as np
        import nalu_tf

        layer = nalu_tf.INALU(1)
        layer.build((None, 2))
        for name in ("w_hat_mul", "m_hat_mul"):
            getattr(layer, name).assign([[40.0], [40.0]])  # W_m = [[1], [1]]
        layer.gate_bias.assign(np.full(layer.gate_bias.shape, -40.0))  # gate 0: the multiplicative path
        np.testing.assert_allclose(layer(np.array([[5.0, -3.0]], "float32")), [[-15.0]], rtol=1e-5)  # a * b
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
class RealNPU(UnitLayer):
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

    Example:

        import numpy as np
        import nalu_tf

        layer = nalu_tf.RealNPU(1)
        layer.build((None, 2))
        layer.kernel.assign([[1.0], [-1.0]])
        layer.relevance.assign(np.ones(layer.relevance.shape))
        np.testing.assert_allclose(layer(np.array([[-6.0, 3.0]], "float32")), [[-2.0]], rtol=1e-5)  # a / b
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
LAYERS: dict[str, type[UnitLayer]] = {layer.unit_name: layer for layer in _unit_layers(UnitLayer)}
