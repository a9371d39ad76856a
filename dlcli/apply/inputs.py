"""The examples a trained run is applied to (``dlcli predict INPUT``, ``dlcli evaluate DATA``),
read a chunk of rows at a time and prepared as the run's training data was.

INPUT is, in this order: an existing file (a CSV file with a header row, an NPZ file with
``X`` and, for evaluation, ``y``, or an NPY table); the run's own split ``train``, ``dev`` or ``test``; or a
built-in data set name. Decisions (docs/decisions.md):

- CSV columns are matched to the training features by name, in any order. A file whose first
  row holds only numbers has no header; its columns are ``col1, col2, ...`` as a training file
  without a header names them. A CSV file is read a chunk of rows at a time (about a million
  values: 32,768 rows of 32 features), so its size does not bound memory. The training file's
  label column (or ``target``) is read for evaluation and ignored for prediction; any other
  column is an error (a misspelt feature would otherwise be dropped silently).
- NPZ files: ``X`` (m, n_features), or images (m, h, w) flattened; a Keras-style ``mnist.npz``
  gives its test half. Every input is taken as the training file stored its values: the run's
  input transforms (model.json's ``transforms``, a mnist.npz's pixels / 255) are applied to it,
  whatever its format, so 8-bit pixels are given as they are. The features are read a chunk of
  rows at a time as a CSV file's are, compressed (``savez_compressed``) or not
  (``dlcli.npzfile.MemberRows``; an array stored in Fortran order is read whole); the labels
  for evaluation, one value per example, are read whole.
- ``train``/``dev``/``test`` rebuild the run's data from its config.yaml (the data file must
  still be there, a built-in data set is drawn again from the run's seed); if the data no
  longer gives the normalisation statistics the run recorded, it is not the data the run
  trained on, and that is an error rather than numbers about other data.
- A built-in data set is drawn with the run's data seed, and with the run's options when it
  is the run's own data set (so ``moons`` for a moons run is every example the run drew,
  before its dev and test splits were carved).
- Labels for evaluation must be among the run's classes, as the training file wrote them.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlcli.apply.model import Model
from dlcli.config.load import load_config, read_yaml
from dlcli.data.builtin import DATASETS, load_builtin
from dlcli.data.columns import column_order, listing
from dlcli.errors import DataError, InputError, os_reason
from dlcli.npzfile import MemberRows, open_npz
from dlcli.run_schema import CONFIG_FILE
from dlcli.build import data_stream, load_run_data
from dlcli.numbers import counted, is_number

CHUNK_VALUES = 1 << 20    # feature values per chunk: 8 MiB of float64, whatever the width
MAX_CHUNK_ROWS = 65536
SPLITS = ("train", "dev", "test")


@dataclass
class Batch:
    """Rows ready for the network (normalised, in its dtype), their labels as class numbers
    0..K-1 when asked for, and the 0-based index of the first row in the input."""

    rows: Any                    # (m, n_features) array, or a split's row source
    y: np.ndarray | None
    first: int

    @property
    def m(self) -> int:
        return int(self.rows.shape[0])


def chunk_rows_for(n_features: int) -> int:
    """Rows per chunk: about CHUNK_VALUES values, at most MAX_CHUNK_ROWS rows."""
    return max(64, min(MAX_CHUNK_ROWS, CHUNK_VALUES // max(n_features, 1)))


def batches(model: Model, source: str, *, labels: bool = False, target: str | None = None,
            chunk_rows: int | None = None) -> Iterator[Batch]:
    """The examples of ``source`` for ``model``, ``chunk_rows`` at a time (default:
    ``chunk_rows_for`` its feature count; see the module's docstring for what ``source`` may
    be). ``labels``: also read and encode the labels."""
    if chunk_rows is None:
        chunk_rows = chunk_rows_for(model.n_features)
    path = Path(source)
    if path.is_dir():
        raise DataError("is a directory, not a data file (give a CSV or NPZ file)", file=source)
    if path.exists():
        with open(path, "rb") as handle:
            magic = handle.read(4)
        if magic.startswith(b"PK"):
            yield from _npz_batches(model, source, labels, chunk_rows)
        elif magic.startswith(b"\x93NU"):
            yield from _npy_batches(model, source, labels, target, chunk_rows)
        else:
            yield from _csv_batches(model, source, labels, target, chunk_rows)
    elif source in SPLITS:
        yield _run_split(model, source, labels)
    elif source in DATASETS:
        yield from _builtin_batches(model, source, labels, chunk_rows)
    else:
        raise DataError("the file does not exist (give a CSV or NPZ file, the run's own split "
                        f"{', '.join(SPLITS)}, or a built-in data set: "
                        f"{', '.join(DATASETS)})", file=source)


# ------------------------------------------------------------------------------ labels


class _Encoder:
    """Original labels -> the run's class numbers, a DataError at the first stranger."""

    def __init__(self, model: Model, source: str, column: str | None) -> None:
        self.classes = model.info.classes
        self.numeric = isinstance(self.classes[0], int)
        self.index = {c: k for k, c in enumerate(self.classes)}
        self.source, self.column = source, column

    def __call__(self, labels: np.ndarray, first: int) -> np.ndarray:
        """Class numbers of ``labels``; ``first`` is the 0-based row of ``labels[0]``."""
        if self.numeric:
            if labels.dtype.kind in "iubf":
                numbers = np.asarray(labels, dtype=np.float64)
            else:
                numbers = np.empty(len(labels))
                for i, text in enumerate(labels.tolist()):
                    try:
                        numbers[i] = float(text)
                    except ValueError:
                        self._fail(first + i, str(text).strip())
            # 1 and 1.0 are the same class; 2.5 or nan match none and are named below
            values = [int(v) if v.is_integer() else v for v in numbers.tolist()]
        else:
            values = np.char.strip(np.asarray(labels, dtype=str)).tolist()
        out = np.empty(len(values), dtype=np.int64)
        for k, value in enumerate(values):
            found = self.index.get(value)
            if found is None:
                self._fail(first + k, value)
            out[k] = found
        return out

    def _fail(self, row: int, value: Any) -> None:
        shown = ", ".join(map(str, self.classes[:20])) + (", ..." if len(self.classes) > 20
                                                         else "")
        raise DataError(f"label {value!r} is not one of the run's classes ({shown})",
                        file=self.source, row=row + 1, column=self.column)


