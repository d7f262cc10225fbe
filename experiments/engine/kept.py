"""The kept models at the end of a run: their errors on the fixed sets, the probe and the sweep, their
sparsity and recurrence, and success, per member (what :meth:`MultiSeedTrainer.run` returns)."""

from __future__ import annotations

import contextlib

import numpy as np
import tensorflow as tf

from experiments.engine import measures, parts
from experiments.engine.outcomes import SweepErrors


@contextlib.contextmanager
def traced_once_per_shape():
    """TensorFlow's retracing warning silenced: the kept models are measured once per set, each set of
    its own shape (a sweep's lengths), so every function here traces once per set by design."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def measure(trainer, initial, latest):
    """As :func:`measure_kept`, with the expected retracing (one trace per set's shape) not reported."""
    with traced_once_per_shape():
        return measure_kept(trainer, initial, latest)


def measure_kept(trainer, initial, latest):
    """(metrics, probe predictions or None, sweep errors, trace predictions or None) of ``trainer``'s kept
    models (the trace: their output after every step of ``Task.trace``'s sequences); ``initial`` and
    ``latest``: the first and last evaluations' (validation, test) MSE. ``metrics`` has every column of a
    result row but the wall time."""
    learner, best, task = trainer.learner, trainer.best, trainer.task
    kept_validation, kept_test, sparsity = tf.function(
        lambda: (
            learner.errors(trainer.model, trainer.validation, best),
            learner.errors(trainer.model, trainer.test, best),
            measures.sparsity_error(trainer.model, best),
        )
    )()
    interpolation, interpolation_mae = kept_validation.mse.numpy(), kept_validation.mae.numpy()
    extrapolation, extrapolation_mae = kept_test.mse.numpy(), kept_test.mae.numpy()
    probe_predictions = None
    if task.probe is not None:
        probe_predictions = learner.predict(trainer.model, task.probe[0], best).numpy()
    trace_predictions = None
    if task.trace is not None:
        trace_predictions = learner.predict(trainer.model, task.trace.x, best, every_step=True).numpy()
    evaluate_best = tf.function(lambda x, y: learner.errors(trainer.model, (x, y), best, task.accuracy))
    part_metrics, part_extra = {}, {}
    if task.parts is not None:
        part_metrics, part_extra = parts.measure(trainer.model, task.parts, best)
    sweep = []
    for index, (value, _) in enumerate(task.sweep or []):
        measured = evaluate_best(*learner.cells_set([cell.sweep[index][1] for cell in trainer.cells]))
        accuracy = None if measured.accuracy is None else measured.accuracy.numpy()
        extra = {name: tensor.numpy() for name, tensor in (measured.extra or {}).items()}
        extra.update(part_extra.get(value, {}))
        sweep.append(SweepErrors(value, measured.mse.numpy(), measured.mae.numpy(), accuracy, extra))
    training_errors = {}
    if task.training_set is not None:
        measured = evaluate_best(*learner.cells_set([cell.training_set for cell in trainer.cells]))
        training_errors = {"training_mse": measured.mse.numpy(), "training_mae": measured.mae.numpy()}
    diverged = trainer.diverged.numpy()
    eigenvalues = measures.recurrent_eigenvalues(trainer.model, best)
    recurrence = (
        {}
        if eigenvalues is None
        else {
            f"recurrent_eigenvalue_{index + 1}": eigenvalues[:, index]
            for index in range(eigenvalues.shape[1])
        }
    )
    if task.exact_recurrence is not None:
        recurrence["recurrent_weight_error"] = measures.recurrent_weight_error(
            trainer.model, task.exact_recurrence, best
        )
    if trainer.success_threshold is None:
        success = np.zeros(len(trainer.members), bool)
    else:
        measured = extrapolation_mae if task.success_metric == "mae" else extrapolation
        success = ~diverged & (measured < trainer.success_threshold)
    metrics = {
        "seed": np.array(trainer.members),
        "interpolation_mse": interpolation,
        "extrapolation_mse": extrapolation,
        "interpolation_mae": interpolation_mae,
        "extrapolation_mae": extrapolation_mae,
        "interpolation_mse_init": initial[0],
        "extrapolation_mse_init": initial[1],
        "final_interpolation_mse": latest[0],
        "final_extrapolation_mse": latest[1],
        "selected_step": trainer.best_step.numpy(),
        "solved_at": trainer.solved_at.numpy(),
        "success": success,
        "sparsity_error": sparsity.numpy(),
        "diverged": diverged,
        "restarts": trainer.restarts.copy(),
        **training_errors,
        **part_metrics,
        **recurrence,
    }
    return metrics, probe_predictions, sweep, trace_predictions
