"""Vectorised multi-seed training: every seed of a stack of grid points trains in one TensorFlow graph.

Parameters are stacked along a leading seed axis and the unit maths comes from ``nalu_tf.maths`` (the same
functions the public Keras layers call; baselines from ``baselines.py``). Each seed's initial weights and,
by default, its training data depend only on that seed: seed k trained among 64 seeds starts from the same
weights and reads the same draws as seed k trained alone (tests check both bit for bit). Its trained
numbers agree to float rounding, not bit for bit: stacked matmuls may sum in another order, and training
amplifies the last-bit differences (a NALU: 1e-9 relative at the start, about 5e-6 after 5 steps, a few
percent after 40 steps on the recurrent task; tests/test_stacking.py).

What is learned, and how a batch arises, is the task's learner (``learner.py``; supervised regression by
default); everything here is shared by every learner. Model selection uses the interpolation validation
set only. The extrapolation test set is measured (final error, success, solved-at step) and never feeds
back into training, selection or stopping.
"""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from experiments import files
from experiments.engine import checkpoints, kept, measures
from experiments.engine.cells import check_stack
from experiments.engine.outcomes import TrainingResult
from experiments.engine.spec import DATA_STREAMS, LEARNING_RATE_SCHEDULES, Task, Training
from experiments.engine.stacked import StackedModel
from experiments.engine.streams import make_draw
from experiments.engine.supervised import SupervisedRegression


class GraphLoop:
    """``train(steps)``: ``update(*batch())`` ``steps`` times in one graph loop, without evaluating; for a
    trainer and for a :class:`~experiments.engine.seed_major.SeedMajorStack` of several."""

    @tf.function
    def _loop(self, steps):
        for _ in tf.range(steps):
            self.update(*self.batch())

    def train(self, steps):
        """Train every member ``steps`` steps in one graph loop, without evaluating."""
        self._loop(tf.constant(steps, tf.int64))