# ------------------------------------------------------------------------------ CSV


def _csv_batches(model: Model, path: str, labels: bool, target: str | None,
                 chunk_rows: int) -> Iterator[Batch]:
    features = model.info.feature_names
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"cannot be read: {os_reason(exc)}", file=path) from None
    with handle:
        try:
            header, data_line = _header(handle, path)
            usecols, t = _columns(header, features, target or model.info.label_column, path,
                                  labels)
            encode = _Encoder(model, path, header[t]) if labels and t is not None else None
            first = 0
            chunk: list[str] = [data_line] if data_line is not None else []
            for line in handle:
                if not line.strip():
                    continue
                chunk.append(line)
                if len(chunk) == chunk_rows:
                    yield _csv_chunk(model, chunk, first, header, usecols, t, encode, path)
                    first += len(chunk)
                    chunk = []
            if chunk or first == 0:
                if not chunk:
                    raise DataError("has a header row but no data rows", file=path)
                yield _csv_chunk(model, chunk, first, header, usecols, t, encode, path)
        except UnicodeDecodeError:
            raise DataError("is not UTF-8 text", file=path) from None


def _header(handle: io.TextIOBase, path: str) -> tuple[list[str], str | None]:
    """The column names, and the first line when it is data: a first row of numbers only is
    data and the columns are ``col1, col2, ...``, as training names them (``data.header:
    auto``)."""
    for line in handle:
        if line.strip():
            try:
                names = [cell.strip() for cell in next(csv.reader([line]))]
            except csv.Error as exc:
                raise DataError(f"the header row cannot be read ({exc})", file=path) from None
            if all(is_number(name) for name in names):
                return [f"col{j + 1}" for j in range(len(names))], line
            for j, name in enumerate(names):
                if not name:
                    raise DataError(f"column {j + 1} (counting from 1) has no name in the "
                                    "header row", file=path)
                if names.index(name) != j:
                    raise DataError("the header names this column twice", file=path,
                                    column=name)
            return names, None
    raise DataError("the file is empty (no header row)", file=path)



