"""nalu_tf: neural arithmetic units for Keras 3.

Layers: :class:`NAC`, :class:`NALU`; recurrent cells: :class:`NACCell`, :class:`NALUCell`. The equations
live once, in :mod:`nalu_tf.maths`, which the layers, the cells and the multi-seed trainer all call.
"""

from nalu_tf import maths
from nalu_tf.cells import NACCell, NALUCell
from nalu_tf.layers import NAC, NALU

__all__ = ["NAC", "NALU", "NACCell", "NALUCell", "maths"]
__version__ = "0.1.0"
