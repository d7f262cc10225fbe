"""The experiment runner: ``python -m experiments run|report|reproduce|bench``.

Shared machinery (config validation, sweeps, seeds, multi-seed training, metrics, result writing, resume,
progress, reports) lives here; each experiment module owns only its data and its model.
"""
