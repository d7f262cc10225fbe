"""The records that describe a unit's maths by name (:class:`Unit`, :class:`Cell`, :class:`Parameter`,
:class:`Split`) and the one rule that makes any unit a recurrent cell (:func:`unit_cell`). The units
themselves are in ``nalu_tf.maths``."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable, Mapping

from keras import ops

# Anything keras.ops computes with: a backend tensor, a NumPy array, a Keras variable.
Tensor = Any
# The axes a regulariser or the sparsity error reduces over: None for all, (1, 2) per stacked seed.
Axis = int | tuple[int, ...] | None


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One trainable parameter of a unit: its shape, its default initialiser and its constraint.

    ``initializer`` is anything ``keras.initializers.get`` accepts. ``constraint``, when given, maps the
    parameter back into its allowed set after every optimiser step (the NAU's and NMU's clamps).
    ``per_output``: output j depends only on slice j of the last axis (True for every weight matrix and
    output bias here; False for the RealNPU's relevance, one value per input shared by all outputs).
    """

    shape: tuple[int, ...]
    initializer: object
    constraint: Callable | None = None
    per_output: bool = True


@dataclasses.dataclass(frozen=True)
class Split:
    """A unit written as sums over its input rows followed by an output: ``forward(x, params)`` equals
    ``output(sums(x, matrices(params)), params)``.

    ``matrices(params)`` gives the effective ``(in, out)`` matrices; ``sums(x, matrices, **options)`` a
    tuple of tensors, each a sum over the matrices' rows, so that for inputs split by columns
    (``[x_t, h_{t-1}]``, say) the parts' sums add up to the whole's; ``output(sums, params, **options)``
    the unit's output. A recurrent cell uses it to project every time step's input at once and keep
    only the hidden-state part sequential.
    """

    matrices: Callable[[Mapping[str, object]], tuple]
    sums: Callable[..., tuple]
    output: Callable[..., object]


@dataclasses.dataclass(frozen=True)
class Unit:
    """A unit's maths by name: its parameters, its forward pass and its effective weight matrices.

        ``parameters(in_features, units, **options)`` gives the per-seed parameter shapes;
        ``forward(x, params, **options)`` computes the unit; ``output_shape(in_shape, units, **options)`` gives
    the shape of one output item (``(units,)`` for a vector unit); ``weights(params)`` gives the matrices whose
        distance from {-1, 0, 1} is the sparsity error; ``regularizer(params, axis)``, for units that have
        one, is the sparsity regulariser (reduced over ``axis``: all axes by default, ``(1, 2)`` per seed).
    """

    parameters: Callable[..., dict[str, Parameter]]
    forward: Callable[..., object]
    weights: Callable[[Mapping[str, object]], list]
    regularizer: Callable[..., object] | None = None
    output_shape: Callable[..., tuple] = lambda in_shape, units, **_: (*in_shape[:-1], units)
    split: Split | None = None  # the sums-then-output form, for units whose sums are linear in the rows

    @property
    def options(self) -> tuple[str, ...]:
        """The keyword options ``forward`` takes (``epsilon``, say), read from its signature: declared once."""
        return tuple(list(inspect.signature(self.forward).parameters)[2:])


@dataclasses.dataclass(frozen=True)
class Cell:
    """A recurrent cell's maths by name, split so that the input part of every time step can be computed
    at once and only the hidden-state part runs step by step.

    ``parameters(in_features, units, **options)`` gives the per-seed parameter shapes for inputs of width
    ``in_features``. ``project(x, params, **options)`` gives the input's part of the cell's sums, a tuple
    of tensors (any leading axes: all time steps at once); ``advance(parts, states, params, **options)``
    adds the previous state's part and returns ``(output, new_states)``, where ``states`` is a tuple of
    ``state_count`` tensors of width ``units``. ``step`` is one time step: ``advance(project(x_t))``.
    ``projects``: False when ``project`` returns the input itself (units whose sums are not linear in
    the rows: the cell concatenates ``[x_t, h_{t-1}]`` at every step).
    """

    parameters: Callable[..., dict[str, Parameter]]
    project: Callable[..., tuple]
    advance: Callable[..., tuple]
    weights: Callable[[Mapping[str, object]], list]
    state_count: int = 1
    regularizer: Callable[..., object] | None = None
    projects: bool = True

    def step(self, x_t, states, params, **options):
        """One time step: ``(output, new_states)``."""
        return self.advance(self.project(x_t, params, **options), states, params, **options)


def linear_split(matrix: Callable[[Mapping[str, object]], object]) -> Split:
    """The :class:`Split` of a unit that is one matrix product ``x matrix(params)`` (NAC, NAU)."""
    return Split(
        matrices=lambda p: (matrix(p),),
        sums=lambda x, m, **_: (ops.matmul(x, m[0]),),
        output=lambda sums, p, **_: sums[0],
    )


def unit_cell(unit: Unit) -> Cell:
    """A unit as a cell, ``h_t = unit([x_t, h_{t-1}])``: its matrices' first rows read x_t, the last h_{t-1}."""
    if unit.split is None:

        def advance(parts, states, params, **options):
            h = unit.forward(ops.concatenate([parts[0], states[0]], axis=-1), params, **options)
            return h, (h,)

        project, projects = (lambda x, params, **_: (x,)), False
    else:
        split = unit.split

        def project(x, params, **options):
            rows = x.shape[-1]
            return split.sums(x, [m[..., :rows, :] for m in split.matrices(params)], **options)

        def advance(parts, states, params, **options):
            h = states[0]
            rows = h.shape[-1]
            # sums([x_t, h_{t-1}]) = sums(x_t; first rows) + sums(h_{t-1}; last rows)
            own = split.sums(h, [m[..., -rows:, :] for m in split.matrices(params)], **options)
            h = split.output(tuple(a + b for a, b in zip(parts, own)), params, **options)
            return h, (h,)

        projects = True
    return Cell(
        parameters=lambda in_features, units, **options: unit.parameters(
            in_features + units, units, **options
        ),
        project=project,
        advance=advance,
        weights=unit.weights,
        regularizer=unit.regularizer,
        projects=projects,
    )
