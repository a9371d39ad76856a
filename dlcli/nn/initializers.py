"""Weight initialisers (SPEC section 4): standard normal weights times a scale; b = 0.

Each initialiser maps (n_out, n_in, init_scale) to the scale of the standard normal draw.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from dlcli.registry import Registry

ScaleFn = Callable[[int, int, float], float]


def _zeros(n_out: int, n_in: int, scale: float) -> float:
    return 0.0  # every unit computes the same thing: the symmetry problem, on purpose


def _random(n_out: int, n_in: int, scale: float) -> float:
    return scale


def _lecun(n_out: int, n_in: int, scale: float) -> float:
    return math.sqrt(1.0 / n_in)


def _he(n_out: int, n_in: int, scale: float) -> float:
    return math.sqrt(2.0 / n_in)


def _xavier(n_out: int, n_in: int, scale: float) -> float:
    return math.sqrt(2.0 / (n_in + n_out))


INITIALIZERS: Registry[ScaleFn] = Registry(
    "model.init",
    {"zeros": _zeros, "random": _random, "lecun": _lecun, "he": _he, "xavier": _xavier},
    aliases={"tanh": "lecun"},
)


def init_weights(name: str, n_out: int, n_in: int, *, rng: np.random.Generator,
                 dtype: np.dtype, init_scale: float = 0.01) -> np.ndarray:
    """A (n_out, n_in) weight matrix: ``standard_normal * scale`` (``randn``-like, not ``rand``)."""
    # Python float scale: multiplying a float32 array by it keeps float32.
    scale = float(INITIALIZERS.get(name)(n_out, n_in, init_scale))
    W = rng.standard_normal((n_out, n_in), dtype=np.float64)
    return (W * scale).astype(dtype, copy=False)
