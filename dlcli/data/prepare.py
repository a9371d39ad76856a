"""From a ``DataConfig`` to a ``Dataset``: read, encode labels, carve stratified splits,
normalise (SPEC sections 0 and 13). ``load_data`` is the entry point.

``load_data`` does every check before it returns, so a caller can create the run directory
afterwards knowing the data is usable. Every random draw uses the ``rng`` passed in.

Decisions (where SPEC 0 and 13 are silent):

- Labels: the distinct training labels, sorted (numbers by value, names as Python sorts text:
  by code point, so "B" < "a"), become classes 0..K-1. Labels that already are 0..K-1 keep their
  values; other sets such as {1, 2} or {3, 7} are renumbered in order. ``class_names`` are the
  original labels as text ("1", "setosa"); built-in data sets keep their own class names. At
  least two classes are needed. ``classes`` are the original labels themselves, in class order,
  as a trained network's outputs are applied to them: numbers stay ``int``, names stay ``str``
  (a built-in data set whose class names are "0", "1", ... has ``int`` classes, else its names).
- dev/test files: their labels must be among the training classes (a class missing from dev or
  test is fine). Their columns must be the training file's: for two CSV files, the same names in
  any order (dev/test columns are re-ordered to the training order); otherwise the same number of
  features and, for two image files, the same image shape. The label column of a dev/test CSV is
  the training CSV's label column (by name).
- ``data.target`` only applies to CSV files; given with a built-in data set or NPZ-only data it is
  a ``ConfigError`` rather than silently ignored.
- Splits: ``test_fraction`` is carved first, then ``dev_fraction``; each split gets
  ``ceil(fraction * m)`` examples, m being all the training data's examples (as scikit-learn's
  ``train_test_split`` rounds). The count is shared among classes in proportion to their sizes
  (largest remainder), drawn at random within each class, and never takes a class's last
  training example; a fraction that cannot be carved that way is a ``ConfigError``. Every split
  keeps its rows in their original relative order.
- A Keras-style ``mnist.npz`` as ``train`` brings its own test half as the test split, unless
  ``data.test`` (a file) or ``data.test_fraction`` (carved from its training half, the test half
  then unused) says otherwise.
- Normalisation is fitted on the training split after carving. A column is constant when its
  training minimum equals its maximum; it is then only centred (standardize) or moved to 0
  (minmax), with scale 1. ``shift``/``scale`` are the identity (0 and 1) for ``none``.
- After conversion to the run's dtype every value must be finite (float32 overflows above
  3.4e38), else a ``DataError`` suggesting float64 or normalisation.
"""
from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from dlcli.config.schema import DTYPES, DataConfig
from dlcli.data import files
from dlcli.data.builtin import load_builtin
from dlcli.data.columns import column_order
from dlcli.data.dataset import Dataset, Split
from dlcli.data.mapped import MappedRows
from dlcli.data.table import Table
from dlcli.data.transforms import apply_transforms
from dlcli.errors import ConfigError, DataError
from dlcli.numbers import counted



