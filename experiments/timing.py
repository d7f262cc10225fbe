"""What ``make bench`` measures: rates and step times of the engine, through its public face only
(``MultiSeedTrainer.train``, ``evaluate``, ``batch``, ``update``), and the plain ``model.fit`` it is
compared with. ``experiments.bench`` chooses the rows and prints them; nothing here is asserted as a speed."""

from __future__ import annotations

import time

import numpy as np


def step_seconds(trainer, steps):
    """Seconds per training step of ``trainer`` (traced, compiled and warmed up first)."""
    trainer.train(5)
    started = time.perf_counter()
    trainer.train(steps)
    return (time.perf_counter() - started) / steps


def member_rate(trainer, steps):
    """Member-steps per second of ``trainer`` (see :func:`step_seconds`)."""
    return len(trainer.members) / step_seconds(trainer, steps)


def task_rate(module, point, ops, seeds, steps, batch_size, data_stream="independent"):
    """Member-steps per second of the stack of ``ops`` of an experiment ``module``'s ``point`` (its cells
    built by the task module, trained with Adam 1e-3)."""
    from experiments.engine import MultiSeedTrainer, Training

    training = Training(
        steps=steps, batch_size=batch_size, learning_rate=1e-3, eval_every=steps, data_stream=data_stream
    )
    tasks = [module.build({**point, "op": op}) for op in ops]
    return member_rate(MultiSeedTrainer(tasks, range(seeds), training), steps)


def configured_stacks(config_path, profile="default", overrides=(), seed_major=True, lanes=1):
    """The stacks a profile of a config forms, as the runner groups them for ``lanes`` stacks at once
    (``seed_major``: see ``runner.config_stacks``): a list of resolved points per stack, and a function
    that builds one stack's trainer (``runner.stack_trainer``)."""
    from experiments import runner
    from experiments.config import load

    config = load(config_path, profile, list(overrides))
    points = config.points()
    groups = runner.config_stacks(config, seed_major=seed_major, lanes=lanes)
    stacks = [[config.resolve(points[i]) for i in group] for group in groups]
    return stacks, lambda stack: runner.stack_trainer(stack)[1]


def side_by_side(trainers, steps, workers):
    """Train ``trainers`` for ``steps`` steps each, ``workers`` at once in threads as the runner's local
    executor trains stacks (each traced and warmed up first, one after another). Returns (wall seconds
    of the whole, each trainer's own seconds per step, timed in its thread)."""
    from concurrent.futures import ThreadPoolExecutor

    for trainer in trainers:
        trainer.train(5)

    def timed(trainer):
        began = time.perf_counter()
        trainer.train(steps)
        return (time.perf_counter() - began) / steps

    started = time.perf_counter()
    with ThreadPoolExecutor(max(1, workers)) as pool:
        own = list(pool.map(timed, trainers))
    return time.perf_counter() - started, own


def configured_rate(
    config_path, steps, overrides=(), units=None, profile="default", workers=1, seed_major=True
):
    """Member-steps per second of training every stack of an experiment as configured (its grid, seeds,
    batch, training length and ``jit_compile``) for ``steps`` steps, ``workers`` stacks at once as the
    runner trains them (1: one after another); ``overrides`` are ``--set`` strings and ``seed_major``
    False one model per stack (to measure a former design). Returns (rate, members)."""
    trainers, wall = _configured_side_by_side(
        config_path, steps, overrides, units, profile, workers, seed_major
    )
    members = sum(len(trainer.members) for trainer in trainers)
    return members * steps / wall, members


def _configured_side_by_side(config_path, steps, overrides, units, profile, workers, seed_major=True):
    """The trainers of a config's stacks (of ``units``, or all) and the wall seconds of training them
    ``steps`` steps, ``workers`` at once (see :func:`side_by_side`)."""
    stacks, build = configured_stacks(config_path, profile, overrides, seed_major, workers)
    trainers = [build(stack) for stack in stacks if units is None or stack[0]["task"]["unit"] in units]
    wall, _ = side_by_side(trainers, steps, workers)
    return trainers, wall


def makespan(durations, workers):
    """The wall time of jobs of these durations run in order on ``workers`` lanes, each job starting on
    the first lane to come free (how the local executor's thread pool takes stacks)."""
    lanes = [0.0] * max(1, workers)
    for duration in durations:
        lane = lanes.index(min(lanes))
        lanes[lane] += duration
    return max(lanes)


