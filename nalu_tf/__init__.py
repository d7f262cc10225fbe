"""nalu_tf: neural arithmetic units for Keras 3.

Layers: :class:`NAC`, :class:`NALU` (Trask et al. 2018) and :class:`NAU`, :class:`NMU` (Madsen & Johansen
2020), :class:`INALU` (Schlor et al. 2020), :class:`RealNPU` (Heim et al. 2020), with the callback
:class:`RegularizationRamp` for the NAU's, NMU's and iNALU's regularisers; the initialisers
:class:`CappedGlorotUniform` (the NAU's) and :class:`NACUniform` (Madsen & Johansen's for NAC and NALU);
recurrent cells, one per unit: :class:`NACCell`, :class:`NALUCell`, :class:`NAUCell`, :class:`NMUCell`,
:class:`INALUCell`, :class:`RealNPUCell`. The equations live once, in :mod:`nalu_tf.maths`,
which the layers, the cells and the multi-seed trainer all call.
"""

from nalu_tf import maths
from nalu_tf.cells import INALUCell, NACCell, NALUCell, NAUCell, NMUCell, RealNPUCell
from nalu_tf.initializers import CappedGlorotUniform, NACUniform
from nalu_tf.callbacks import RegularizationRamp
from nalu_tf.layers import INALU, NAC, NALU, NAU, NMU, RealNPU

__all__ = [
    "NAC",
    "NALU",
    "NAU",
    "NMU",
    "INALU",
    "RealNPU",
    "RegularizationRamp",
    "CappedGlorotUniform",
    "NACUniform",
    "NACCell",
    "NALUCell",
    "NAUCell",
    "NMUCell",
    "INALUCell",
    "RealNPUCell",
    "maths",
]
__version__ = "0.1.0"
