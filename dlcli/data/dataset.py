"""The data a run trains on: splits of row-major features and integer class labels."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Split:
    """One split. ``X`` is (m, n_features), C-contiguous, in the run's dtype; ``y`` is (m,)
    int64 class labels 0..K-1."""

    X: np.ndarray
    y: np.ndarray

    @property
    def m(self) -> int:
        return int(self.X.shape[0])


@dataclass
class Dataset:
    """Train, optional dev and test splits, normalised with statistics of the training split."""

    train: Split
    dev: Split | None
    test: Split | None
    n_classes: int
    class_names: list[str]
    feature_names: list[str]
    image_shape: tuple[int, int] | None = None  # (height, width) for image data, else None
    # The fitted normalisation: x_normalised = (x - shift) / scale, per feature.
    shift: np.ndarray | None = None
    scale: np.ndarray | None = None
    source: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    # The original label of each class 0..K-1 (int or str, see prepare), and the label column
    # of a CSV file ("y" for NPZ files, None for built-in data sets).
    classes: list[int | str] = field(default_factory=list)
    label_column: str | None = None
    # What was done to the training file's values before normalisation (dlcli.data.transforms):
    # applying the run does it to raw values too.
    transforms: list[dict[str, float]] = field(default_factory=list)

    @property
    def n_features(self) -> int:
        return int(self.train.X.shape[1])

    def splits(self) -> dict[str, Split]:
        """The splits that exist, by name (``train``, ``dev``, ``test``)."""
        named = {"train": self.train, "dev": self.dev, "test": self.test}
        return {name: split for name, split in named.items() if split is not None}