def evaluation_seconds(trainer):
    """Seconds of one evaluation of ``trainer`` (traced first)."""
    trainer.evaluate()
    started = time.perf_counter()
    trainer.evaluate()
    return time.perf_counter() - started


def projected_hours(config_path, profile, steps=20, workers=1, seed_major=True, repeats=3, overrides=()):
    """Hours a profile of a config would take here, trained as the runner trains it, ``workers`` stacks
    at once: per stack, ``training.steps`` times its step time (measured beside the stacks it would run
    with, the least of ``repeats`` measurements of ``steps`` steps: a busy moment of a shared machine
    moved a single one by a quarter) plus one measured evaluation per ``eval_every`` steps; the stacks
    are then laid out on ``workers`` lanes in order. ``seed_major`` False: one model per stack, the former
    design; ``overrides``: ``--set`` strings. Returns (hours, stacks, members)."""
    stacks, build = configured_stacks(config_path, profile, overrides, seed_major=seed_major, lanes=workers)
    durations, members = [], 0
    for first in range(0, len(stacks), max(1, workers)):
        trainers = [build(stack) for stack in stacks[first : first + max(1, workers)]]
        measured = [side_by_side(trainers, steps, workers)[1] for _ in range(max(1, repeats))]
        for trainer, step in zip(trainers, np.min(measured, axis=0)):
            training = trainer.training
            evaluations = training.steps / training.eval_every * evaluation_seconds(trainer)
            durations.append(training.steps * step + evaluations)
            members += len(trainer.members)
    return makespan(durations, workers) / 3600, len(stacks), members


def _looped(body):
    """A graph that runs ``body`` ``count`` times (its outputs summed, so none is pruned)."""
    import tensorflow as tf

    @tf.function
    def run(count):
        total = tf.constant(0.0)
        for _ in tf.range(count):
            values = [value for value in tf.nest.flatten(body()) if value is not None]  # None: no gradient
            total += tf.add_n([tf.cast(tf.reduce_sum(value), tf.float32) for value in values])
        return total

    return run


def _least_ms(function, steps, repeats=3):
    """Least milliseconds per call of a :func:`_looped` graph over ``repeats`` runs of ``steps`` calls."""
    import tensorflow as tf

    function(tf.constant(2))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function(tf.constant(steps))
        times.append((time.perf_counter() - started) / steps)
    return 1e3 * min(times)


def _least_step_ms(trainer, steps, repeats=3):
    """Least milliseconds per training-loop step of ``trainer`` over ``repeats`` runs of ``steps`` steps."""
    return 1e3 * min(step_seconds(trainer, steps) for _ in range(repeats))


def step_breakdown(config_path, profile="long", steps=200, overrides=()):
    """Milliseconds per training step of the NMU model's stack in a profile (else the first model's), split into
    what each part costs alone: the data draw, the forward pass, forward and backward, the whole update
    (with Adam and the clamps), the training loop's step (draw, update and loop), and one evaluation
    spread over ``eval_every`` steps (every part but the evaluation the least of three runs). Returns
    (members, {part: ms})."""
    import tensorflow as tf

    stacks, build = configured_stacks(config_path, profile, overrides, seed_major=False)
    stack = next((stack for stack in stacks if stack[0]["task"]["unit"] == "nmu"), stacks[0])
    trainer = build(stack)
    _, (x, y) = trainer.batch()

    def forward():
        return tf.reduce_sum(trainer.model(x))

    def backward():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(trainer.model(x) - y))
        return tf.add_n([tf.reduce_sum(g) for g in tape.gradient(loss, trainer.model.variables)])

    parts = {
        "data draw": _looped(lambda: trainer.batch()[1][0][:, 0, 0]),
        "forward": _looped(forward),
        "forward and backward": _looped(backward),
        "draw and update (forward, backward, Adam, clamps)": _looped(
            lambda: trainer.update(*trainer.batch())
        ),
    }
    timings = {name: _least_ms(function, steps) for name, function in parts.items()}
    timings["training loop step"] = _least_step_ms(trainer, steps)
    every = trainer.training.eval_every
    timings[f"evaluation / {every} steps"] = 1e3 * evaluation_seconds(trainer) / every
    return len(trainer.members), timings


