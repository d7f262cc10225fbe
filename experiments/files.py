"""Result files written whole or not at all: a reader (or an interrupted run) never sees half a file."""

from __future__ import annotations

import os
import pathlib
import tempfile


def write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename, so no half file is ever seen."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        pathlib.Path(temporary).unlink(missing_ok=True)
        raise


def write_csv(path, frame):
    write_atomic(path, frame.to_csv(index=False))
