"""The grid world of Section 4.5 against an independent NumPy environment, hand-traced episodes, the
scripted agent's exact answers, and XLA."""

import numpy as np
import pytest
import tensorflow as tf

from experiments.tasks.grid_world import environment as env

SIZE = 5
# Hand-traced batch: timeout 8, reward scale 4, so reward(t, T) = max(1 - |t - T| / 4, -1).
TIMEOUT, SCALE, TIMEOUT_REWARD = 8, 4.0, -0.75


# ---------------------------------------------------------------------------------------------------------
# The NumPy reference: plain loops over every episode, written from the rules, not from the TF code.


def numpy_reset(uniforms, size, low, high):
    """Reset from the three arrays of U[0, 1) numbers the fake draw hands out (agent, target, T)."""
    agent_u, target_u, instruction_u = (np.asarray(u, np.float32) for u in uniforms)
    seeds, envs = agent_u.shape
    state = {
        "agent": np.zeros((seeds, envs, 2), np.int32),
        "target": np.zeros((seeds, envs, 2), np.int32),
        "instruction": np.zeros((seeds, envs), np.int32),
        "elapsed": np.zeros((seeds, envs), np.int32),
        "done": np.zeros((seeds, envs), bool),
    }
    cells = size * size
    for seed in range(seeds):
        for index in range(envs):
            agent = min(int(np.floor(agent_u[seed, index] * np.float32(cells))), cells - 1)
            others = [cell for cell in range(cells) if cell != agent]
            target = others[min(int(np.floor(target_u[seed, index] * np.float32(cells - 1))), cells - 2)]
            count = high - low + 1
            offset = min(int(np.floor(instruction_u[seed, index] * np.float32(count))), count - 1)
            state["agent"][seed, index] = divmod(agent, size)
            state["target"][seed, index] = divmod(target, size)
            state["instruction"][seed, index] = low + offset
    return state


def numpy_step(state, action, size, timeout, scale, timeout_reward=-1.0):
    """One step of every episode; returns (new state, reward)."""
    new = {key: value.copy() for key, value in state.items()}
    reward = np.zeros(state["done"].shape, np.float32)
    moves = {0: (0, 0), 1: (-1, 0), 2: (1, 0), 3: (0, -1), 4: (0, 1)}
    for seed, index in np.ndindex(*state["done"].shape):
        if state["done"][seed, index]:
            continue
        row, column = state["agent"][seed, index]
        row_change, column_change = moves[int(action[seed, index])]
        if 0 <= row + row_change < size and 0 <= column + column_change < size:
            row, column = row + row_change, column + column_change
        new["agent"][seed, index] = (row, column)
        elapsed = state["elapsed"][seed, index] + 1
        new["elapsed"][seed, index] = elapsed
        if (row, column) == tuple(state["target"][seed, index]):
            miss = abs(int(elapsed) - int(state["instruction"][seed, index]))
            reward[seed, index] = max(1.0 - miss / scale, -1.0)
            new["done"][seed, index] = True
        elif elapsed >= timeout:
            reward[seed, index] = timeout_reward
            new["done"][seed, index] = True
    return new, reward


class FakeDraw:
    """The project's ``draw(shape, low, high)`` reading prescribed U[0, 1) arrays in turn."""

    def __init__(self, uniforms):
        self.uniforms = [np.asarray(u, np.float32) for u in uniforms]
        self.calls = 0

    def __call__(self, shape, low, high):
        unit = self.uniforms[self.calls]
        self.calls += 1
        assert unit.shape[1:] == tuple(shape)
        return tf.constant(low + (high - low) * unit, tf.float32)


def to_tf(state):
    return env.GridState(**{key: tf.constant(value) for key, value in state.items()})


def assert_same_state(tf_state, numpy_state):
    for key, value in numpy_state.items():
        np.testing.assert_array_equal(getattr(tf_state, key).numpy(), value, err_msg=key)


# ---------------------------------------------------------------------------------------------------------
# 1. Hand-traced episodes: 2 seeds x 4 envs, (agent, target, T, already done, elapsed, actions).

