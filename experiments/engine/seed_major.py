"""Seed-major stacks: several stacks of different models (the units of a table, each with its own optimiser
settings) that read the same seeds' inputs train as one step, on one draw per seed and step.

Every unit and operation of a static table draws the same inputs for a seed (its data depend on the seed
alone), so drawing them once for all of them instead of once per unit is the same numbers for less work:
the draw was over half of a 600-member linear or NAC stack's step on one core (9 of 15 ms). Each
:class:`MultiSeedTrainer` keeps its own model, Adam, clipping, regularisers, restarts and selection; the
one step draws the seeds' numbers once and hands each trainer its batch of them
(:func:`streams.replaying`: the very numbers it would draw alone), then updates every trainer; the
updates read nothing of one another, so TensorFlow may run them at once on several cores.
"""

from __future__ import annotations


from experiments.engine.streams import make_draw, replaying
from experiments.engine.trainer import GraphLoop, run_together

# What the trainers of one seed-major stack must share: one draw per step, one evaluation schedule.
SHARED_TRAINING = ("steps", "batch_size", "eval_every", "data_stream", "data_seed")


class SeedMajorStack(GraphLoop):
    """Train ``trainers`` (each a :class:`MultiSeedTrainer` of the same seeds and tasks that draw alike)
    together, one draw per seed and step; ``run`` returns one :class:`TrainingResult` per trainer, each
    on the data and from the initial weights it has alone (tests check both bit for bit), so its trained
    numbers are a lone run's to float rounding (a graph of several models may order a sum otherwise)."""

    def __init__(self, trainers):
        first = trainers[0]
        for trainer in trainers[1:]:
            different = [
                name
                for name in SHARED_TRAINING
                if getattr(trainer.training, name) != getattr(first.training, name)
            ]
            if trainer.seeds != first.seeds or different:
                raise ValueError(
                    "stacks trained on one draw need the same seeds and training "
                    f"{', '.join(SHARED_TRAINING)}; these differ in {different or ['seeds']}"
                )
        self.trainers = list(trainers)
        self.seeds = first.seeds
        self.training = first.training
        self.members = [member for trainer in self.trainers for member in trainer.members]

    def batch(self):
        """Each trainer's step number and batch, from one draw of the seeds' numbers for this step."""
        steps = [trainer.step.assign_add(1) for trainer in self.trainers]
        draw = make_draw(self.seeds, steps[0], self.training.data_stream, self.training.data_seed)
        again = replaying(draw)
        return steps, [trainer.learner.sample(again(), self.training.batch_size) for trainer in self.trainers]

    def update(self, steps, batches):
        """One update of every trainer on its batch (each its own loss, gradient and optimiser)."""
        return [trainer.update(step, batch) for trainer, step, batch in zip(self.trainers, steps, batches)]

    def evaluate(self):
        """Every trainer's :meth:`MultiSeedTrainer.evaluate`, in order."""
        return [trainer.evaluate() for trainer in self.trainers]

    def run(self, progress=None, checkpoint=None):
        """:meth:`MultiSeedTrainer.run` for every trainer at once: a list of their results, in order."""
        return run_together(self, self.trainers, progress, checkpoint)
