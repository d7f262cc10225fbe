"""A stack's state mid-training, so that an interrupted stack continues to the same numbers, bit for bit.

The state is the trainer's parameters, its kept (best) parameters, Adam's slots and step, the selection and
success records, restarts, the history so far and the elapsed time. The data stream needs none: each step's
draws are keyed by the step number. :meth:`MultiSeedTrainer.state` and :meth:`MultiSeedTrainer.restore` are
the way in; this module lays the state out as named arrays.
"""

from __future__ import annotations

import dataclasses

import numpy as np

SECONDS = 120.0  # a stack with a checkpoint path saves its state after an evaluation at most this often
STATE = ("step", "diverged", "best_validation", "best_step", "solved_at")  # the trainer's records


@dataclasses.dataclass
class Saved:
    """What a checkpoint holds besides the variables it assigns."""

    done: int
    initial: tuple
    latest: tuple
    elapsed: float
    restarts: np.ndarray
    stale_evaluations: np.ndarray
    history: list


def _variables(trainer):
    """(name in the checkpoint, variable) of everything restored by assignment."""
    pairs = [(f"param/{i}/{n}", v) for i, p in enumerate(trainer.model.params) for n, v in p.items()]
    pairs += [(f"best/{i}/{n}", v) for i, p in enumerate(trainer.best) for n, v in p.items()]
    pairs += [(f"optimizer/{i}", v) for i, v in enumerate(trainer.optimizer.variables)]
    return pairs + [(f"state/{name}", getattr(trainer, name)) for name in STATE]


def pack(trainer, done, initial, latest, elapsed):
    """The arrays to save for ``trainer`` after ``done`` steps (see :meth:`MultiSeedTrainer.state`)."""
    arrays = {"members": np.array(trainer.members), "done": np.array(done), "elapsed": np.array(elapsed)}
    arrays.update({key: variable.numpy() for key, variable in _variables(trainer)})
    arrays["restarts"], arrays["stale_evaluations"] = trainer.restarts, trainer.stale_evaluations
    for which, values in (("initial", initial), ("latest", latest)):
        for index, value in enumerate(values):
            arrays[f"{which}/{index}"] = np.asarray(value)
    arrays["history_length"] = np.array(len(trainer.history))
    for index, evaluation in enumerate(trainer.history):
        for name, value in evaluation.items():
            arrays[f"history/{index}/{name}"] = np.asarray(value)
    return arrays


def fits(trainer, arrays):
    """Whether arrays saved by :func:`pack` belong to ``trainer``'s members and model."""
    members = arrays.get("members")
    if members is None or not np.array_equal(members, trainer.members):
        return False
    return all(
        key in arrays and arrays[key].shape == tuple(variable.shape) for key, variable in _variables(trainer)
    )


def unpack(trainer, arrays):
    """Assign ``trainer``'s variables from arrays saved by :func:`pack` and return the rest as
    :class:`Saved`, or return None (assigning nothing) when they belong to other members or another model."""
    if not fits(trainer, arrays):
        return None
    for key, variable in _variables(trainer):
        variable.assign(arrays[key])
    history = []
    for index in range(int(arrays["history_length"])):
        prefix = f"history/{index}/"
        evaluation = {key[len(prefix) :]: arrays[key] for key in arrays if key.startswith(prefix)}
        evaluation["step"] = int(evaluation["step"])
        history.append(evaluation)
    return Saved(
        done=int(arrays["done"]),
        initial=tuple(arrays[f"initial/{i}"] for i in range(2)),
        latest=tuple(arrays[f"latest/{i}"] for i in range(2)),
        elapsed=float(arrays["elapsed"]),
        restarts=arrays["restarts"].copy(),
        stale_evaluations=arrays["stale_evaluations"].copy(),
        history=history,
    )


def _parts(trainers, arrays):
    """Each trainer's arrays in a checkpoint of several (``part<i>/`` before their names; one trainer's
    are not prefixed, so a lone stack's checkpoint keeps the layout it always had)."""
    if len(trainers) == 1:
        return [arrays]
    return [
        {key[len(prefix) :]: value for key, value in arrays.items() if key.startswith(prefix)}
        for prefix in (f"part{index}/" for index in range(len(trainers)))
    ]


def pack_all(trainers, done, initial, latest, elapsed):
    """The arrays of :func:`pack` for trainers trained together (``initial`` and ``latest``: one pair each)."""
    if len(trainers) == 1:
        return pack(trainers[0], done, initial[0], latest[0], elapsed)
    arrays = {}
    for index, trainer in enumerate(trainers):
        packed = pack(trainer, done, initial[index], latest[index], elapsed)
        arrays.update({f"part{index}/{key}": value for key, value in packed.items()})
    return arrays


def restore_all(trainers, arrays):
    """Restore trainers trained together from :func:`pack_all`'s arrays; return (done, initial per trainer,
    latest per trainer, elapsed), or None, loading nothing, unless every trainer's part fits."""
    parts = _parts(trainers, arrays)
    if not all(fits(trainer, part) for trainer, part in zip(trainers, parts)):
        return None
    saved = [trainer.restore(part) for trainer, part in zip(trainers, parts)]
    return saved[0][0], [s[1] for s in saved], [s[2] for s in saved], saved[0][3]
