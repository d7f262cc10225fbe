"""Provenance and progress of a run: the commit and environment every result records, the record a
resume keeps, and the progress line with its ETA."""

from __future__ import annotations

import json
import os
import pathlib
import platform
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd


class Progress:
    """Progress with ETA on stderr: a live bar on a terminal, a plain line at most every 15 s in logs.
    Safe to call from several threads (stacks training at once).

    The rate, and so the ETA, is measured from the first report on: the work before it includes tracing
    and compiling the training graph, which can take longer than many chunks after it (a 79 s run first
    showed an ETA of 9:31:20). Until a second report there is no rate to show; elapsed counts from the start.
    """

    def __init__(self, total, label, stream=None):
        self.total, self.label, self.stream = max(total, 1), label, stream or sys.stderr
        self.done, self.started, self.last_line = 0, time.perf_counter(), 0.0
        self.clock = None  # (time, work done) at the first report: where the rate is measured from
        self.live = self.stream.isatty()
        self.lock = threading.RLock()

    def __call__(self, amount):
        with self.lock:
            self._report(amount)

    def _report(self, amount):
        now = time.perf_counter()
        self.done += amount
        if self.clock is None:
            self.clock = (now, self.done)
        since, done_then = self.clock
        rate = (self.done - done_then) / (now - since) if now > since else 0.0
        remaining = (self.total - self.done) / rate if rate > 0 else float("inf")
        if self.done >= self.total:
            remaining = 0.0
        fraction = min(self.done / self.total, 1.0)
        text = (
            f"{self.label} {100 * fraction:5.1f}% {self.done:,}/{self.total:,} seed-steps, "
            f"{f'{rate:,.0f}' if rate > 0 else '--'}/s, elapsed {_clock(now - self.started)}, "
            f"ETA {_clock(remaining)}"
        )
        if self.live:
            bar = "#" * int(24 * fraction)
            self.stream.write(f"\r[{bar:<24}] {text}")
            self.stream.flush()
        elif now - self.last_line >= 15 or self.done >= self.total:
            self.stream.write(text + "\n")
            self.last_line = now

    def skip(self, amount):
        """Work restored from a checkpoint: no longer to do, and not counted in the rate."""
        with self.lock:
            self.total = max(self.total - amount, 1)

    def note(self, text):
        with self.lock:
            self.stream.write(("\n" if self.live else "") + text + "\n")


def _clock(seconds):
    if not np.isfinite(seconds):
        return "--:--"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


def git_commit():
    root = pathlib.Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "nalu_tf", "experiments", "configs"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def environment():
    """Package versions and the device the run used."""
    import keras
    import tensorflow as tf

    gpus = [device.name for device in tf.config.list_physical_devices("GPU")]
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "device": ", ".join(gpus) if gpus else f"CPU ({platform.machine()}, {os.cpu_count()} cores)",
    }


RUN_RECORD = ("git_commit", "finished", "wall_time_s", "points_run", "points_resumed", "environment")


def resumed_provenance(path, provenance):
    """The provenance a resume that ran no point writes. The results are those of the run that made the
    points, so its record (commit, time, wall time, points run, environment) stays: None when nothing
    else changed either (the file is left byte-identical); the previous record with the new config when
    only what the report reads changed (its notes, findings, ...); ``provenance`` itself when the
    previous one is missing or records other points."""
    try:
        previous = json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return provenance
    current = json.loads(json.dumps(provenance))
    same_points = all(
        previous.get(key) == current.get(key) for key in ("config_hash", "git_commits_of_points", "datasets")
    )
    if not same_points:
        return provenance
    if previous.get("config") == current["config"]:
        return None
    return {**current, **{key: previous[key] for key in RUN_RECORD if key in previous}}
