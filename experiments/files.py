"""Result files written whole or not at all, readable by colleagues, and one writer per results folder.

A reader (or an interrupted run) never sees half a file: every file goes through a uniquely named
temporary file and a rename. Files get the mode a plain ``open`` would give them (0666 less the umask:
0644 with the usual umask), not ``mkstemp``'s private 0600. A results folder is written by one run at a
time: :func:`results_lock` holds a lock file naming the writer's PID.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import tempfile

from experiments.schema import ConfigError

LOCK_NAME = ".lock"


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temporary(path, suffix):
    """A new, uniquely named temporary file beside ``path``: (open descriptor, its path)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.chmod(temporary, 0o666 & ~_umask())
    return handle, pathlib.Path(temporary)


@contextlib.contextmanager
def _replacing(path, suffix):
    """Yield a uniquely named temporary path beside ``path`` to write; on success it replaces ``path``
    (a rename: no reader sees half a file), on any failure it is removed."""
    path = pathlib.Path(path)
    handle, temporary = _temporary(path, suffix)
    os.close(handle)
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename, so no half file is ever seen."""
    with _replacing(path, ".tmp") as temporary, open(temporary, "w") as stream:
        stream.write(text)


def save_arrays(path, arrays):
    """Save a dict of NumPy arrays to ``path`` (.npz) atomically: a reader finds the old file or the new."""
    import numpy as np

    with _replacing(path, ".tmp.npz") as temporary, open(temporary, "wb") as stream:
        np.savez(stream, **arrays)


def load_arrays(path):
    """The dict of arrays saved at ``path`` by :func:`save_arrays`, or None if there is no readable file."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, KeyError):
        return None


def write_csv(path, frame):
    write_atomic(path, frame.to_csv(index=False))


def save_figure(figure, path, **options):
    """Save a matplotlib figure to ``path`` atomically, through a uniquely named temporary PNG."""
    with _replacing(path, ".tmp.png") as temporary:
        figure.savefig(temporary, format="png", **options)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


@contextlib.contextmanager
def results_lock(directory):
    """Hold ``directory/.lock`` (it names this process's PID) while a run writes ``directory``.

    Checked before any work: a folder that cannot be written, or that another live run holds, is a
    :class:`ConfigError` in one line. A lock left by a process that no longer exists is taken over.
    """
    directory = pathlib.Path(directory)
    lock = directory / LOCK_NAME
    created = not directory.exists()  # removed again if the run leaves it empty: nothing half-written
    try:
        (directory / "points").mkdir(parents=True, exist_ok=True)
        for _ in range(2):  # a second try after removing a stale lock
            try:
                handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                break
            except FileExistsError:
                try:
                    holder = int(lock.read_text().strip() or 0)
                except (OSError, ValueError):
                    holder = 0
                if holder and _alive(holder):
                    raise ConfigError(
                        str(directory),
                        "lock",
                        f"another run (PID {holder}) is writing this results folder; wait for it to finish, or remove {lock} if that process is not ours",
                    ) from None
                lock.unlink(missing_ok=True)
        else:
            raise ConfigError(str(directory), "lock", f"could not take {lock}")
        with os.fdopen(handle, "w") as stream:
            stream.write(f"{os.getpid()}\n")
        probe = tempfile.NamedTemporaryFile(dir=directory / "points", prefix=".write-check.", delete=True)
        probe.close()
    except ConfigError:
        raise
    except OSError as error:  # read-only, not a folder, full disk, ...
        raise ConfigError(
            str(directory), "(folder)", f"cannot write results here ({error.strerror}: {error.filename})"
        ) from None
    try:
        yield directory
    finally:
        lock.unlink(missing_ok=True)
        if created:
            for folder in (directory / "points", directory):
                with contextlib.suppress(OSError):  # not empty: the run wrote results, keep them
                    folder.rmdir()
