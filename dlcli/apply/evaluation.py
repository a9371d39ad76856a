"""``dlcli evaluate``: how well a trained run does on labelled data, as scikit-learn's
``classification_report`` and ``confusion_matrix`` say it.

The loss is J0 (SPEC section 3, no penalties) in inference mode, computed by the same code as
the run's own per-epoch evaluation, so on the run's own split it equals metrics.json's. A class
that is never predicted has precision 0, one with no examples recall 0 (scikit-learn's
``zero_division=0``), and F1 is 0 where precision and recall both are.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlcli.apply.inputs import Batch, chunk_rows_for
from dlcli.apply.model import Model
from dlcli.errors import DataError


@dataclass
class Evaluation:
    """Metrics of a model on one labelled data set."""

    source: str
    classes: list[int | str]
    loss: float
    accuracy: float
    confusion: np.ndarray    # (K, K): row = true class, column = predicted class

    @property
    def m(self) -> int:
        return int(self.confusion.sum())

    @property
    def support(self) -> np.ndarray:
        return self.confusion.sum(axis=1)

    @property
    def precision(self) -> np.ndarray:
        return _ratio(np.diag(self.confusion), self.confusion.sum(axis=0))

    @property
    def recall(self) -> np.ndarray:
        return _ratio(np.diag(self.confusion), self.support)

    @property
    def f1(self) -> np.ndarray:
        p, r = self.precision, self.recall
        return _ratio(2 * p * r, p + r)

    def averages(self) -> dict[str, dict[str, float]]:
        """Macro (every class alike) and weighted (by support) precision, recall and F1."""
        weights = self.support / max(self.m, 1)
        out = {}
        for name, w in (("macro", np.full(len(self.classes), 1 / len(self.classes))),
                        ("weighted", weights)):
            out[name] = {"precision": float(w @ self.precision),
                         "recall": float(w @ self.recall), "f1": float(w @ self.f1)}
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "data": self.source, "examples": self.m, "loss": self.loss,
            "accuracy": self.accuracy,
            "classes": [{"label": label, "precision": float(p), "recall": float(r),
                         "f1": float(f), "support": int(s)}
                        for label, p, r, f, s in zip(self.classes, self.precision, self.recall,
                                                     self.f1, self.support)],
            "averages": self.averages(),
            "confusion": {"labels": list(self.classes),
                          "matrix": self.confusion.astype(int).tolist()},
        }


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    top = np.asarray(top, dtype=np.float64)
    bottom = np.asarray(bottom, dtype=np.float64)
    return np.divide(top, bottom, out=np.zeros_like(top), where=bottom > 0)


def evaluate(model: Model, batches: Iterable[Batch], source: str) -> Evaluation:
    """Loss, accuracy and the confusion matrix of ``model`` on labelled ``batches``."""
    network = model.network
    K = len(model.info.classes)
    confusion = np.zeros((K, K), dtype=np.int64)
    losses: list[tuple[float, int]] = []
    with model.threads(chunk_rows_for(model.n_features)):   # the BLAS threads it trained with
        for batch in batches:
            assert batch.y is not None
            if batch.m == 0:   # an empty file: "holds no examples" below
                continue
            loss, _ = network.evaluate(batch.rows, batch.y)
            losses.append((loss, batch.m))
            predicted = model.class_of(network.logits(batch.rows))
            confusion += np.bincount(batch.y * K + predicted, minlength=K * K).reshape(K, K)
    m = int(confusion.sum())
    if m == 0:
        raise DataError("holds no examples", file=source)
    # One batch (the run's own split): its loss as the run's evaluation gives it, untouched.
    loss = losses[0][0] if len(losses) == 1 else sum(value * count for value, count in losses) / m
    return Evaluation(source, list(model.info.classes), loss, float(np.trace(confusion)) / m,
                      confusion)
