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

import time

import keras
import numpy as np
import tensorflow as tf

from experiments import checkpoints, evaluation, files, losses
from experiments.losses import l1_weight  # noqa: F401 (re-exported)
from experiments.outcomes import SweepErrors, TrainingResult
from experiments.evaluation import Errors, fixed_set
from experiments.spec import DATA_STREAMS, LayerSpec, Task, Training  # noqa: F401 (re-exported)
from experiments.stacked import INITIAL_STATE, UNROLL_LIMIT, StackedModel  # noqa: F401 (re-exported)
from experiments.streams import make_draw, philox_uniform, replaying  # noqa: F401 (re-exported)


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

    def __init__(self, task: Task, seeds, training: Training, unit_options=None):
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
        self.model = StackedModel(task.layers, task.input_size, self.members, task.table, unit_options)
        # A real copy: with the TensorFlow backend, keras.Variable(v.value) would wrap the live tf.Variable
        # itself, so the "best" parameters would always be the last step's (a test guards this).
        self.best = [
            {k: tf.Variable(v.numpy(), trainable=False, name=f"best_{k}") for k, v in p.items()}
            for p in self.model.params
        ]
        clipping = {"clipvalue": training.clip_value} if training.clip_value is not None else {}
        self.optimizer = keras.optimizers.Adam(
            training.learning_rate, epsilon=training.adam_epsilon, **clipping
        )
        self.optimizer.build(self.model.variables)
        self._compiled_update = tf.function(self._update, jit_compile=True)
        self.step = tf.Variable(0, dtype=tf.int64)
        self.diverged = tf.Variable(tf.zeros(count, tf.bool))
        self.best_validation = tf.Variable(tf.fill([count], tf.constant(np.inf, tf.float64)))
        self.best_step = tf.Variable(tf.zeros(count, tf.int64))
        self.solved_at = tf.Variable(tf.fill([count], tf.constant(-1, tf.int64)))
        self.validation = self.fixed_set(
            [cell.validation[0] for cell in self.cells], [cell.validation[1] for cell in self.cells]
        )
        self.test = self.fixed_set(
            [cell.test[0] for cell in self.cells], [cell.test[1] for cell in self.cells]
        )
        thresholds = [cell.success_threshold for cell in self.cells]
        self.success_threshold = (
            None if thresholds[0] is None else np.repeat(np.array(thresholds, np.float64), len(self.seeds))
        )
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
                and all(
                    np.shape(a[0]) == np.shape(b[0])
                    for a, b in ((cell.validation, first.validation), (cell.test, first.test))
                )
                and (cell.success_threshold is None) == (first.success_threshold is None)
                and cell.success_metric == first.success_metric
            )
            same_sweep = [value for value, _ in cell.sweep or []] == [
                value for value, _ in first.sweep or []
            ] and all(
                np.shape(a[1][0]) == np.shape(b[1][0]) for a, b in zip(cell.sweep or [], first.sweep or [])
            )
            if not (same and same_sweep):
                raise ValueError(
                    "cells of one stack need the same layers, input size and evaluation set shapes"
                )
            if cell.table is not None or cell.probe is not None or cell.accuracy:
                raise ValueError("tasks with a table, a probe set or accuracy train one cell at a time")

    fixed_set = staticmethod(fixed_set)

    def _errors(self, data, params=None, accuracy=False) -> Errors:
        """Per-member errors on a fixed set (see :func:`experiments.evaluation.errors`)."""
        return evaluation.errors(
            self.model,
            data,
            len(self.seeds),
            len(self.cells),
            params,
            accuracy,
            evaluation.chunk_rows(self.task.table, data[0]),
        )

    def _predict(self, x, params=None):
        """Per-seed predictions (seeds, rows, outputs) on a fixed input set, in chunks."""
        return evaluation.predict(self.model, x, evaluation.chunk_rows(self.task.table, x[None]), params)

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
            loss, per_seed = losses.training_loss(
                self.model, self.training, step, x, y, self.task.every_step_loss
            )
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
        """Measure, select on validation, and record the solved-at step; return the current model's
        (validation Errors, test Errors, sparsity error)."""
        validation_errors, test_errors = self._errors(self.validation), self._errors(self.test)
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
        return validation_errors, test_errors, self.model.sparsity_error()

    @tf.function
    def _final(self):
        """The kept models' (validation Errors, test Errors, sparsity error)."""
        return (
            self._errors(self.validation, self.best),
            self._errors(self.test, self.best),
            self.model.sparsity_error(self.best),
        )

    def _record(self, evaluation):
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

    def run(self, progress=None, checkpoint=None) -> TrainingResult:
        """Train for ``training.steps`` steps, evaluating every ``eval_every``; return a
        :class:`TrainingResult`. Its ``final_*`` metrics are the last evaluation's, so selection can be
        audited against them and against the history.

        With a ``checkpoint`` path, the stack's state is saved there after an evaluation at most every
        :data:`experiments.checkpoints.SECONDS`, and a run that finds a checkpoint of the same members continues from it,
        to the same numbers as a run never interrupted (the caller removes the file once the results are
        written). ``progress(n)`` is told of every n member-steps trained; steps restored from a checkpoint
        go to ``progress.skip(n)`` where it has one."""
        started = time.perf_counter()
        restored = (
            checkpoints.restore(self, files.load_arrays(checkpoint) or {}) if checkpoint is not None else None
        )
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
            if (
                checkpoint is not None
                and done < self.training.steps
                and time.perf_counter() - saved >= checkpoints.SECONDS
            ):
                elapsed = before + time.perf_counter() - started
                files.save_arrays(checkpoint, checkpoints.state(self, done, initial, latest, elapsed))
                saved = time.perf_counter()
            if progress is not None:
                progress(chunk * len(self.members))
        kept_validation, kept_test, sparsity = self._final()
        interpolation, interpolation_mae = kept_validation.mse.numpy(), kept_validation.mae.numpy()
        extrapolation, extrapolation_mae = kept_test.mse.numpy(), kept_test.mae.numpy()
        sparsity = sparsity.numpy()
        probe_predictions = None
        if self.task.probe is not None:
            probe_predictions = self._predict(tf.constant(self.task.probe[0], tf.float32), self.best).numpy()
        evaluate_best = tf.function(lambda x, y: self._errors((x, y), self.best, self.task.accuracy))
        sweep = []
        for index, (value, _) in enumerate(self.task.sweep or []):
            sets = [cell.sweep[index][1] for cell in self.cells]
            fixed = self.fixed_set([x for x, _ in sets], [y for _, y in sets])
            measured = evaluate_best(*fixed)
            accuracy = None if measured.accuracy is None else measured.accuracy.numpy()
            sweep.append(SweepErrors(value, measured.mse.numpy(), measured.mae.numpy(), accuracy))
        training_errors = {}
        if self.task.training_set is not None:
            fixed = self.fixed_set(
                [cell.training_set[0] for cell in self.cells], [cell.training_set[1] for cell in self.cells]
            )
            measured = evaluate_best(*fixed)
            training_errors = {"training_mse": measured.mse.numpy(), "training_mae": measured.mae.numpy()}
        diverged = self.diverged.numpy()
        eigenvalues = self.model.recurrent_eigenvalues(self.best)
        recurrence = (
            {}
            if eigenvalues is None
            else {
                f"recurrent_eigenvalue_{index + 1}": eigenvalues[:, index]
                for index in range(eigenvalues.shape[1])
            }
        )
        if self.task.exact_recurrence is not None:
            recurrence["recurrent_weight_error"] = self.model.recurrent_weight_error(
                self.task.exact_recurrence, self.best
            )
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