def _columns(header: list[str], features: list[str], label: str | None, path: str,
             labels: bool) -> tuple[list[int], int | None]:
    """Where each training feature is in ``header``, and where the label column is."""
    t = header.index(label) if label is not None and label in header else None
    if labels and t is None:
        raise DataError(f"has no label column {label!r} (the training file's; name another "
                        "with --target)" if label else "has no label column (name it with "
                        "--target)", file=path, column=label)
    usecols = column_order(header, features, path, whose="the run's features",
                           foreign="not a feature of the run",
                           ignore=() if t is None else (header[t],),
                           note=f"; the run was trained on {listing(features)}"
                           + (f" with labels in {label!r}" if label else ""))
    return usecols, t


def _csv_chunk(model: Model, lines: list[str], first: int, header: list[str],
               usecols: list[int], t: int | None, encode: _Encoder | None, path: str) -> Batch:
    n = len(header)
    quoted = any('"' in line for line in lines)
    if not quoted:
        widths = [line.count(",") for line in lines]
        if min(widths) != n - 1 or max(widths) != n - 1:
            raise _diagnose(lines, first, header, usecols, path)
    try:
        X = np.loadtxt(lines, delimiter=",", quotechar='"', usecols=usecols, dtype=np.float64,
                       comments=None, ndmin=2, encoding=None)
    except ValueError:
        raise _diagnose(lines, first, header, usecols, path) from None
    if quoted:   # rare: check row widths with the csv module
        for i, row in enumerate(csv.reader(lines)):
            if len(row) != n:
                raise DataError(f"has {len(row)} fields but the header has {n}", file=path,
                                row=first + i + 1)
    y = None
    if encode is not None:
        assert t is not None
        raw = np.loadtxt(lines, delimiter=",", quotechar='"', usecols=[t], dtype=str,
                         comments=None, ndmin=1, encoding=None)
        y = encode(np.atleast_1d(raw), first)
    return Batch(model.prepare(X, source=path, first_row=first), y, first)


def _diagnose(lines: list[str], first: int, header: list[str], usecols: list[int],
              path: str) -> DataError:
    """The first ragged row or feature cell that is not a number, found the slow way."""
    n = len(header)
    for i, row in enumerate(csv.reader(lines)):
        if len(row) != n:
            return DataError(f"has {len(row)} fields but the header has {n}", file=path,
                             row=first + i + 1)
        for j in usecols:
            cell = row[j].strip()
            try:
                float(cell)
            except ValueError:
                what = ("is empty (a missing value: fill it in or drop the row)" if not cell
                        else f"{cell!r} is not a number")
                return DataError(what, file=path, row=first + i + 1, column=header[j])
    return DataError("could not be read as comma-separated numbers", file=path)


# ------------------------------------------------------------------------------ NPZ


def _npz_batches(model: Model, path: str, labels: bool, chunk_rows: int) -> Iterator[Batch]:
    """The rows of an NPZ file's ``X`` (or a Keras-style mnist.npz's ``x_test``), read a block
    at a time (``MemberRows``: compressed or not, one block in memory); the labels, one per
    example, are read whole."""
    def fail(reason: str) -> DataError:
        return DataError(reason, file=path)

    with open_npz(path, fail) as npz:
        keys = list(npz.files)
        if "X" not in keys and ({"x_train", "y_train"} <= set(keys)
                                or {"x_test", "y_test"} <= set(keys)):   # a Keras mnist.npz
            if not {"x_test", "y_test"} <= set(keys):
                raise DataError("is a Keras-style mnist.npz without x_test and y_test",
                                file=path)
            x_key, y_key = "x_test", "y_test"
        elif "X" in keys:
            x_key, y_key = "X", "y"
        else:
            raise DataError("has no array 'X' (an NPZ input holds X (m, n_features) "
                            f"and, to evaluate, y (m,)); arrays in this file: "
                            f"{', '.join(keys) or 'none'}", file=path)
        if labels and y_key not in keys:
            raise DataError(f"has no array {y_key!r} with the labels to evaluate against",
                            file=path)
        y = npz[y_key] if labels else None
    with MemberRows(path, x_key, fail) as X:
        if X.dtype.kind not in "biuf":
            raise DataError(f"{x_key} has dtype {X.dtype}; features must be numbers", file=path)
        m = X.shape[0] if X.shape else 0
        encode = _Encoder(model, path, y_key) if labels else None
        if y is not None:
            if y.ndim == 2 and y.shape[1] == 1:
                y = y[:, 0]
            if y.shape != (m,):
                raise DataError(f"{x_key} has {counted(m, 'example')} but {y_key} has shape {y.shape}",
                                file=path)
            if y.dtype.kind == "S":
                y = np.char.decode(y, "utf-8")
        if len(X.shape) < 2:
            raise DataError(f"{x_key} has shape {X.shape}; an NPZ input holds X (m, "
                            "n_features), or images (m, height, width)", file=path)
        if m == 0:   # one empty batch, as for an empty CSV body: evaluate says it is empty
            yield Batch(model.prepare(np.zeros(X.shape, dtype=X.dtype), source=path),
                        np.zeros(0, dtype=np.int64) if encode is not None else None, 0)
            return
        for start, part in X.blocks(chunk_rows):
            codes = None
            if encode is not None:
                assert y is not None
                codes = encode(y[start:start + len(part)], start)
            yield Batch(model.prepare(part, source=path, first_row=start), codes, start)


