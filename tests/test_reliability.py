"""Results that are never silently wrong: damaged point files, one writer per folder, unwritable folders,
profiles a config does not define, file modes, and the CPUs a job may use."""

import json
import os
import pathlib
import stat
import subprocess

import pandas as pd
import pytest

from experiments import cli, files, parallel, points, provenance, runner
from experiments.provenance import RUN_RECORD

ROOT = pathlib.Path(__file__).resolve().parent.parent
STATIC = ROOT / "configs" / "static_arithmetic.yaml"
SMOKE = ["run", str(STATIC), "--profile", "smoke"]


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    assert cli.main([*SMOKE, "--results", str(results)]) == 0
    return results


def _copy(source, target):
    subprocess.run(["cp", "-r", str(source), str(target)], check=True)
    return target


@pytest.mark.parametrize("damage", ["truncated", "emptied", "history removed"])
def test_a_damaged_point_file_is_named_and_its_point_rerun(damage, smoke_results, tmp_path, capsys):
    results = _copy(smoke_results, tmp_path / "results")
    points = sorted((results / "static_arithmetic" / "points").glob("*.history.csv"))
    victim = points[0].with_name(points[0].name.replace(".history.csv", ".csv"))
    if damage == "truncated":  # the header and one of the two seeds' rows
        victim.write_text("".join(victim.read_text().splitlines(keepends=True)[:2]))
    elif damage == "emptied":
        victim.write_text("")
    else:
        points[0].unlink()
    capsys.readouterr()
    assert cli.main([*SMOKE, "--results", str(results)]) == 0
    err = capsys.readouterr().err
    assert f"{victim}: damaged" in err and "rerunning" in err and "Traceback" not in err
    assert "1 already complete" not in err and "3 already complete, 1 to run" in err
    runs = pd.read_csv(results / "static_arithmetic" / "runs.csv")
    assert len(runs) == 4 * 2 and runs.groupby(["op", "unit"]).size().eq(2).all()


def test_damage_check_accepts_whole_points_and_names_each_fault(smoke_results):
    folder = smoke_results / "static_arithmetic" / "points"
    point_hash = sorted(folder.glob("*.history.csv"))[0].name.split(".")[0]
    assert points.damaged_point(folder, point_hash, [0, 1]) is None
    assert "expected one row per seed 0-2 (3)" in points.damaged_point(folder, point_hash, [0, 1, 2])
    assert points.damaged_point(folder, "0" * 16, [0, 1]) == "missing"


