"""Initial weights that depend only on the run seed, the layer, the parameter's name and the restart: seed
k among 64 starts from the same weights as seed k alone (tests check this bit for bit)."""

from __future__ import annotations

import zlib

import keras
import numpy as np


def initial_value(initializer, shape, seed):
    """Value of a Keras initialiser for one seed: a fresh, seeded copy, so it is reproducible."""
    initializer = keras.initializers.get(initializer)
    config = initializer.get_config()
    if "seed" in config:
        config["seed"] = seed
    return keras.ops.convert_to_numpy(type(initializer).from_config(config)(shape, "float32"))


def parameter_seed(seed, layer_index, name, restart=0):
    """A 31-bit seed that depends only on the run seed, the layer, the parameter name and the restart."""
    # The first draw (restart 0) keeps the entropy it had before restarts existed: same initial weights.
    entropy = [seed, layer_index, zlib.crc32(name.encode())] + ([restart] if restart else [])
    state = np.random.SeedSequence(entropy).generate_state(1)
    return int(state[0] % (2**31 - 1))
