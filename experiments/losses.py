"""The training loss of a stacked model: each member's MSE plus the regularisers its training settings
switch on (R_z, the units' own regularisers on their ramp, the NPU's growing L1 penalty)."""

from __future__ import annotations

import tensorflow as tf

from nalu_tf import maths


def l1_weight(step, start, end, every):
    """The L1 penalty's weight at ``step``: ``start``, ten times larger every ``every`` steps, at most ``end``."""
    # beta(t) = min(start * 10^floor(t / every), end)
    growths = tf.floor(tf.cast(step, tf.float32) / float(every))
    return tf.minimum(start * tf.pow(10.0, growths), end)


def training_loss(model, training, step, x, y, every_step=False):
    """(the loss whose gradient trains every member, each member's MSE) on one batch at ``step``.

    Members share no parameters, so the gradient of the sum is each member's own gradient."""
    t = training
    if t.regularization_z > 0:
        prediction, means = model(x, every_step=every_step, input_means=True)
    else:
        prediction = model(x, every_step=every_step)
    per_seed = tf.reduce_mean(tf.square(prediction - y), axis=list(range(1, len(y.shape))))
    loss = tf.reduce_sum(per_seed)
    if t.regularization_z > 0:
        loss += t.regularization_z * tf.reduce_sum(model.input_regularizer(means))
    if t.regularization > 0:
        weight = maths.regularization_ramp(
            step, t.regularization, t.regularization_start, t.regularization_end
        )
        penalty = model.regularizer()
        if t.regularization_loss_below is not None:  # only for seeds that already fit well
            penalty *= tf.cast(tf.stop_gradient(per_seed) < t.regularization_loss_below, penalty.dtype)
        loss += weight * tf.reduce_sum(penalty)
    if t.l1_start > 0:
        loss += l1_weight(step, t.l1_start, t.l1_end, t.l1_every) * tf.reduce_sum(model.l1_norm())
    return loss, per_seed
