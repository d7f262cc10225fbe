"""Command line: list the configs, run one (or show what it would run), rebuild reports, reproduce
everything, or benchmark."""

from __future__ import annotations

import argparse
import os
import pathlib
import signal
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from experiments import quiet  # noqa: E402
from experiments.executors import RunFailed  # noqa: E402  (after the TF log level is set)
from experiments.schema import ConfigError  # noqa: E402

CONFIGS_DIR = pathlib.Path(__file__).resolve().parent.parent / "configs"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ConfigError("usage", self.prog, message)


def parser():
    main_parser = _Parser(prog="python -m experiments", description=__doc__)
    commands = main_parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="run one experiment config")
    run.add_argument("config", help="path to configs/NAME.yaml")
    run.add_argument("--profile", default="default", help="smoke, default, long or paper")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. training.steps=100 (repeatable)",
    )
    run.add_argument(
        "--results",
        default=None,
        help="results root (default results/, or results/PROFILE/ for a profile other than default; "
        "with --set, results/custom/ and results/custom/PROFILE/)",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the grid, the points (which are already complete), seeds, steps, where it would write "
        "and an estimate; train and write nothing",
    )
    run.add_argument(
        "--executor", default="local", help="local (default) or ray: one Ray task per grid point"
    )
    run.add_argument(
        "--ray-address", default=None, help="Ray cluster address (default: start a local instance)"
    )
    run.add_argument(
        "--stacks",
        default="auto",
        help="local: stacks of grid points trained at once, in threads, each with its part of the cores "
        "(an integer, or auto: one per core this process may use; default auto)",
    )
    run.add_argument("--retries", type=int, default=2, help="Ray: retries of a failed grid point (default 2)")
    run.add_argument(
        "--num-gpus", type=float, default=0.0, help="Ray: GPUs requested per grid point (default 0)"
    )
    list_command = commands.add_parser(
        "list", help="one line per configs/*.yaml: what it reproduces, profiles, size, time"
    )
    list_command.add_argument("--results", default="results", help="results root the times are read from")
    report = commands.add_parser("report", help="rebuild every table and figure from the CSVs")
    report.add_argument("--results", default="results")
    reproduce = commands.add_parser(
        "reproduce", help="run every configs/*.yaml (default profile), then report"
    )
    reproduce.add_argument("--results", default=None, help="results root (default as for run)")
    reproduce.add_argument("--profile", default="default")
    reproduce.add_argument(
        "--jobs",
        default="1",
        help="configs run at once, each in its own process with its share of the CPU cores "
        "(an integer, or auto: one per core; default 1: one after another, in this process)",
    )
    bench = commands.add_parser("bench", help="seed-steps/s: vectorised runner vs per-seed model.fit")
    bench.add_argument("--seeds", type=int, default=100)
    bench.add_argument("--steps", type=int, default=500)
    return main_parser


def results_root(arguments):
    """Where a command writes: --results if given, else results/ for the default profile and
    results/PROFILE/ for any other, so a smoke or long run never touches the committed results; a run
    with --set writes under results/custom/ (results/custom/PROFILE/ for a profile other than default),
    as the committed results are what the configs say as written."""
    if arguments.results is not None:
        return arguments.results
    base = os.path.join("results", "custom") if getattr(arguments, "overrides", None) else "results"
    return base if arguments.profile == "default" else os.path.join(base, arguments.profile)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    # SIGTERM (a scheduler, timeout, kill) stops a run as Ctrl-C does: finished points kept, lock released
    previous = (
        signal.signal(signal.SIGTERM, _interrupt)
        if threading.current_thread() is threading.main_thread()
        else None
    )
    try:
        arguments = parser().parse_args(argv)
        return COMMANDS[arguments.command](arguments)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RunFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "\ninterrupted: completed grid points are kept; rerun the same command to resume", file=sys.stderr
        )
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run_and_report(loaded, results_root, executor=None):
    """Run one loaded config and rebuild its report and the results root's index (README.md, so that it
    shows what is on disk), holding its results folder's lock (taken, and the folder checked writable,
    before TensorFlow loads or any work starts); return (directory, wall)."""
    from experiments import files, report, runner

    with files.results_lock(runner.results_directory(loaded, results_root)):
        quiet.import_tensorflow()
        directory, wall = runner.run(loaded, results_root, executor=executor)
        report.report_experiment(directory)
        report.write_index(results_root)
    return directory, wall


