"""Benchmark: seed-steps per second of the vectorised runner against a plain per-seed ``model.fit``.

Both train the static NALU task (100 -> 2 -> 1, a * b on U[1, 2], batch 128, Adam 1e-3) in the same
process. The runner generates its data inside the graph every step; ``model.fit`` gets its data
pre-generated as NumPy arrays, which favours it. Compile and tracing time is excluded from both.
"""

from __future__ import annotations

import time

import numpy as np

POINT = {
    "input_size": 100, "subset_ratio": 0.25, "overlap_ratio": 0.5,
    "ranges": {"madsen": {"interpolation": [1.0, 2.0], "extrapolation": [2.0, 6.0]}}, "range": "madsen",
    "validation_size": 1000, "test_size": 1000, "validation_seed": 1, "test_seed": 2,
    "success_epsilon": 1e-5, "epsilon": 1e-7, "op": "mul", "unit": "nalu", "initialization": "glorot",
}


def runner_rate(seeds, steps, data_stream):
    import tensorflow as tf

    from experiments import static_arithmetic
    from experiments.trainer import MultiSeedTrainer, Training

    training = Training(steps=steps, batch_size=128, learning_rate=1e-3, eval_every=steps, data_stream=data_stream)
    trainer = MultiSeedTrainer(static_arithmetic.build(POINT), range(seeds), training)
    trainer._train(tf.constant(5, tf.int64))  # trace and warm up
    started = time.perf_counter()
    trainer._train(tf.constant(steps, tf.int64))
    return seeds * steps / (time.perf_counter() - started)


def fit_rate(steps, repeats=2):
    import keras

    import nalu_tf
    from experiments import static_arithmetic

    rng = np.random.default_rng(0)
    x = rng.uniform(1, 2, size=(steps * 128, 100)).astype("float32")
    y = static_arithmetic.reference(x, POINT).astype("float32")
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


def main(seeds=100, steps=500):
    fit = fit_rate(steps * 2)
    print(f"per-seed model.fit (1 seed):                 {fit:10,.0f} seed-steps/s")
    for stream in ("independent", "shared"):
        rate = runner_rate(seeds, steps, stream)
        print(f"runner, {seeds} seeds, {stream:11s} data streams: {rate:10,.0f} seed-steps/s   "
              f"ratio {rate / fit:5.1f}x")
    print("target: ratio >= 30 with the default (independent) streams; measured in this run, same process")
