"""The grid-world task (Section 4.5) through the engine: its fixed starts, the actor-critic learner's
evaluation against a closed form, determinism, and a short training run that beats the untrained agent."""

import numpy as np
import pytest
import tensorflow as tf

from experiments.engine import LayerSpec, MultiSeedTrainer, Training, make_draw
from experiments.tasks import grid_world

POINT = {
    "unit": "nac",
    "size": 3,
    "train_instructions": [4, 6],
    "test_instructions": [4, 6, 9],
    "reward_scale": 4.0,
    "timeout_factor": 2.0,
    "timeout_reward": -1.0,
    "core_units": 16,
    "unit_units": 2,
    "head_units": 16,
    "discount": 1.0,
    "value_weight": 0.5,
    "entropy_weight": 0.01,
    "episodes_per_instruction": 16,
    "validation_size": 48,
    "validation_seed": 1,
    "test_seed": 2,
    "epsilon": 1e-7,
}


def test_fixed_starts_put_agent_and_target_on_distinct_cells_with_each_instruction():
    rows = grid_world.starts(5, [8, 12], 500, seed=3)
    assert rows.shape == (1000, 5)
    assert not np.any((rows[:, 0] == rows[:, 2]) & (rows[:, 1] == rows[:, 3]))
    assert set(rows[:500, 4]) == {8} and set(rows[500:, 4]) == {12}
    assert rows[:, :4].min() == 0 and rows[:, :4].max() == 4


def test_greedy_episodes_match_a_closed_form_for_an_agent_that_always_moves_right():
    # One dense layer whose bias makes "right" the most likely action whatever it sees: the agent walks
    # right until the wall. It arrives only where the target is on its row to its right, after as many
    # steps as columns between them; every other episode times out at 2T with reward -1.
    task = grid_world.build(POINT)
    task.layers = [LayerSpec("dense", grid_world.ACTIONS + 1)]
    trainer = MultiSeedTrainer(task, [0], Training(steps=1, batch_size=4, learning_rate=1e-3, eval_every=1))
    params = trainer.model.params[0]
    params["kernel"].assign(tf.zeros(params["kernel"].shape))
    params["bias"].assign(tf.constant([[[0.0, 0.0, 0.0, 0.0, 5.0, 0.0]]]))
    x, y = task.sweep[2][1]  # T = 9
    errors = trainer.learner.errors(trainer.model, trainer.learner.fixed_set([x], [y]), accuracy=True)
    agent_row, agent_column, target_row, target_column, instruction = x.T
    arrives = (agent_row == target_row) & (target_column > agent_column)
    steps = np.where(arrives, target_column - agent_column, 2 * instruction)
    reward = np.where(arrives, np.maximum(1 - np.abs(steps - instruction) / 4.0, -1.0), -1.0)
    assert arrives.any() and not arrives.all()
    np.testing.assert_allclose(errors.extra["reward"].numpy(), [reward.mean()], rtol=1e-6)
    np.testing.assert_allclose(errors.extra["arrival_error"].numpy(), [np.abs(steps - instruction).mean()])
    np.testing.assert_allclose(errors.mae.numpy(), [np.mean(1 - reward)], rtol=1e-6)
    np.testing.assert_allclose(errors.accuracy.numpy(), [np.mean(reward == 1.0)])


def test_a_seed_draws_the_same_episodes_alone_or_beside_others():
    task = grid_world.build(POINT)
    training = Training(steps=1, batch_size=8, learning_rate=1e-3, eval_every=1)
    together = MultiSeedTrainer(task, [0, 1, 2], training)
    alone = MultiSeedTrainer(task, [1], training)
    step = tf.constant(7, tf.int64)
    state, uniforms = together.learner.sample(make_draw([0, 1, 2], step, "independent", 0), 8)
    state_alone, uniforms_alone = alone.learner.sample(make_draw([1], step, "independent", 0), 8)
    for field, lone in zip(state, state_alone):
        np.testing.assert_array_equal(field.numpy()[1:2], lone.numpy())
    np.testing.assert_array_equal(uniforms.numpy()[1:2], uniforms_alone.numpy())
    assert not np.array_equal(state.agent.numpy()[0], state.agent.numpy()[1])


def test_a_short_training_run_earns_more_reward_than_the_untrained_agent():
    training = Training(steps=300, batch_size=32, learning_rate=3e-3, eval_every=100)
    result = MultiSeedTrainer(grid_world.build(POINT), [0, 1], training).run()
    untrained = result.history[0]["interpolation_mse"]  # mean squared shortfall of the random agent
    kept = result.metrics["interpolation_mse"]
    assert (kept < untrained).all(), (kept, untrained)
    assert (kept < 0.5 * untrained).all(), (kept, untrained)
    sweep = {errors.value: errors for errors in result.sweep}
    assert (sweep[4].extra["reward"] > -0.5).all(), sweep[4].extra["reward"]


class _Stop(Exception):
    pass


def test_the_same_seeds_train_the_same_numbers_and_an_interrupted_stack_resumes_to_them(
    tmp_path, monkeypatch
):
    from experiments.engine import checkpoints

    monkeypatch.setattr(checkpoints, "SECONDS", 0.0)  # save after every evaluation
    training = Training(steps=20, batch_size=8, learning_rate=3e-3, eval_every=10)
    whole = MultiSeedTrainer(grid_world.build(POINT), [0, 1], training).run()
    assert not np.array_equal(whole.history[0]["interpolation_mse"], whole.history[-1]["interpolation_mse"])
    path = tmp_path / "agents.checkpoint.npz"
    calls = []

    def interrupting(amount):
        calls.append(amount)
        if len(calls) == 1:
            raise _Stop

    with pytest.raises(_Stop):  # the same seeds afresh, stopped after their first evaluation, state saved
        MultiSeedTrainer(grid_world.build(POINT), [0, 1], training).run(interrupting, checkpoint=path)
    skipped = []
    progress = lambda amount: None  # noqa: E731
    progress.skip = skipped.append
    resumed = MultiSeedTrainer(grid_world.build(POINT), [0, 1], training).run(progress, checkpoint=path)
    assert skipped == [10 * 2]  # 10 steps of 2 members restored, not retrained
    for name, values in whole.metrics.items():  # a second training of the same seeds, half of it resumed
        if name != "wall_time_s":
            np.testing.assert_array_equal(resumed.metrics[name], values, err_msg=name)
    for mine, theirs in zip(resumed.sweep, whole.sweep):
        np.testing.assert_array_equal(mine.extra["reward"], theirs.extra["reward"])
