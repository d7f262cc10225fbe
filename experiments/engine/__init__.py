"""The multi-seed engine: every seed of a stack of grid points trains in one TensorFlow graph.

This module is the engine's front door: the runner, the bench and the tasks use the names below and
nothing else of the package. Names load their module on first use, so a task or a config check that
needs only the plain descriptions (:class:`Task`, :class:`LayerSpec`, :class:`Training`) never loads
TensorFlow.

The pieces, in the order a training step reads them:

- :class:`MultiSeedTrainer` (``trainer.py``) owns what every way of learning shares: the stacked
  parameters of every member (a seed of a cell), the draw keyed by seed and step, Adam, the XLA-compiled
  update, evaluation on fixed sets, selection of the kept model on the interpolation set, the solved-at
  step, restarts of stalled seeds, the history, checkpoints (``state()`` / ``restore()``) and progress.
  Its public steps are ``batch()``, ``update(step, batch)``, ``train(steps)``, ``evaluate()`` and
  ``run(progress, checkpoint)``; ``kept.py`` measures the kept models at the end.
  :class:`SeedMajorStack` (``seed_major.py``) trains several of them (the units of a table, each with its
  own settings) on one draw per seed and step.
- :class:`StackedModel` (``stacked.py``): the layers of one model, one copy per member, the units' maths
  looked up in ``registry.py`` (the library's ``nalu_tf.maths`` and the baselines of ``baselines.py``);
  ``measures.py`` reads what a model is besides its outputs (sparsity error, regularisers, eigenvalues).
- A **learner** (``learner.py``): what the task learns and how its batches arise. A task chooses one with
  ``Task.learner``; the default is :class:`SupervisedRegression` (``supervised.py``); the grid world's
  agents learn by :class:`ActorCritic` (``actor_critic.py``), run one time step at a time by
  ``stepwise.py``.

The learner contract (:class:`Learner`). The engine builds ``learner = task.learner(cells, seeds)``
(``cells``: the stack's tasks, ``seeds``: the seed list) and calls only:

- ``learner.sample(draw, batch_size)`` inside the graph: one step's batch for every member, a tuple of
  tensors, from ``draw(shape, low, high)`` (uniform numbers of shape (seeds or 1, *shape) from the step's
  stream: the same for a seed whichever other seeds train beside it).
- ``learner.loss(model, training, step, batch)``: ``(loss, per_member)``, the scalar whose gradient
  trains every member (members share no parameter, so the gradient of the sum is each member's own) and
  each member's objective before regularisers (a non-finite one marks the member diverged). The shared
  regularisers of :class:`Training` are added by :func:`penalties.add` (``penalties.py``).
- ``learner.errors(model, data, params=None, accuracy=False)``: per-member :class:`Errors` on a fixed set
  ``data`` (as :meth:`fixed_set` built it); selection keeps the step with the lowest ``mse`` on the
  validation set, and success compares the test set's ``mse`` (or ``mae``) with the task's threshold.
- ``learner.fixed_set(inputs, targets)``: the cells' fixed sets (validation, test, sweep, training set)
  as ``errors`` reads them; ``learner.predict(model, x, params, every_step)``: predictions on a probe set
  (after every step of a sequence with ``every_step``).

Everything else (stacking of seeds, selection, checkpoints, progress, resume, result files) is the
engine's and the runner's, the same for every learner.
"""

from __future__ import annotations

import importlib

# Each public name and the module of the package that defines it.
_HOMES = {
    "DATA_STREAMS": "spec",
    "LEARNING_RATE_SCHEDULES": "spec",
    "LayerSpec": "spec",
    "Task": "spec",
    "ReaderParts": "spec",
    "Trace": "spec",
    "READINGS": "spec",
    "Training": "spec",
    "MultiSeedTrainer": "trainer",
    "SeedMajorStack": "seed_major",
    "StackedModel": "stacked",
    "INITIAL_STATE": "stacked",
    "UNROLL_LIMIT": "stacked",
    "TrainingResult": "outcomes",
    "SweepErrors": "outcomes",
    "Errors": "evaluation",
    "Learner": "learner",
    "SupervisedRegression": "supervised",
    "ActorCritic": "actor_critic",
    "make_draw": "streams",
    "draw_indices": "streams",
    "philox_uniform": "streams",
    "CHECKPOINT_SECONDS": "checkpoints",
}

__all__ = sorted(_HOMES)


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


def __dir__():
    return __all__
