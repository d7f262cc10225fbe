"""What a finished results folder records, read back without the report: the grid axes its rows are keyed
by, and the compute time of its points.

Below both of its readers: the report shows the compute time in results/README.md, and
``reproduce --jobs`` (``experiments.parallel``) starts the longest configs first by it.
"""

from __future__ import annotations

import pathlib

import pandas as pd


def grid_axes(config):
    """The grid axes of a config (as provenance.json records it), in order: the key of every result row."""
    return list(config["grid"])


def compute_time(directory, config):
    """Seconds spent training and evaluating, summed over grid points (each row holds its point's time)."""
    runs = pd.read_csv(pathlib.Path(directory) / "runs.csv")
    return float(runs.groupby(grid_axes(config), sort=False)["wall_time_s"].first().sum())
