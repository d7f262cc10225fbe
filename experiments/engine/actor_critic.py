"""Advantage actor-critic (A2C), the synchronous form of A3C: every member acts in a batch of its own
environments, stepped together inside the graph, and learns from whole episodes.

One training step reads top to bottom: the batch (:meth:`ActorCritic.sample`: each environment's start
and the uniform numbers its actions are drawn with), the rollout (:meth:`ActorCritic.rollout`: the model
run one step at a time through ``stepwise``, an action drawn from its policy at every step), the loss
(:meth:`ActorCritic.loss`: the policy gradient with the advantage G_t - V(s_t), the value error and an
entropy bonus, over the steps before each episode's end, plus the regularisers of the training settings).

The model's last layer gives ``actions`` policy logits and one value. The environment (``environment``)
is the task's: an object with ``actions`` (the count), ``horizon`` (the steps of a training rollout),
``reset(draw, envs)`` (a state whose tensors lead with (seeds or 1, envs)), ``observe(state)`` ((members,
envs, features)), ``step(state, action)`` ((state, reward)), ``done(state)``, ``from_rows(x)`` (the state
of fixed start rows x (rows, columns), as the task's fixed sets hold them) and ``arrival_error(state)``.
A fixed set's targets are each episode's largest reward; its errors are of the greedy policy's episode
rewards R against them: ``mse`` mean (target - R)^2 (selection), ``mae`` mean |target - R|, ``accuracy``
the share of episodes that earn the largest reward.
"""

from __future__ import annotations

import tensorflow as tf

from experiments.engine import penalties, stepwise
from experiments.engine.evaluation import Errors
from experiments.engine.learner import Learner


