"""Run several configs at once, each in a process of its own with its share of the CPU cores.

On a small CPU most of our graphs are too small to keep two cores busy: one NALU stack of the static
task trains as fast on one thread as on two (26k against 25k seed-steps/s on this 2-core machine),
and two such processes side by side reach 27k each. So ``reproduce --jobs N`` runs N configs at a
time, longest first (by the compute time of the results already on disk), each process limited to
``cores // N`` TensorFlow threads and training as many stacks at once as there are cores, so that the
last config left still uses every core (:func:`config_command`). Every config still writes only its own
results folder, resumes from its own points and records its own provenance, as when run alone.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

from experiments.executors import RunFailed
from experiments.results import compute_time
from experiments.schema import ConfigError


def usable_cpus():
    """The CPUs this process may run on (its affinity mask, which a scheduler or ``taskset`` may narrow),
    not every CPU of the machine."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _count(option, value, auto, most):
    """A count given as ``"auto"`` (then the number ``auto``) or a positive integer, at most ``most``; a
    bad value raises ConfigError naming ``option``."""
    if value == "auto":
        count = auto
    else:
        try:
            count = int(value)
        except ValueError:
            count = 0
        if count < 1:
            raise ConfigError(
                "usage", option, f"{value!r} is not allowed; must be a positive integer or auto"
            )
    return max(1, min(count, most))


def job_count(value, configs):
    """The number of configs to run at once: ``auto`` (one per CPU core) or a positive integer, at
    most the number of configs."""
    return _count("--jobs", value, usable_cpus(), configs)


def core_share():
    """The cores this process may use: its share set by a parent (``reproduce --jobs``) through
    ``TF_NUM_INTRAOP_THREADS``, else every usable CPU."""
    try:
        return max(1, int(os.environ["TF_NUM_INTRAOP_THREADS"]))
    except (KeyError, ValueError):
        return usable_cpus()


def stack_workers(value, stacks):
    """Stacks to train at once in this process: ``auto`` (one per core of its share) or a positive
    integer, at most ``stacks``."""
    return _count("--stacks", value, core_share(), stacks)


def share_threads(workers):
    """Give each of ``workers`` stacks training at once its part of this process's cores: TensorFlow's
    per-op threads become share // workers (at least 1), its inter-op threads at least ``workers``. Only
    before TensorFlow is imported (it reads them once); returns whether they were set."""
    if workers < 2 or "tensorflow" in sys.modules:
        return False
    share = core_share()
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(max(1, share // workers))
    os.environ["TF_NUM_INTEROP_THREADS"] = str(max(workers, share))
    return True


def expected_seconds(results_root, name):
    """Compute time of the results already on disk (None when there are none): the scheduling hint."""
    directory = pathlib.Path(results_root) / name
    try:
        config = json.loads((directory / "provenance.json").read_text())["config"]
        return compute_time(directory, config)
    except (OSError, KeyError, ValueError):
        return None


def schedule(names, hints):
    """Indices of ``names`` in the order to start them: unknown durations first, then longest first."""
    return sorted(range(len(names)), key=lambda i: (hints[i] is not None, -(hints[i] or 0.0)))


def thread_environment(jobs):
    """The environment of one job: TensorFlow limited to its share of the cores."""
    threads = str(max(1, usable_cpus() // jobs))
    return {**os.environ, "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": threads}


def config_command(path, profile, results_root):
    """The command line of one config's process. It trains as many stacks at once as the machine has
    cores, each on one TensorFlow thread of its own (its share, :func:`thread_environment`): while every
    job runs, the cores are shared among more stacks than cores; once the last config is left, its stacks
    still keep every core busy instead of one (a stack computes the same numbers either way)."""
    return [
        *(sys.executable, "-m", "experiments", "run", path),
        *("--profile", profile, "--results", results_root, "--stacks", str(usable_cpus())),
    ]


def run_configs(paths, loaded, profile, results_root, jobs):
    """Run ``python -m experiments run`` for every config, ``jobs`` at a time; return (name, wall
    seconds) per config in the order given. A failed config stops no other; the failures are raised
    together at the end (completed grid points are kept either way). SIGINT or SIGTERM is forwarded to
    the running children; once they have stopped, KeyboardInterrupt is raised (the command exits 130)."""
    names = [item.name for item in loaded]
    order = schedule(names, [expected_seconds(results_root, name) for name in names])
    environment = thread_environment(jobs)
    running, walls, failures, stop = {}, {}, [], []

    def forward(signum, frame):
        """SIGINT or SIGTERM to this process: pass it to every running child (each in its own session, so a
        terminal's Ctrl-C reaches it once, from here), start no more, and wait for them to stop."""
        stop.append(signum)
        for process, _ in running.values():
            if process.poll() is None:
                process.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while (order and not stop) or running:
            while order and not stop and len(running) < jobs:
                index = order.pop(0)
                command = config_command(paths[index], profile, results_root)
                running[index] = (
                    subprocess.Popen(command, env=environment, start_new_session=True),
                    time.perf_counter(),
                )
            time.sleep(0.2)
            for index, (process, started) in list(running.items()):
                if process.poll() is None:
                    continue
                del running[index]
                walls[index] = time.perf_counter() - started
                if process.returncode != 0 and not stop:
                    failures.append(f"{paths[index]} (exit {process.returncode})")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if stop:
        raise KeyboardInterrupt  # every child has stopped, keeping the points it finished
    if failures:
        raise RunFailed(
            f"{len(failures)} config(s) failed: {', '.join(failures)}; completed grid points are kept, "
            "rerun the same command to resume"
        )
    return [(names[i], walls[i]) for i in range(len(names))]