class MultiSeedTrainer(GraphLoop):
    """Train one task, or a stack of cells, for many seeds at once and report per-seed metrics.

    ``task`` is a :class:`Task` or a list of them (the cells of a stack: the same model on the same inputs
    with different targets, say every operation of one unit). Every cell trains every seed; seed k of each
    cell reads the same draws, taken once per step, and starts from the same initial weights, as seed k
    of each cell trained alone would (the reference code's seed fixes both); the trained numbers then agree
    with a lone run's to float rounding (see the module docstring). The stack's members are the
    cells' seeds in order: member ``c * len(seeds) + i`` is seed ``seeds[i]`` of cell ``c``.

    Public steps, for the runner, the bench and the checkpoints: :meth:`batch`, :meth:`update`,
    :meth:`train`, :meth:`evaluate`, :meth:`state`, :meth:`restore` and :meth:`run`.
    """

    def __init__(self, task: Task, seeds, training: Training, unit_options=None):
        if training.data_stream not in DATA_STREAMS:
            raise ValueError(f"data_stream must be one of {DATA_STREAMS}, got {training.data_stream!r}")
        if training.learning_rate_schedule not in LEARNING_RATE_SCHEDULES:
            raise ValueError(
                f"learning_rate_schedule must be one of {LEARNING_RATE_SCHEDULES}, "
                f"got {training.learning_rate_schedule!r}"
            )
        self.cells = list(task) if isinstance(task, (list, tuple)) else [task]
        check_stack(self.cells)
        self.task = task = self.cells[0]
        self.seeds = [int(s) for s in seeds]
        self.members = [seed for _ in self.cells for seed in self.seeds]
        self.training = training
        self.learner = (task.learner or SupervisedRegression)(self.cells, self.seeds)
        count = len(self.members)
        self.model = StackedModel(task.layers, task.input_size, self.members, task.table, unit_options)
        # A real copy: with the TensorFlow backend, keras.Variable(v.value) would wrap the live tf.Variable
        # itself, so the "best" parameters would always be the last step's (a test guards this).
        self.best = [
            {k: tf.Variable(v.numpy(), trainable=False, name=f"best_{k}") for k, v in p.items()}
            for p in self.model.params
        ]
        clipping = {"clipvalue": training.clip_value} if training.clip_value is not None else {}
        rate = training.learning_rate
        if training.learning_rate_schedule == "cosine":
            rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=training.steps)
        self.optimizer = keras.optimizers.Adam(rate, epsilon=training.adam_epsilon, **clipping)
        self.optimizer.build(self.model.variables)
        self._compiled_update = tf.function(self._update, jit_compile=True)
        self.step = tf.Variable(0, dtype=tf.int64)
        self.diverged = tf.Variable(tf.zeros(count, tf.bool))
        self.best_validation = tf.Variable(tf.fill([count], tf.constant(np.inf, tf.float64)))
        self.best_step = tf.Variable(tf.zeros(count, tf.int64))
        self.solved_at = tf.Variable(tf.fill([count], tf.constant(-1, tf.int64)))
        self.validation = self.learner.cells_set([cell.validation for cell in self.cells])
        self.test = self.learner.cells_set([cell.test for cell in self.cells])
        thresholds = [cell.success_threshold for cell in self.cells]
        self.success_threshold = (
            None if thresholds[0] is None else np.repeat(np.array(thresholds, np.float64), len(self.seeds))
        )
        self.history = []
        self.restarts = np.zeros(count, np.int64)
        self.stale_evaluations = np.zeros(count, np.int64)

    # -- one training step: the batch, then the update -------------------------------------------------

    def batch(self):
        """The next step's number and every member's batch from the learner (drawn outside any XLA cluster:
        XLA's Philox yields other numbers than the kernel's for the same key and counter)."""
        step = self.step.assign_add(1)
        draw = make_draw(self.seeds, step, self.training.data_stream, self.training.data_seed)
        return step, self.learner.sample(draw, self.training.batch_size)

    def _update(self, step, batch):
        with tf.GradientTape() as tape:
            loss, per_member = self.learner.loss(self.model, self.training, step, batch)
        gradients = tape.gradient(loss, self.model.variables)
        self.optimizer.apply(gradients, self.model.variables)
        self.diverged.assign(self.diverged | ~tf.math.is_finite(per_member))
        return loss

    def update(self, step, batch):
        """One optimisation step of every member on its batch: the learner's loss, its gradient, Adam (and
        the units' clamps); XLA-compiled when ``training.jit_compile``. Returns the loss."""
        return (self._compiled_update if self.training.jit_compile else self._update)(step, batch)

    # -- evaluation and selection -----------------------------------------------------------------------

    @tf.function
    def evaluate(self):
        """Measure, select on validation, and record the solved-at step; return the current model's
        (validation Errors, test Errors, sparsity error)."""
        validation_errors = self.learner.errors(self.model, self.validation)
        test_errors = self.learner.errors(self.model, self.test)
        validation = validation_errors.mse
        self.diverged.assign(self.diverged | ~tf.math.is_finite(validation))
        improved = validation < self.best_validation  # NaN never improves
        if self.training.select_from > 0:  # earlier evaluations never become the kept model
            improved &= self.step >= self.training.select_from
        self.best_validation.assign(tf.where(improved, validation, self.best_validation))
        self.best_step.assign(tf.where(improved, self.step, self.best_step))
        for current, best in zip(self.model.params, self.best):
            for name, variable in current.items():
                mask = tf.reshape(improved, [-1] + [1] * (len(variable.shape) - 1))
                best[name].assign(tf.where(mask, variable, best[name]))
        if self.success_threshold is not None:
            measured = test_errors.mae if self.task.success_metric == "mae" else test_errors.mse
            newly = (self.solved_at < 0) & (measured < self.success_threshold)
            self.solved_at.assign(tf.where(newly, self.step, self.solved_at))
        return validation_errors, test_errors, measures.sparsity_error(self.model)

    def record(self, evaluation):
        """Keep one evaluation (validation and test MSE, sparsity error per seed) in ``self.history``;
        return (validation MSE, test MSE) as NumPy arrays."""
        validation_errors, test_errors, sparsity = evaluation
        validation, test, sparsity = validation_errors.mse.numpy(), test_errors.mse.numpy(), sparsity.numpy()
        self.history.append(
            {
                "step": int(self.step.numpy()),
                "interpolation_mse": validation,
                "extrapolation_mse": test,
                "sparsity_error": sparsity,
            }
        )
        return validation, test

    def restart_stalled(self, validation):
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

    # -- checkpoints -------------------------------------------------------------------------------------

    def state(self, done, initial, latest, elapsed):
        """The arrays that restore this stack after ``done`` steps (``initial`` and ``latest``: the first
        and last evaluations' (validation, test) MSE; ``elapsed``: seconds trained so far)."""
        return checkpoints.pack(self, done, initial, latest, elapsed)

    def restore(self, arrays):
        """Load a :meth:`state`; return (done, initial, latest, elapsed), or None when the arrays belong to
        other members or another model (then nothing is loaded and training starts afresh)."""
        saved = checkpoints.unpack(self, arrays)
        if saved is None:
            return None
        self.restarts, self.stale_evaluations, self.history = (
            saved.restarts,
            saved.stale_evaluations,
            saved.history,
        )
        return saved.done, saved.initial, saved.latest, saved.elapsed

    # -- the whole run -----------------------------------------------------------------------------------

    def run(self, progress=None, checkpoint=None) -> TrainingResult:
        """Train for ``training.steps`` steps, evaluating every ``eval_every``; return a
        :class:`TrainingResult`. Its ``final_*`` metrics are the last evaluation's, so selection can be
        audited against them and against the history.

        With a ``checkpoint`` path, the stack's state is saved there after an evaluation at most every
        :data:`checkpoints.SECONDS`, and a run that finds a checkpoint of the same members continues from
        it, to the same numbers as a run never interrupted (the caller removes the file once the results
        are written). ``progress(n)`` is told of every n member-steps trained; steps restored from a
        checkpoint go to ``progress.skip(n)`` where it has one."""
        return run_together(self, [self], progress, checkpoint)[0]