def _npy_batches(model: Model, path: str, labels: bool, target: str | None, chunk_rows: int
                 ) -> Iterator[Batch]:
    """An ``.npy`` table (``numpy.save`` of an (m, columns) array), a block of rows at a time.
    Its columns are ``col1, col2, ...``, as training names an NPY table's (and a CSV file's
    without a header), matched to the run's features by name with the label column ignored by
    predict; a table exactly as wide as the run's features is read as features alone (as an
    NPZ file's X)."""
    def fail(reason: str) -> DataError:
        return DataError(reason, file=path)

    with MemberRows(path, None, fail) as table:
        if table.dtype.kind not in "biuf" or len(table.shape) != 2:
            raise DataError(f"holds an array of shape {table.shape} and dtype {table.dtype}; an "
                            ".npy input is one (m, columns) table of numbers", file=path)
        features = model.info.feature_names
        names = [f"col{j + 1}" for j in range(table.shape[1])]
        if len(names) == len(features) and not labels and names != features:
            usecols, t = list(range(len(names))), None
        else:
            usecols, t = _columns(names, features, target or model.info.label_column, path,
                                  labels)
        encode = _Encoder(model, path, names[t]) if labels and t is not None else None
        for start, block in table.blocks(chunk_rows):
            codes = encode(block[:, t], start) if encode is not None else None
            yield Batch(model.prepare(block[:, usecols], source=path, first_row=start), codes,
                        start)


# ------------------------------------------------------------------------------ the run's data


def _run_config(model: Model) -> Any:
    path = model.path / CONFIG_FILE
    if not path.exists():
        raise InputError(f"{model.path} has no {CONFIG_FILE}, which says where the run's data "
                         "came from; give a data file instead")
    return load_config(raw=read_yaml(path))


def _run_split(model: Model, name: str, labels: bool) -> Batch:
    config = _run_config(model)
    data = load_run_data(config)
    info = model.info
    same = (data.feature_names == info.feature_names and list(data.classes) == info.classes
            and np.array_equal(data.shift, info.shift) and np.array_equal(data.scale,
                                                                          info.scale))
    if not same:
        raise DataError(f"the run's data ({data.source}) is no longer the data it trained on "
                        "(its features, classes or normalisation statistics differ from "
                        "model.json); give the data file to use instead",
                        file=data.source if config.data.train else None)
    split = data.splits().get(name)
    if split is None:
        raise InputError(f"the run has no {name} split (its config gives no data.{name} "
                         f"file and no data.{name}_fraction)")
    return Batch(split.X, split.y if labels else None, 0)


def _builtin_batches(model: Model, name: str, labels: bool, chunk_rows: int
                     ) -> Iterator[Batch]:
    config = _run_config(model)
    options = config.data.options if config.data.dataset == name else {}
    table, _ = load_builtin(name, options, data_stream(config))
    names = table.class_names or []
    own = (list(range(len(names))) if names == [str(k) for k in range(len(names))]
           else names)   # the classes a run on this data set records (data.prepare)
    encode = _Encoder(model, name, None) if labels else None
    original = np.asarray(own, dtype=object)[table.labels] if labels else None
    for start in range(0, table.m, chunk_rows):
        codes = None
        if encode is not None:
            assert original is not None
            part = original[start:start + chunk_rows]
            codes = encode(part.astype(np.int64 if isinstance(own[0], int) else str), start)
        yield Batch(model.prepare(table.X[start:start + chunk_rows], source=name,
                                  first_row=start), codes, start)
