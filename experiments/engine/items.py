"""A recurrent layer's input part for sequences of table items, computed once per item and looked up per
position: what :class:`~experiments.engine.stacked.StackedModel` hands its first recurrent layer when a
batch has more positions than its table has items (Table 3's 169 numbers of 4 words read 29 words)."""

from __future__ import annotations

import dataclasses

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class ProjectedItems:
    """``parts``: the cell's input part of every table item, a tuple of (members, items, width);
    ``indices``: the item at each position, (members, batch, time). Read as the inputs it replaces: its
    ``shape`` is (members, batch, time) and ``at(t)`` is time step t's parts, (members, batch, width)."""

    parts: tuple
    indices: tf.Tensor

    @property
    def shape(self):
        return self.indices.shape

    @property
    def dtype(self):
        return self.parts[0].dtype

    def at(self, t):
        """Time step ``t``'s input parts: each item's projection gathered for its positions."""
        return tuple(tf.gather(part, self.indices[:, :, t], batch_dims=1) for part in self.parts)