def run_together(driver, trainers, progress=None, checkpoint=None):
    """The run of :meth:`MultiSeedTrainer.run` for ``trainers`` that ``driver.train(steps)`` trains
    together (the trainer itself, or a :class:`~experiments.engine.seed_major.SeedMajorStack` of several
    on the same draws): each is evaluated, selects, restarts and is measured as if alone; one checkpoint
    holds them all. Returns one :class:`TrainingResult` per trainer."""
    started = time.perf_counter()
    restored = None
    if checkpoint is not None:
        restored = checkpoints.restore_all(trainers, files.load_arrays(checkpoint) or {})
    if restored is None:
        initial = [trainer.record(trainer.evaluate()) for trainer in trainers]
        latest, done, before = list(initial), 0, 0.0
    else:
        done, initial, latest, before = restored
        if progress is not None and hasattr(progress, "skip"):
            progress.skip(done * len(driver.members))
    saved = time.perf_counter()
    training = trainers[0].training
    while done < training.steps:
        chunk = min(training.eval_every, training.steps - done)
        driver.train(chunk)
        latest = [trainer.record(trainer.evaluate()) for trainer in trainers]
        done += chunk
        for trainer, (validation, _) in zip(trainers, latest):
            if trainer.training.reinitialise_patience:
                trainer.restart_stalled(validation)
        if (
            checkpoint is not None
            and done < training.steps
            and time.perf_counter() - saved >= checkpoints.SECONDS
        ):
            elapsed = before + time.perf_counter() - started
            files.save_arrays(checkpoint, checkpoints.pack_all(trainers, done, initial, latest, elapsed))
            saved = time.perf_counter()
        if progress is not None:
            progress(chunk * len(driver.members))
    results = []
    for trainer, first, last in zip(trainers, initial, latest):
        metrics, probe_predictions, sweep, trace = kept.measure(trainer, first, last)
        results.append(TrainingResult(metrics, list(trainer.history), probe_predictions, sweep, trace))
    wall = before + time.perf_counter() - started  # the whole stack's, kept models measured included
    for result in results:
        result.metrics["wall_time_s"] = np.full(len(result.metrics["seed"]), wall)
    return results
