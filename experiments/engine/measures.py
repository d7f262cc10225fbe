"""What the engine measures of a stacked model besides its outputs, per member: the sparsity error, the
units' regularisers, R_z, the L1 norm, and the first recurrent layer's exactness (its hidden-to-hidden
block's eigenvalues and distance from the exact block). Each function reads a
:class:`~experiments.engine.stacked.StackedModel` through its public attributes (``layers``, ``params``,
``seed_count``, ``encoder_depth``, ``variables``, ``maths_of``)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from nalu_tf import maths


def sparsity_error(model, params=None):
    """Per seed, the largest distance of any effective weight from {-1, 0, 1}, over the arithmetic
    part of the model: every layer but an encoder's (the layers that read table items, such as the
    MNIST tasks' digit reader, whose weights nothing asks to be integers), as the reference code
    measures its units' layers and never its CNN. NaN for a model with no such weight."""
    params = params or model.params
    errors = [
        maths.sparsity_error(weight, axis=(1, 2))
        for layer, layer_params in zip(model.layers[model.encoder_depth :], params[model.encoder_depth :])
        for weight in model.maths_of(layer).weights(layer_params)
    ]
    if not errors:
        return tf.fill([model.seed_count], tf.constant(np.nan, tf.float32))
    return tf.reduce_max(tf.stack(errors), axis=0)


def first_recurrent(model, params=None):
    """The first recurrent layer and its effective weight matrices (rows [x_t; h_{t-1}]), or (None, [])."""
    for layer, layer_params in zip(model.layers, params or model.params):
        if layer.recurrent:
            return layer, model.maths_of(layer).weights(layer_params)
    return None, []


def input_regularizer(model, means):
    """Per member, Madsen & Johansen's R_z of the first recurrent layer: the mean over its effective
    weight matrix of (1 - |W_ij|) * m_i^2, m the mean input [x_t, h_{t-1}] of the model's
    ``input_means``. It pushes an input with a non-zero mean to meet weights of +-1, or the layer
    before it (the digit reader) towards zero where the weight is not."""
    layer, weights = first_recurrent(model)
    if layer is None:
        raise ValueError("the input regulariser needs a recurrent layer")
    weight = weights[0]  # (members, in + width, width)
    # R_z = mean_ij (1 - |W_ij|) m_i^2
    return tf.reduce_mean((1.0 - tf.abs(weight)) * tf.square(means)[:, :, None], axis=[1, 2])


def recurrent_weight_error(model, exact, params=None):
    """Per member, the largest distance of the first recurrent layer's hidden-to-hidden block (the
    last ``width`` rows of its first effective weight matrix) from ``exact`` (the block that carries the
    task's state over any length, (width, width)), as a NumPy array; NaN where a weight is not finite."""
    layer, weights = first_recurrent(model, params)
    if layer is None:
        raise ValueError("the model has no recurrent layer")
    block = np.asarray(weights[0], dtype=np.float64)[:, -layer.width :, :]
    if block.shape[1:] != np.shape(exact):
        raise ValueError(f"exact recurrent block {np.shape(exact)} against {block.shape[1:]}")
    return np.abs(block - np.asarray(exact, np.float64)).max(axis=(1, 2))


def recurrent_eigenvalues(model, params=None):
    """Per member, the moduli of the eigenvalues of the first recurrent layer's hidden-to-hidden block
    (the last ``width`` rows of its first effective weight matrix: h_t = ... + h_{t-1} B), largest
    first, as a NumPy array (members, width); NaN where a weight is not finite. None when the model has
    no recurrent layer or its block is not square (the LSTM's block feeds four gates).

    A recurrence that carries a sum over any length needs eigenvalue 1 on the directions its output
    reads; a modulus above 1 grows with the length, one below 1 forgets."""
    layer, weights = first_recurrent(model, params)
    if not weights:
        return None
    block = np.asarray(weights[0], dtype=np.float64)[:, -layer.width :, :]
    if block.shape[-1] != layer.width:
        return None
    finite = np.isfinite(block).all(axis=(1, 2))
    moduli = np.full((len(block), layer.width), np.nan)
    if finite.any():
        moduli[finite] = -np.sort(-np.abs(np.linalg.eigvals(block[finite])), axis=1)
    return moduli


def regularizer(model):
    """Per seed, the sum over layers of the units' sparsity regularisers (zeros if none has one)."""
    terms = [
        model.maths_of(layer).regularizer(params, axis=(1, 2))
        for layer, params in zip(model.layers, model.params)
        if model.maths_of(layer).regularizer is not None
    ]
    return tf.add_n(terms) if terms else tf.zeros(model.seed_count)


def l1_norm(model):
    """Per seed, the sum of the absolute values of every parameter."""
    return tf.add_n([tf.reduce_sum(tf.abs(v), axis=list(range(1, len(v.shape)))) for v in model.variables])
