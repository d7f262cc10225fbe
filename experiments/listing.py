"""What the configs are and what a run would do, read without training: ``list`` and ``run --dry-run``.

Both stay on the configuration side: loading a config never imports TensorFlow (a task imports it inside
``build``), and the check of which grid points are finished is the runner's own
(:func:`experiments.runner.point_damage`), so a dry run calls complete exactly the points a run would
skip. Neither writes anything.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import pandas as pd

from experiments import config as configuration
from experiments import parallel
from experiments.config import Config
from experiments.results import compute_time
from experiments.runner import config_stacks, point_damage, results_directory
from experiments.schema import ConfigError


@dataclasses.dataclass
class RecordedTime:
    """How long a finished results folder took: ``seconds`` of ``kind`` "wall" (provenance.json's wall
    time of a run that trained every point) or "compute" (its points' training time summed from runs.csv,
    when the last run resumed some points and its wall time covers only part of the work); ``seed_steps``
    is the training those seconds bought (the sum of ``steps`` over the rows of runs.csv)."""

    seconds: float
    kind: str
    seed_steps: int


@dataclasses.dataclass
class Estimate:
    """Seconds some training should take at the rate of the finished results in ``reference``, whose
    :class:`RecordedTime` it was scaled from (by seed-steps: the same number when the work is the same)."""

    seconds: float
    seed_steps: int
    reference: pathlib.Path
    recorded: RecordedTime


@dataclasses.dataclass
class ConfigSummary:
    """One line of ``list``: a config's name, what it reproduces, its profiles, the size of its default
    profile, how many of its points the results root holds complete, and the time the whole default
    profile takes at the rate of those results (None: not run yet)."""

    name: str
    reproduces: str
    profiles: list[str]
    points: int
    seeds: int
    complete: int
    time: Estimate | None


@dataclasses.dataclass
class PointState:
    """A grid point of a planned run: its axis values, its training steps, and ``damage`` as the runner's
    :func:`~experiments.points.damaged_point` reports it (None: complete, "missing": never finished)."""

    point: dict
    steps: int
    damage: str | None


def recorded_time(directory):
    """The :class:`RecordedTime` of the finished results in ``directory``, or None when there are none."""
    directory = pathlib.Path(directory)
    try:
        provenance = json.loads((directory / "provenance.json").read_text())
        runs = pd.read_csv(directory / "runs.csv", usecols=["steps"])
        seed_steps = int(runs["steps"].sum())
        if provenance.get("points_resumed", 0) == 0 and "wall_time_s" in provenance:
            return RecordedTime(float(provenance["wall_time_s"]), "wall", seed_steps)
        return RecordedTime(compute_time(directory, provenance["config"]), "compute", seed_steps)
    except (OSError, KeyError, ValueError):
        return None


def duration(seconds):
    """``seconds`` as a reader wants it: "under 1 s", "45 s", "17.9 min" or "2.1 h"."""
    if seconds < 1:
        return "under 1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def reproduces(path, loaded: Config):
    """What a config reproduces in one line: its report title, else the first line of its header comment."""
    title = loaded.report.get("title")
    if title:
        return str(title)
    first = pathlib.Path(path).read_text(encoding="utf-8").splitlines()[:1]
    return first[0].lstrip("#").strip() if first and first[0].startswith("#") else ""


def summarise_config(path, results_root="results"):
    """The :class:`ConfigSummary` of the config at ``path`` (its default profile); a ConfigError if the
    config is invalid."""
    loaded = configuration.load(path)
    defined = configuration.read_config(pathlib.Path(path)).get("profiles") or {}
    directory = results_directory(loaded, results_root)
    states = point_states(loaded, directory)
    return ConfigSummary(
        name=loaded.name,
        reproduces=reproduces(path, loaded),
        profiles=[name for name in configuration.PROFILES if name == "default" or name in defined],
        points=len(states),
        seeds=len(loaded.seeds),
        complete=sum(state.damage is None for state in states),
        time=estimate(sum(state.steps for state in states) * len(loaded.seeds), [directory]),
    )


def list_configs(paths, results_root="results", out=print):
    """Print one line per config of ``paths`` (see :class:`ConfigSummary`); return the number of configs
    that failed to load (each printed with its one-line error)."""
    rows, failed = [], 0
    for path in paths:
        try:
            summary = summarise_config(path, results_root)
        except ConfigError as error:
            rows.append((pathlib.Path(path).stem, "", "", "", "", f"error: {error}"))
            failed += 1
            continue
        rows.append(
            (
                summary.name,
                ", ".join(summary.profiles),
                f"{summary.points} x {summary.seeds}",
                f"{summary.complete}/{summary.points}",
                "not run yet" if summary.time is None else shown_estimate(summary.time),
                summary.reproduces,
            )
        )
    header = ("config", "profiles", "points x seeds", "complete", "time", "reproduces")
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header) - 1)]
    for row in [header, *rows]:
        out("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    out(
        f"(default profile; complete: its points finished under {results_root}/; time: the wall time its "
        "results there took, or their summed compute time where a run resumed, ~ scaled to today's steps)"
    )
    return failed


def shown_estimate(guess: Estimate):
    """An :class:`Estimate` in a few characters: "13.3 min wall", "~4.6 min compute" when rescaled."""
    scaled = "~" if guess.seed_steps != guess.recorded.seed_steps else ""
    return f"{scaled}{duration(guess.seconds)} {guess.recorded.kind}"


def point_states(loaded: Config, directory):
    """The :class:`PointState` of every grid point of ``loaded`` against the results in ``directory``:
    the runner's own resume check, so the points called complete are those a run would skip."""
    return [
        PointState(point, loaded.training_for(point).steps, damage)
        for point, damage in zip(loaded.points(), point_damage(loaded, directory))
    ]


