"""What a multi-seed training run returns: :class:`TrainingResult`, with :class:`SweepErrors` per fixed
set of a task's sweep. Every array has one entry per member."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class SweepErrors:
    """The selected models' errors on one fixed set of a task's sweep, one entry per member."""

    value: object  # what the set varies (a sequence length, say)
    mse: np.ndarray
    mae: np.ndarray
    accuracy: np.ndarray | None = None  # fraction of outputs that, rounded, equal their targets
    extra: dict = dataclasses.field(default_factory=dict)  # further measures by name (Errors.extra)


@dataclasses.dataclass
class TrainingResult:
    """What :meth:`MultiSeedTrainer.run` returns; every array has one entry per member.

    ``metrics``: per metric name (``interpolation_mse``, ``selected_step``, ``success``, ...) an array.
    ``history``: every evaluation, the untrained model's first: ``step`` and, per member, the current
    model's ``interpolation_mse``, ``extrapolation_mse`` and ``sparsity_error``. ``probe_predictions``:
    the selected models' predictions on the task's probe set, (members, rows, outputs), or None.
    ``sweep``: the selected models' errors on each set of the task's sweep. ``trace_predictions``: their
    output after every step of the task's trace sequences, (members, rows, time, outputs), or None.
    """

    metrics: dict[str, np.ndarray]
    history: list[dict]
    probe_predictions: np.ndarray | None = None
    sweep: list[SweepErrors] = dataclasses.field(default_factory=list)
    trace_predictions: np.ndarray | None = None

    def member_slice(self, members):
        """The same result for the members in ``members`` (a slice): one cell of a stack."""
        return TrainingResult(
            metrics={name: value[members] for name, value in self.metrics.items()},
            history=[
                {name: value if name == "step" else value[members] for name, value in e.items()}
                for e in self.history
            ],
            probe_predictions=None if self.probe_predictions is None else self.probe_predictions[members],
            sweep=[
                SweepErrors(
                    s.value,
                    s.mse[members],
                    s.mae[members],
                    None if s.accuracy is None else s.accuracy[members],
                    {name: value[members] for name, value in s.extra.items()},
                )
                for s in self.sweep
            ],
            trace_predictions=None if self.trace_predictions is None else self.trace_predictions[members],
        )