def load_data(cfg: DataConfig, rng: np.random.Generator, dtype: np.dtype | str) -> Dataset:
    """The run's data: train (and dev, test) splits, encoded, normalised, in ``dtype``."""
    dtype = _check_dtype(dtype)
    info: dict[str, Any] = {}
    tables: dict[str, Table | None] = {"train": None, "dev": None, "test": None}
    if cfg.dataset is not None:
        if cfg.target is not None:
            raise ConfigError("data.target", cfg.target, "data.target names the label column "
                              "of a CSV file; built-in data sets come with their labels",
                              "leave data.target out")
        tables["train"], info["options"] = load_builtin(cfg.dataset, cfg.options, rng)
        source = cfg.dataset
    else:
        assert cfg.train is not None  # the schema asks for a data set or a training file
        tables.update(_read_files(cfg))
        source = cfg.train
        info["files"] = {name: path for name in ("train", "dev", "test")
                         if (path := getattr(cfg, name))}
        if tables["test"] is not None and not cfg.test:
            info["files"]["test"] = f"{cfg.train} (x_test, y_test)"

    train = tables["train"]
    assert train is not None
    if cfg.image_shape is not None:
        train.image_shape = _image_shape(cfg.image_shape, train)
    values, class_names = _classes(train)
    classes = _original_labels(train, values, class_names)
    y_all = np.searchsorted(values, train.labels).astype(np.int64)
    K = len(values)

    # Carve test first, then dev, from the training data (seeded, stratified).
    rows = np.arange(train.m)
    carved: dict[str, np.ndarray] = {}
    for name in ("test", "dev"):
        fraction = getattr(cfg, f"{name}_fraction")
        if fraction > 0:
            rows, carved[name] = _carve(rows, y_all, K, math.ceil(fraction * train.m), rng,
                                        f"data.{name}_fraction", fraction)

    kept = None if len(rows) == train.m else rows
    y_train = y_all if kept is None else y_all[rows]
    lazy = train.mapped and _train_from_map(cfg.memory_map, len(rows), train.X.shape[1], dtype)
    if train.mapped and not lazy:
        train.X = np.array(train.X, dtype=np.float64, order="C")  # as an unmapped file reads
    if lazy:
        shift, scale = fit_normalization(train.X, cfg.normalize, kept)
    else:
        X_train = train.X if kept is None else train.X[rows]
        shift, scale = fit_normalization(X_train, cfg.normalize)
    _check_statistics(shift, scale, train, cfg.normalize)

    splits: dict[str, Split | None] = {"dev": None, "test": None}
    for name in ("dev", "test"):
        if name in carved:
            idx = carved[name]
            splits[name] = _split(train.X[idx], y_all[idx], shift, scale, dtype, source)
        elif (table := tables[name]) is not None:
            y = _encode_other(table, values, class_names)
            splits[name] = _split(table.X, y, shift, scale, dtype, table.source)
    if lazy:
        train_split = _mapped_split(train.X, kept, y_train, shift, scale, dtype, source)
        info["memory_mapped"] = True
    else:
        train_split = _split(X_train, y_train, shift, scale, dtype, source)

    info["n_examples"] = {"train": train_split.m,
                          **{name: s.m for name, s in splits.items() if s is not None}}
    info["class_counts"] = np.bincount(y_train, minlength=K).tolist()
    if carved:
        info["carved"] = {name: int(len(idx)) for name, idx in carved.items()}
    return Dataset(train=train_split, dev=splits["dev"], test=splits["test"], n_classes=K,
                   class_names=class_names, feature_names=list(train.feature_names),
                   image_shape=train.image_shape, shift=shift, scale=scale, source=source,
                   info=info, classes=classes, label_column=train.label_column,
                   transforms=list(train.transforms))


def _image_shape(shape: list[int], train: Table) -> tuple[int, ...]:
    """``data.image_shape`` checked against the training data's feature columns."""
    n = train.X.shape[1]
    if math.prod(shape) != n:
        raise ConfigError("data.image_shape", shape, f"its product ({math.prod(shape):,}) must "
                          f"equal the number of feature columns, and {train.source} has {n:,}")
    if train.image_shape is not None and tuple(train.image_shape) != tuple(shape[:2]):
        raise ConfigError("data.image_shape", shape, f"{train.source} holds images of shape "
                          f"{list(train.image_shape)}", "leave data.image_shape out")
    return tuple(shape)


def _check_dtype(dtype: np.dtype | str) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in DTYPES:
        raise ConfigError("training.dtype", str(dtype), f"must be one of {', '.join(DTYPES)}")
    return resolved


