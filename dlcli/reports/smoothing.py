"""Exponentially weighted moving average with bias correction, for reading noisy curves.

The course formula: ``v_0 = 0``, ``v_t = beta * v_{t-1} + (1 - beta) * x_t``, and the value shown
is ``v_t / (1 - beta^t)``. Without the correction the first values are pulled towards 0 because
``v_0 = 0``; dividing by ``1 - beta^t`` (the total weight the average has given so far) removes
that pull, so the smoothed curve starts where the data starts.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from dlcli.errors import InputError


def check_beta(beta: float) -> None:
    """An InputError unless ``0 <= beta < 1`` (beta = 1 would never move off v_0)."""
    if not 0.0 <= beta < 1.0:
        raise InputError(f"the smoothing beta must be in [0, 1), e.g. 0.9; got {beta}")


def ewma(values: Sequence[float | None], beta: float) -> list[float | None]:
    """The bias-corrected EWMA of ``values``, one output per input.

    A missing (None) or non-finite value (a diverged run's nan or inf) is a gap: its output is
    None and it does not enter the average, so ``t`` counts only the values averaged. ``beta = 0``
    returns the values unchanged.
    """
    check_beta(beta)
    smoothed: list[float | None] = []
    v, t = 0.0, 0
    for x in values:
        if x is None or not math.isfinite(x):
            smoothed.append(None)
            continue
        t += 1
        v = beta * v + (1.0 - beta) * x
        smoothed.append(v / (1.0 - beta**t))
    return smoothed
