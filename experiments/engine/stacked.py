"""The stacked model: one copy of every parameter per member (a seed of a cell), the units' maths from
``nalu_tf.maths`` (the functions the Keras layers call) and the baselines of ``baselines.py``, both looked
up in ``registry.py``. What the engine measures of a model besides its outputs is in ``measures.py``.

Each member's initial weights depend only on its seed, the layer, the parameter's name and the restart: seed
k among 64 starts from the same weights as seed k alone (tests check this bit for bit).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from experiments.engine import registry
from experiments.engine.initial import initial_value, parameter_seed
from experiments.engine.items import ProjectedItems
from nalu_tf import maths

INITIAL_STATE = "initial_state"  # the parameter name of a recurrent layer's learned initial state
UNROLL_LIMIT = 32  # recurrent layers unroll sequences up to this length; longer ones use tf.while_loop


class StackedModel:
    """A stack of units with one copy of every parameter per seed.

    Inputs are ``(seeds or 1, batch, features)``, or ``(seeds or 1, batch, time, features)`` for a model
    whose first layer is recurrent; a recurrent layer runs its cell over time and emits its last output.

    With a ``table`` (items such as images, ``(count, *item_shape)``), inputs are indices into it,
    ``(seeds or 1, batch, time)``: the layers before the first recurrent layer (an encoder, say a CNN)
    read each item, and the recurrent layer reads their outputs in sequence. The encoder runs once per
    position of the batch, or once per table item when the batch has more positions than the table has
    items (long evaluation sequences), whichever is fewer; in the latter case the first recurrent layer's
    input part is also computed once per item and looked up (``items.py``).
    """

    def __init__(self, layers, input_size, seeds, table=None, unit_options=None):
        self.layers = registry.with_options(layers, unit_options)
        self.seed_count = len(seeds)
        self.params = []
        self.specs = []
        self.table = None if table is None else tf.constant(table, tf.float32)
        recurrent = [i for i, layer in enumerate(self.layers) if layer.recurrent]
        self.encoder_depth = recurrent[0] if recurrent and table is not None else 0
        if recurrent and recurrent[0] > 0 and table is None:
            raise ValueError("layers before a recurrent layer need a table of items to encode")
        shape = (
            tuple(table.shape[1:])
            if table is not None
            else (tuple(input_size) if isinstance(input_size, (tuple, list)) else (input_size,))
        )
        self.wired = any(layer.inputs for layer in self.layers)
        widths = {"input": shape[-1]}  # what each source of a wired layer gives: the input, a layer's output
        for index, layer in enumerate(self.layers):
            if layer.inputs:
                shape = (sum(widths[source] for source in layer.inputs),)
            specs = self.maths_of(layer).parameters(shape[-1], layer.width, **layer.options)
            if layer.recurrent and layer.initial_state == "learned":
                width = self.maths_of(layer).state_count * layer.width
                specs[INITIAL_STATE] = maths.Parameter((width,), "zeros")
            elif layer.initial_state != "zeros":
                raise ValueError(
                    f"layer {index} ({layer.unit}): initial_state must be 'zeros' or 'learned' (a recurrent layer), got {layer.initial_state!r}"
                )
            unknown = set(layer.initializers) - set(specs)
            if unknown:
                raise ValueError(
                    f"layer {index} ({layer.unit}) has no parameter {sorted(unknown)}; it has {sorted(specs)}"
                )
            specs = {
                name: dataclasses.replace(spec, initializer=layer.initializers.get(name, spec.initializer))
                for name, spec in specs.items()
            }
            params = {}
            for name, spec in specs.items():
                params[name] = keras.Variable(
                    self.initial_values(spec, index, name, seeds), name=f"layer{index}_{name}"
                )
                # The optimiser applies a variable's constraint after each update (the NAU's and NMU's clamps).
                params[name].constraint = spec.constraint
            self.params.append(params)
            self.specs.append(specs)
            shape = (
                (layer.width,)
                if layer.recurrent
                else self.maths_of(layer).output_shape(shape, layer.width, **layer.options)
            )
            widths[index] = shape[-1]

    @staticmethod
    def maths_of(layer):
        """The maths (a ``nalu_tf.maths.Unit`` or ``Cell``, or a baseline's) of one of the model's layers."""
        return (registry.CELLS if layer.recurrent else registry.UNITS)[layer.unit]

    @staticmethod
    def initial_values(spec, layer_index, name, seeds, restarts=None):
        """Stacked initial values of one parameter for ``seeds`` (at their ``restarts``-th draw, 0 first)."""
        restarts = restarts if restarts is not None else [0] * len(seeds)
        values = np.stack(
            [
                initial_value(spec.initializer, spec.shape, parameter_seed(s, layer_index, name, r))
                for s, r in zip(seeds, restarts)
            ]
        )
        # Vectors get a batch axis so they broadcast against x of shape (seeds, batch, features).
        return values[:, None, :] if len(spec.shape) == 1 else values

    @property
    def variables(self):
        return [v for params in self.params for v in params.values()]

    def encode(self, items, params=None):
        """The encoder's codes of raw items (1 or members, n, *item_shape): (members or 1, n, features),
        what the first recurrent layer reads for each item (the layers before it; a model with a table)."""
        params = params or self.params
        for layer, layer_params in zip(self.layers[: self.encoder_depth], params):
            items = registry.UNITS[layer.unit].forward(items, layer_params, **layer.options)
        return items

    def _read_table(self, x, params):
        """Encoded items at the indices x (seeds or 1, batch, time): (seeds or 1, batch, time, features)."""
        indices = tf.cast(x, tf.int32)
        positions = int(np.prod(x.shape[1:]))
        if positions > int(self.table.shape[0]):  # encode every item once, then look the codes up
            codes = self.encode(self.table[None], params)  # (seeds or 1, count, features)
            if codes.shape[0] != indices.shape[0]:
                shape = [max(codes.shape[0], indices.shape[0]), *indices.shape[1:]]
                indices = tf.broadcast_to(indices, shape)
                codes = tf.broadcast_to(codes, [shape[0], *codes.shape[1:]])
            return tf.gather(codes, indices, batch_dims=1)
        items = tf.gather(self.table, indices)  # (seeds or 1, batch, time, *item_shape)
        codes = self.encode(tf.reshape(items, [indices.shape[0], positions, *self.table.shape[1:]]), params)
        return tf.reshape(codes, [codes.shape[0], *x.shape[1:], codes.shape[-1]])

    def _table_inputs(self, x, params, input_means):
        """What the first recurrent layer reads for the indices x: the items' codes (see ``_read_table``),
        or, where the batch has more positions than the table has items and the cell's input part is a
        projection, that part computed once per item and looked up (:class:`ProjectedItems`: a number
        word's embedding is projected once per word, not once per position)."""
        layer = self.layers[self.encoder_depth]
        cell = registry.CELLS[layer.unit] if layer.recurrent else None
        members = int(x.shape[0])
        if (
            cell is None
            or not cell.projects
            or input_means
            or members not in (1, self.seed_count)
            or int(np.prod(x.shape[1:])) <= int(self.table.shape[0])
        ):
            return self._read_table(x, params)
        codes = self.encode(self.table[None], params)  # (members or 1, items, features)
        weights = self._projection_weights(cell, params[self.encoder_depth], int(codes.shape[0]))
        parts = self._project(cell, layer, weights, codes)  # each (members, items, width)
        indices = tf.broadcast_to(tf.cast(x, tf.int32), [self.seed_count, *x.shape[1:]])
        return ProjectedItems(parts, indices)

    def __call__(self, x, params=None, every_step=False, input_means=False, codes=False):
        """Outputs (members, batch, outputs). ``x`` has a leading axis of 1 (shared by every member), of
        the member count, or of a divisor of it: then member m reads ``x[m % len(x)]`` (a stack of cells
        whose members repeat the same seeds reads each seed's inputs once, without copying them).

        ``every_step``: the recurrent layer emits its output after every time step (sequences no longer
        than ``UNROLL_LIMIT``), the layers after it read each, and the outputs are
        (members, batch, time, outputs).

        ``input_means``: also return, per member, the mean over batch and time of the first recurrent
        layer's input ``[x_t, h_{t-1}]`` (members, in + width), which :meth:`input_regularizer` reads.

        ``codes``: for a model with a table, x holds the encoder's codes (n, batch, time, features), not
        indices: the layers from the first recurrent one on read them (the core alone, without its reader)."""
        if self.wired:
            raise ValueError("a model whose layers read chosen inputs runs step by step (engine.stepwise)")
        params = params or self.params
        if self.table is not None and not codes:
            x = self._table_inputs(x, params, input_means)
        steps, means = None, None
        for index in range(self.encoder_depth, len(self.layers)):
            layer, layer_params = self.layers[index], params[index]
            if layer.recurrent:
                if input_means and means is None:
                    x, means = self._run_cell(layer, layer_params, x, every_step, with_means=True)
                else:
                    x = self._run_cell(layer, layer_params, x, every_step)
                if every_step:  # (members, batch, time, width) -> (members, batch * time, width)
                    steps = x.shape[2]
                    x = tf.reshape(x, [x.shape[0], -1, x.shape[-1]])
            elif x.shape[0] not in (1, self.seed_count):
                x = self._grouped(layer, layer_params, self.specs[index], x)
            else:
                x = registry.UNITS[layer.unit].forward(x, layer_params, **layer.options)
        if steps is not None:
            x = tf.reshape(x, [x.shape[0], -1, steps, x.shape[-1]])
        return (x, means) if input_means else x

    def _grouped(self, layer, params, specs, x):
        """A layer whose inputs x (n, batch, in) are shared by every group of n consecutive members.

        When every parameter is per output column, the groups' parameters sit side by side as extra
        output columns: one (batch, in) x (in, groups * out) matmul per input row block instead of
        ``groups`` narrow ones, and per-input work (NALU's log) runs once. Otherwise the parameters are
        viewed as (groups, n, ...) and broadcast against x[None]."""
        count = int(x.shape[0])
        groups = self.seed_count // count
        unit = registry.UNITS[layer.unit]
        if not all(spec.per_output for spec in specs.values()):
            grouped = {
                name: tf.reshape(value, [groups, count, *value.shape[1:]]) for name, value in params.items()
            }
            y = unit.forward(x[None], grouped, **layer.options)
            return tf.reshape(y, [self.seed_count, *y.shape[2:]])
        y = unit.forward(x, self._side_by_side(params, count), **layer.options)  # (n, batch, groups * out)
        return self._ungroup(y, count)

    def _side_by_side(self, params, count):
        """Members' parameters (members, ..., out) as (count, ..., groups * out): group g's columns g * out
        to (g + 1) * out, where member g * count + i is row i of group g."""
        groups = self.seed_count // count
        side_by_side = {}
        for name, value in params.items():
            shape = value.shape[1:]
            grouped = tf.reshape(value, [groups, count, *shape])
            order = [1, *range(2, len(shape) + 1), 0, len(shape) + 1]
            side_by_side[name] = tf.reshape(
                tf.transpose(grouped, order), [count, *shape[:-1], groups * shape[-1]]
            )
        return side_by_side

    def _ungroup(self, y, count):
        """Outputs (count, rows, groups * out) of side-by-side parameters back to (members, rows, out)."""
        groups = self.seed_count // count
        out = y.shape[-1] // groups
        y = tf.transpose(tf.reshape(y, [count, -1, groups, out]), [2, 0, 1, 3])
        return tf.reshape(y, [self.seed_count, -1, out])

    def _projection_weights(self, cell, params, count):
        """The parameters a cell's projection reads for inputs with a leading axis of ``count``: the
        members' own, or side by side when groups of members share inputs (see ``_grouped``). Computed
        once per sequence, outside the time loop."""
        if not cell.projects or count in (1, self.seed_count):
            return params
        return self._side_by_side(
            {name: value for name, value in params.items() if name != INITIAL_STATE}, count
        )

    def _project(self, cell, layer, weights, x):
        """The input part of a recurrent cell for inputs x (n, ..., in), every time step at once:
        a tuple of (members, ..., width). n is 1, the member count or a divisor of it (member m reads
        x[m % n]); then one matmul serves every group of members. ``weights``: from
        ``_projection_weights``."""
        count, lead = int(x.shape[0]), x.shape[1:-1]
        flat = tf.reshape(x, [count, -1, x.shape[-1]])
        if not cell.projects:  # the parts are the input itself, one copy per member
            parts = (tf.tile(flat, [self.seed_count // count, 1, 1]),)
        elif count in (1, self.seed_count):
            parts = cell.project(flat, weights, **layer.options)
        else:
            parts = tuple(self._ungroup(part, count) for part in cell.project(flat, weights, **layer.options))
        return tuple(tf.reshape(part, [self.seed_count, *lead, part.shape[-1]]) for part in parts)

    def _project_steps(self, cell, layer, weights, x):
        """Every time step's input part of a recurrent cell for inputs x (n, batch, time, in), projected in
        one matmul: a list over time of tuples of (members, batch, width).

        Inputs shared by groups of members are projected with the groups' columns side by side (see
        ``_grouped``) and split by time before each step's columns are laid out per member: laid out
        whole first, XLA re-copied the whole projection for each step's slice (the recurrent LSTM stack's
        compiled step: 3.35 ms against 2.75)."""
        count, rows, length = int(x.shape[0]), x.shape[1], x.shape[2]
        if not cell.projects or count in (1, self.seed_count):
            # unstack, not part[:, :, t]: the gradient of each slice would be a full-size tensor
            parts = [tf.unstack(part, axis=2) for part in self._project(cell, layer, weights, x)]
            return list(zip(*parts))
        flat = tf.reshape(x, [count, -1, x.shape[-1]])
        per_time = [
            tf.unstack(tf.reshape(part, [count, rows, length, part.shape[-1]]), axis=2)
            for part in cell.project(flat, weights, **layer.options)
        ]
        return [tuple(self._ungroup(part[t], count) for part in per_time) for t in range(length)]

    def initial_states(self, layer, params, rows, dtype=tf.float32):
        """A recurrent layer's state before the first step, a tuple of (members, rows, width): its learned
        initial state (``params[INITIAL_STATE]``) where it has one, else zeros."""
        cell = registry.CELLS[layer.unit]
        if INITIAL_STATE in params:
            return tuple(
                tf.broadcast_to(part, [self.seed_count, rows, layer.width])
                for part in tf.split(params[INITIAL_STATE], cell.state_count, axis=-1)
            )
        return (tf.zeros([self.seed_count, rows, layer.width], dtype),) * cell.state_count

    def _run_cell(self, layer, params, x, every_step=False, with_means=False):
        """Run a recurrent cell over the time axis of x (n, batch, time, features), n as in ``__call__``;
        the last output, or with ``every_step`` every step's (members, batch, time, width). With
        ``with_means``: (that, the mean over batch and time of [x_t, h_{t-1}] per member), for
        unrolled sequences (None for long ones).

        Short (training) sequences are unrolled and every step's input part is projected at once (one
        batched matmul; only the hidden-state part is sequential). Long ones run in a ``tf.while_loop``
        that projects one step at a time, so memory does not grow with the length."""
        cell = registry.CELLS[layer.unit]
        states = self.initial_states(layer, params, int(x.shape[1]), x.dtype)
        length = x.shape[2]
        projected = isinstance(x, ProjectedItems)
        weights = None if projected else self._projection_weights(cell, params, int(x.shape[0]))
        if length <= UNROLL_LIMIT:
            if projected:
                steps = [x.at(t) for t in range(length)]
            else:
                steps = self._project_steps(cell, layer, weights, x)
            initial, outputs = states[0], []
            for parts in steps:
                output, states = cell.advance(parts, states, params, **layer.options)
                outputs.append(output)
            result = tf.stack(outputs, axis=2) if every_step else output
            if not with_means:
                return result
            # mean over batch and time of x_t and of h_{t-1} (t = 1 .. length: h_0, then the outputs but
            # the last; every cell's output is its first state)
            x_mean = tf.reduce_mean(x, axis=[1, 2])
            x_mean = tf.tile(x_mean, [self.seed_count // int(x_mean.shape[0]), 1])
            h_mean = tf.reduce_mean(tf.stack([initial, *outputs[:-1]]), axis=[0, 2])
            return result, tf.concat([x_mean, h_mean], axis=-1)
        if every_step:
            raise ValueError(
                f"every_step outputs need sequences of at most {UNROLL_LIMIT} steps, got {length}"
            )

        def body(t, output, states):
            parts = x.at(t) if projected else self._project(cell, layer, weights, x[:, :, t])
            output, states = cell.advance(parts, states, params, **layer.options)
            return t + 1, output, states

        _, output, _ = tf.while_loop(lambda t, *_: t < length, body, (tf.constant(0), states[0], states))
        return (output, None) if with_means else output
