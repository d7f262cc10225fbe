"""Where grid points run: in this process (local, the default) or as Ray tasks on a cluster.

A unit of work is a stack of grid points (one point, or the points that differ only on an experiment's
stack axes), fully described by their resolved configs, and ``runner.run_stack`` is pure in it; an
executor only decides where each call happens. Results come back to the runner, which writes every file,
so the output is the same whatever the executor.
"""

from __future__ import annotations

import os
import pathlib
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed

from experiments.schema import ConfigError

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXECUTORS = ("local", "ray")


class PointFailed(Exception):
    """A grid point that raised, or whose worker died, on every allowed attempt."""


class RunFailed(Exception):
    """Some grid points failed; the finished ones are kept and a rerun retries only the missing ones."""


class LocalExecutor:
    """Run units of work in this process: one after another, or ``workers`` at once in threads.

    TensorFlow runs a graph without holding Python's lock, so stacks in threads train side by side; a small
    stack keeps one core busy at best (a 20-member NMU stack or a recurrent stack), so on a 2-core machine
    two at once train more (the recurrent experiment's stacks: 1.5x the member-steps of one after another
    in ``make bench``, one TensorFlow thread per op either way). Each stack computes exactly what it computes alone: the same ops on the same
    thread settings (a test compares the two bit for bit). Results are yielded as stacks finish. When one
    raises, or the caller stops reading (Ctrl-C), the others stop at their next progress report, after
    their latest checkpoint, and the error is raised once they have.
    """

    def __init__(self, workers=1):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers!r}")
        self.workers = workers

    def map(self, function, items, progress):
        """Yield ``(index, function(work, progress))`` for each ``(index, work, seed_steps)`` of ``items``."""
        items = list(items)
        if self.workers == 1 or len(items) < 2:
            for index, work, _ in items:
                yield index, function(work, progress)
            return
        stop = threading.Event()
        shared = _StoppableProgress(progress, stop)
        with ThreadPoolExecutor(min(self.workers, len(items)), thread_name_prefix="stack") as pool:
            futures = {pool.submit(function, work, shared): index for index, work, _ in items}
            try:
                for future in as_completed(futures):
                    yield futures[future], future.result()
            finally:
                stop.set()  # the stacks still training stop at their next report; the pool waits for them
                for future in futures:
                    future.cancel()


class Stopped(Exception):
    """Raised in a stack's thread when its run is stopping (another stack failed, or Ctrl-C)."""


class _StoppableProgress:
    """A progress callback for stacks in threads: passes reports on, and stops a stack once ``stop`` is set."""

    def __init__(self, progress, stop):
        self.progress, self.stop = progress, stop

    def __call__(self, amount):
        if self.progress is not None:
            self.progress(amount)
        if self.stop.is_set():
            raise Stopped("stopped: another stack failed or the run was interrupted")

    def skip(self, amount):
        if self.progress is not None and hasattr(self.progress, "skip"):
            self.progress.skip(amount)


class RayExecutor:
    """Run each unit of work (a stack of grid points, all seeds vectorised) as one Ray task.

    Without ``address`` a local Ray instance is started (or the one already running in this process is
    used). A task that raises or whose worker dies is retried ``retries`` times, then reported as
    :class:`PointFailed`; the other points carry on. ``num_gpus`` is requested per unit of work.
    """

    def __init__(self, address=None, retries=2, num_gpus=0.0):
        self.address, self.retries, self.num_gpus = address, retries, num_gpus

    def _start(self):
        import ray

        if not ray.is_initialized():
            # A cluster needs this checkout: ship it (not the venv, results or git history).
            runtime_env = (
                {"working_dir": str(ROOT), "excludes": [".venv/", "results/", ".git/", "*.png"]}
                if self.address
                else None
            )
            ray.init(
                address=self.address, runtime_env=runtime_env, include_dashboard=False, log_to_driver=False
            )
        return ray

    def map(self, function, items, progress):
        ray = self._start()
        options = {"num_gpus": self.num_gpus, "max_retries": self.retries, "retry_exceptions": True}
        if not self.address:
            # Local workers import what this process can import (experiment modules outside the repo too).
            options["runtime_env"] = {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}}
        task = ray.remote(function).options(**options)
        indices = {task.remote(work): (index, seed_steps) for index, work, seed_steps in items}
        pending = list(indices)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            index, seed_steps = indices[done[0]]
            try:
                result = ray.get(done[0])
            except ray.exceptions.RayError as error:
                cause = getattr(error, "cause", None) or error
                message = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
                yield (
                    index,
                    PointFailed(f"{type(cause).__name__}: {message} (after {self.retries + 1} attempts)"),
                )
                continue
            progress(seed_steps)
            yield index, result


def make_executor(name, address=None, retries=2, num_gpus=0.0, workers=1):
    """The executor called ``name`` (``workers``: stacks at once for the local one); bad values raise
    ConfigError naming the option."""
    if name not in EXECUTORS:
        raise ConfigError("--executor", name, f"{name!r} is not allowed; choose from {', '.join(EXECUTORS)}")
    if retries < 0:
        raise ConfigError("--retries", str(retries), "must be an integer >= 0")
    if num_gpus < 0:
        raise ConfigError("--num-gpus", str(num_gpus), "must be a number >= 0")
    if name == "local":
        if address:
            raise ConfigError("--ray-address", address, "only applies with --executor ray")
        return LocalExecutor(workers)
    try:
        import ray  # noqa: F401  (checked before any work; started only when points run)
    except ImportError:
        raise ConfigError(
            "--executor",
            "ray",
            "Ray is not installed; install it with: pip install ray==2.60.0 (the version requirements.txt pins)",
        ) from None
    return RayExecutor(address, retries, num_gpus)