U, D, L, R, S = env.UP, env.DOWN, env.LEFT, env.RIGHT, env.STAY
EPISODES = [
    # On time: right, wait, right -> arrives at t = 3 = T: reward 1.
    ((2, 2), (2, 4), 3, False, 0, [R, S, R, U, U, U, U, U, U, U]),
    # Early: arrives at t = 1 with T = 4: reward 1 - 3/4.
    ((0, 0), (1, 0), 4, False, 0, [D, D, D, D, D, D, D, D, D, D]),
    # Late: arrives at t = 3 with T = 1: reward 1 - 2/4.
    ((4, 4), (4, 3), 1, False, 0, [S, S, L, R, R, R, R, R, R, R]),
    # Far off: arrives at t = 1 with T = 12: 1 - 11/4 = -1.75, floored at -1.
    ((3, 0), (4, 0), 12, False, 0, [D, U, U, U, U, U, U, U, U, U]),
    # Timeout: never arrives; t reaches 8: timeout reward, done.
    ((0, 0), (4, 4), 2, False, 0, [S, R, L, S, R, L, S, R, L, R]),
    # Walls at the top left: up and left keep (0, 0); arrives at t = 6 with T = 5: reward 0.75.
    ((0, 0), (2, 2), 5, False, 0, [U, L, D, D, R, R, L, L, L, L]),
    # Walls at the bottom right: down and right keep (4, 4), then a timeout at t = 8.
    ((4, 4), (0, 0), 3, False, 0, [D, R, D, R, D, R, D, R, D, R]),
    # Already done: frozen (no movement, no time, no reward) whatever the actions.
    ((1, 1), (1, 2), 2, True, 3, [R, R, L, U, D, S, R, R, R, R]),
]
# (reward at arrival or timeout, the step at which it comes, final agent, final elapsed) for each episode.
EXPECTED = [
    (1.0, 3, (2, 4), 3),
    (0.25, 1, (1, 0), 1),
    (0.5, 3, (4, 3), 3),
    (-1.0, 1, (4, 0), 1),
    (TIMEOUT_REWARD, 8, (0, 1), 8),
    (0.75, 6, (2, 2), 6),
    (TIMEOUT_REWARD, 8, (4, 4), 8),
    (0.0, None, (1, 1), 3),
]


def hand_traced_batch():
    def field(index, dtype):
        return np.array([episode[index] for episode in EPISODES], dtype).reshape(
            2, 4, *np.shape(EPISODES[0][index])
        )

    state = {
        "agent": field(0, np.int32),
        "target": field(1, np.int32),
        "instruction": field(2, np.int32),
        "elapsed": field(4, np.int32),
        "done": field(3, bool),
    }
    actions = np.array([episode[5] for episode in EPISODES], np.int32).reshape(2, 4, -1)
    return state, actions


def test_hand_traced_episodes_match_numpy_and_the_trace():
    numpy_state, actions = hand_traced_batch()
    tf_state = to_tf(numpy_state)
    rewards = []
    for time in range(actions.shape[-1]):
        numpy_state, numpy_reward = numpy_step(
            numpy_state, actions[..., time], SIZE, TIMEOUT, SCALE, TIMEOUT_REWARD
        )
        tf_state, tf_reward = env.step(
            tf_state, tf.constant(actions[..., time]), TIMEOUT, SCALE, TIMEOUT_REWARD, size=SIZE
        )
        assert_same_state(tf_state, numpy_state)
        np.testing.assert_allclose(tf_reward.numpy(), numpy_reward, rtol=0, atol=1e-6)
        rewards.append(tf_reward.numpy().reshape(-1))
    rewards = np.stack(rewards, axis=-1)  # (episodes, time)
    for episode, (reward, when, agent, elapsed) in enumerate(EXPECTED):
        expected_rewards = np.zeros(actions.shape[-1], np.float32)
        if when is not None:
            expected_rewards[when - 1] = reward
        np.testing.assert_allclose(
            rewards[episode], expected_rewards, atol=1e-6, err_msg=f"episode {episode}"
        )
        assert tuple(tf_state.agent.numpy().reshape(-1, 2)[episode]) == agent, episode
        assert tf_state.elapsed.numpy().reshape(-1)[episode] == elapsed, episode
    assert tf_state.done.numpy().all()


def test_timeout_reward_defaults_to_minus_one():
    state = to_tf(
        {
            "agent": np.array([[[0, 0]]], np.int32),
            "target": np.array([[[4, 4]]], np.int32),
            "instruction": np.array([[3]], np.int32),
            "elapsed": np.array([[1]], np.int32),
            "done": np.array([[False]]),
        }
    )
    state, reward = env.step(state, tf.constant([[env.STAY]]), 2, SCALE, size=SIZE)
    assert reward.numpy()[0, 0] == -1.0 and state.done.numpy()[0, 0]


