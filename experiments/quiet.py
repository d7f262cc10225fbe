"""TensorFlow without its start-up notes: the commands import it through :func:`import_tensorflow`.

TensorFlow's C++ side prints, at import and at the first device query, lines that say nothing wrong on
this kind of machine: absl's note that logging is not initialised, oneDNN and CPU-instruction notes, and
on machines without an NVIDIA driver "could not find cuda drivers" and "failed call to cuInit".
``TF_CPP_MIN_LOG_LEVEL=2`` hides some; the others go to file descriptor 2 before Python can intercept
them, so they are captured there and filtered. Every other line is printed as it came, errors included;
the CUDA lines are kept wherever an NVIDIA device exists, since there they do mean something.
"""

from __future__ import annotations

import glob
import os
import sys
import tempfile

STARTUP_NOTES = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions",
)
NO_GPU_NOTES = ("Could not find cuda drivers on your machine", "failed call to cuInit")


def has_nvidia_device():
    return bool(glob.glob("/dev/nvidia[0-9]*"))


def filter_startup_lines(text, gpu_present):
    """The lines of ``text`` that are not known start-up notes (the CUDA ones only when no GPU exists)."""
    notes = STARTUP_NOTES + (() if gpu_present else NO_GPU_NOTES)
    return [line for line in text.splitlines() if line.strip() and not any(note in line for note in notes)]


def import_tensorflow():
    """Import TensorFlow and query its devices with the start-up notes filtered from standard error."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")  # where the CUDA probe runs
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in filter_startup_lines(captured.read().decode(errors="replace"), has_nvidia_device()):
                print(line, file=sys.stderr)
    return tf
