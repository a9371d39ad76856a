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


def make_schedule(name: str, lr0: float, *, interval: int = 1, decay_rate: float = 1.0,
                  base: float = 0.95, k: float = 1.0) -> Callable[[int], float]:
    """The schedule as a pure function: completed epochs -> the next epoch's learning rate.

    The name is looked up once, here (a ConfigError for an unknown one)."""
    rate = SCHEDULES.get(name)
    hyper = {"decay_rate": decay_rate, "base": base, "k": k}

    def learning_rate_after(epochs_done: int) -> float:
        return float(rate(lr0, epochs_done // interval, hyper))

    return learning_rate_after


def learning_rate(name: str, lr0: float, epochs_done: int, *, interval: int = 1,
                  decay_rate: float = 1.0, base: float = 0.95, k: float = 1.0) -> float:
    """The learning rate for the epoch after ``epochs_done`` completed epochs."""
    return make_schedule(name, lr0, interval=interval, decay_rate=decay_rate, base=base,
                         k=k)(epochs_done)