def unit_breakdown(config_path, profile="paper", steps=50, overrides=(), units=None):
    """Where one training step of each unit's stack of a profile goes (one model per stack, as
    ``seed_major=False`` forms them), in milliseconds, each part timed alone: the data (the draw and the
    targets), the first layer's forward and backward pass on that data (the product the members of a seed
    share), the whole model's forward and backward pass with the learner's loss (both uncompiled), the
    update on a fixed batch as configured (loss, gradient, Adam, clamps; XLA where the unit compiles), and
    the training loop's step as configured (data and update), for the stacks of ``units`` (or all).
    Returns [(unit, members, {part: ms})]."""
    import tensorflow as tf

    from experiments.engine import StackedModel

    stacks, build = configured_stacks(config_path, profile, overrides, seed_major=False)
    rows = []
    for stack in stacks:
        if units is not None and stack[0]["task"]["unit"] not in units:
            continue
        trainer = build(stack)
        _, batch = trainer.batch()
        x, step = batch[0], trainer.step
        first = StackedModel(trainer.task.layers[:1], trainer.task.input_size, trainer.members)

        def first_layer():
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(first(x)))
            return tape.gradient(loss, first.variables)

        def whole_model():
            with tf.GradientTape() as tape:
                loss, _ = trainer.learner.loss(trainer.model, trainer.training, step, batch)
            return tape.gradient(loss, trainer.model.variables)

        parts = {
            "data": _looped(lambda: trainer.batch()[1]),
            "first layer fwd+bwd": _looped(first_layer),
            "model and loss fwd+bwd": _looped(whole_model),
            "update": _looped(lambda: trainer.update(step, batch)),
        }
        timings = {name: _least_ms(function, steps) for name, function in parts.items()}
        timings["loop step"] = _least_step_ms(trainer, steps)
        rows.append((stack[0]["task"]["unit"], len(trainer.members), timings))
    return rows


def rng_rate(seeds, steps, shape=(128, 100)):
    """Seed-steps per second of the independent per-seed Philox draw alone (nothing trains)."""
    import tensorflow as tf

    from experiments.engine import make_draw

    @tf.function
    def draw_only(count):
        total = tf.zeros([])
        for step in tf.range(count, dtype=tf.int64):
            total += tf.reduce_sum(
                make_draw(list(range(seeds)), step, "independent", 0)(shape, 1.0, 2.0)[:, 0, 0]
            )
        return total

    draw_only(tf.constant(2, tf.int64))
    started = time.perf_counter()
    draw_only(tf.constant(steps, tf.int64))
    return seeds * steps / (time.perf_counter() - started)


def fit_rate(point, steps, repeats=2):
    """Steps per second of a plain per-seed Keras ``model.fit`` of the 100 -> 2 -> 1 NALU on the static
    task's ``point`` (data pre-generated as NumPy arrays; median of ``repeats`` models)."""
    import keras

    import nalu_tf
    from experiments.tasks import static_arithmetic

    rng = np.random.default_rng(0)
    x = rng.uniform(1, 2, size=(steps * 128, 100)).astype("float32")
    y = static_arithmetic.reference(x, point).astype("float32")
    rates = []
    for seed in range(repeats):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((100,)), nalu_tf.NALU(2), nalu_tf.NALU(1)])
        model.compile(keras.optimizers.Adam(1e-3), "mse")
        model.fit(x[:1280], y[:1280], batch_size=128, epochs=1, verbose=0)  # compile and warm up
        started = time.perf_counter()
        model.fit(x, y, batch_size=128, epochs=1, verbose=0, shuffle=False)
        rates.append(steps / (time.perf_counter() - started))
    return float(np.median(rates))


def agent_rate(config_path, steps, profile="default", workers=1, units=None):
    """Environment-steps per second of training every agent stack (of ``units``, or all) of an
    actor-critic config as configured (each member steps ``batch_size`` environments for its learner's
    whole training rollout every step), ``workers`` stacks at once. Returns (rate, members, rollout
    steps)."""
    trainers, wall = _configured_side_by_side(config_path, steps, (), units, profile, workers)
    horizon = trainers[0].learner.environment.horizon
    members = sum(len(trainer.members) for trainer in trainers)
    return members * trainers[0].training.batch_size * horizon * steps / wall, members, horizon
