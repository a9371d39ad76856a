"""Raw examples of one source before labels are encoded and features normalised (SPEC 0, 13).

Every source (a built-in generator, a CSV file, an NPZ file, one half of a ``mnist.npz``) is read
into a ``Table``; ``dlcli.data.prepare`` turns the tables of a run into a ``Dataset``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Table:
    """Features and label values as read.

    ``X`` is (m, n_features) float64, owned by the table (later stages may modify it in place);
    it may be a strided view of a larger array read from a file.
    ``labels`` is (m,) int64 with values >= 0, or a unicode string array; encoding to 0..K-1
    happens later, across train, dev and test together.
    """

    X: np.ndarray
    labels: np.ndarray
    feature_names: list[str]
    source: str                               # file path, or the built-in data set's name
    kind: str                                 # "builtin" | "csv" | "npz" | "mnist"
    image_shape: tuple[int, int] | None = None
    label_column: str | None = None           # the CSV target column, "y" for NPZ files
    class_names: list[str] | None = None      # names of labels 0..K-1 when the source knows them
    header: bool = True                       # a CSV file's first row names its columns
    mapped: bool = False                      # X is a read-only memory map of the file
    # Turns a 0-based example index into text saying where it is in the source (line number of a
    # CSV file, index in an NPZ file). Only called when reporting an error.
    where: Callable[[int], str] | None = None
    # What is done to X's values before normalisation (dlcli.data.transforms), in order; X
    # holds them as the file stores them until prepare applies these.
    transforms: list[dict[str, float]] = field(default_factory=list)

    @property
    def m(self) -> int:
        return int(self.X.shape[0])

    @property
    def numeric_labels(self) -> bool:
        return self.labels.dtype.kind in "iu"

    def describe_row(self, index: int) -> str:
        """Where example ``index`` (0-based) sits, for an error message."""
        return self.where(index) if self.where is not None else ""
