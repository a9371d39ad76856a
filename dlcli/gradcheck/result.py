"""What a gradient check found (SPEC section 9): the verdict bands, per-array results, JSON.

    difference = ||grad - gradapprox||_2 / (||grad||_2 + ||gradapprox||_2)

and the verdict uses the course's bands: ``< 1e-7`` great, ``< 1e-3`` inspect, ``>= 1e-3`` bad.
The same formula restricted to one parameter array (W1, b1, gamma1, ...) gives that array's own
difference, so a bug is located, not only detected. Several results (the built-in check's two
networks) are summarised by ``to_json``: the overall difference is the worst case's, parameter
keys are prefixed with the case name (``sigmoid/W1``), so a bug in one case cannot hide behind
the other.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

GREAT = 1e-7                # difference < GREAT: great
BAD = 1e-3                  # difference >= BAD: bad; in between: inspect


def verdict_for(difference: float) -> str:
    """The course's bands: great (< 1e-7), inspect (< 1e-3), bad (>= 1e-3 or not a number)."""
    if difference < GREAT:
        return "great"
    if difference < BAD:
        return "inspect"
    return "bad"   # NaN compares false above, so a NaN gradient is bad too


def relative_difference(grad: np.ndarray, approx: np.ndarray) -> float:
    """``||grad - approx|| / (||grad|| + ||approx||)``; 0 when both are exactly zero."""
    denominator = float(np.linalg.norm(grad)) + float(np.linalg.norm(approx))
    if denominator == 0.0:
        return 0.0   # both vectors are zero: they agree
    return float(np.linalg.norm(grad - approx)) / denominator


@dataclass(frozen=True)
class ParamCheck:
    """The check of one parameter array (e.g. W2) in the course's shape."""

    name: str
    layer: int                      # l of W{l}, b{l}, gamma{l}, beta{l}
    shape: tuple[int, ...]
    size: int                       # components in the array
    checked: int                    # components checked (all unless sampled)
    difference: float               # SPEC 9 formula over the checked components of this array
    grad_norm: float                # ||grad|| over the checked components
    error_norm: float               # ||grad - approx|| over the checked components
    rounding: float                 # how large error_norm can get from rounding in J alone
    worst_index: tuple[int, ...] | None   # component with the largest |grad - approx|
    worst_abs_error: float
    worst_grad: float
    worst_approx: float

    @property
    def within_rounding(self) -> bool:
        """The discrepancy is no larger than rounding errors in J can make it.

        Then the relative difference says nothing: an array whose true gradient is zero (beta
        before a linear activation feeding batch norm, say) has a difference near 1 made of
        rounding noise alone."""
        return self.error_norm <= self.rounding

    @property
    def verdict(self) -> str:
        """The array's band; ``great`` when its discrepancy is within rounding noise."""
        return "great" if self.within_rounding else verdict_for(self.difference)


@dataclass(frozen=True)
class GradCheckResult:
    """The whole check: overall difference, verdict and one ``ParamCheck`` per array."""

    difference: float
    epsilon: float
    checked: int                    # components checked
    total: int                      # components in theta
    per_parameter: dict[str, ParamCheck]
    cost: float                     # J (J0 + penalties) at theta on the batch
    examples: int                   # size of the fixed batch
    dropout_disabled: bool          # the network had keep_prob < 1, switched off for the check
    source_dtype: str               # the network's own dtype (the check ran in float64)
    error_norm: float               # ||grad - approx|| over every checked component
    rounding: float                 # how large error_norm can get from rounding in J alone

    @property
    def verdict(self) -> str:
        return verdict_for(self.difference)

    @property
    def within_rounding(self) -> bool:
        """The whole discrepancy is rounding noise: the gradients are too small to judge at
        this epsilon (the verdict still follows SPEC's bands; a larger epsilon helps)."""
        return self.error_norm <= self.rounding

    @property
    def sampled(self) -> bool:
        return self.checked < self.total

    def suspects(self) -> list[str]:
        """Arrays that are not great, largest difference first."""
        off = [p for p in self.per_parameter.values() if p.verdict != "great"]
        return [p.name for p in sorted(off, key=lambda p: -_sortable(p.difference))]

    def first_discrepancy(self) -> str | None:
        """Where the bug most likely is: the worst array of the highest layer that is off.

        Backprop runs from the output down, so a wrong local gradient in layer l also spoils
        every layer below it, while the layers above stay right."""
        off = [p for p in self.per_parameter.values() if p.verdict != "great"]
        if not off:
            return None
        top = max(p.layer for p in off)
        in_top = [p for p in off if p.layer == top]
        return max(in_top, key=lambda p: _sortable(p.difference)).name


def _sortable(value: float) -> float:
    return math.inf if math.isnan(value) else value


def to_json(results: dict[str, GradCheckResult]) -> dict[str, Any]:
    """The ``--json`` object of SPEC section 0 for one or several checked networks.

    One network: ``parameters`` keys are the array names (``W1``). Several (the built-in check):
    keys are ``case/W1`` and the overall ``difference`` is the worst case's, so a bug in one
    network is never averaged away by a correct other one."""
    if not results:
        raise ValueError("no results")
    single = len(results) == 1
    difference = max((r.difference for r in results.values()), key=_sortable)
    parameters = {}
    for case, result in results.items():
        for name, check in result.per_parameter.items():
            # null for an array the sample left out (a budget smaller than the array count).
            value = _json_number(check.difference) if check.checked else None
            parameters[name if single else f"{case}/{name}"] = value
    epsilon = next(iter(results.values())).epsilon
    return {"difference": _json_number(difference), "verdict": verdict_for(difference),
            "epsilon": epsilon, "checked": sum(r.checked for r in results.values()),
            "parameters": parameters}


def _json_number(value: float) -> float | None:
    # JSON has no NaN; null says "could not be computed" and the verdict already says bad.
    return value if math.isfinite(value) else None