def command_run(arguments):
    from experiments import config, executors, parallel
    from experiments.runner import config_stacks

    loaded = config.load(arguments.config, arguments.profile, arguments.overrides)
    # Seed-major stacks are dealt into one per stack trained at once here; under Ray, one per model.
    local = arguments.executor == "local"
    lanes = parallel.stack_workers(arguments.stacks, 1 << 30) if local else len(loaded.points())
    if arguments.dry_run:
        from experiments import listing

        listing.print_dry_run(loaded, results_root(arguments), lanes=lanes)
        return 0
    workers = 1
    if local:
        workers = parallel.stack_workers(arguments.stacks, len(config_stacks(loaded, lanes=lanes)))
        parallel.share_threads(workers)  # before TensorFlow loads
    executor = executors.make_executor(
        arguments.executor, arguments.ray_address, arguments.retries, arguments.num_gpus, workers
    )
    directory, wall = _run_and_report(loaded, results_root(arguments), executor)
    print(f"{loaded.name}: results in {directory} ({wall:.0f} s)")
    return 0


def command_list(arguments):
    from experiments import listing

    paths = [os.path.relpath(path) for path in sorted(CONFIGS_DIR.glob("*.yaml"))]
    return 2 if listing.list_configs(paths, arguments.results) else 0


def command_report(arguments):
    from experiments import report

    check_report_folders(arguments.results)
    try:
        directories = report.report_all(arguments.results)
    except OSError as error:  # the disk filled, a file was made read-only meanwhile, ...: files are whole
        where = (
            getattr(error, "filename2", None) or error.filename or arguments.results
        )  # os.replace: the target
        raise ConfigError(str(where), "(report)", f"cannot write the report ({error.strerror})") from None
    for directory in directories:
        print(f"report: {directory}")
    return 0


def check_report_folders(root):
    """Before any file is written, check that ``report`` can write in the results root and in every
    finished experiment folder under it (those with runs.csv and provenance.json); else one line."""
    root = pathlib.Path(root)
    if not root.is_dir():
        raise ConfigError(str(root), "--results", "no such folder; give a results root, e.g. results")
    finished = [
        d for d in sorted(root.glob("*/")) if (d / "runs.csv").exists() and (d / "provenance.json").exists()
    ]
    for folder in [root, *finished]:
        try:
            tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check.").close()
        except OSError as error:
            raise ConfigError(
                str(folder),
                "(folder)",
                f"cannot write the report here ({error.strerror}); nothing was written",
            ) from None


def command_reproduce(arguments):
    from experiments import config, parallel, report

    paths = [os.path.relpath(path) for path in sorted(CONFIGS_DIR.glob("*.yaml"))]
    loaded = [config.load(path, arguments.profile) for path in paths]  # validate all before any work
    jobs = parallel.job_count(arguments.jobs, len(loaded))
    root = results_root(arguments)
    started = time.perf_counter()
    if jobs > 1:
        timings = parallel.run_configs(paths, loaded, arguments.profile, root, jobs)
    else:
        timings = [(item.name, _run_and_report(item, root)[1]) for item in loaded]
    report.write_index(root)
    print(f"\nwall time per experiment{f' ({jobs} at once)' if jobs > 1 else ''}:")
    for name, wall in timings:
        print(f"  {name:32s} {wall:8.0f} s")
    print(f"  {'total':32s} {time.perf_counter() - started:8.0f} s")
    return 0


def command_bench(arguments):
    from experiments import bench, parallel

    # As `run` would share the cores among the stacks it trains at once, so that the rows of stacks
    # trained side by side and their former designs are measured under the same thread settings.
    workers = bench.stack_workers()  # before share_threads, which sets the per-op threads it would read
    parallel.share_threads(workers)
    quiet.import_tensorflow()
    bench.main(arguments.seeds, arguments.steps, workers)
    return 0


COMMANDS = {
    "list": command_list,
    "run": command_run,
    "report": command_report,
    "reproduce": command_reproduce,
    "bench": command_bench,
}
