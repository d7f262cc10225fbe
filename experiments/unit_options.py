"""The options of the library's units as a config may set them, checked without loading Keras.

Each option's schema is written once, in :data:`OPTION_SCHEMA`. A config sets an option for every unit of
a table in its ``task:`` block (a task's schema takes the entry from here: ``"epsilon":
OPTION_SCHEMA["epsilon"]``) or for one unit in its ``units:`` block (``units: {inalu: {max_log: 10}}``);
the trainer gives each layer those its unit declares (``experiments.engine.registry``).
:data:`UNIT_OPTIONS` lists what each unit's forward pass takes; a test checks it against the maths'
signatures. :data:`REGULARIZED_UNITS` lists the units whose own regulariser the ``regularization*``
training settings weigh. The library checks the values again itself (``nalu_tf.checks``): it knows
nothing of YAML.
"""

from __future__ import annotations

from experiments.schema import Number

OPTION_SCHEMA = {
    "epsilon": Number(minimum=0, exclusive_minimum=True),  # added inside logs (NALU, iNALU, RealNPU)
    "max_log": Number(minimum=0, exclusive_minimum=True),  # iNALU's clip of its log path
}
UNIT_OPTIONS = {"nalu": ("epsilon",), "inalu": ("epsilon", "max_log"), "real_npu": ("epsilon",)}
# The units with a regulariser of their own (NAU, NMU: sparsity; iNALU: saturation), as the library's
# ``maths.UNITS[name].regularizer`` says (a test checks): the training settings that weigh and ramp it
# mean something only for these, as the library's NAC(regularization=1) is an error. A task whose axis
# value names a model holding such a layer under another name lists its own ``REGULARIZED_UNITS``.
REGULARIZED_UNITS = ("nau", "nmu", "inalu")


def point_settings(resolved):
    """The unit option values of one resolved grid point: the task's, then its unit's own on top."""
    shared = {key: value for key, value in resolved["task"].items() if key in OPTION_SCHEMA}
    return {**shared, **resolved.get("unit_options", {})}
