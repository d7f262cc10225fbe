"""Plain descriptions shared by the runner, the engine and the experiment modules.

Nothing here imports TensorFlow, so a configuration can be validated (and rejected) in a fraction of a
second before any heavy import or any work.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

DATA_STREAMS = ("independent", "shared")
LEARNING_RATE_SCHEDULES = ("constant", "cosine")


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """One layer of a model: a unit from ``experiments.engine.registry.UNITS`` (or ``CELLS``: the library's
    units and the baselines), its width and its options."""

    unit: str
    width: int  # outputs of the layer (a recurrent layer's state size); 0 for shape-only layers
    options: dict = dataclasses.field(default_factory=dict)
    recurrent: bool = (
        False  # a cell from experiments.engine.registry.CELLS run over the time axis; emits its last output
    )
    # A recurrent layer's state before the first step: "zeros", or "learned" (a trained parameter per
    # seed, initialised at 0, as the reference recurrent task has it).
    initial_state: str = "zeros"
    # Parameter name -> initialiser, replacing the unit's default (Madsen & Johansen's NAC init, say).
    initializers: dict = dataclasses.field(default_factory=dict)
    # What the layer reads, concatenated in this order: "input" (the model's input) or the index of an
    # earlier layer (its output). Empty: the layer before it (the model's input for the first layer). A
    # model with such wiring runs one time step at a time (``experiments.engine.stepwise``), as an agent.
    inputs: tuple = ()


READINGS = ("classes", "value")


@dataclasses.dataclass
class ReaderParts:
    """How to measure a reader and its core apart, for a model that reads labelled items from its table.

    ``reading``: what the reader gives the core per item: ``classes`` (class probabilities) or ``value``
    (one number). The reader's classes are its own (an arithmetic core may read them in any order), so
    ``calibration`` (table indices, labels) of training items names them: each class reads as the label
    it most often fires for, and a label's ideal code is the one-hot of the class that label most often
    fires; a ``value`` reader's scale is the least-squares slope b of its value on the label (through 0),
    so it reads round(v / b) and a label's ideal code is b * label. ``items`` (table indices, labels):
    the single test items the reader is scored on (``reader_accuracy``). ``sequences``:
    ``[(value, labels (rows, length), targets (rows, outputs)), ...]``, for values of the task's sweep:
    the core alone is fed each label's ideal code (``core_mae_at_V``, ``core_accuracy_at_V``), so its
    error owes nothing to the reader.
    """

    reading: str
    calibration: tuple[np.ndarray, np.ndarray]
    items: tuple[np.ndarray, np.ndarray]
    sequences: list


@dataclasses.dataclass
class Trace:
    """Sequences on which the kept models' output after every step is recorded, seed by seed: the layers
    after the recurrent one applied to each of its intermediate states (what a model "thinks" part way
    through a sequence). ``x``: inputs (rows, time, ...) as the fixed sets hold them; ``y``: the target
    after each step (rows, time, 1): one output, NaN where a step has none (padding); ``names``: one
    label per row for tables and figures."""

    x: np.ndarray
    y: np.ndarray
    names: tuple[str, ...]

    def __post_init__(self):
        rows, steps = np.shape(self.x)[:2]
        if np.ndim(self.y) != 3 or np.shape(self.y)[:2] != (rows, steps) or np.shape(self.y)[2] != 1:
            raise ValueError(
                f"a trace's y must be (rows, time, 1) for x of {rows} rows and {steps} steps, got {np.shape(self.y)}"
            )
        if len(self.names) != rows:
            raise ValueError(f"a trace needs one name per row: {len(self.names)} names for {rows} rows")


@dataclasses.dataclass
class Task:
    """What an experiment hands the trainer for one grid point.

    ``sample(draw, batch_size)`` builds one training batch inside the graph: ``draw(shape, low, high)``
    returns uniform numbers of shape ``(seeds or 1, *shape)`` from the right stream, and ``sample`` returns
    ``(x, y)`` shaped ``(seeds or 1, batch, features)``. ``validation`` and ``test`` are fixed NumPy
    ``(x, y)`` pairs: interpolation and extrapolation data. ``success_threshold`` is the extrapolation MSE
    (or MAE, with ``success_metric`` "mae") under which a seed counts as solved (None: no success
    criterion). ``probe``, optional fixed ``(x, y)``
    on which the selected models' errors are kept point by point (for error-against-input curves),
    plotted against ``probe_x`` (one value per probe row; default the first input column).
    ``training_set``, optional fixed ``(x, y)`` of training data on which the selected models' errors
    are reported too (``training_mse``, ``training_mae``: for a task whose training data is a fixed set).
    ``sweep``, optional ``[(value, (x, y)), ...]``: further fixed sets, each labelled by the value it
    varies (a sequence length, say), on which the selected models are measured at the end.
    ``table``, optional ``(count, *item_shape)`` array: inputs are then indices into it (see
    ``StackedModel``). ``accuracy``: also measure, on the sweep, the fraction of outputs that, rounded,
    equal their targets (for counting: each count of each sequence). ``every_step_loss``: the training
    loss is the MSE over every time step of a recurrent model (``sample`` then returns targets
    ``(seeds or 1, batch, time, outputs)``: the target after each step); the fixed sets still hold the
    final targets only. ``labels``: constant columns written into every result row (the dataset
    actually used, say). ``exact_recurrence``, optional: the hidden-to-hidden block of the first recurrent
    layer's effective weights that carries the task's state exactly over any length (the identity for an
    accumulator); the kept models' largest distance from it is reported per seed
    (``recurrent_weight_error``), beside the block's eigenvalues. ``learner``: the class that trains the
    task (a :class:`experiments.engine.Learner`, built as ``learner(cells, seeds)``; its contract is in
    ``experiments.engine``'s docstring); None: supervised regression of ``sample``'s targets by MSE.
    ``parts``, optional :class:`ReaderParts`: the kept models' reader and core measured apart.
    ``trace``, optional :class:`Trace`: the kept models' output after every step of a few sequences.
    """

    input_size: int | tuple
    layers: list[LayerSpec]
    sample: Callable
    validation: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    success_threshold: float | None = None
    success_metric: str = "mse"
    probe: tuple[np.ndarray, np.ndarray] | None = None
    probe_x: np.ndarray | None = None
    training_set: tuple[np.ndarray, np.ndarray] | None = None
    sweep: list | None = None
    table: np.ndarray | None = None
    accuracy: bool = False
    every_step_loss: bool = False
    exact_recurrence: np.ndarray | None = None
    learner: Callable | None = None
    labels: dict = dataclasses.field(default_factory=dict)
    parts: ReaderParts | None = None
    trace: Trace | None = None


@dataclasses.dataclass(frozen=True)
class Training:
    """Optimisation settings shared by every experiment (a config may set some of them per unit).

    Adam with ``learning_rate`` and ``adam_epsilon`` (1e-8 as PyTorch, which the reference code uses;
    Keras' own default is 1e-7). ``learning_rate_schedule``: ``constant``, or ``cosine`` (the rate falls
    from ``learning_rate`` to 0 over ``steps`` along half a cosine; a unit's own rate is its start). ``regularization`` is the largest weight of the units' own regularisers
    (NAU, NMU: sparsity; iNALU: saturation), reached by a linear ramp from ``regularization_start`` to
    ``regularization_end`` (Madsen & Johansen 2020; a jump at the start if end <= start); 0 turns it off.
    With ``regularization_loss_below`` set, a seed's regulariser counts only on steps where its training
    MSE is below that value (iNALU's rule in nalm-benchmark). ``l1_start`` > 0 adds an L1 penalty on
    every parameter whose weight starts at ``l1_start`` and grows tenfold every ``l1_every`` steps up to
    ``l1_end`` (the NPU's schedule of Heim et al., as Mistry et al. run it). ``clip_value`` clips every
    gradient element (None: off). ``reinitialise_patience`` > 0 redraws the parameters of a seed whose
    validation MSE has not improved for that many evaluations while it is above ``reinitialise_above``
    (iNALU's restart of stalled runs; the best model so far is kept). ``jit_compile`` compiles each training
    step's update (forward, gradient, Adam) with XLA, called from an ordinary graph loop (the whole loop
    under XLA is slower); the batch is drawn outside it, so the data are the uncompiled run's bit for
    bit, and the trained numbers differ from it by float rounding (fused operations round differently).
    ``regularization_z`` > 0 adds Madsen & Johansen's R_z of the first recurrent layer at that constant
    weight (as their sequential-MNIST script, unramped; ``StackedModel.input_regularizer``).
    ``select_from``: evaluations before this step never become the kept model (so that the kept model is
    one the full regulariser trained); 0 keeps the best of every evaluation.
    """

    steps: int
    batch_size: int
    learning_rate: float
    eval_every: int
    data_stream: str = "independent"
    data_seed: int = 0
    adam_epsilon: float = 1e-8
    regularization: float = 0.0
    regularization_start: int = 0
    regularization_end: int = 0
    regularization_loss_below: float | None = None
    l1_start: float = 0.0
    l1_end: float = 0.0
    l1_every: int = 10000
    clip_value: float | None = None
    reinitialise_patience: int = 0
    reinitialise_above: float = 0.0
    jit_compile: bool = False
    regularization_z: float = 0.0
    select_from: int = 0
    learning_rate_schedule: str = "constant"
