"""Vectorised multi-seed training: every seed of a grid point trains in one TensorFlow graph.

Parameters are stacked along a leading seed axis and the unit maths comes from ``nalu_tf.maths`` (the same
functions the public Keras layers call; baselines from ``experiments.baselines``). Each seed's initial
weights and, by default, its training data depend only on that seed: seed k trained among 64 seeds starts
from the same weights and reads the same draws as seed k trained alone (tests check both bit for bit).
Its trained numbers agree to float rounding, not bit for bit: stacked matmuls may sum in another order,
and training amplifies the last-bit differences (a NALU: 1e-9 relative at the start, about 5e-6 after 5
steps, a few percent after 40 steps on the recurrent task; tests/test_stacking.py).

Model selection uses the interpolation validation set only. The extrapolation test set is measured (final
error, success, solved-at step) and never feeds back into training, selection or stopping.
"""

from __future__ import annotations

import dataclasses
import time
import zlib

import keras
import numpy as np
import tensorflow as tf

from experiments import baselines, files
from experiments.spec import DATA_STREAMS, LayerSpec, Task, Training  # noqa: F401 (re-exported)
from nalu_tf import maths

STREAMS_PER_STEP = 64  # distinct random draws a task may take per training step
EVALUATION_CHUNK = 2048  # rows of a fixed evaluation set evaluated at once, to bound memory
INITIAL_STATE = "initial_state"  # the parameter name of a recurrent layer's learned initial state
UNROLL_LIMIT = 32  # recurrent layers unroll sequences up to this length; longer ones use tf.while_loop
TABLE_CHUNK_POSITIONS = 20_000  # sequence positions per evaluation chunk for tasks that read a table
CHECKPOINT_SECONDS = 120.0  # a stack with a checkpoint path saves its state after an evaluation this often


def initial_value(initializer, shape, seed):
    """Value of a Keras initialiser for one seed: a fresh, seeded copy, so it is reproducible."""
    initializer = keras.initializers.get(initializer)
    config = initializer.get_config()
    if "seed" in config:
        config["seed"] = seed
    return keras.ops.convert_to_numpy(type(initializer).from_config(config)(shape, "float32"))


def parameter_seed(seed, layer_index, name, restart=0):
    """A 31-bit seed that depends only on the run seed, the layer, the parameter name and the restart."""
    # The first draw (restart 0) keeps the entropy it had before restarts existed: same initial weights.
    entropy = [seed, layer_index, zlib.crc32(name.encode())] + ([restart] if restart else [])
    state = np.random.SeedSequence(entropy).generate_state(1)
    return int(state[0] % (2**31 - 1))


