"""A vectorised grid world for Section 4.5 of Trask et al. (2018): an agent is told a number T and must
step onto a target square exactly at time T.

Every tensor has two leading axes, (seeds, envs): one batch of episodes per seed, all stepped in lockstep.
This module holds the environment only (no model, no training); it is a helper of the tasks, not a task.

The environment's rules (the project's choices; the paper leaves them open):

- Grid: ``size`` x ``size`` cells (default 5). Positions are (row, column), int32, row 0 at the top.
- State (:class:`GridState`): ``agent`` and ``target`` (seeds, envs, 2) int32; ``instruction`` T
  (seeds, envs) int32, an integer >= 1; ``elapsed`` t (seeds, envs) int32, 0 at the start; ``done``
  (seeds, envs) bool. The target is never under the agent at the start.
- Actions (int32, 0..4): 0 stay, 1 up (row - 1), 2 down (row + 1), 3 left (column - 1), 4 right
  (column + 1). A move off the grid leaves the agent where it is (the edge is a wall).
- After each action t increases by 1 in every environment not yet done. Arrival (the agent's position
  after the move equals the target's) ends the episode with the arrival reward

      reward(t, T) = max(1 - |t - T| / reward_scale, -1)

  (1 exactly at t = T, falling with |t - T|, below 0 when off by more than reward_scale, floored at -1).
  If t reaches ``timeout`` without arrival, the episode ends with ``timeout_reward`` (default -1); an
  arrival on the timeout step counts as an arrival. Every other step gives 0.
- Done environments stay done: reward 0, no movement, no time. A batch can thus be stepped for a fixed
  horizon. Standing still on the target cannot happen (arrival ends the episode); an agent waits by
  staying next to it.
- Reset (:func:`reset`) takes exactly three draws from the project's random source, in this order: agent
  cell, target cell, instruction. The target is uniform over the cells other than the agent's, T uniform
  over the integers [instruction_low, instruction_high].
- Observation (:func:`observe`): two one-hot planes (seeds, envs, size, size, 2), plane 0 the agent's
  cell and plane 1 the target's. The paper shows the agent an RGB image of the grid; one plane per object
  carries the same information without a colour code to learn.

Everything is plain TensorFlow ops without Python control flow on tensor values, so ``step`` runs inside
``tf.function``, ``tf.while_loop`` (the state is a NamedTuple) and under XLA.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

STAY, UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3, 4
ACTION_COUNT = 5

# The (row, column) change of each action, indexed by the action number.
MOVES = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


class GridState(NamedTuple):
    """The state of a batch of grid-world episodes, every field with leading axes (seeds, envs)."""

    agent: tf.Tensor  # (seeds, envs, 2) int32, (row, column)
    target: tf.Tensor  # (seeds, envs, 2) int32, (row, column)
    instruction: tf.Tensor  # (seeds, envs) int32, T >= 1: the step at which to arrive
    elapsed: tf.Tensor  # (seeds, envs) int32, t: steps taken so far
    done: tf.Tensor  # (seeds, envs) bool


def manhattan(first, second):
    """Manhattan distance between positions ``first`` and ``second`` (..., 2): int32 of shape (...)."""
    return tf.reduce_sum(tf.abs(first - second), axis=-1)


def arrival_reward(elapsed, instruction, reward_scale):
    """The reward for arriving at step ``elapsed`` when told ``instruction``: float32, same shape.

    reward(t, T) = max(1 - |t - T| / reward_scale, -1).
    """
    # Integers first, so |t - T| is exact before it becomes a float.
    miss = tf.cast(tf.abs(elapsed - instruction), tf.float32)
    return tf.maximum(1.0 - miss / tf.cast(reward_scale, tf.float32), -1.0)


def _cell_index(unit, cells):
    """floor(unit * cells) as int32, clipped to cells - 1 so that a draw returning its upper end (1.0)
    still gives a valid index."""
    index = tf.cast(tf.floor(unit * tf.cast(cells, tf.float32)), tf.int32)
    return tf.minimum(index, cells - 1)


def reset(draw, envs, size, instruction_low, instruction_high):
    """New episodes: a GridState of shape (S, envs), S the leading axis that ``draw`` gives.

    ``draw(shape, low, high)`` is the project's random source (float32 uniform [low, high) of shape
    (seeds, *shape), or (1, *shape) for one stream shared by every seed). Exactly three draws, in order:
    agent cell, target cell, instruction.
    """
    if size < 2:
        raise ValueError(f"grid size must be at least 2 (the target needs a cell of its own), got {size}")
    if not 1 <= instruction_low <= instruction_high:
        raise ValueError(
            f"instructions need 1 <= instruction_low <= instruction_high, got "
            f"[{instruction_low}, {instruction_high}]"
        )
    cells = size * size
    agent_index = _cell_index(draw((envs,), 0.0, 1.0), cells)
    # Uniform over the other cells: pick among cells - 1 and skip over the agent's cell.
    target_index = _cell_index(draw((envs,), 0.0, 1.0), cells - 1)
    target_index = target_index + tf.cast(target_index >= agent_index, tf.int32)
    choices = instruction_high - instruction_low + 1
    instruction = instruction_low + _cell_index(draw((envs,), 0.0, 1.0), choices)
    return GridState(
        agent=tf.stack([agent_index // size, agent_index % size], axis=-1),
        target=tf.stack([target_index // size, target_index % size], axis=-1),
        instruction=instruction,
        elapsed=tf.zeros_like(instruction),
        done=tf.zeros(tf.shape(instruction), tf.bool),
    )


def step(state, action, timeout, reward_scale, timeout_reward=-1.0, *, size):
    """Apply ``action`` (seeds, envs) int32 in 0..4 to every environment of ``state``.

    Returns (the new GridState, reward float32 (seeds, envs)); the rules are in the module docstring.
    ``size`` is the grid's side, needed for the walls (keyword only, so it cannot be mistaken for another
    number).
    """
    active = tf.logical_not(state.done)

    # A move off the grid is refused: the edge is a wall.
    proposed = state.agent + tf.gather(tf.constant(MOVES, tf.int32), action)
    inside = tf.reduce_all((proposed >= 0) & (proposed < size), axis=-1)
    agent = tf.where((active & inside)[..., None], proposed, state.agent)

    # Time passes only for episodes still running, so done ones stay frozen.
    elapsed = state.elapsed + tf.cast(active, tf.int32)
    arrived = active & tf.reduce_all(tf.equal(agent, state.target), axis=-1)
    timed_out = active & tf.logical_not(arrived) & (elapsed >= timeout)

    reward = tf.where(
        arrived,
        arrival_reward(elapsed, state.instruction, reward_scale),
        tf.where(timed_out, tf.cast(timeout_reward, tf.float32), 0.0),
    )
    new_state = GridState(
        agent=agent,
        target=state.target,
        instruction=state.instruction,
        elapsed=elapsed,
        done=state.done | arrived | timed_out,
    )
    return new_state, reward


def observe(state, size):
    """Two one-hot planes of float32 (seeds, envs, size, size, 2): plane 0 the agent's cell, plane 1 the
    target's. ``size`` is a Python int (the one-hot depth must be static for XLA)."""

    def plane(position):
        index = position[..., 0] * size + position[..., 1]
        flat = tf.one_hot(index, size * size, dtype=tf.float32)
        return tf.reshape(flat, tf.concat([tf.shape(index), [size, size]], axis=0))

    return tf.stack([plane(state.agent), plane(state.target)], axis=-1)


def scripted_actions(state):
    """A reference policy (int32 (seeds, envs)) that arrives exactly at t = T whenever T >= the Manhattan
    distance from its start to the target, and so earns reward 1.

    With d the distance to the target now and remaining = T - t: if d > 1, step one cell closer (rows
    first, then columns); if d == 1, step onto the target when remaining <= 1 (on time, or already late),
    otherwise stay. Walking the shortest path reaches d == 1 at t = d0 - 1, with remaining >= 1, and waits
    there for the last step. Done environments get 0.
    """
    offset = state.target - state.agent
    row_offset, column_offset = offset[..., 0], offset[..., 1]
    toward_column = tf.where(column_offset < 0, LEFT, RIGHT)
    toward_row = tf.where(row_offset < 0, UP, DOWN)
    toward = tf.where(row_offset != 0, toward_row, toward_column)

    distance = manhattan(state.agent, state.target)
    remaining = state.instruction - state.elapsed
    # A late agent walks on rather than wait forever; it arrives late with a lower reward.
    go = (distance > 1) | (remaining <= 1)
    return tf.where(go & tf.logical_not(state.done), toward, STAY)
