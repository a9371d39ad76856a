"""Input transforms: what dlcli does to a data file's feature values before it normalises them
(SPEC section 13: a Keras-style ``mnist.npz`` has its pixels "flattened and scaled").

A run records its training file's transforms in model.json (``transforms``), so applying the run
(``dlcli predict``/``evaluate``, ``load_run(...).predict``, the ONNX export) does to raw values
exactly what training did: transforms in order, in float64, then normalisation
(``prepare.normalize``). Each transform is a one-key mapping ``{operation: argument}``:

- ``{"divide": 255.0}``: ``x / 255`` (a ``mnist.npz`` whose training images are uint8 or go above
  1, so pixels lie in [0, 1]; ``files._read_mnist`` decides).

Flattening images to rows is not a transform of the values (``features.image_shape`` records it),
and neither is the cast to the run's dtype (``dtype``).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

Transform = dict[str, float]

OPERATIONS = ("divide",)
PIXEL_RANGE = 255.0   # an 8-bit image's largest value: mnist.npz pixels are divided by it


def divide(by: float) -> Transform:
    """The transform ``x / by``."""
    return {"divide": float(by)}


def pixel_transforms(images: np.ndarray) -> list[Transform]:
    """How a Keras-style ``mnist.npz`` is scaled, decided on its training images: divided by 255
    when they are uint8 or go above 1 (so pixels lie in [0, 1]), else kept as stored."""
    if images.dtype == np.uint8 or (images.size and float(images.max()) > 1.0):
        return [divide(PIXEL_RANGE)]
    return []


def apply_transforms(X: np.ndarray, transforms: Sequence[Transform]) -> np.ndarray:
    """``X`` (a float64 array, modified in place) with ``transforms`` applied in order."""
    for transform in transforms:
        (operation, argument), = transform.items()
        if operation == "divide":
            X /= argument
        else:   # check_transforms keeps others out of model.json
            raise AssertionError(f"unknown input transform {operation!r}")
    return X


def check_transforms(value: Any) -> str | None:
    """Why ``value`` (read from model.json) is not a list of transforms, or None when it is."""
    if not isinstance(value, list):
        return "must be a list of transforms such as {\"divide\": 255.0}"
    for item in value:
        if not isinstance(item, dict) or len(item) != 1:
            return "must hold one-key mappings such as {\"divide\": 255.0}"
        (operation, argument), = item.items()
        if operation not in OPERATIONS:
            return f"holds {operation!r}; this dlcli knows {', '.join(OPERATIONS)}"
        if (isinstance(argument, bool) or not isinstance(argument, (int, float))
                or not math.isfinite(argument) or argument == 0):
            return f"holds {operation}: {argument!r}, which must be a finite non-zero number"
    return None
