"""``dlcli predict``: one line per example, written as the examples stream in.

CSV (the default): a header, then the predicted label (the run's original class label) and,
with probabilities, one column ``proba_<class>`` per class in the run's class order. JSON: one
array, one object per example (``{"prediction": ..., "probabilities": {class: p, ...}}``),
written an example per line so it too streams. Probabilities carry all the digits of a float64
(Python's shortest round-trip form).
"""
from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterable
from typing import TextIO

import numpy as np

from dlcli.apply.inputs import Batch, chunk_rows_for
from dlcli.apply.model import Model

FORMATS = ("csv", "json")


def write_predictions(model: Model, batches: Iterable[Batch], out: TextIO, *,
                      proba: bool = False, fmt: str = "csv") -> int:
    """Write the predictions of every batch to ``out``; returns the number of examples."""
    with model.threads(chunk_rows_for(model.n_features)):   # the BLAS threads it trained with
        return _write(model, batches, out, proba, fmt)


def _write(model: Model, batches: Iterable[Batch], out: TextIO, proba: bool, fmt: str) -> int:
    classes = model.info.classes
    labels = np.asarray(classes, dtype=object)
    count = 0
    # The first batch before the first line: a missing file or a wrong column is reported
    # without a header printed ahead of it.
    pending = iter(batches)
    first = next(pending, None)
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["prediction", *([f"proba_{c}" for c in classes] if proba else [])])
    else:
        out.write("[")
    for batch in itertools.chain([first] if first is not None else [], pending):
        index, probabilities = model.apply(batch.rows)
        predicted = labels[index].tolist()
        if fmt == "csv":
            if proba:
                writer.writerows([label, *row]
                                 for label, row in zip(predicted, probabilities.tolist()))
            else:
                writer.writerows([label] for label in predicted)
        else:
            lines = []
            for i, label in enumerate(predicted):
                item: dict = {"prediction": label}
                if proba:
                    item["probabilities"] = dict(zip(map(str, classes),
                                                     probabilities[i].tolist()))
                lines.append(json.dumps(item))
            out.write(("\n" if count == 0 else ",\n") + ",\n".join(lines))
        count += len(predicted)
    if fmt == "json":
        out.write("\n]\n" if count else "]\n")
    return count