# With data.memory_map: auto, a mapped training split stays on the disk when its normalised
# copy would take more than this share of the machine's memory; smaller ones are read in.
MAP_ABOVE_MEMORY_SHARE = 0.25


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def _train_from_map(setting: bool | str, m: int, n: int, dtype: np.dtype) -> bool:
    """Whether a memory-mapped training split is trained from the map (``data.memory_map``)."""
    if setting is True:
        return True
    return m * n * dtype.itemsize > MAP_ABOVE_MEMORY_SHARE * _physical_memory()


def _read_files(cfg: DataConfig) -> dict[str, Table | None]:
    """The train, dev and test tables from files, with dev/test columns matched to train's."""
    assert cfg.train is not None
    train = files.read_table(cfg.train, cfg.target, header=cfg.header,
                             memory_map=cfg.memory_map is not False)
    if cfg.memory_map is True and not train.mapped:
        raise ConfigError("data.memory_map", True, f"{cfg.train} cannot be memory-mapped: only "
                          "the features of an uncompressed .npz (numpy.savez, not "
                          "savez_compressed) or .npy file, stored in C order, can be",
                          "use data.memory_map: auto to read it into memory")
    # A dev/test CSV finds its labels under the training CSV's label column (by name, or by
    # position in files without a header).
    target = train.label_column if train.kind == "csv" and train.header else cfg.target
    tables: dict[str, Table | None] = {"train": train, "dev": None, "test": None}
    for name in ("dev", "test"):
        path = getattr(cfg, name)
        if path:
            tables[name] = _align(train, files.read_table(path, target, half="test",
                                                          header=cfg.header))
    if cfg.target is not None and all(t is None or t.kind not in ("csv", "npy")
                                      for t in tables.values()):
        raise ConfigError("data.target", cfg.target, "data.target names the label column of "
                          "a CSV or NPY table; NPZ files keep their labels in y",
                          "leave data.target out")
    if (train.kind == "mnist" and not cfg.test and not cfg.test_fraction
            and files.mnist_test_half(cfg.train)):
        tables["test"] = files.read_table(cfg.train, half="test")
    for table in tables.values():   # the pixel scale of a mnist.npz (dlcli.data.transforms)
        if table is not None and table.transforms:
            assert not table.mapped   # only mnist.npz has transforms, and it is read whole
            apply_transforms(table.X, table.transforms)
    return tables


def _align(train: Table, other: Table) -> Table:
    """``other`` with its feature columns in the training order, or a DataError."""
    if train.kind == "csv" and other.kind == "csv":
        if other.feature_names != train.feature_names:
            order = column_order(other.feature_names, train.feature_names, other.source,
                                 whose=f"the training file {train.source}'s",
                                 foreign="not in the training file")
            other.X = np.ascontiguousarray(other.X[:, order])
            other.feature_names = list(train.feature_names)
        return other
    n_train, n_other = train.X.shape[1], other.X.shape[1]
    if n_other != n_train:
        raise DataError(f"has {n_other} features but the training file {train.source} has "
                        f"{n_train}", file=other.source)
    if train.image_shape and other.image_shape and train.image_shape != other.image_shape:
        raise DataError(f"holds images of shape {other.image_shape} but the training file "
                        f"{train.source} holds {train.image_shape}", file=other.source)
    return other


def _classes(train: Table) -> tuple[np.ndarray, list[str]]:
    """The sorted distinct training labels and the class names, or a DataError for one class."""
    values = np.unique(train.labels)
    if len(values) < 2:
        raise DataError(f"all training examples have the same label ({values[0]}); a "
                        "classifier needs at least two classes", file=train.source,
                        column=train.label_column)
    if train.class_names is not None:
        # Built-in data sets label their classes 0..K-1 and name them.
        assert values.tolist() == list(range(len(train.class_names)))
        return values, list(train.class_names)
    return values, [str(v) for v in values.tolist()]


def _original_labels(train: Table, values: np.ndarray, class_names: list[str]
                     ) -> list[int | str]:
    """The label each class stands for, as the user wrote it (int or str)."""
    if train.class_names is not None and class_names != [str(k) for k in range(len(values))]:
        return list(class_names)
    return [int(v) if train.numeric_labels else str(v) for v in values.tolist()]


