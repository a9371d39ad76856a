"""Learning-rate decay (SPEC section 7): the rate is a pure function of completed epochs.

``e`` is the number of completed epochs (the first epoch uses lr0); ``n = floor(e / interval)``.
"""
from __future__ import annotations

import math
from collections.abc import Callable

from dlcli.registry import Registry

RateFn = Callable[[float, int, dict], float]


def _none(lr0: float, n: int, h: dict) -> float:
    return lr0


def _inverse_time(lr0: float, n: int, h: dict) -> float:
    return lr0 / (1.0 + h["decay_rate"] * n)


def _exponential(lr0: float, n: int, h: dict) -> float:
    return lr0 * h["base"] ** n


def _inverse_sqrt(lr0: float, n: int, h: dict) -> float:
    return lr0 * h["k"] / math.sqrt(n + 1)


SCHEDULES: Registry[RateFn] = Registry("schedule.name", {
    "none": _none, "inverse_time": _inverse_time, "exponential": _exponential,
    "inverse_sqrt": _inverse_sqrt,
})


def learning_rate(name: str, lr0: float, epochs_done: int, *, interval: int = 1,
                  decay_rate: float = 1.0, base: float = 0.95, k: float = 1.0) -> float:
    """The learning rate for the epoch after ``epochs_done`` completed epochs."""
    n = epochs_done // interval
    return float(SCHEDULES.get(name)(lr0, n, {"decay_rate": decay_rate, "base": base, "k": k}))
