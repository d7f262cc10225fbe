"""The regularisers a :class:`~experiments.engine.spec.Training` switches on, shared by every learner: R_z
of the first recurrent layer, the units' own regularisers on their ramp, and the NPU's growing L1 penalty.
A learner computes its members' objective and hands it to :func:`add`."""

from __future__ import annotations

import tensorflow as tf

from experiments.engine import measures
from nalu_tf import maths


def l1_weight(step, start, end, every):
    """The L1 penalty's weight at ``step``: ``start``, ten times larger every ``every`` steps, at most ``end``."""
    # beta(t) = min(start * 10^floor(t / every), end)
    growths = tf.floor(tf.cast(step, tf.float32) / float(every))
    return tf.minimum(start * tf.pow(10.0, growths), end)


def add(loss, model, training, step, per_member, input_means=None):
    """``loss`` with every regulariser ``training`` switches on, at ``step``. ``per_member``: each member's
    objective (the units' regulariser may count only where it is below ``regularization_loss_below``);
    ``input_means``: the model's mean recurrent input (``StackedModel(..., input_means=True)``), needed
    when ``training.regularization_z`` > 0."""
    t = training
    if t.regularization_z > 0:
        loss += t.regularization_z * tf.reduce_sum(measures.input_regularizer(model, input_means))
    if t.regularization > 0:
        weight = maths.regularization_ramp(
            step, t.regularization, t.regularization_start, t.regularization_end
        )
        penalty = measures.regularizer(model)
        if t.regularization_loss_below is not None:  # only for seeds that already fit well
            penalty *= tf.cast(tf.stop_gradient(per_member) < t.regularization_loss_below, penalty.dtype)
        loss += weight * tf.reduce_sum(penalty)
    if t.l1_start > 0:
        loss += l1_weight(step, t.l1_start, t.l1_end, t.l1_every) * tf.reduce_sum(measures.l1_norm(model))
    return loss
