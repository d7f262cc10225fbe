"""Supervised regression, the engine's default learner: each member fits its cell's targets by MSE, over
the last time step or every one (``Task.every_step_loss``), plus the regularisers of its training
settings. One step reads top to bottom: the batch (:meth:`SupervisedRegression.sample`), the loss
(:meth:`SupervisedRegression.loss`); the engine then takes the gradient and applies Adam."""

from __future__ import annotations

import tensorflow as tf

from experiments.engine import evaluation, penalties
from experiments.engine.learner import Learner
from experiments.engine.streams import replaying


class SupervisedRegression(Learner):
    """Regression of every cell's targets, each cell's members on their seeds' one set of draws."""

    def sample(self, draw, batch_size):
        """(x, y): each cell's sample of its seeds' one set of draws. x is shared by every cell when they
        read the same inputs (the ops of one unit), so the model reads each seed's inputs once."""
        if len(self.cells) == 1:
            return self.cells[0].sample(draw, batch_size)
        again = replaying(draw)
        x, y = zip(*(cell.sample(again(), batch_size) for cell in self.cells))
        count = len(self.seeds)
        y = tf.concat([tf.broadcast_to(part, [count, *part.shape[1:]]) for part in y], 0)
        if all(part is x[0] for part in x):  # the cells share the inputs themselves (ops of one unit)
            return x[0], y
        return tf.concat([tf.broadcast_to(part, [count, *part.shape[1:]]) for part in x], 0), y

    def loss(self, model, training, step, batch):
        """Each member's MSE on its batch (over every time step with ``every_step_loss``), summed, with the
        regularisers of ``training`` (``penalties.add``)."""
        x, y = batch
        every_step = self.cells[0].every_step_loss
        means = None
        if training.regularization_z > 0:
            prediction, means = model(x, every_step=every_step, input_means=True)
        else:
            prediction = model(x, every_step=every_step)
        per_member = tf.reduce_mean(tf.square(prediction - y), axis=list(range(1, len(y.shape))))
        loss = penalties.add(tf.reduce_sum(per_member), model, training, step, per_member, means)
        return loss, per_member

    def fixed_set(self, inputs, targets):
        return evaluation.fixed_set(inputs, targets)

    def errors(self, model, data, params=None, accuracy=False):
        table = self.cells[0].table
        return evaluation.errors(
            model,
            data,
            len(self.seeds),
            len(self.cells),
            params,
            accuracy,
            evaluation.chunk_rows(table, data[0]),
        )

    def predict(self, model, x, params=None, every_step=False):
        x = tf.constant(x, tf.float32)
        chunk = evaluation.chunk_rows(self.cells[0].table, x[None])
        return evaluation.predict(model, x, chunk, params, every_step)
