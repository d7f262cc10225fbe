"""Per-seed data streams: counter-based Philox draws keyed by (step, draw number), one disjoint counter range
per seed, so a seed's data do not depend on which other seeds train beside it (tests check this bit for bit).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

STREAMS_PER_STEP = 64  # distinct random draws a task may take per training step


PHILOX = 1  # algorithm id of tf.raw_ops.StatelessRandomUniformV2


def philox_uniform(key, first_seed, seed_count, shape):
    """Uniform [0, 1) numbers of shape (seed_count, *shape) for seeds first_seed, first_seed + 1, ...

    Philox is counter based: seed k reads its own disjoint range of counters under the same key, so a
    block of contiguous seeds drawn in one op equals each seed drawn alone (a test checks this).
    """
    size = int(np.prod(shape))
    per_seed = -(-size // 4) * 4  # Philox yields four numbers per counter value
    counter = tf.stack([tf.cast(first_seed * (per_seed // 4), tf.uint64), tf.constant(0, tf.uint64)])
    values = tf.raw_ops.StatelessRandomUniformV2(
        shape=[seed_count * per_seed],
        key=tf.reshape(tf.cast(key, tf.uint64), [1]),
        counter=counter,
        alg=PHILOX,
    )
    values = tf.reshape(values, [seed_count, per_seed])
    if per_seed != size:
        values = values[:, :size]
    return tf.reshape(values, [seed_count, *shape])


def contiguous_runs(seeds):
    """Split a seed list into (first, count) runs of consecutive integers."""
    runs = []
    for seed in seeds:
        if runs and seed == runs[-1][0] + runs[-1][1]:
            runs[-1][1] += 1
        else:
            runs.append([seed, 1])
    return runs


def make_draw(seeds, step, stream_mode, data_seed):
    """Return ``draw(shape, low, high)`` for the batch of ``step``.

    independent: each seed has its own stream (its own Philox counters under a key made of the step and
    the draw number), so a seed's data does not depend on which other seeds train beside it. shared: one
    stream, keyed by (data_seed, step, draw number), broadcast to every seed. A range maps the same
    U[0, 1) numbers affinely, as ``uniform(low, high)`` does in the reference code.
    """
    counter = [0]

    def draw(shape, low, high):
        stream = counter[0]
        counter[0] += 1
        if stream >= STREAMS_PER_STEP:
            raise ValueError(f"a task may take at most {STREAMS_PER_STEP} draws per step")
        key = step * STREAMS_PER_STEP + stream
        if stream_mode == "shared":
            unit = philox_uniform(key, data_seed, 1, shape)
        else:
            unit = tf.concat(
                [philox_uniform(key, first, count, shape) for first, count in contiguous_runs(seeds)], 0
            )
        return low + (high - low) * unit

    return draw


def replaying(draw):
    """Return ``again()``, which gives a fresh draw function per cell: the first cell's n-th call takes
    U[0, 1) numbers from ``draw``; every cell's n-th call maps those same numbers onto its range, exactly
    as ``draw`` would (the very same tensor for the same range), so all cells of a stack train on their
    seeds' one set of draws, bit for bit as each would alone.

    ``draw`` may itself be a cell's function from another ``replaying`` (a seed-major stack hands one to
    each of its models, whose cells replay it again): the two then share one record, so a range is mapped
    once per step for every model, not once per model."""
    record = getattr(draw, "record", None)
    if record is None:
        record = (draw, [], {})  # the source; (shape, U[0, 1) numbers) of each call, in order; mapped ones
    source, units, scaled = record

    def again():
        position = [0]

        def replay(shape, low, high):
            index = position[0]
            position[0] += 1
            if index == len(units):
                units.append((tuple(shape), source(shape, 0.0, 1.0)))
            recorded_shape, unit = units[index]
            if recorded_shape != tuple(shape):
                raise ValueError(
                    f"cells of one stack must draw the same shapes; got {shape} after {recorded_shape}"
                )
            if (index, low, high) not in scaled:
                scaled[index, low, high] = low + (high - low) * unit  # as make_draw maps them
            return scaled[index, low, high]

        replay.record = record
        return replay

    return again


def draw_indices(draw, shape, count):
    """Uniform integer indices in [0, count) of shape (seeds or 1, *shape), int32, from ``draw`` (the
    task's source of uniform numbers, as :func:`make_draw` makes it): floor(u * count), one draw; an upper
    end of 1.0 still gives count - 1."""
    return tf.cast(tf.minimum(tf.floor(draw(shape, 0.0, float(count))), count - 1), tf.int32)