def test_random_play_matches_numpy():
    generator = np.random.default_rng(7)
    seeds, envs = 3, 64
    uniforms = generator.random((3, seeds, envs), dtype=np.float32)
    numpy_state = numpy_reset(uniforms, SIZE, 1, 12)
    tf_state = env.reset(FakeDraw(uniforms), envs, SIZE, 1, 12)
    assert_same_state(tf_state, numpy_state)
    for _ in range(20):
        action = generator.integers(0, env.ACTION_COUNT, (seeds, envs)).astype(np.int32)
        numpy_state, numpy_reward = numpy_step(numpy_state, action, SIZE, 15, 3.0)
        tf_state, tf_reward = env.step(tf_state, tf.constant(action), 15, 3.0, size=SIZE)
        assert_same_state(tf_state, numpy_state)
        np.testing.assert_allclose(tf_reward.numpy(), numpy_reward, rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------------------------------
# 2. Reset.


def test_reset_covers_every_cell_never_overlaps_and_matches_numpy():
    low, high = 3, 11
    uniforms = np.random.default_rng(0).random((3, 2, 5000), dtype=np.float32)
    draw = FakeDraw(uniforms)
    state = env.reset(draw, 5000, SIZE, low, high)
    assert draw.calls == 3
    assert_same_state(state, numpy_reset(uniforms, SIZE, low, high))
    agent, target = state.agent.numpy(), state.target.numpy()
    assert not np.all(agent == target, axis=-1).any()
    for position in (agent, target):
        cells = position[..., 0] * SIZE + position[..., 1]
        assert set(np.unique(cells)) == set(range(SIZE * SIZE))
    assert set(np.unique(state.instruction.numpy())) == set(range(low, high + 1))
    assert state.instruction.dtype == tf.int32 and not state.done.numpy().any()
    assert not state.elapsed.numpy().any()


def test_reset_clips_the_top_of_the_unit_interval():
    # A draw that returns its upper end (1.0) must still give a cell and an instruction in range.
    top = np.nextafter(np.float32(1), np.float32(0))
    uniforms = np.array([[[0.0, 1.0, top]], [[0.0, 1.0, 0.0]], [[1.0, 0.0, top]]], np.float32)
    state = env.reset(FakeDraw(uniforms), 3, SIZE, 1, 100)
    assert_same_state(state, numpy_reset(uniforms, SIZE, 1, 100))
    np.testing.assert_array_equal(state.agent.numpy()[0], [[0, 0], [4, 4], [4, 4]])
    np.testing.assert_array_equal(state.target.numpy()[0], [[0, 1], [4, 3], [0, 0]])
    np.testing.assert_array_equal(state.instruction.numpy()[0], [100, 1, 100])


def test_reset_keeps_a_shared_streams_leading_axis():
    uniforms = np.random.default_rng(1).random((3, 1, 10), dtype=np.float32)
    state = env.reset(FakeDraw(uniforms), 10, SIZE, 1, 5)
    for field in env.GridState._fields:
        assert getattr(state, field).shape[:2] == (1, 10), field


# ---------------------------------------------------------------------------------------------------------
# 3. The scripted agent arrives exactly at t = T.


@pytest.mark.parametrize("low, high", [(8, 100), (1, 10)])
def test_scripted_agent_earns_one_arriving_exactly_at_t_equals_t(low, high):
    seeds, envs = 2, 500
    uniforms = np.random.default_rng(3).random((3, seeds, envs), dtype=np.float32)
    state = env.reset(FakeDraw(uniforms), envs, SIZE, low, high)
    # Every T the agent can make: at least the start's distance (all of 8..100 on a 5 x 5 grid).
    distance = env.manhattan(state.agent, state.target)
    state = state._replace(instruction=tf.maximum(state.instruction, distance))
    instruction = state.instruction.numpy()
    assert set(np.unique(instruction)) == set(range(max(low, 1), high + 1))
    timeout = 2 * high

    @tf.function
    def scripted_step(state):
        return env.step(state, env.scripted_actions(state), timeout, SCALE, size=SIZE)

    total = np.zeros((seeds, envs), np.float32)
    arrival = np.zeros((seeds, envs), np.int32)
    for time in range(1, timeout + 1):
        state, reward = scripted_step(state)
        reward = reward.numpy()
        total += reward
        arrival[reward != 0] = time
        np.testing.assert_array_equal(state.done.numpy(), time >= instruction)
    np.testing.assert_array_equal(total, 1.0)
    np.testing.assert_array_equal(arrival, instruction)
    np.testing.assert_array_equal(state.agent.numpy(), state.target.numpy())


def test_scripted_agent_walks_on_when_late():
    state = to_tf(
        {
            "agent": np.array([[[0, 0]]], np.int32),
            "target": np.array([[[2, 1]]], np.int32),
            "instruction": np.array([[1]], np.int32),
            "elapsed": np.array([[0]], np.int32),
            "done": np.array([[False]]),
        }
    )
    taken = []
    for _ in range(3):
        action = env.scripted_actions(state)
        taken.append(int(action.numpy()[0, 0]))
        state, reward = env.step(state, action, 10, SCALE, size=SIZE)
    assert taken == [env.DOWN, env.DOWN, env.RIGHT]
    assert reward.numpy()[0, 0] == pytest.approx(0.5)


# ---------------------------------------------------------------------------------------------------------
# 4. Observation planes.


def test_observe_marks_exactly_the_agent_and_target_cells():
    uniforms = np.random.default_rng(5).random((3, 2, 300), dtype=np.float32)
    state = env.reset(FakeDraw(uniforms), 300, SIZE, 1, 4)
    planes = env.observe(state, SIZE).numpy()
    assert planes.shape == (2, 300, SIZE, SIZE, 2) and planes.dtype == np.float32
    np.testing.assert_array_equal(planes.sum(axis=(2, 3)), 1.0)
    assert set(np.unique(planes)) == {0.0, 1.0}
    for plane, position in enumerate((state.agent.numpy(), state.target.numpy())):
        seed, index = np.indices(position.shape[:2])
        np.testing.assert_array_equal(planes[seed, index, position[..., 0], position[..., 1], plane], 1.0)


# ---------------------------------------------------------------------------------------------------------
# 5. XLA.


def test_step_under_xla_equals_eager():
    uniforms = np.random.default_rng(11).random((3, 2, 64), dtype=np.float32)
    state = env.reset(FakeDraw(uniforms), 64, SIZE, 1, 9)
    actions = np.random.default_rng(12).integers(0, env.ACTION_COUNT, (12, 2, 64)).astype(np.int32)

    @tf.function(jit_compile=True)
    def compiled(state, action):
        return env.step(state, action, 10, SCALE, -0.5, size=SIZE)

    @tf.function(jit_compile=True)
    def compiled_rollout(state):
        # The state passes through tf.while_loop as a NamedTuple; the scripted policy compiles too.
        def body(time, state, total):
            state, reward = env.step(state, env.scripted_actions(state), 10, SCALE, size=SIZE)
            return time + 1, state, total + reward

        _, state, total = tf.while_loop(
            lambda time, *_: time < 10, body, (tf.constant(0), state, tf.zeros(tf.shape(state.done)))
        )
        return state, total, env.observe(state, SIZE)

    eager_state, compiled_state = state, state
    for action in actions:
        eager_state, eager_reward = env.step(eager_state, tf.constant(action), 10, SCALE, -0.5, size=SIZE)
        compiled_state, compiled_reward = compiled(compiled_state, tf.constant(action))
        for field in env.GridState._fields:
            np.testing.assert_array_equal(getattr(compiled_state, field), getattr(eager_state, field), field)
        np.testing.assert_array_equal(compiled_reward.numpy(), eager_reward.numpy())

    xla_state, xla_total, xla_planes = compiled_rollout(state)
    eager_total = tf.zeros(tf.shape(state.done))
    for _ in range(10):
        state, reward = env.step(state, env.scripted_actions(state), 10, SCALE, size=SIZE)
        eager_total += reward
    np.testing.assert_array_equal(xla_total.numpy(), eager_total.numpy())
    np.testing.assert_array_equal(xla_state.agent.numpy(), state.agent.numpy())
    np.testing.assert_array_equal(xla_planes.numpy(), env.observe(state, SIZE).numpy())