class StackedModel:
    """A stack of units with one copy of every parameter per seed.

    Inputs are ``(seeds or 1, batch, features)``, or ``(seeds or 1, batch, time, features)`` for a model
    whose first layer is recurrent; a recurrent layer runs its cell over time and emits its last output.

    With a ``table`` (items such as images, ``(count, *item_shape)``), inputs are indices into it,
    ``(seeds or 1, batch, time)``: the layers before the first recurrent layer (an encoder, say a CNN)
    read each item, and the recurrent layer reads their outputs in sequence. The encoder runs once per
    position of the batch, or once per table item when the batch has more positions than the table has
    items (long evaluation sequences), whichever is fewer.
    """

    project_at_once = True  # False: project each time step's input separately (to measure the gain)

    def __init__(self, layers, input_size, seeds, table=None):
        self.layers = list(layers)
        self.seed_count = len(seeds)
        self.params = []
        self.specs = []
        self.table = None if table is None else tf.constant(table, tf.float32)
        recurrent = [i for i, layer in enumerate(self.layers) if layer.recurrent]
        self.encoder_depth = recurrent[0] if recurrent and table is not None else 0
        if recurrent and recurrent[0] > 0 and table is None:
            raise ValueError("layers before a recurrent layer need a table of items to encode")
        shape = tuple(table.shape[1:]) if table is not None else (
            tuple(input_size) if isinstance(input_size, (tuple, list)) else (input_size,)
        )
        for index, layer in enumerate(self.layers):
            specs = self._maths(layer).parameters(shape[-1], layer.width, **layer.options)
            if layer.recurrent and layer.initial_state == "learned":
                width = self._maths(layer).state_count * layer.width
                specs[INITIAL_STATE] = maths.Parameter((width,), "zeros")
            elif layer.initial_state != "zeros":
                raise ValueError(f"layer {index} ({layer.unit}): initial_state must be 'zeros' or 'learned' (a recurrent layer), got {layer.initial_state!r}")
            unknown = set(layer.initializers) - set(specs)
            if unknown:
                raise ValueError(f"layer {index} ({layer.unit}) has no parameter {sorted(unknown)}; it has {sorted(specs)}")
            specs = {
                name: dataclasses.replace(spec, initializer=layer.initializers.get(name, spec.initializer))
                for name, spec in specs.items()
            }
            params = {}
            for name, spec in specs.items():
                params[name] = keras.Variable(self.initial_values(spec, index, name, seeds), name=f"layer{index}_{name}")
                # The optimiser applies a variable's constraint after each update (the NAU's and NMU's clamps).
                params[name].constraint = spec.constraint
            self.params.append(params)
            self.specs.append(specs)
            shape = (layer.width,) if layer.recurrent else self._maths(layer).output_shape(shape, layer.width, **layer.options)

    @staticmethod
    def _maths(layer):
        return (baselines.CELLS if layer.recurrent else baselines.UNITS)[layer.unit]

    @staticmethod
    def initial_values(spec, layer_index, name, seeds, restarts=None):
        """Stacked initial values of one parameter for ``seeds`` (at their ``restarts``-th draw, 0 first)."""
        restarts = restarts if restarts is not None else [0] * len(seeds)
        values = np.stack(
            [initial_value(spec.initializer, spec.shape, parameter_seed(s, layer_index, name, r)) for s, r in zip(seeds, restarts)]
        )
        # Vectors get a batch axis so they broadcast against x of shape (seeds, batch, features).
        return values[:, None, :] if len(spec.shape) == 1 else values

    @property
    def variables(self):
        return [v for params in self.params for v in params.values()]

    def _encode(self, items, params):
        for layer, layer_params in zip(self.layers[: self.encoder_depth], params):
            items = baselines.UNITS[layer.unit].forward(items, layer_params, **layer.options)
        return items

    def _read_table(self, x, params):
        """Encoded items at the indices x (seeds or 1, batch, time): (seeds or 1, batch, time, features)."""
        indices = tf.cast(x, tf.int32)
        positions = int(np.prod(x.shape[1:]))
        if positions > int(self.table.shape[0]):  # encode every item once, then look the codes up
            codes = self._encode(self.table[None], params)  # (seeds or 1, count, features)
            if codes.shape[0] != indices.shape[0]:
                shape = [max(codes.shape[0], indices.shape[0]), *indices.shape[1:]]
                indices = tf.broadcast_to(indices, shape)
                codes = tf.broadcast_to(codes, [shape[0], *codes.shape[1:]])
            return tf.gather(codes, indices, batch_dims=1)
        items = tf.gather(self.table, indices)  # (seeds or 1, batch, time, *item_shape)
        codes = self._encode(tf.reshape(items, [indices.shape[0], positions, *self.table.shape[1:]]), params)
        return tf.reshape(codes, [codes.shape[0], *x.shape[1:], codes.shape[-1]])

    def __call__(self, x, params=None, every_step=False):
        """Outputs (members, batch, outputs). ``x`` has a leading axis of 1 (shared by every member), of
        the member count, or of a divisor of it: then member m reads ``x[m % len(x)]`` (a stack of cells
        whose members repeat the same seeds reads each seed's inputs once, without copying them).

        ``every_step``: the recurrent layer emits its output after every time step (sequences no longer
        than ``UNROLL_LIMIT``), the layers after it read each, and the outputs are
        (members, batch, time, outputs)."""
        params = params or self.params
        if self.table is not None:
            x = self._read_table(x, params)
        steps = None
        for index in range(self.encoder_depth, len(self.layers)):
            layer, layer_params = self.layers[index], params[index]
            if layer.recurrent:
                x = self._run_cell(layer, layer_params, x, every_step)
                if every_step:  # (members, batch, time, width) -> (members, batch * time, width)
                    steps = x.shape[2]
                    x = tf.reshape(x, [x.shape[0], -1, x.shape[-1]])
            elif x.shape[0] not in (1, self.seed_count):
                x = self._grouped(layer, layer_params, self.specs[index], x)
            else:
                x = baselines.UNITS[layer.unit].forward(x, layer_params, **layer.options)
        if steps is not None:
            x = tf.reshape(x, [x.shape[0], -1, steps, x.shape[-1]])
        return x

    def _grouped(self, layer, params, specs, x):
        """A layer whose inputs x (n, batch, in) are shared by every group of n consecutive members.

        When every parameter is per output column, the groups' parameters sit side by side as extra
        output columns: one (batch, in) x (in, groups * out) matmul per input row block instead of
        ``groups`` narrow ones, and per-input work (NALU's log) runs once. Otherwise the parameters are
        viewed as (groups, n, ...) and broadcast against x[None]."""
        count = int(x.shape[0])
        groups = self.seed_count // count
        unit = baselines.UNITS[layer.unit]
        if not all(spec.per_output for spec in specs.values()):
            grouped = {name: tf.reshape(value, [groups, count, *value.shape[1:]]) for name, value in params.items()}
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
            side_by_side[name] = tf.reshape(tf.transpose(grouped, order), [count, *shape[:-1], groups * shape[-1]])
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
        return self._side_by_side({name: value for name, value in params.items() if name != INITIAL_STATE}, count)

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

    def _run_cell(self, layer, params, x, every_step=False):
        """Run a recurrent cell over the time axis of x (n, batch, time, features), n as in ``__call__``;
        the last output, or with ``every_step`` every step's (members, batch, time, width).

        Short (training) sequences are unrolled and every step's input part is projected at once (one
        batched matmul; only the hidden-state part is sequential). Long ones run in a ``tf.while_loop``
        that projects one step at a time, so memory does not grow with the length."""
        cell = baselines.CELLS[layer.unit]
        rows = int(x.shape[1])
        if INITIAL_STATE in params:
            states = tuple(
                tf.broadcast_to(part, [self.seed_count, rows, layer.width])
                for part in tf.split(params[INITIAL_STATE], cell.state_count, axis=-1)
            )
        else:
            states = (tf.zeros([self.seed_count, rows, layer.width], x.dtype),) * cell.state_count
        length = x.shape[2]
        weights = self._projection_weights(cell, params, int(x.shape[0]))
        if length <= UNROLL_LIMIT:
            if self.project_at_once:
                # unstack, not part[:, :, t]: the gradient of each slice would be a full-size tensor
                parts = [tf.unstack(part, axis=2) for part in self._project(cell, layer, weights, x)]
                steps = list(zip(*parts))
            else:  # one projection per step (the benchmark's "before")
                steps = [self._project(cell, layer, weights, x[:, :, t]) for t in range(length)]
            outputs = []
            for parts in steps:
                output, states = cell.advance(parts, states, params, **layer.options)
                outputs.append(output)
            return tf.stack(outputs, axis=2) if every_step else output
        if every_step:
            raise ValueError(f"every_step outputs need sequences of at most {UNROLL_LIMIT} steps, got {length}")

        def body(t, output, states):
            parts = self._project(cell, layer, weights, x[:, :, t])
            output, states = cell.advance(parts, states, params, **layer.options)
            return t + 1, output, states

        _, output, _ = tf.while_loop(lambda t, *_: t < length, body, (tf.constant(0), states[0], states))
        return output

    def sparsity_error(self, params=None):
        """Per seed, the largest distance of any effective weight from {-1, 0, 1}."""
        errors = [
            maths.sparsity_error(weight, axis=(1, 2))
            for layer, layer_params in zip(self.layers, params or self.params)
            for weight in self._maths(layer).weights(layer_params)
        ]
        return tf.reduce_max(tf.stack(errors), axis=0)

    def recurrent_eigenvalues(self, params=None):
        """Per member, the moduli of the eigenvalues of the first recurrent layer's hidden-to-hidden block
        (the last ``width`` rows of its first effective weight matrix: h_t = ... + h_{t-1} B), largest
        first, as a NumPy array (members, width); NaN where a weight is not finite. None when the model has
        no recurrent layer or its block is not square (the LSTM's block feeds four gates).

        A recurrence that carries a sum over any length needs eigenvalue 1 on the directions its output
        reads; a modulus above 1 grows with the length, one below 1 forgets."""
        for layer, layer_params in zip(self.layers, params or self.params):
            if not layer.recurrent:
                continue
            weights = self._maths(layer).weights(layer_params)
            if not weights:
                return None
            weight = np.asarray(weights[0], dtype=np.float64)
            block = weight[:, -layer.width :, :]
            if block.shape[-1] != layer.width:
                return None
            finite = np.isfinite(block).all(axis=(1, 2))
            moduli = np.full((len(block), layer.width), np.nan)
            if finite.any():
                moduli[finite] = -np.sort(-np.abs(np.linalg.eigvals(block[finite])), axis=1)
            return moduli
        return None

    def regularizer(self):
        """Per seed, the sum over layers of the units' sparsity regularisers (zeros if none has one)."""
        terms = [
            self._maths(layer).regularizer(params, axis=(1, 2))
            for layer, params in zip(self.layers, self.params)
            if self._maths(layer).regularizer is not None
        ]
        return tf.add_n(terms) if terms else tf.zeros(self.seed_count)

    def l1_norm(self):
        """Per seed, the sum of the absolute values of every parameter."""
        return tf.add_n([tf.reduce_sum(tf.abs(v), axis=list(range(1, len(v.shape)))) for v in self.variables])


