"""The local executor: stacks one after another or side by side in threads, the same numbers either way."""

import pathlib
import threading
import time

import pandas as pd
import pytest

from experiments import config, parallel, runner
from experiments.executors import LocalExecutor, Stopped
from experiments.schema import ConfigError

CONFIGS = pathlib.Path(__file__).resolve().parent.parent / "configs"


def test_stacks_in_threads_compute_what_they_compute_one_after_another(tmp_path):
    loaded = config.load(CONFIGS / "static_arithmetic_madsen.yaml", "smoke")
    assert len(runner.stack_points(loaded.points(), range(len(loaded.points())), ("op",))) == 4
    for name, workers in (("one", 1), ("two", 2)):
        runner.run(
            loaded, tmp_path / name, log=open(tmp_path / f"{name}.log", "w"), executor=LocalExecutor(workers)
        )
    one, two = (pd.read_csv(tmp_path / name / loaded.name / "runs.csv") for name in ("one", "two"))
    numbers = [column for column in one.columns if column != "wall_time_s"]
    pd.testing.assert_frame_equal(one[numbers], two[numbers])  # bit for bit, row order included
    history = [pd.read_csv(tmp_path / name / loaded.name / "history.csv") for name in ("one", "two")]
    pd.testing.assert_frame_equal(*history)


def test_threads_run_side_by_side_and_a_failure_stops_the_others():
    started, stopped_early = threading.Barrier(2, timeout=10), []

    def work(item, progress):
        kind, _ = item
        started.wait()  # both stacks are running at once
        if kind == "fail":
            raise RuntimeError("stack failed")
        began = time.perf_counter()
        try:
            while time.perf_counter() - began < 30:
                progress(1)
                time.sleep(0.01)
        except Stopped:
            stopped_early.append(time.perf_counter() - began)
            raise
        return "finished"

    reports = []
    items = [(0, ("long", None), 1), (1, ("fail", None), 1)]
    with pytest.raises(RuntimeError, match="stack failed"):
        list(LocalExecutor(2).map(work, items, reports.append))
    assert len(stopped_early) == 1 and stopped_early[0] < 5  # stopped at its next report, not after 30 s
    assert reports and set(reports) == {1}  # its reports reached the run's progress


def test_results_arrive_as_stacks_finish():
    def work(item, progress):
        time.sleep(item)
        return item

    items = [(0, 0.6, 1), (1, 0.0, 1), (2, 0.2, 1)]
    assert [index for index, _ in LocalExecutor(2).map(work, items, None)] == [1, 2, 0]
    assert [index for index, _ in LocalExecutor(1).map(work, items, None)] == [0, 1, 2]


def test_stack_workers_follow_the_cores_and_share_them(monkeypatch):
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 4)
    assert parallel.stack_workers("auto", 9) == 4 and parallel.stack_workers("auto", 3) == 3
    assert parallel.stack_workers("2", 9) == 2 and parallel.stack_workers("5", 1) == 1
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")  # a reproduce --jobs child: one core of its own
    assert parallel.stack_workers("auto", 9) == 1
    for bad in ("0", "-2", "many"):
        with pytest.raises(ConfigError, match="positive integer or auto"):
            parallel.stack_workers(bad, 9)
    with pytest.raises(ValueError):
        LocalExecutor(0)


def test_share_threads_gives_each_stack_its_part_before_tensorflow_loads(monkeypatch):
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 4)
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    monkeypatch.setitem(parallel.sys.modules, "tensorflow", None)
    assert not parallel.share_threads(2)  # TensorFlow already loaded: it would ignore them
    monkeypatch.delitem(parallel.sys.modules, "tensorflow")
    monkeypatch.setenv("TF_NUM_INTEROP_THREADS", "x")
    assert parallel.share_threads(2)
    assert parallel.os.environ["TF_NUM_INTRAOP_THREADS"] == "2"
    assert parallel.os.environ["TF_NUM_INTEROP_THREADS"] == "4"
    assert not parallel.share_threads(1)
