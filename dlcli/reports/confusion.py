"""The confusion matrix of a classifier on one split (metrics.json's ``confusion``, ``dlcli show``).

Rows are the true classes, columns the predicted ones, in class order (scikit-learn's
convention): ``matrix[i][j]`` counts the examples of class ``i`` predicted as class ``j``, so the
diagonal holds the right answers and each row sums to the class's size in the split.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> list[list[int]]:
    """Counts of (true class, predicted class) pairs, as a list of rows of ints."""
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{y_true.size} labels but {y_pred.size} predictions")
    counts = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes).tolist()


def confusion_block(split: str, y_true: np.ndarray, y_pred: np.ndarray,
                    class_names: Sequence[str]) -> dict[str, Any]:
    """metrics.json's ``confusion``: the split it was counted on, the class names in order,
    and the matrix (rows: true class, columns: predicted class)."""
    return {"split": split, "labels": [str(name) for name in class_names],
            "matrix": confusion_matrix(y_true, y_pred, len(class_names))}


def confusion_rows(block: Mapping[str, Any]) -> tuple[list[str], list[list[str]]] | None:
    """(header, rows) for a table of a ``confusion`` block: a "true \\ predicted" corner, one
    column per predicted class, one row per true class; None when the block is malformed."""
    labels, matrix = block.get("labels"), block.get("matrix")
    if (not isinstance(labels, list) or not isinstance(matrix, list)
            or len(matrix) != len(labels)
            or not all(isinstance(row, list) and len(row) == len(labels) for row in matrix)):
        return None
    header = ["true \\ predicted", *[str(label) for label in labels]]
    rows = [[str(label), *[f"{int(count):,}" for count in row]]
            for label, row in zip(labels, matrix)]
    return header, rows
