"""Random streams: one seed, split into independent generators (STYLE: Randomness).

Changing ``keep_prob`` draws more numbers from the dropout stream but never shifts the initial
weights, which come from their own stream.

The data stream (data generation, the dev/test split) may come from a seed of its own,
``data.seed`` (SPEC section 0): a study that varies ``seed`` keeps one data split. Without it,
the data stream is the top-level seed's, so ``data.seed`` equal to ``seed`` changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np


@dataclass
class Streams:
    data: np.random.Generator
    init: np.random.Generator
    shuffle: np.random.Generator
    dropout: np.random.Generator
    augment: np.random.Generator

    @classmethod
    def from_seed(cls, seed: int, data_seed: int | None = None) -> Streams:
        children = np.random.SeedSequence(seed).spawn(len(fields(cls)))
        if data_seed is not None:
            # The same child a run with ``seed = data_seed`` would draw its data from.
            children[0] = np.random.SeedSequence(data_seed).spawn(len(fields(cls)))[0]
        return cls(*(np.random.Generator(np.random.PCG64(child)) for child in children))

    def state_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name).bit_generator.state for f in fields(self)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for f in fields(self):
            getattr(self, f.name).bit_generator.state = state[f.name]
