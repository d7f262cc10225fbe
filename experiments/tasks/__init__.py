"""The experiments: one module per task, found by listing this package.

A task module defines ``TASK_SCHEMA`` (its ``task:`` keys), ``AXES`` (the grid axes it knows) and
``build(point)``, which returns a :class:`experiments.engine.Task`: the model's layers, the in-graph training
sampler and the fixed evaluation sets. Optionally ``STACK_AXES``: grid axes whose points train together
on each seed's one set of draws (one model), and ``SEED_MAJOR_AXES``: further axes whose stacks train
as one step on those draws, each its own model and training settings; ``RECORDS_TRACE = True`` when its
tasks carry a ``trace`` (then a point without its trace file is not complete). Everything else (configs,
sweeps, seeds, training, metrics, results, resume, progress) is the runner's. Adding an experiment is a
module here plus a YAML in ``configs/``.
"""
