"""The learner contract: what the engine asks of a way of learning (see ``experiments.engine``'s
docstring). :class:`Learner` states it; :class:`~experiments.engine.supervised.SupervisedRegression` is the
default, and a task names another with ``Task.learner``."""

from __future__ import annotations


class Learner:
    """A way of learning a stack of cells (tasks that share a model) for ``seeds``.

    Member ``c * len(seeds) + i`` is seed ``seeds[i]`` of cell ``c``. Subclasses define every method; the
    engine calls nothing else."""

    def __init__(self, cells, seeds):
        self.cells = list(cells)
        self.seeds = [int(seed) for seed in seeds]

    def sample(self, draw, batch_size):
        """One training step's batch for every member, a tuple of tensors (inside the graph)."""
        raise NotImplementedError

    def loss(self, model, training, step, batch):
        """(scalar loss whose gradient trains every member, each member's objective (members,))."""
        raise NotImplementedError

    def fixed_set(self, inputs, targets):
        """The cells' fixed set (one ``inputs`` and one ``targets`` array per cell) as :meth:`errors` reads it."""
        raise NotImplementedError

    def cells_set(self, pairs):
        """:meth:`fixed_set` of one (inputs, targets) pair per cell."""
        return self.fixed_set([x for x, _ in pairs], [y for _, y in pairs])

    def errors(self, model, data, params=None, accuracy=False):
        """Per-member :class:`~experiments.engine.evaluation.Errors` on a fixed set; lower ``mse`` is better."""
        raise NotImplementedError

    def predict(self, model, x, params=None, every_step=False):
        """Per-member predictions (members, rows, outputs) on probe inputs ``x`` shared by every member;
        with ``every_step``, after every step of the sequences (members, rows, time, outputs)."""
        raise NotImplementedError