PHILOX = 1  # algorithm id of tf.raw_ops.StatelessRandomUniformV2


def philox_uniform(key, first_seed, seed_count, shape):
    """Uniform [0, 1) numbers of shape (seed_count, *shape) for seeds first_seed, first_seed + 1, ...

    Philox is counter based: seed k reads its own disjoint range of counters under the same key, so a
    block of contiguous seeds drawn in one op equals each seed drawn alone (a test checks this).
    """
    size = int(np.prod(shape))
    per_seed = -(-size // 4) * 4  # Philox yields four numbers per counter value
    counter = tf.stack([tf.cast(first_seed * (per_seed // 4), tf.uint64), tf.constant(0, tf.uint64)])
    values = tf.raw_ops.StatelessRandomUniformV2(
        shape=[seed_count * per_seed], key=tf.reshape(tf.cast(key, tf.uint64), [1]), counter=counter, alg=PHILOX
    )
    values = tf.reshape(values, [seed_count, per_seed])
    if per_seed != size:
        values = values[:, :size]
    return tf.reshape(values, [seed_count, *shape])


def l1_weight(step, start, end, every):
    """The L1 penalty's weight at ``step``: ``start``, ten times larger every ``every`` steps, at most ``end``."""
    # beta(t) = min(start * 10^floor(t / every), end)
    growths = tf.floor(tf.cast(step, tf.float32) / float(every))
    return tf.minimum(start * tf.pow(10.0, growths), end)


def contiguous_runs(seeds):
    """Split a seed list into (first, count) runs of consecutive integers."""
    runs = []
    for seed in seeds:
        if runs and seed == runs[-1][0] + runs[-1][1]:
            runs[-1][1] += 1
        else:
            runs.append([seed, 1])
    return runs


def make_draw(seeds, step, stream_mode, data_seed):
    """Return ``draw(shape, low, high)`` for the batch of ``step``.

    independent: each seed has its own stream (its own Philox counters under a key made of the step and
    the draw number), so a seed's data does not depend on which other seeds train beside it. shared: one
    stream, keyed by (data_seed, step, draw number), broadcast to every seed. A range maps the same
    U[0, 1) numbers affinely, as ``uniform(low, high)`` does in the reference code.
    """
    counter = [0]

    def draw(shape, low, high):
        stream = counter[0]
        counter[0] += 1
        if stream >= STREAMS_PER_STEP:
            raise ValueError(f"a task may take at most {STREAMS_PER_STEP} draws per step")
        key = step * STREAMS_PER_STEP + stream
        if stream_mode == "shared":
            unit = philox_uniform(key, data_seed, 1, shape)
        else:
            unit = tf.concat([philox_uniform(key, first, count, shape) for first, count in contiguous_runs(seeds)], 0)
        return low + (high - low) * unit

    return draw


def replaying(draw):
    """Return ``again()``, which gives a fresh draw function per cell: the first cell's n-th call takes
    U[0, 1) numbers from ``draw``; every cell's n-th call maps those same numbers onto its range, exactly
    as ``draw`` would (the very same tensor for the same range), so all cells of a stack train on their
    seeds' one set of draws, bit for bit as each would alone."""
    units = []  # (shape, U[0, 1) numbers) of each call, in order
    scaled = {}  # (call, low, high) -> the numbers on that range

    def again():
        position = [0]

        def replay(shape, low, high):
            index = position[0]
            position[0] += 1
            if index == len(units):
                units.append((tuple(shape), draw(shape, 0.0, 1.0)))
            recorded_shape, unit = units[index]
            if recorded_shape != tuple(shape):
                raise ValueError(f"cells of one stack must draw the same shapes; got {shape} after {recorded_shape}")
            if (index, low, high) not in scaled:
                scaled[index, low, high] = low + (high - low) * unit  # as make_draw maps them
            return scaled[index, low, high]

        return replay

    return again


@dataclasses.dataclass
class SweepErrors:
    """The selected models' errors on one fixed set of a task's sweep, one entry per member."""

    value: object  # what the set varies (a sequence length, say)
    mse: np.ndarray
    mae: np.ndarray
    accuracy: np.ndarray | None = None  # fraction of outputs that, rounded, equal their targets


@dataclasses.dataclass
class TrainingResult:
    """What :meth:`MultiSeedTrainer.run` returns; every array has one entry per member.

    ``metrics``: per metric name (``interpolation_mse``, ``selected_step``, ``success``, ...) an array.
    ``history``: every evaluation, the untrained model's first: ``step`` and, per member, the current
    model's ``interpolation_mse``, ``extrapolation_mse`` and ``sparsity_error``. ``probe_predictions``:
    the selected models' predictions on the task's probe set, (members, rows, outputs), or None.
    ``sweep``: the selected models' errors on each set of the task's sweep.
    """

    metrics: dict[str, np.ndarray]
    history: list[dict]
    probe_predictions: np.ndarray | None = None
    sweep: list[SweepErrors] = dataclasses.field(default_factory=list)

    def member_slice(self, members):
        """The same result for the members in ``members`` (a slice): one cell of a stack."""
        return TrainingResult(
            metrics={name: value[members] for name, value in self.metrics.items()},
            history=[{name: value if name == "step" else value[members] for name, value in e.items()} for e in self.history],
            probe_predictions=None if self.probe_predictions is None else self.probe_predictions[members],
            sweep=[
                SweepErrors(s.value, s.mse[members], s.mae[members], None if s.accuracy is None else s.accuracy[members])
                for s in self.sweep
            ],
        )


def _describe(layer):
    """A layer spec as plain values (initialiser objects by class and config), to compare two specs."""
    initializers = {
        name: (type(value).__name__, value.get_config()) if hasattr(value, "get_config") else value
        for name, value in layer.initializers.items()
    }
    return (layer.unit, layer.width, layer.options, layer.recurrent, layer.initial_state, initializers)


class MultiSeedTrainer:
    """Train one task, or a stack of cells, for many seeds at once and report per-seed metrics.

    ``task`` is a :class:`Task` or a list of them (the cells of a stack: the same model on the same inputs
    with different targets, say every operation of one unit). Every cell trains every seed; seed k of each
    cell reads the same draws, taken once per step, and starts from the same initial weights, as seed k
    of each cell trained alone would (the reference code's seed fixes both); the trained numbers then agree
    with a lone run's to float rounding (see the module docstring). The stack's members are the
    cells' seeds in order: member ``c * len(seeds) + i`` is seed ``seeds[i]`` of cell ``c``.

    ``run(progress)`` returns a dict of NumPy arrays, one entry per member: interpolation and extrapolation
    MSE of the selected model (the step with the lowest validation MSE), the same for the randomly
    initialised model, the selected step, the solved-at step (first evaluation where the extrapolation
    MSE, or MAE, met the success threshold, -1 if never), the sparsity error, a diverged flag (any non-finite
    loss or evaluation) and the number of restarts of stalled seeds.
    """

    def __init__(self, task: Task, seeds, training: Training):
        if training.data_stream not in DATA_STREAMS:
            raise ValueError(f"data_stream must be one of {DATA_STREAMS}, got {training.data_stream!r}")
        self.cells = list(task) if isinstance(task, (list, tuple)) else [task]
        if self.cells[0].success_metric not in ("mse", "mae"):
            raise ValueError(f"success_metric must be 'mse' or 'mae', got {self.cells[0].success_metric!r}")
        self.task = task = self.cells[0]
        self.seeds = [int(s) for s in seeds]
        self.members = [seed for _ in self.cells for seed in self.seeds]
        self._check_stack()
        self.training = training
        count = len(self.members)
        self.model = StackedModel(task.layers, task.input_size, self.members, task.table)
        # A real copy: with the TensorFlow backend, keras.Variable(v.value) would wrap the live tf.Variable
        # itself, so the "best" parameters would always be the last step's (a test guards this).
        self.best = [
            {k: tf.Variable(v.numpy(), trainable=False, name=f"best_{k}") for k, v in p.items()} for p in self.model.params
        ]
        clipping = {"clipvalue": training.clip_value} if training.clip_value is not None else {}
        self.optimizer = keras.optimizers.Adam(training.learning_rate, epsilon=training.adam_epsilon, **clipping)
        self.optimizer.build(self.model.variables)
        self._compiled_update = tf.function(self._update, jit_compile=True)
        self.step = tf.Variable(0, dtype=tf.int64)
        self.diverged = tf.Variable(tf.zeros(count, tf.bool))
        self.best_validation = tf.Variable(tf.fill([count], tf.constant(np.inf, tf.float64)))
        self.best_step = tf.Variable(tf.zeros(count, tf.int64))
        self.solved_at = tf.Variable(tf.fill([count], tf.constant(-1, tf.int64)))
        self.validation = self.fixed_set([cell.validation[0] for cell in self.cells], [cell.validation[1] for cell in self.cells])
        self.test = self.fixed_set([cell.test[0] for cell in self.cells], [cell.test[1] for cell in self.cells])
        thresholds = [cell.success_threshold for cell in self.cells]
        self.success_threshold = None if thresholds[0] is None else np.repeat(np.array(thresholds, np.float64), len(self.seeds))
        self.history = []
        self.restarts = np.zeros(count, np.int64)
        self.stale_evaluations = np.zeros(count, np.int64)

    def _check_stack(self):
        """Cells of one stack must share the model, the inputs of the fixed sets and the task kind."""
        first = self.cells[0]
        for cell in self.cells[1:]:
            same = (
                [_describe(layer) for layer in cell.layers] == [_describe(layer) for layer in first.layers]
                and cell.input_size == first.input_size
                and all(np.shape(a[0]) == np.shape(b[0]) for a, b in ((cell.validation, first.validation), (cell.test, first.test)))
                and (cell.success_threshold is None) == (first.success_threshold is None)
                and cell.success_metric == first.success_metric
            )
            same_sweep = [value for value, _ in cell.sweep or []] == [value for value, _ in first.sweep or []] and all(
                np.shape(a[1][0]) == np.shape(b[1][0]) for a, b in zip(cell.sweep or [], first.sweep or [])
            )
            if not (same and same_sweep):
                raise ValueError("cells of one stack need the same layers, input size and evaluation set shapes")
            if cell.table is not None or cell.probe is not None or cell.accuracy:
                raise ValueError("tasks with a table, a probe set or accuracy train one cell at a time")

    @staticmethod
    def fixed_set(inputs, targets):
        """A fixed set of every cell as the evaluation reads it: inputs (1, rows, ...) when the cells share
        them (or there is one cell), else (cells, rows, ...); targets (cells, rows, outputs)."""
        shared = all(np.array_equal(x, inputs[0]) for x in inputs[1:])
        x = np.asarray(inputs[0])[None] if shared else np.stack(inputs)
        return tf.constant(x, tf.float32), tf.constant(np.stack(targets), tf.float32)

    def _chunk_rows(self, x):
        """Rows of a fixed set (x: (1 or cells, rows, ...)) evaluated at once: fewer for long sequences
        read from a table."""
        if self.task.table is None:
            return EVALUATION_CHUNK
        return max(1, TABLE_CHUNK_POSITIONS // int(np.prod(x.shape[2:])))

    def _errors(self, data, params=None, accuracy=False):
        """Per-seed (MSE, MAE) on a fixed set, evaluated in chunks; with ``accuracy``, also the fraction
        of outputs that, rounded, equal their targets (each output of each row counts once).

        Errors are squared and summed in float64: extrapolating models can output ~1e30, whose square
        overflows float32, and sums over thousands of rows lose float32 precision.
        """
        x, y = data  # see fixed_set: x (1 or cells, rows, ...), y (cells, rows, outputs)
        squared = absolute = exact = tf.zeros(len(self.members), tf.float64)
        rows = int(x.shape[1])
        chunk = self._chunk_rows(x)
        for start in range(0, rows, chunk):
            inputs = x[:, start : start + chunk]
            if inputs.shape[0] > 1:  # each cell's own inputs, for each of its seeds
                inputs = tf.repeat(inputs, len(self.seeds), axis=0)
            prediction = tf.cast(self.model(inputs, params), tf.float64)
            target = tf.cast(y[:, start : start + chunk], tf.float64)
            if len(self.cells) > 1:  # each cell's targets for each of its seeds
                target = tf.repeat(target, len(self.seeds), axis=0)
            error = prediction - target
            squared += tf.reduce_sum(tf.square(error), axis=[1, 2])
            absolute += tf.reduce_sum(tf.abs(error), axis=[1, 2])
            if accuracy:
                matches = tf.equal(tf.round(prediction), target)
                exact += tf.reduce_sum(tf.cast(matches, tf.float64), axis=[1, 2])
        count = float(rows * int(y.shape[-1]))
        if accuracy:
            return squared / count, absolute / count, exact / count
        return squared / count, absolute / count

    def _predict(self, x, params=None):
        """Per-seed predictions (seeds, rows, outputs) on a fixed input set, in chunks."""
        rows, chunk = int(x.shape[0]), self._chunk_rows(x[None])
        return tf.concat([self.model(x[None, start : start + chunk], params) for start in range(0, rows, chunk)], axis=1)

    def _sample(self, draw):
        """One training batch for every member: each cell's sample of its seeds' one set of draws."""
        if len(self.cells) == 1:
            return self.task.sample(draw, self.training.batch_size)
        again = replaying(draw)
        x, y = zip(*(cell.sample(again(), self.training.batch_size) for cell in self.cells))
        count = len(self.seeds)
        y = tf.concat([tf.broadcast_to(part, [count, *part.shape[1:]]) for part in y], 0)
        if all(part is x[0] for part in x):  # the cells share the inputs themselves (ops of one unit)
            return x[0], y  # the model reads each seed's inputs once for every cell
        return tf.concat([tf.broadcast_to(part, [count, *part.shape[1:]]) for part in x], 0), y

    def _batch(self):
        """The next step's number and every member's training batch (drawn outside any XLA cluster: XLA's
        Philox yields other numbers than the kernel's for the same key and counter)."""
        step = self.step.assign_add(1)
        x, y = self._sample(make_draw(self.seeds, step, self.training.data_stream, self.training.data_seed))
        return step, x, y

    def _update(self, step, x, y):
        """One optimisation step of every member on its batch: forward, loss, gradient, Adam."""
        with tf.GradientTape() as tape:
            prediction = self.model(x, every_step=self.task.every_step_loss)
            per_seed = tf.reduce_mean(tf.square(prediction - y), axis=list(range(1, len(y.shape))))
            # Seeds share no parameters, so the gradient of the sum is each seed's own gradient.
            loss = tf.reduce_sum(per_seed)
            t = self.training
            if t.regularization > 0:
                weight = maths.regularization_ramp(step, t.regularization, t.regularization_start, t.regularization_end)
                penalty = self.model.regularizer()
                if t.regularization_loss_below is not None:  # only for seeds that already fit well
                    penalty *= tf.cast(tf.stop_gradient(per_seed) < t.regularization_loss_below, penalty.dtype)
                loss += weight * tf.reduce_sum(penalty)
            if t.l1_start > 0:
                loss += l1_weight(step, t.l1_start, t.l1_end, t.l1_every) * tf.reduce_sum(self.model.l1_norm())
        gradients = tape.gradient(loss, self.model.variables)
        self.optimizer.apply(gradients, self.model.variables)
        self.diverged.assign(self.diverged | ~tf.math.is_finite(per_seed))
        return loss

    @tf.function
    def _train(self, steps):
        update = self._compiled_update if self.training.jit_compile else self._update
        for _ in tf.range(steps):
            update(*self._batch())

    @tf.function
    def _evaluate(self):
        """Measure, select on validation, and record the solved-at step."""
        validation, validation_mae = self._errors(self.validation)
        test, test_mae = self._errors(self.test)
        self.diverged.assign(self.diverged | ~tf.math.is_finite(validation))
        improved = validation < self.best_validation  # NaN never improves
        self.best_validation.assign(tf.where(improved, validation, self.best_validation))
        self.best_step.assign(tf.where(improved, self.step, self.best_step))
        for current, best in zip(self.model.params, self.best):
            for name, variable in current.items():
                mask = tf.reshape(improved, [-1] + [1] * (len(variable.shape) - 1))
                best[name].assign(tf.where(mask, variable, best[name]))
        if self.success_threshold is not None:
            measured = test_mae if self.task.success_metric == "mae" else test
            newly = (self.solved_at < 0) & (measured < self.success_threshold)
            self.solved_at.assign(tf.where(newly, self.step, self.solved_at))
        return validation, test, validation_mae, test_mae, self.model.sparsity_error()

    @tf.function
    def _final(self):
        return (
            *self._errors(self.validation, self.best),
            *self._errors(self.test, self.best),
            self.model.sparsity_error(self.best),
        )

    def _record(self, evaluation):
        """Keep one evaluation (validation and test MSE, sparsity error per seed) in ``self.history``."""
        validation, test, _, _, sparsity = (t.numpy() for t in evaluation)
        self.history.append(
            {"step": int(self.step.numpy()), "interpolation_mse": validation, "extrapolation_mse": test, "sparsity_error": sparsity}
        )
        return validation, test

    def _restart_stalled(self, validation):
        """Redraw the parameters (and clear the Adam moments) of seeds whose validation MSE has stalled."""
        improved = self.best_step.numpy() == int(self.step.numpy())
        self.stale_evaluations = np.where(improved, 0, self.stale_evaluations + 1)
        stalled = (self.stale_evaluations >= self.training.reinitialise_patience) & ~(
            validation <= self.training.reinitialise_above
        )
        if not stalled.any():
            return
        self.restarts += stalled
        self.stale_evaluations[stalled] = 0
        for index, (params, specs) in enumerate(zip(self.model.params, self.model.specs)):
            for name, variable in params.items():
                fresh = self.model.initial_values(specs[name], index, name, self.members, self.restarts)
                mask = stalled.reshape([-1] + [1] * (fresh.ndim - 1))
                variable.assign(np.where(mask, fresh, variable.numpy()))
        for slot in self.optimizer.variables:  # per-variable moments carry the leading seed axis
            if len(slot.shape) >= 2 and slot.shape[0] == len(self.members):
                mask = stalled.reshape([-1] + [1] * (len(slot.shape) - 1))
                slot.assign(np.where(mask, 0.0, slot.numpy()).astype(slot.dtype))

    _STATE = ("step", "diverged", "best_validation", "best_step", "solved_at")

    def _checkpoint_arrays(self, done, initial, latest, elapsed):
        """Everything a resumed run needs to continue exactly: parameters, the kept (best) parameters, Adam's
        slots and step, the selection and success records, the history, restarts and elapsed time. The data
        stream needs no state: each step's draws are keyed by the step number."""
        arrays = {"members": np.array(self.members), "done": np.array(done), "elapsed": np.array(elapsed)}
        for index, (params, best) in enumerate(zip(self.model.params, self.best)):
            for name in params:
                arrays[f"param/{index}/{name}"] = params[name].numpy()
                arrays[f"best/{index}/{name}"] = best[name].numpy()
        for index, variable in enumerate(self.optimizer.variables):
            arrays[f"optimizer/{index}"] = variable.numpy()
        for name in self._STATE:
            arrays[f"state/{name}"] = getattr(self, name).numpy()
        arrays["restarts"], arrays["stale_evaluations"] = self.restarts, self.stale_evaluations
        for which, values in (("initial", initial), ("latest", latest)):
            for index, value in enumerate(values):
                arrays[f"{which}/{index}"] = np.asarray(value)
        arrays["history_length"] = np.array(len(self.history))
        for index, evaluation in enumerate(self.history):
            for name, value in evaluation.items():
                arrays[f"history/{index}/{name}"] = np.asarray(value)
        return arrays

    def _restore(self, arrays):
        """Load a checkpoint saved by this stack; return (done, initial, latest, elapsed), or None when it
        belongs to other members or another model (then training starts afresh)."""
        variables = [(f"param/{i}/{n}", v) for i, p in enumerate(self.model.params) for n, v in p.items()]
        variables += [(f"best/{i}/{n}", v) for i, p in enumerate(self.best) for n, v in p.items()]
        variables += [(f"optimizer/{i}", v) for i, v in enumerate(self.optimizer.variables)]
        variables += [(f"state/{name}", getattr(self, name)) for name in self._STATE]
        fits = arrays.get("members") is not None and np.array_equal(arrays["members"], self.members) and all(
            key in arrays and arrays[key].shape == tuple(variable.shape) for key, variable in variables
        )
        if not fits:
            return None
        for key, variable in variables:
            variable.assign(arrays[key])
        self.restarts, self.stale_evaluations = arrays["restarts"].copy(), arrays["stale_evaluations"].copy()
        self.history = []
        for index in range(int(arrays["history_length"])):
            prefix = f"history/{index}/"
            evaluation = {key[len(prefix):]: arrays[key] for key in arrays if key.startswith(prefix)}
            evaluation["step"] = int(evaluation["step"])
            self.history.append(evaluation)
        initial = tuple(arrays[f"initial/{i}"] for i in range(2))
        latest = tuple(arrays[f"latest/{i}"] for i in range(2))
        return int(arrays["done"]), initial, latest, float(arrays["elapsed"])

    def run(self, progress=None, checkpoint=None) -> TrainingResult:
        """Train for ``training.steps`` steps, evaluating every ``eval_every``; return a
        :class:`TrainingResult`. Its ``final_*`` metrics are the last evaluation's, so selection can be
        audited against them and against the history.

        With a ``checkpoint`` path, the stack's state is saved there after an evaluation at most every
        :data:`CHECKPOINT_SECONDS`, and a run that finds a checkpoint of the same members continues from it,
        to the same numbers as a run never interrupted (the caller removes the file once the results are
        written). ``progress(n)`` is told of every n member-steps trained; steps restored from a checkpoint
        go to ``progress.skip(n)`` where it has one."""
        started = time.perf_counter()
        restored = self._restore(files.load_arrays(checkpoint) or {}) if checkpoint is not None else None
        if restored is None:
            initial = self._record(self._evaluate())
            latest, done, before = initial, 0, 0.0
        else:
            done, initial, latest, before = restored
            if progress is not None and hasattr(progress, "skip"):
                progress.skip(done * len(self.members))
        saved = time.perf_counter()
        while done < self.training.steps:
            chunk = min(self.training.eval_every, self.training.steps - done)
            self._train(tf.constant(chunk, tf.int64))
            latest = self._record(self._evaluate())
            validation = latest[0]
            done += chunk
            if self.training.reinitialise_patience:
                self._restart_stalled(validation)
            if checkpoint is not None and done < self.training.steps and time.perf_counter() - saved >= CHECKPOINT_SECONDS:
                elapsed = before + time.perf_counter() - started
                files.save_arrays(checkpoint, self._checkpoint_arrays(done, initial, latest, elapsed))
                saved = time.perf_counter()
            if progress is not None:
                progress(chunk * len(self.members))
        interpolation, interpolation_mae, extrapolation, extrapolation_mae, sparsity = (
            t.numpy() for t in self._final()
        )
        probe_predictions = None
        if self.task.probe is not None:
            probe_predictions = self._predict(tf.constant(self.task.probe[0], tf.float32), self.best).numpy()
        evaluate_best = tf.function(lambda x, y: self._errors((x, y), self.best, self.task.accuracy))
        sweep = []
        for index, (value, _) in enumerate(self.task.sweep or []):
            sets = [cell.sweep[index][1] for cell in self.cells]
            fixed = self.fixed_set([x for x, _ in sets], [y for _, y in sets])
            sweep.append(SweepErrors(value, *(t.numpy() for t in evaluate_best(*fixed))))
        training_errors = {}
        if self.task.training_set is not None:
            fixed = self.fixed_set([cell.training_set[0] for cell in self.cells], [cell.training_set[1] for cell in self.cells])
            mse, mae = (t.numpy() for t in evaluate_best(*fixed)[:2])  # [:2]: with accuracy it adds a third
            training_errors = {"training_mse": mse, "training_mae": mae}
        diverged = self.diverged.numpy()
        eigenvalues = self.model.recurrent_eigenvalues(self.best)
        recurrence = {} if eigenvalues is None else {
            f"recurrent_eigenvalue_{index + 1}": eigenvalues[:, index] for index in range(eigenvalues.shape[1])
        }
        if self.success_threshold is None:
            success = np.zeros(len(self.members), bool)
        else:
            measured = extrapolation_mae if self.task.success_metric == "mae" else extrapolation
            success = ~diverged & (measured < self.success_threshold)
        metrics = {
            "seed": np.array(self.members),
            "interpolation_mse": interpolation,
            "extrapolation_mse": extrapolation,
            "interpolation_mae": interpolation_mae,
            "extrapolation_mae": extrapolation_mae,
            "interpolation_mse_init": initial[0],
            "extrapolation_mse_init": initial[1],
            "final_interpolation_mse": latest[0],
            "final_extrapolation_mse": latest[1],
            "selected_step": self.best_step.numpy(),
            "solved_at": self.solved_at.numpy(),
            "success": success,
            "sparsity_error": sparsity,
            "diverged": diverged,
            "restarts": self.restarts.copy(),
            **training_errors,
            **recurrence,
            "wall_time_s": np.full(len(self.members), before + time.perf_counter() - started),
        }
        return TrainingResult(metrics, list(self.history), probe_predictions, sweep)