def test_a_second_writer_is_refused_in_one_line_before_any_work(tmp_path, monkeypatch, capsys):
    holder = subprocess.Popen(["sleep", "30"])
    try:
        out = tmp_path / "static_arithmetic"
        out.mkdir()
        (out / files.LOCK_NAME).write_text(f"{holder.pid}\n")
        monkeypatch.setattr(runner, "run_stack", lambda *a, **k: pytest.fail("trained despite the lock"))
        assert cli.main([*SMOKE, "--results", str(tmp_path)]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and f"PID {holder.pid}" in lines[0] and "lock" in lines[0]
        assert (out / files.LOCK_NAME).read_text() == f"{holder.pid}\n"  # the holder's lock is untouched
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_of_a_finished_process_is_taken_over(tmp_path):
    finished = subprocess.Popen(["true"])
    finished.wait()
    (tmp_path / "static_arithmetic").mkdir()
    (tmp_path / "static_arithmetic" / files.LOCK_NAME).write_text(f"{finished.pid}\n")
    with files.results_lock(tmp_path / "static_arithmetic"):
        assert (tmp_path / "static_arithmetic" / files.LOCK_NAME).read_text() == f"{os.getpid()}\n"
    assert not (tmp_path / "static_arithmetic" / files.LOCK_NAME).exists()


def test_an_unwritable_results_folder_is_one_line_before_any_training(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the results root should be")
    monkeypatch.setattr(runner, "run_stack", lambda *a, **k: pytest.fail("trained into an unwritable folder"))
    assert cli.main([*SMOKE, "--results", str(blocker)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "cannot write results here" in lines[0] and str(blocker) in lines[0]


def test_figures_use_their_own_temporary_name(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    other_writers_file = tmp_path / ".figure.tmp.png"  # what a concurrent writer of the old scheme held
    other_writers_file.write_bytes(b"theirs")
    figure = plt.figure()
    files.save_figure(figure, tmp_path / "figure.png")
    plt.close(figure)
    assert other_writers_file.read_bytes() == b"theirs"
    assert (tmp_path / "figure.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".figure.tmp.png", "figure.png"]


def test_result_files_are_readable_by_others_as_the_umask_allows(tmp_path):
    previous = os.umask(0o022)
    try:
        files.write_atomic(tmp_path / "runs.csv", "a\n1\n")
        assert stat.S_IMODE((tmp_path / "runs.csv").stat().st_mode) == 0o644
        os.umask(0o077)
        files.write_atomic(tmp_path / "private.csv", "a\n1\n")
        assert stat.S_IMODE((tmp_path / "private.csv").stat().st_mode) == 0o600
    finally:
        os.umask(previous)


def test_a_profile_the_config_does_not_define_is_an_error_naming_those_it_has(tmp_path, capsys):
    single = ROOT / "configs" / "single_module_benchmark.yaml"  # defines smoke only
    assert cli.main(["run", str(single), "--profile", "long", "--results", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "'long' is not defined" in lines[0] and "default, smoke" in lines[0]
    assert not list(tmp_path.iterdir())


def test_auto_jobs_count_the_cpus_this_process_may_use(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 16)
    assert parallel.job_count("auto", 8) == 1
    assert parallel.thread_environment(1)["TF_NUM_INTRAOP_THREADS"] == "1"


def test_a_resume_that_runs_nothing_leaves_every_file_byte_identical(smoke_results, tmp_path):
    results = _copy(smoke_results, tmp_path / "results")
    folder = results / "static_arithmetic"
    before = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    assert cli.main([*SMOKE, "--results", str(results)]) == 0
    after = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    assert after == before  # provenance (its commit, time, wall time) included
    # a changed report block is a changed config: the provenance follows it, still without retraining
    edited = tmp_path / "static_arithmetic.yaml"
    edited.write_text(
        STATIC.read_text().replace('title: "Table 1 (static): simple function learning"', 'title: "edited"')
    )
    assert cli.main(["run", str(edited), "--profile", "smoke", "--results", str(results)]) == 0
    provenance = json.loads((folder / "provenance.json").read_text())
    assert provenance["config"]["report"]["title"] == "edited"
    first = json.loads(before["provenance.json"])  # the record of the run that made the points stays
    assert [provenance[key] for key in RUN_RECORD] == [first[key] for key in RUN_RECORD]
    assert first["points_run"] > 0


def _children_of(pid):
    """PIDs of the live processes whose parent is ``pid`` (from /proc)."""
    children = []
    for status in pathlib.Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            children.append(int(status.parent.name))
    return children


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_signal_to_the_reproduce_parent_stops_every_child(signal_name, tmp_path):
    import signal
    import sys
    import time

    results = tmp_path / "results"
    log = (tmp_path / "log").open("w")  # a file, not a pipe: a pipe would wait for children that outlive
    parent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "experiments",
            "reproduce",
            "--profile",
            "smoke",
            "--jobs",
            "2",
            "--results",
            str(results),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 120
    while len(_children_of(parent.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    children = _children_of(parent.pid)
    assert len(children) == 2, "two configs should be running"
    time.sleep(3)  # let them import TensorFlow and start training
    parent.send_signal(
        getattr(signal, signal_name)
    )  # the parent only: the children are in their own sessions
    parent.wait(timeout=120)
    alive = [pid for pid in children if pathlib.Path(f"/proc/{pid}").exists()]
    for pid in alive:  # leave nothing running, whatever the outcome
        os.kill(pid, signal.SIGKILL)
    output = (tmp_path / "log").read_text()
    assert parent.returncode == 130, output
    assert "interrupted: completed grid points are kept" in output
    assert not alive, "a child outlived the parent"
    assert not list(results.glob("*/.lock")), "every child released its results folder"


def test_a_profile_other_than_default_writes_under_its_own_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default root is relative: results/ of the working directory
    assert cli.main(SMOKE) == 0
    assert (tmp_path / "results" / "smoke" / "static_arithmetic" / "runs.csv").exists()
    assert not (
        tmp_path / "results" / "static_arithmetic"
    ).exists()  # the default profile's folder is untouched
    assert (
        '"profile": "smoke"'
        in (tmp_path / "results" / "smoke" / "static_arithmetic" / "provenance.json").read_text()
    )


class _Stop(Exception):
    pass


def _interrupting(after):
    calls = []

    def progress(amount):
        calls.append(amount)
        if len(calls) == after:
            raise _Stop

    return progress


def test_an_interrupted_stack_resumes_from_its_checkpoint_to_the_same_numbers_bit_for_bit(
    tmp_path, monkeypatch
):
    import numpy as np

    from experiments.engine import checkpoints, trainer
    from experiments.tasks import recurrent_arithmetic
    from test_recurrent_arithmetic import POINT

    monkeypatch.setattr(checkpoints, "SECONDS", 0.0)  # save after every evaluation
    tasks = [
        recurrent_arithmetic.build({**POINT, "unit": "nau", "op": op, "test_length": 20})
        for op in ("add", "sub")
    ]
    training = trainer.Training(
        steps=40,
        batch_size=16,
        learning_rate=1e-2,
        eval_every=10,
        regularization=0.1,
        regularization_start=10,
        regularization_end=30,
        jit_compile=True,
    )
    whole = trainer.MultiSeedTrainer(tasks, [0, 3], training).run()
    path = tmp_path / "stack.checkpoint.npz"
    with pytest.raises(_Stop):  # killed after its second evaluation (step 20), its state saved
        trainer.MultiSeedTrainer(tasks, [0, 3], training).run(_interrupting(2), checkpoint=path)
    assert path.exists()
    skipped = []
    progress = lambda amount: None  # noqa: E731
    progress.skip = skipped.append
    resumed = trainer.MultiSeedTrainer(tasks, [0, 3], training).run(progress, checkpoint=path)
    assert skipped == [20 * 4]  # 20 steps of 4 members restored
    for name, values in whole.metrics.items():
        if name != "wall_time_s":
            np.testing.assert_array_equal(resumed.metrics[name], values, err_msg=name)
    assert [e["step"] for e in resumed.history] == [e["step"] for e in whole.history] == [0, 10, 20, 30, 40]
    for mine, theirs in zip(resumed.history, whole.history):
        for name in theirs:
            np.testing.assert_array_equal(mine[name], theirs[name])
    for mine, theirs in zip(resumed.sweep, whole.sweep):
        np.testing.assert_array_equal(mine.mse, theirs.mse)
    # a checkpoint of other members is not used: training starts afresh
    other = trainer.MultiSeedTrainer(tasks, [0, 4], training).run(checkpoint=path)
    assert [e["step"] for e in other.history] == [0, 10, 20, 30, 40]


@pytest.mark.parametrize("stacks", [1, 2])
def test_an_interrupted_run_resumes_its_stack_and_removes_the_checkpoint(
    tmp_path, monkeypatch, capsys, stacks
):
    """One stack at a time: the interrupted stack keeps its checkpoint. Two at once (threads): both stop,
    each after its latest checkpoint. Either way the resumed run ends with the uninterrupted numbers (of
    the same stacks: one seed-major stack of both units, or one per unit)."""
    from experiments.engine import checkpoints

    monkeypatch.setattr(checkpoints, "SECONDS", 0.0)
    whole = tmp_path / "whole"
    assert cli.main([*SMOKE, "--results", str(whole), "--stacks", str(stacks)]) == 0
    cut = tmp_path / "cut"
    calls = []
    original = provenance.Progress.__call__

    def interrupt_second(self, amount):
        calls.append(amount)
        if len(calls) == 2:
            raise KeyboardInterrupt
        original(self, amount)

    monkeypatch.setattr(provenance.Progress, "__call__", interrupt_second)
    assert cli.main([*SMOKE, "--results", str(cut), "--stacks", str(stacks)]) == 130
    assert len(list((cut / "static_arithmetic" / "points").glob("*.checkpoint.npz"))) == stacks
    monkeypatch.setattr(provenance.Progress, "__call__", original)
    assert cli.main([*SMOKE, "--results", str(cut), "--stacks", str(stacks)]) == 0
    assert not list((cut / "static_arithmetic" / "points").glob("*.checkpoint.npz"))
    first, second = (pd.read_csv(root / "static_arithmetic" / "runs.csv") for root in (whole, cut))
    columns = [c for c in first.columns if c not in ("wall_time_s",)]
    pd.testing.assert_frame_equal(first[columns], second[columns])