def estimate(seed_steps, references):
    """The :class:`Estimate` of ``seed_steps`` of training at the rate of the first of ``references``
    (results folders) that holds finished results, or None when none does."""
    for directory in references:
        recorded = recorded_time(directory)
        if recorded is not None and recorded.seed_steps > 0:
            seconds = recorded.seconds * seed_steps / recorded.seed_steps
            return Estimate(seconds, seed_steps, pathlib.Path(directory), recorded)
    return None


def print_dry_run(loaded: Config, results_root, out=print, lanes=None):
    """Print what ``run`` would do with ``loaded`` into ``results_root``: the grid after the profile and
    ``--set``, every point with whether it is complete there, seeds, steps, where it writes and an
    estimate of the time (``lanes``: stacks trained at once, as ``runner.config_stacks`` deals them; by
    default one per core); train nothing and write nothing."""
    directory = results_directory(loaded, results_root)
    states = point_states(loaded, directory)
    pending = [index for index, state in enumerate(states) if state.damage is not None]
    seeds = loaded.seeds
    overrides = f", --set {' '.join(loaded.overrides)}" if loaded.overrides else ""
    out(f"{loaded.name} ({loaded.source}), profile {loaded.profile}{overrides}")
    out("dry run: nothing is trained or written")
    out("grid (after the profile and --set):")
    blocks = loaded.grid_blocks or [loaded.grid]
    indent = "    " if len(blocks) > 1 else "  "
    for number, block in enumerate(blocks, start=1):
        if len(blocks) > 1:
            out(f"  block {number}:")
        for axis, values in block.items():
            out(f"{indent}{axis}: {', '.join(_shown(value) for value in values)}")
    steps = sorted({state.steps for state in states})
    training = loaded.training
    out(
        f"points: {len(states)} x {len(seeds)} seeds ({seeds[0]}-{seeds[-1]}), "
        f"{' or '.join(f'{s:,}' for s in steps)} steps (batch {training.batch_size}, "
        f"evaluated every {training.eval_every:,})"
    )
    for state in states:
        out(f"  {json.dumps(state.point)}: {_status(state.damage)}")
    pending_seed_steps = sum(states[index].steps for index in pending) * len(seeds)
    out(
        f"writes: {directory} ({len(states) - len(pending)} already complete, {len(pending)} to run "
        f"in {len(config_stacks(loaded, pending, lanes=lanes or parallel.stack_workers('auto', 1 << 30)))} stacks, "
        f"{pending_seed_steps:,} seed-steps)"
    )
    guess = estimate(pending_seed_steps, [directory, results_directory(loaded, "results")])
    if not pending:
        out("estimate: nothing to train; a run would only rebuild the report")
    elif guess is None:
        out("estimate: unknown (no finished results of this config to take a rate from)")
    else:
        out(
            f"estimate: {duration(guess.seconds)} of training at the rate of {guess.reference} "
            f"({duration(guess.recorded.seconds)} {guess.recorded.kind} time for "
            f"{guess.recorded.seed_steps:,} seed-steps; TensorFlow start-up and graph building add seconds)"
        )


def _shown(value):
    return value if isinstance(value, str) else json.dumps(value)


def _status(damage):
    """A point's state in a dry run, from :func:`~experiments.points.damaged_point`'s answer."""
    if damage is None:
        return "complete"
    return "to run" if damage == "missing" else f"to run, {damage}"
