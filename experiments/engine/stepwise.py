"""A stacked model run one time step at a time, as an agent acts: each step's input arrives only after the
previous step's output was used (an action taken, an observation made). Every layer reads what its
``LayerSpec.inputs`` names (the step's input or earlier layers' outputs, concatenated) or the layer before
it; a recurrent layer advances its cell by one step (``Cell.step``: the same maths as the sequence runs of
``StackedModel``)."""

from __future__ import annotations

import tensorflow as tf


def initial_states(model, rows, params=None):
    """Every recurrent layer's state before the first step, {layer index: tuple of (members, rows, width)}."""
    params = params or model.params
    return {
        index: model.initial_states(layer, params[index], rows)
        for index, layer in enumerate(model.layers)
        if layer.recurrent
    }


def step(model, x, states, params=None):
    """One time step on inputs x (members, rows, features): (the last layer's output, the new states)."""
    params = params or model.params
    outputs, new_states = {"input": x}, {}
    for index, layer in enumerate(model.layers):
        sources = layer.inputs or ("input" if index == 0 else index - 1,)
        inputs = tf.concat([outputs[source] for source in sources], axis=-1)
        if layer.recurrent:  # a cell reads its parameters by name: a learned initial state is not one of them
            output, new_states[index] = model.maths_of(layer).step(
                inputs, states[index], params[index], **layer.options
            )
        else:
            output = model.maths_of(layer).forward(inputs, params[index], **layer.options)
        outputs[index] = output
    return outputs[len(model.layers) - 1], new_states
