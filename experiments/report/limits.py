"""Which part limits a reader-and-core model (Table 2), from the kept models' parts measured apart
(``reader_accuracy``, ``core_mae_at_N`` beside the whole model's ``mae_at_N``; see the engine's
``ReaderParts``): a sentence a finding's reason ends with."""

from __future__ import annotations

import re

import numpy as np

# The core limits where, fed ideal codes, it keeps at least this share of the whole model's error at the
# longest length; below it, what the reader misreads is most of the error.
CORE_SHARE = 0.5


def longest_length(runs):
    """The longest N with both ``core_mae_at_N`` and ``mae_at_N`` in ``runs``, or None."""
    lengths = [int(m.group(1)) for c in runs.columns if (m := re.fullmatch(r"core_mae_at_(\d+)", c))]
    lengths = [n for n in lengths if f"mae_at_{n}" in runs]
    return max(lengths) if lengths else None


def limiting_part(runs):
    """'limited by the reader: ...' or 'limited by the core: ...' with the medians over seeds it rests
    on, or None for runs without the parts measured."""
    length = longest_length(runs)
    if length is None or "reader_accuracy" not in runs:
        return None
    reader = float(np.median(runs["reader_accuracy"]))
    core = float(np.median(runs[f"core_mae_at_{length}"]))
    whole = float(np.median(runs[f"mae_at_{length}"]))
    numbers = (
        f"single digits read right {100 * reader:.1f}%; at length {length:,} MAE {_g(whole)} for the whole "
        f"model, {_g(core)} for the core alone fed ideal codes (medians over seeds)"
    )
    part = "core" if core >= CORE_SHARE * whole else "reader"
    return f"limited by the {part}: {numbers}"


def _g(value):
    return f"{value:.3g}"