def _encode_other(table: Table, values: np.ndarray, class_names: list[str]) -> np.ndarray:
    """Labels of a dev/test table as training class numbers, or a DataError at the first label
    that is not a training class."""
    labels = table.labels
    if (labels.dtype.kind in "iu") != (values.dtype.kind in "iu"):
        ok = np.zeros(len(labels), dtype=bool)
        pos = np.zeros(len(labels), dtype=np.int64)
    else:
        pos = np.minimum(np.searchsorted(values, labels), len(values) - 1)
        ok = values[pos] == labels
    if not ok.all():
        row = int(np.argmax(~ok))
        shown = ", ".join(class_names[:20]) + (", ..." if len(class_names) > 20 else "")
        raise DataError(f"label {labels[row]!s} is not one of the training classes ({shown})"
                        + table.describe_row(row), file=table.source, row=row + 1,
                        column=table.label_column)
    return pos.astype(np.int64)


def _carve(rows: np.ndarray, y: np.ndarray, K: int, n_take: int, rng: np.random.Generator,
           key: str, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Split ``rows`` into (kept, taken), ``n_take`` taken, stratified by class ``y``."""
    counts = np.bincount(y[rows], minlength=K)
    room = np.maximum(counts - 1, 0)  # every class keeps at least one training example
    if n_take > room.sum():
        raise ConfigError(key, fraction, f"it would carve {n_take:,} of "
                          f"{counted(len(rows), 'example')}, "
                          "but every class must keep at least one training example, so at "
                          f"most {int(room.sum()):,} can be carved",
                          "use a smaller fraction or more data")
    quota = n_take * counts / counts.sum()
    take = np.minimum(np.floor(quota).astype(np.int64), room)
    # Largest remainder: the classes with the biggest fractional quotas get the leftovers.
    for k in np.argsort(-(quota - take), kind="stable"):
        if take.sum() == n_take:
            break
        if take[k] < room[k]:
            take[k] += 1
    while take.sum() < n_take:  # only when capped classes pushed the count elsewhere
        k = int(np.argmax(room - take))
        take[k] += 1
    # One permutation, then a stable sort by class: each class's rows in random order.
    shuffled = rows[rng.permutation(len(rows))]
    grouped = shuffled[np.argsort(y[shuffled], kind="stable")]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    taken = np.concatenate([grouped[s:s + t] for s, t in zip(starts, take)])
    taken.sort()
    kept = np.setdiff1d(rows, taken, assume_unique=True)
    return kept, taken


def fit_normalization(X: Any, method: str, rows: np.ndarray | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``(shift, scale)`` float64 per feature such that ``x_norm = (x - shift) / scale``, fitted
    on the rows ``X[rows]`` (all rows when None).

    The statistics are computed a block of rows at a time, so ``X`` may be a memory map larger
    than the machine's memory, and they do not depend on how ``X`` is laid out: the mean is the
    sum row after row (``numpy.mean(axis=0)``'s own order on a C-ordered array, continued from
    block to block), the std the blockwise two-pass sum of squares."""
    n = X.shape[1]
    if method == "none":
        return np.zeros(n), np.ones(n)
    if method not in ("standardize", "minmax"):
        raise ConfigError("data.normalize", method, "must be one of none, standardize, minmax")
    low = high = None
    total = np.zeros((1, n))
    m = 0
    for block in _blocks(X, rows):
        m += block.shape[0]
        low = block.min(axis=0) if low is None else np.minimum(low, block.min(axis=0))
        high = block.max(axis=0) if high is None else np.maximum(high, block.max(axis=0))
        if method == "standardize":
            total = np.add.reduce(np.concatenate([total, block], dtype=np.float64), axis=0,
                                  keepdims=True)
    constant = low == high  # exact: a computed std of a constant column may be 1e-17, not 0
    if method == "standardize":
        shift = total[0] / m
        scale = _column_std(X, rows, shift, m)
    else:
        shift, scale = low.astype(np.float64), (high - low).astype(np.float64)
    scale[constant] = 1.0
    return np.ascontiguousarray(shift, dtype=np.float64), np.ascontiguousarray(scale,
                                                                               dtype=np.float64)


_BLOCK_ROWS = 4096


def _blocks(X: Any, rows: np.ndarray | None):
    """``X[rows]`` (or all of ``X``) a block of rows at a time, as arrays."""
    m = X.shape[0] if rows is None else len(rows)
    for start in range(0, m, _BLOCK_ROWS):
        picked = slice(start, start + _BLOCK_ROWS)
        yield np.asarray(X[picked] if rows is None else X[rows[picked]])


def _column_std(X: Any, rows: np.ndarray | None, mean: np.ndarray, m: int) -> np.ndarray:
    """Population std (ddof=0) of every column, two-pass, a block of rows at a time: the same
    numbers as ``X.std(axis=0)`` without its full-size temporaries (for 60,000 x 784 features
    those cost more than the arithmetic)."""
    total = np.zeros(X.shape[1])
    for block in _blocks(X, rows):
        centred = np.subtract(block, mean, order="C", dtype=np.float64)
        total += np.einsum("ij,ij->j", centred, centred)
    return np.sqrt(total / m)


def _mapped_split(X: np.ndarray, rows: np.ndarray | None, y: np.ndarray, shift: np.ndarray,
                  scale: np.ndarray, dtype: np.dtype, source: str) -> Split:
    """A training split whose rows stay in the memory map ``X``, normalised as they are read;
    checked, a block at a time, to fit ``dtype`` as ``_split`` checks an in-memory split."""
    mapped = MappedRows(X, rows, shift, scale, dtype)
    for start in range(0, len(mapped), _BLOCK_ROWS):
        if not np.isfinite(mapped[start:start + _BLOCK_ROWS]).all():
            raise DataError(f"some values do not fit in {dtype.name} after normalisation; use "
                            "training.dtype: float64 or data.normalize: standardize",
                            file=source)
    return Split(X=mapped, y=np.ascontiguousarray(y, dtype=np.int64))  # type: ignore[arg-type]


def _check_statistics(shift: np.ndarray, scale: np.ndarray, train: Table, method: str) -> None:
    """A DataError for a column whose statistics overflow float64 (values near 1e308): every
    value would normalise to 0 or nan, and model.json could not record them."""
    bad = ~(np.isfinite(shift) & np.isfinite(scale))
    if bad.any():
        j = int(np.argmax(bad))
        raise DataError(f"the values are too large to {method} (their "
                        f"{'mean or std' if method == 'standardize' else 'range'} overflows "
                        "a float64); rescale the column", file=train.source,
                        column=train.feature_names[j])


def normalize(X: np.ndarray, shift: np.ndarray, scale: np.ndarray, dtype: np.dtype | str
              ) -> np.ndarray:
    """``(X - shift) / scale`` in float64, then in ``dtype`` (C-contiguous): the one formula
    training and applying a trained run share. A float64 ``X`` is modified in place; values
    that overflow ``dtype`` come out as inf (callers check)."""
    X = np.asarray(X, dtype=np.float64)
    X -= shift
    X /= scale
    return np.ascontiguousarray(X, dtype=dtype)


def _split(X: np.ndarray, y: np.ndarray, shift: np.ndarray, scale: np.ndarray,
           dtype: np.dtype, source: str) -> Split:
    """A normalised split in ``dtype``. ``X`` may be modified in place (the tables own it)."""
    out = normalize(X, shift, scale, dtype)
    if not np.isfinite(out).all():
        raise DataError(f"some values do not fit in {dtype.name} after normalisation; use "
                        "training.dtype: float64 or data.normalize: standardize", file=source)
    return Split(X=out, y=np.ascontiguousarray(y, dtype=np.int64))