class ActorCritic(Learner):
    """A2C for the cells of a stack; ``discount`` gamma, ``value_weight`` and ``entropy_weight`` weigh the
    loss's terms."""

    def __init__(self, cells, seeds, environment, discount=1.0, value_weight=0.5, entropy_weight=0.01):
        super().__init__(cells, seeds)
        self.environment = environment
        self.discount, self.value_weight, self.entropy_weight = discount, value_weight, entropy_weight

    def _members(self, tensor):
        """A tensor with a leading axis of seeds (or 1) laid out for every member of every cell."""
        members = len(self.cells) * len(self.seeds)
        if tensor.shape[0] == members:
            return tensor
        if tensor.shape[0] == 1:
            return tf.broadcast_to(tensor, [members, *tensor.shape[1:]])
        return tf.tile(tensor, [len(self.cells)] + [1] * (len(tensor.shape) - 1))

    def sample(self, draw, batch_size):
        """(start state, uniform numbers (members, envs, horizon) that draw each step's action)."""
        state = self.environment.reset(draw, batch_size)
        uniforms = draw((batch_size, self.environment.horizon), 0.0, 1.0)
        return tf.nest.map_structure(self._members, state), self._members(uniforms)

    def _policy(self, model, state, states, params=None):
        """(log-probabilities (members, envs, actions), values (members, envs), new recurrent states)."""
        output, states = stepwise.step(model, self.environment.observe(state), states, params)
        actions = self.environment.actions
        return tf.nn.log_softmax(output[..., :actions]), output[..., actions], states

    def rollout(self, model, state, uniforms):
        """The training rollout over ``environment.horizon`` steps, one graph-loop iteration a step: XLA
        compiles the step once (the grid world's 32 steps unrolled took a minute to compile and trained
        at half the speed, measured on 2026-12-05; the loss and gradients are bit for bit the unrolled
        ones uncompiled). Per step (stacked on the first axis) the log-probability of the
        action taken, the value, the policy's entropy, the reward and whether the episode was still running
        before the step."""
        horizon = self.environment.horizon
        states = stepwise.initial_states(model, int(uniforms.shape[1]))
        records = [tf.TensorArray(tf.float32, size=horizon) for _ in range(5)]

        def advance(t, state, states, records):
            log_probs, value, states = self._policy(model, state, states)
            probabilities = tf.exp(log_probs)
            # inverse CDF: the first action whose cumulative probability exceeds the step's uniform number
            uniform = tf.gather(uniforms, [t], axis=2)
            below = tf.cast(tf.math.cumsum(probabilities, axis=-1) < uniform, tf.int32)
            action = tf.minimum(tf.reduce_sum(below, axis=-1), self.environment.actions - 1)
            running = tf.cast(~self.environment.done(state), tf.float32)
            state, reward = self.environment.step(state, action)
            entropy = -tf.reduce_sum(probabilities * log_probs, axis=-1)
            taken = tf.gather(log_probs, action, axis=-1, batch_dims=2)
            parts = (taken, value, entropy, reward, running)
            return t + 1, state, states, [record.write(t, part) for record, part in zip(records, parts)]

        _, _, _, records = tf.while_loop(
            lambda t, *_: t < horizon,
            advance,
            (tf.constant(0), state, states, records),
            maximum_iterations=horizon,
        )
        return [record.stack() for record in records]

    def loss(self, model, training, step, batch):
        """Per member: -mean(log pi(a_t) A_t) + value_weight mean(A_t^2) - entropy_weight mean(H_t), the
        means over the steps before each episode's end, A_t = G_t - V(s_t), G_t = sum_k gamma^k r_(t+k)."""
        state, uniforms = batch
        taken, values, entropies, rewards, running = self.rollout(model, state, uniforms)
        returns, following = [], tf.zeros_like(rewards[0])
        for reward in tf.unstack(rewards)[::-1]:  # G_t = r_t + gamma G_(t+1)
            following = reward + self.discount * following
            returns.append(following)
        advantage = tf.stack(returns[::-1]) - values
        steps = tf.maximum(tf.reduce_sum(running, axis=[0, 2]), 1.0)

        def mean(term):
            return tf.reduce_sum(term * running, axis=[0, 2]) / steps

        per_member = (
            mean(-taken * tf.stop_gradient(advantage))
            + self.value_weight * mean(tf.square(advantage))
            - self.entropy_weight * mean(entropies)
        )
        return penalties.add(tf.reduce_sum(per_member), model, training, step, per_member), per_member

    def fixed_set(self, inputs, targets):
        return tf.constant(inputs[0][None], tf.float32), tf.constant(targets[0][None], tf.float32)

    def episodes(self, model, x, params=None):
        """The greedy policy's episodes from fixed start rows x (1, rows, columns), run until every one has
        ended: (reward (members, rows), the environment's arrival error (members, rows))."""
        state = tf.nest.map_structure(self._members, self.environment.from_rows(x[0]))
        states = stepwise.initial_states(model, int(x.shape[1]), params)
        total = tf.zeros(tf.shape(self.environment.done(state)))

        def running(state, states, total):
            return tf.reduce_any(~self.environment.done(state))

        def advance(state, states, total):
            log_probs, _, states = self._policy(model, state, states, params)
            state, reward = self.environment.step(state, tf.argmax(log_probs, axis=-1, output_type=tf.int32))
            return state, states, total + reward

        state, _, total = tf.while_loop(running, advance, (state, states, total))
        return total, self.environment.arrival_error(state)

    def errors(self, model, data, params=None, accuracy=False):
        """The greedy policy's :class:`Errors` on fixed starts, with ``extra`` ``reward`` (the mean episode
        reward) and ``arrival_error`` (the environment's mean arrival error) per member."""
        x, y = data
        reward, arrival_error = self.episodes(model, x, params)
        shortfall = tf.cast(self._members(y[..., 0]) - reward, tf.float64)
        on_time = tf.cast(tf.equal(shortfall, 0.0), tf.float64)
        return Errors(
            tf.reduce_mean(tf.square(shortfall), axis=1),
            tf.reduce_mean(tf.abs(shortfall), axis=1),
            tf.reduce_mean(on_time, axis=1) if accuracy else None,
            {
                "reward": tf.reduce_mean(tf.cast(reward, tf.float64), axis=1),
                "arrival_error": tf.reduce_mean(tf.cast(arrival_error, tf.float64), axis=1),
            },
        )
