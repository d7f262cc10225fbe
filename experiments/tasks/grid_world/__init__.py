"""Tracking time in a grid world: Section 4.5 of Trask et al. (2018), a reinforcement-learning task.

An agent on a ``size`` x ``size`` grid is told a number T and must step onto a target square exactly at
step T (the environment's rules, all our choices, are in ``grid_world.environment``'s docstring). It is trained
on the instructions in ``train_instructions`` (both ends included) and tested on larger ones too (``test_instructions``), by the
engine's advantage actor-critic learner (``experiments.engine.ActorCritic``).

Every agent reads, each step, the two one-hot planes of the grid (flattened: ``size``^2 x 2 numbers) and
T (one number, unscaled), and its last layer gives five policy logits and a value:

- ``lstm``, the paper's A3C agent: an LSTM core of ``core_units``, then a ReLU layer of ``head_units``
  and the output layer, both reading the LSTM's output;
- ``nac`` (A3C + NAC, the paper's), ``nau`` and ``nalu`` (beyond the paper): the same agent with a
  recurrent cell of that unit (``unit_units`` wide) beside the LSTM in its core. The cell reads the same
  input (the planes and T) and its own previous state, h_t = unit([x_t, h_(t-1)]); the ReLU layer reads
  the LSTM's and the cell's outputs side by side. A unit cell can carry T - t exactly (T read with weight
  1, a count of the agent's plane, which always sums to 1, with weight -1) at any T.

A fixed set's rows are episode starts: (agent row, agent column, target row, target column, T); the
targets are the largest reward, 1. The episode's timeout is ``timeout_factor`` x T.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from experiments import schema
from experiments.engine import LayerSpec, Task
from experiments.unit_options import OPTION_SCHEMA

AGENTS = ("lstm", "nac", "nau", "nalu")
AXES = {"unit": AGENTS}
ACTIONS = 5

TASK_SCHEMA = {
    "size": schema.Integer(minimum=2),
    "train_instructions": schema.IntegerRange(minimum=1),
    "test_instructions": schema.IntegerList(minimum=1),
    "reward_scale": schema.Number(minimum=0, exclusive_minimum=True),
    "timeout_factor": schema.Number(minimum=1),
    "timeout_reward": schema.Number(),
    "core_units": schema.Integer(minimum=1),
    "unit_units": schema.Integer(minimum=1),
    "head_units": schema.Integer(minimum=1),
    "discount": schema.Number(minimum=0, maximum=1),
    "value_weight": schema.Number(minimum=0),
    "entropy_weight": schema.Number(minimum=0),
    "episodes_per_instruction": schema.Integer(minimum=1),
    "validation_size": schema.Integer(minimum=1),
    "validation_seed": schema.Integer(minimum=0),
    "test_seed": schema.Integer(minimum=0),
    "epsilon": OPTION_SCHEMA["epsilon"],
}


@dataclasses.dataclass(frozen=True)
class GridWorld:
    """The grid world as the actor-critic learner uses it (see ``experiments.engine.actor_critic``)."""

    size: int
    instruction_low: int
    instruction_high: int
    reward_scale: float
    timeout_factor: float
    timeout_reward: float
    actions: int = ACTIONS

    @property
    def horizon(self):
        """Steps of a training rollout: the timeout of the largest training instruction."""
        return int(np.ceil(self.timeout_factor * self.instruction_high))

    def reset(self, draw, envs):
        from experiments.tasks.grid_world import environment as grid_world_env

        return grid_world_env.reset(draw, envs, self.size, self.instruction_low, self.instruction_high)

    def observe(self, state):
        import tensorflow as tf

        from experiments.tasks.grid_world import environment as grid_world_env

        planes = grid_world_env.observe(state, self.size)
        flat = tf.reshape(planes, [*planes.shape[:2], self.size * self.size * 2])
        return tf.concat([flat, tf.cast(state.instruction, tf.float32)[..., None]], axis=-1)

    def step(self, state, action):
        import tensorflow as tf

        from experiments.tasks.grid_world import environment as grid_world_env

        timeout = tf.cast(
            tf.math.ceil(self.timeout_factor * tf.cast(state.instruction, tf.float32)), tf.int32
        )
        return grid_world_env.step(
            state, action, timeout, self.reward_scale, self.timeout_reward, size=self.size
        )

    def done(self, state):
        return state.done

    def from_rows(self, x):
        """The start state of fixed rows x (rows, 5): agent row and column, target row and column, T."""
        import tensorflow as tf

        from experiments.tasks.grid_world.environment import GridState

        rows = tf.cast(tf.round(x), tf.int32)[None]
        return GridState(
            agent=rows[..., 0:2],
            target=rows[..., 2:4],
            instruction=rows[..., 4],
            elapsed=tf.zeros_like(rows[..., 4]),
            done=tf.zeros(tf.shape(rows[..., 4]), tf.bool),
        )

    def arrival_error(self, state):
        import tensorflow as tf

        return tf.cast(tf.abs(state.elapsed - state.instruction), tf.float32)


def starts(size, instructions, count, seed):
    """``count`` fixed episode starts per instruction, (rows, 5) float32: the agent and the target on
    distinct cells drawn uniformly, then T."""
    rng = np.random.default_rng(seed)
    rows = []
    for instruction in instructions:
        agent = rng.integers(0, size * size, count)
        target = (agent + rng.integers(1, size * size, count)) % (size * size)  # never the agent's cell
        rows.append(
            np.stack(
                [agent // size, agent % size, target // size, target % size, np.full(count, instruction)],
                axis=1,
            )
        )
    return np.concatenate(rows).astype("float32")


def layers(point):
    """The agent of one grid point as layer specs (see the module docstring)."""
    core = LayerSpec("lstm", point["core_units"], recurrent=True)
    head = [LayerSpec("dense", point["head_units"], {"activation": "relu"}), LayerSpec("dense", ACTIONS + 1)]
    if point["unit"] == "lstm":
        return [core, *head]
    cell = LayerSpec(point["unit"], point["unit_units"], recurrent=True, inputs=("input",))
    return [core, cell, dataclasses.replace(head[0], inputs=(0, 1)), head[1]]


def build(point):
    """The Task of one grid point: the agent, the environment and the fixed episode starts."""
    from experiments.engine import ActorCritic

    low, high = point["train_instructions"]
    environment = GridWorld(
        point["size"], low, high, point["reward_scale"], point["timeout_factor"], point["timeout_reward"]
    )
    size, count = point["size"], point["episodes_per_instruction"]
    training_range = range(low, high + 1)
    per_instruction = max(1, point["validation_size"] // len(training_range))
    validation = starts(size, training_range, per_instruction, point["validation_seed"])
    larger = [value for value in point["test_instructions"] if value > high]
    sweep = [
        (value, pair(starts(size, [value], count, point["test_seed"] + value)))
        for value in point["test_instructions"]
    ]
    learner = functools.partial(
        ActorCritic,
        environment=environment,
        discount=point["discount"],
        value_weight=point["value_weight"],
        entropy_weight=point["entropy_weight"],
    )
    return Task(
        input_size=size * size * 2 + 1,
        layers=layers(point),
        sample=None,
        validation=pair(validation),
        test=pair(starts(size, larger, count, point["test_seed"])),
        sweep=sweep,
        accuracy=True,
        learner=learner,
    )


def pair(rows):
    """A fixed set: episode starts and their largest reward (1)."""
    return rows, np.ones((len(rows), 1), "float32")
