"""Reading and checking data files: CSV with a header row, NPZ with ``X`` and ``y``, and a
Keras-style ``mnist.npz`` (SPEC sections 0 and 13).

Every problem is a ``DataError`` naming the file and, where it applies, the row and column. Rows
are *data rows counted from 1 below the header* (the first example is row 1); messages also give
the line of the file, as a text editor shows it (the header is usually line 1). For NPZ files,
row r is the example at index r-1 of ``X`` and ``y``.

Decisions (where SPEC 0 and 13 are silent):

- The format is found from the file's content, not its name: a zip archive is NPZ, anything
  else is read as CSV text (UTF-8, a byte-order mark is allowed). A ``.npy`` file or a gzipped
  file is refused with a hint.
- CSV: comma-separated, ``"`` quotes. ``data.header`` says whether the first non-empty line is
  a header row: ``true``, ``false``, or ``auto`` (the default: a first line whose every cell is a
  number is data, anything else is a header). Column names are stripped of surrounding spaces;
  an empty or repeated column name is an error (an unnamed first column is usually a pandas
  index saved by mistake). A file without a header names its columns by position,
  ``col1, col2, ...`` counting the file's columns from 1 (the label column's number included),
  in features' names and in messages alike.
  Empty lines are skipped; a line holding only spaces counts as a ragged row. No comment lines.
- ``data.target`` is a column name, or a column index counted from 0 as in NumPy and pandas
  (``-1`` is the last column); a file without a header needs an index.
- CSV reading uses ``numpy.loadtxt``'s C parser (integers first, which is about five times
  faster to parse, then floats); only when it fails is the file walked row by row with the
  ``csv`` module to find the exact row and column. pyarrow's and pandas' readers were measured
  against it and were not faster on two cores (benchmarks/README.md), so dlcli does not take
  them on.
- Empty cells are missing values and are refused (dlcli does not impute); so are ``nan`` and
  ``inf`` in features and labels.
- Labels: a label column whose values are all numbers holds class numbers; they must be whole
  (``1`` and ``1.0`` are the same class) and not negative. A column whose values are all text
  holds class names (surrounding spaces stripped, case kept). A column mixing numbers and text
  is refused: it is usually a typo. Encoding to 0..K-1 is done later (``prepare``).
- NPZ: ``X`` is (m, n_features) or (m, h, w) images (also (m, h, w, 1)), any numeric dtype, used
  as stored (no rescaling); ``y`` is (m,) (also (m, 1)) of integers, whole floats, booleans or
  strings. Other arrays in the file are ignored. Object arrays are refused (loading them would
  unpickle code).
- ``mnist.npz`` (``x_train, y_train`` and optionally ``x_test, y_test``, no ``X``): images are
  flattened and divided by 255 when the training images are uint8 or go above 1, so pixels lie
  in [0, 1]; ``image_shape`` is the images' (h, w). Given as ``dev`` or ``test``, such a file
  contributes its test half. The table holds the pixels as stored and the division in
  ``Table.transforms`` (``dlcli.data.transforms``); ``prepare`` applies it, and a run records
  it in model.json so that applying the run scales raw pixels alike.
"""
from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Callable
from typing import Any
from pathlib import Path

import numpy as np

from dlcli.data.mapped import map_array
from dlcli.data.table import Table
from dlcli.data.transforms import pixel_transforms
from dlcli.errors import DataError, os_reason, shown
from dlcli.npzfile import open_npz
from dlcli.registry import did_you_mean
from dlcli.numbers import counted, is_number

_FINITE_BLOCK_ROWS = 65536  # rows checked at a time in NPZ/NPY features (which may be a map)
_LOADTXT = dict(delimiter=",", quotechar='"', comments=None, ndmin=2)
_BOM = "\xef\xbb\xbf"   # UTF-8's byte-order mark, as Latin-1 text
_LARGEST_LABEL = 2.0 ** 53  # whole floats above this are no longer exact integers


def read_table(path: str, target: str | int | None = None, *, half: str = "train",
               header: bool | str = "auto", memory_map: bool = False) -> Table:
    """The examples in a data file. ``target`` names the CSV label column or gives its index
    (default: the last one); ``header`` says whether a CSV starts with a header row (``auto``
    guesses); ``half`` picks ``train`` or ``test`` of a Keras-style ``mnist.npz``;
    ``memory_map`` maps the features of an uncompressed NPY or NPZ file instead of reading
    them (``Table.mapped`` says whether it could)."""
    file = Path(path)
    if not file.exists():
        raise DataError("the file does not exist", file=path)
    if file.is_dir():
        raise DataError("is a directory, not a data file (give a CSV or NPZ file)", file=path)
    try:
        with open(file, "rb") as handle:
            magic = handle.read(6)
    except OSError as exc:
        raise DataError(f"cannot be read: {os_reason(exc)}", file=path) from None
    if not magic:
        raise DataError("the file is empty", file=path)
    if magic.startswith(b"PK"):
        return read_npz(path, half=half, memory_map=memory_map)
    if magic.startswith(b"\x93NUMPY"):
        return read_npy(path, target, memory_map=memory_map)
    if magic.startswith(b"\x1f\x8b"):
        raise DataError("is gzip-compressed; decompress it first", file=path)
    if file.suffix.lower() == ".npz":
        raise DataError("is named .npz but is not an NPZ (zip) archive", file=path)
    return read_csv(path, target, header)


def mnist_test_half(path: str) -> bool:
    """Whether ``path`` is a Keras-style ``mnist.npz`` that has a test half."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.files)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError):
        return False
    return _is_mnist_layout(keys) and {"x_test", "y_test"} <= set(keys)


# --------------------------------------------------------------------------------------- CSV


def read_csv(path: str, target: str | int | None = None, header: bool | str = "auto"
             ) -> Table:
    """A CSV file: numeric features, labels in column ``target`` (default: the last one)."""
    columns, skip, named = _read_header(path, header)
    n = len(columns)
    t = _target_index(path, columns, target, named)
    if n < 2:
        hint = (" (is it separated by ';' or tabs? dlcli reads comma-separated files)"
                if any(sep in columns[0] for sep in ";\t") else "")
        raise DataError(f"has only one column ({shown(columns[0])}), which holds the labels; there "
                        f"are no feature columns{hint}", file=path)
    return _read_csv_numpy(path, columns, skip, named, t, _csv_locator(path, skip, named))


def _read_csv_numpy(path: str, header: list[str], skip: int, named: bool, t: int,
                    where: Callable[[int], str]) -> Table:
    """The CSV read by ``numpy.loadtxt``, or the DataError naming its first bad row or cell."""
    n = len(header)

    # The label column goes through a converter that numbers each distinct text as it is met,
    # so text labels cost no second pass over the file; every other column is parsed in C.
    codes: dict[str, int] = {}

    def code(text: str) -> int:
        key = text.encode("latin-1").decode("utf-8").strip()   # see _loadtxt below
        found = codes.get(key)
        if found is None:
            found = codes[key] = len(codes)
        return found

    table = None
    error: ValueError | None = None
    hint: tuple[str, int] | None = None
    for dtype in (np.int64, np.float64):  # integers parse about five times faster than floats
        codes.clear()
        try:
            table = _loadtxt(path, dtype, skip, {t: code})
            break
        except UnicodeDecodeError:
            raise DataError("is not UTF-8 text", file=path) from None
        except ValueError as exc:
            error, hint = exc, _loadtxt_hint(exc)
            if hint is not None and not is_number(hint[0]):
                break  # not even a float: reading as floats would fail at the same cell
    if table is None:
        assert error is not None
        raise _diagnose(path, header, t, skip, named, error,
                        None if hint is None else hint[1])

    if table.shape[0] == 0 or table.shape[1] != n:
        # loadtxt and the csv module split lines differently only around quotes that span
        # lines; the row-by-row walk says where, else the file is refused as unreadable.
        raise _diagnose(path, header, t, skip, named, ValueError(
            "numpy.loadtxt found no rows of the header's width"))
    integers = table.dtype.kind == "i"
    if integers:
        table = _int_to_float_in_place(table)
    raw_codes = table[:, t].astype(np.int64)
    # The features are a view beside the label column when it is first or last (no copy of a
    # file that may be hundreds of MB; later stages copy to the run's dtype anyway).
    if t == n - 1:
        X = table[:, :t]
    elif t == 0:
        X = table[:, 1:]
    else:
        X = np.delete(table, t, axis=1)
    names = header[:t] + header[t + 1:]
    if not integers:  # integers cannot be nan or inf
        _check_finite(X, names, path, where)
    labels = _text_labels(list(codes), raw_codes, path, header[t],
                          where)
    return Table(X=X, labels=labels, feature_names=names, source=path, kind="csv",
                 label_column=header[t], where=where, header=named)


def _loadtxt(path: str, dtype: type, skip: int, converters: dict[int, Callable[[str], int]]
             ) -> np.ndarray:
    """``numpy.loadtxt`` of the CSV, read as Latin-1 text. NumPy 2.4 can crash (a segmentation
    fault) while it words its error for a cell holding a character outside Unicode's basic plane
    (an emoji in a number column), so the parser is given one character per byte: numbers are
    ASCII either way, and the label converter decodes its cell as the UTF-8 it is."""
    with open(path, encoding="latin-1") as handle:
        if handle.read(len(_BOM)) != _BOM:
            handle.seek(0)
        return np.loadtxt(handle, dtype=dtype, skiprows=skip, converters=converters,
                          **_LOADTXT)


def _int_to_float_in_place(table: np.ndarray, rows: int = 512) -> np.ndarray:
    """An int64 array as float64 in the same memory, converted a block of rows at a time
    through one small buffer: fresh memory for a second full-size array costs more than the
    conversion (page faults)."""
    out = table.view(np.float64)
    block = np.empty((rows, table.shape[1]), dtype=np.float64)
    for start in range(0, table.shape[0], rows):
        k = min(rows, table.shape[0] - start)
        np.copyto(block[:k], table[start:start + k], casting="unsafe")
        out[start:start + k] = block[:k]
    return out


def _read_header(path: str, mode: bool | str = "auto") -> tuple[list[str], int, bool]:
    """(column names, lines before the first data row, whether the file has a header row).

    ``mode`` is ``data.header``: True, False or "auto" (a first row of numbers is data). A file
    without a header gets positional names ``col1, col2, ...``."""
    header: list[str] | None = None
    skip = 0
    named = True
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            before = 0   # lines read before the current row (a quoted cell may span lines)
            for row in reader:
                if not row:
                    before = reader.line_num
                    continue
                if header is None:
                    header = [cell.strip() for cell in row]
                    named = mode is True or (mode == "auto" and not all(map(is_number, header)))
                    if not named:
                        skip = before
                        break  # this row is data
                    skip = reader.line_num
                    continue
                break  # a data row exists
            else:
                if header is None:
                    raise DataError("the file is empty (no header row)", file=path)
                raise DataError("has a header row but no data rows", file=path)
    except UnicodeDecodeError:
        raise DataError("is not UTF-8 text", file=path) from None
    except csv.Error as exc:
        raise DataError(f"is not a readable CSV file ({exc})", file=path) from None
    if not named:
        return [f"col{j + 1}" for j in range(len(header))], skip, False
    for j, name in enumerate(header):
        if not name:
            hint = (" (an unnamed first column is usually a pandas index: save with "
                    "index=False)" if j == 0 else "")
            raise DataError(f"column {j + 1} (counting from 1) has no name in the header "
                            f"row{hint}", file=path)
        first = header.index(name)
        if first != j:
            raise DataError(f"the header names this column twice (columns {first + 1} and "
                            f"{j + 1}, counting from 1)", file=path, column=name)
    return header, skip, True


def _target_index(path: str, header: list[str], target: str | int | None, named: bool) -> int:
    if target is None:
        return len(header) - 1
    if isinstance(target, int):
        if -len(header) <= target < len(header):
            return target % len(header)
        raise DataError(f"data.target is column index {target}, but the file has "
                        f"{len(header)} columns (indices 0 to {len(header) - 1}, or -1 for the "
                        "last)", file=path)
    if not named:
        raise DataError(f"data.target names a column ({target!r}), but the file has no header "
                        "row; give the label column's index instead (0 for the first column, "
                        "-1 for the last), or data.header: true if the first row is a header",
                        file=path)
    if target in header:
        return header.index(target)
    hint = did_you_mean(target, header)
    listing = ", ".join(header[:12]) + (f", ... ({len(header)} columns)" if len(header) > 12
                                         else "")
    separator = (" (is the file separated by ';' or tabs? dlcli reads comma-separated files)"
                 if len(header) == 1 and any(sep in header[0] for sep in ";\t") else "")
    raise DataError(f"there is no column named {shown(target)} (data.target)"
                    + (f"; {hint}" if hint else "") + f"; the columns are: {listing}{separator}",
                    file=path, column=target)



def _loadtxt_hint(error: ValueError) -> tuple[str, int] | None:
    """(cell text, 0-based data row) from numpy's conversion error, if its message has them.
    Only a hint to skip work: the walk in ``_diagnose`` checks the cell itself."""
    found = re.search(r"could not convert string '(.*)' to \w+ at row (\d+), column \d+",
                      str(error), re.DOTALL)
    return (found.group(1), int(found.group(2))) if found else None


def _diagnose(path: str, header: list[str], t: int, skip: int, named: bool,
              error: ValueError, suspect: int | None = None) -> DataError:
    """The first bad cell or ragged row, found by walking the file (only after a fast read
    failed, so the slow walk never runs on good files). Row lengths are checked everywhere;
    cells only in data row ``suspect`` (0-based) when numpy named it, else in every row."""
    try:
        if suspect is not None:
            found = _walk(path, header, t, skip, named, suspect)
            if found is not None:
                return found
        found = _walk(path, header, t, skip, named, None)
    except UnicodeDecodeError:
        return DataError("is not UTF-8 text", file=path)
    if found is not None:
        return found
    return DataError(f"could not be read as comma-separated numbers ({error})", file=path)


def _walk(path: str, header: list[str], t: int, skip: int, named: bool, only: int | None
          ) -> DataError | None:
    n = len(header)
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        data_row = 0
        for row in reader:
            if reader.line_num <= skip or not row:
                continue
            data_row += 1
            note = _row_note(reader.line_num, named)
            if len(row) != n:
                first = "the header has" if named else "the first row has"
                return DataError(f"has {len(row)} fields but {first} {n}{note}",
                                 file=path, row=data_row)
            if only is not None and data_row != only + 1:
                continue
            cells = row[:t] + row[t + 1:]
            try:
                np.array(cells, dtype=np.float64)  # the whole row at once; cells only on error
                continue
            except ValueError:
                pass
            for j, cell in enumerate(row):
                if j == t:
                    continue
                try:
                    float(cell)
                except ValueError:
                    what = ("is empty (a missing value: fill it in or drop the row)"
                            if not cell.strip() else f"{shown(cell.strip())} is not a number")
                    return DataError(f"{what}{note}", file=path, row=data_row,
                                     column=header[j])
            if only is not None:
                return None
    return None


def _row_note(line: int, named: bool = True) -> str:
    below = " below the header" if named else ""
    return f" (rows are data rows counted from 1{below}; this is line {line} of the file)"


def _csv_locator(path: str, skip: int, named: bool = True) -> Callable[[int], str]:
    def where(index: int) -> str:
        # Blank lines are skipped, so the line number is found by walking the file.
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            seen = -1
            for row in reader:
                if reader.line_num <= skip or not row:
                    continue
                seen += 1
                if seen == index:
                    return _row_note(reader.line_num, named)
        return ""
    return where


def _text_labels(names: list[str], codes: np.ndarray, path: str, column: str,
                 where: Callable[[int], str]) -> np.ndarray:
    """Per-row labels from the distinct label texts ``names`` (code i is ``names[i]``)."""
    if "" in names:
        row = int(np.argmax(codes == names.index("")))
        raise DataError(f"the label is empty (a missing value){where(row)}", file=path,
                        row=row + 1, column=column)
    values = np.full(len(names), np.nan)
    numeric = np.zeros(len(names), dtype=bool)
    for i, name in enumerate(names):
        try:
            values[i] = float(name)
            numeric[i] = True
        except ValueError:
            pass
    if numeric.all():
        return check_numeric_labels(values[codes], path, column, where)
    if not numeric.any():
        return np.array(names)[codes]
    text_row = int(np.argmax(~numeric[codes]))
    number_row = int(np.argmax(numeric[codes]))
    raise DataError(f"the label column mixes numbers and text: {shown(names[codes[text_row]])} "
                    f"here, {shown(names[codes[number_row]])} in row {number_row + 1}; labels are "
                    f"either all class numbers or all class names{where(text_row)}",
                    file=path, row=text_row + 1, column=column)


def check_numeric_labels(values: np.ndarray, path: str, column: str,
                         where: Callable[[int], str]) -> np.ndarray:
    """Numeric labels as int64, or a DataError at the first one that is not a class number
    (non-finite, not whole, negative)."""
    finite = np.isfinite(values)
    with np.errstate(invalid="ignore"):
        bad = ~finite | (values != np.round(values)) | (values < 0) | (values > _LARGEST_LABEL)
    if bad.any():
        row = int(np.argmax(bad))
        value = values[row]
        if not finite[row]:
            what = f"label {value} is not a class label (missing or infinite)"
        elif value < 0:
            what = (f"negative label {value:g}: labels are class numbers >= 0 or class "
                    "names (for -1/1 labels, use 0/1)")
        elif value > _LARGEST_LABEL:
            what = f"label {value:g} is too large for a class number"
        else:
            what = (f"label {value:g} is not a whole number: labels are classes (numbers "
                    "0, 1, 2, ... or names), not values to regress")
        raise DataError(what + where(row), file=path, row=row + 1, column=column)
    return values.astype(np.int64)


def _check_finite(X: np.ndarray, names: list[str], path: str,
                  where: Callable[[int], str], show: Callable[[int, int], str] | None = None,
                  first_row: int = 0) -> None:
    """A DataError at the first value of ``X`` that is NaN or infinite. ``X`` holds the rows
    from ``first_row`` on; ``where`` and ``show`` take indices into ``X``."""
    bad = ~np.isfinite(X)
    if not bad.any():
        return
    flat = int(np.argmax(bad.ravel()))
    row, j = divmod(flat, X.shape[1])
    label = show(row, j) if show else "the value"
    raise DataError(f"{label} is {X[row, j]} (missing or infinite values are not allowed: "
                    f"fill them in or drop the rows){where(row)}", file=path,
                    row=first_row + row + 1, column=names[j])


# --------------------------------------------------------------------------------------- NPZ


def _is_mnist_layout(keys: list[str]) -> bool:
    return "X" not in keys and "x_train" in keys and "y_train" in keys


def read_npz(path: str, *, half: str = "train", memory_map: bool = False) -> Table:
    """An NPZ file with ``X`` and ``y``, or one half of a Keras-style ``mnist.npz``."""
    with open_npz(path, lambda reason: DataError(reason, file=path)) as npz:
        keys = list(npz.files)
        if _is_mnist_layout(keys):
            return _read_mnist(npz, keys, path, half)
        X = _array(npz, keys, "X", path)
        if memory_map:
            X = _mapped(path, "X", X)
        y = _array(npz, keys, "y", path)
        return _npz_table(X, y, path, "X", "y", kind="npz")


def _mapped(path: str, member: str | None, array: Any) -> Any:
    """``array`` (a lazy NPZ member, or None for an NPY file) as a read-only memory map when
    the file stores it uncompressed in C order; else the array read into memory."""
    mapped = map_array(path, member)
    if mapped is not None and mapped.flags.c_contiguous:
        return mapped
    return np.load(path, allow_pickle=False) if array is None else array


def read_npy(path: str, target: str | int | None = None, *, memory_map: bool = False
             ) -> Table:
    """An NPY file holding one (m, columns) table of numbers: the labels in column ``target``
    (an index; default: the last column), the features in the others."""
    if target is not None and not isinstance(target, int):
        raise DataError(f"data.target names a column ({target!r}), but an .npy file has no "
                        "column names; give the label column's index (0 for the first, -1 for "
                        "the last)", file=path)
    try:
        table = (_mapped(path, None, None) if memory_map
                 else np.load(path, allow_pickle=False))
    except OSError as exc:
        raise DataError(f"cannot be read: {os_reason(exc)}", file=path) from None
    except (ValueError, EOFError) as exc:
        raise DataError(f"is not a readable NPY file ({exc})", file=path) from None
    if table.ndim != 2 or table.shape[1] < 2:
        raise DataError(f"holds an array of shape {table.shape}; an .npy data file is one "
                        "(m, columns) table of numbers with the labels in one column (or save "
                        "features and labels together with numpy.savez(path, X=X, y=y))",
                        file=path)
    columns = [f"col{j + 1}" for j in range(table.shape[1])]
    t = _target_index(path, columns, target, False)
    if t == table.shape[1] - 1:
        X = table[:, :t]
    elif t == 0:
        X = table[:, 1:]
    else:
        X = np.delete(table, t, axis=1)   # a copy: the label column sits in the middle
    return _npz_table(X, np.asarray(table[:, t]), path, "features", columns[t], kind="npy",
                      columns=columns[:t] + columns[t + 1:])


def _array(npz: np.lib.npyio.NpzFile, keys: list[str], key: str, path: str) -> np.ndarray:
    if key not in keys:
        # Case slips (Y for y, x for X) first: difflib does not see them as close.
        hint = next((f"did you mean {k!r}?" for k in keys if k.lower() == key.lower()),
                    did_you_mean(key, keys))
        raise DataError(f"has no array {key!r}" + (f" ({hint})" if hint else "")
                        + "; an NPZ data file holds X (m, n_features) or (m, h, w) and y (m,);"
                        f" arrays in this file: {', '.join(keys) or 'none'}", file=path)
    try:
        return npz[key]
    except ValueError as exc:
        raise DataError(f"array {key!r} cannot be loaded: it holds Python objects, which would "
                        "need unpickling; save plain numeric or string arrays"
                        if "allow_pickle" in str(exc) else
                        f"array {key!r} cannot be loaded ({exc})", file=path) from None


def _read_mnist(npz: np.lib.npyio.NpzFile, keys: list[str], path: str, half: str) -> Table:
    if half == "test" and not {"x_test", "y_test"} <= set(keys):
        raise DataError("is a Keras-style mnist.npz without x_test and y_test", file=path)
    x_key, y_key = f"x_{half}", f"y_{half}"
    X = _array(npz, keys, x_key, path)
    y = _array(npz, keys, y_key, path)
    table = _npz_table(X, y, path, x_key, y_key, kind="mnist")
    # Pixels are scaled to [0, 1] by the same factor in both halves, decided on x_train; the
    # table keeps the values as stored and says so (prepare applies it, a run records it).
    table.transforms = pixel_transforms(npz["x_train"] if half != "train" else X)
    return table


def _npz_table(X: np.ndarray, y: np.ndarray, path: str, x_key: str, y_key: str, kind: str,
               columns: list[str] | None = None) -> Table:
    """Checked features and labels of an array file. ``columns`` names the feature columns of
    an NPY table (whose messages then speak of the table's rows and columns)."""
    if X.dtype.kind not in "biuf":
        raise DataError(f"{x_key} has dtype {X.dtype}; features must be numbers", file=path)
    shape = X.shape
    if X.ndim == 4 and shape[-1] == 1:
        X = X[..., 0]  # single-channel images
    if X.ndim not in (2, 3) or 0 in X.shape[1:]:
        raise DataError(f"{x_key} has shape {shape}; expected (m, n_features), or "
                        "(m, height, width) for images", file=path)
    m = X.shape[0]
    if m == 0:
        raise DataError(f"{x_key} holds no examples", file=path)
    image_shape = (int(X.shape[1]), int(X.shape[2])) if X.ndim == 3 else None
    if image_shape is not None:
        names = [f"pixel_{r}_{c}" for r in range(image_shape[0]) for c in range(image_shape[1])]
    else:
        names = columns or [f"x{j}" for j in range(X.shape[1])]
    mapped = isinstance(X, np.memmap) or isinstance(X.base, np.memmap)
    if mapped:
        flat = X.reshape(m, -1)   # a view of the map: rows are read as they are used
    else:
        flat = np.array(X.reshape(m, -1), dtype=np.float64, order="C")  # a copy we own

    def where(index: int) -> str:
        if columns is not None:
            return f" (rows count the table's rows from 1: this is index {index})"
        return (f" (rows count examples from 1: this is index {index} of {x_key} and "
                f"{y_key})")

    def show(row: int, j: int) -> str:
        if columns is not None:
            return "the value"
        index = (row, *divmod(j, image_shape[1])) if image_shape else (row, j)
        return f"{x_key}[{', '.join(map(str, index))}]"

    if X.dtype.kind == "f":
        for start in range(0, m, _FINITE_BLOCK_ROWS):   # a block at a time: flat may be a map
            block = flat[start:start + _FINITE_BLOCK_ROWS]
            _check_finite(block, names, path, lambda i: where(start + i),
                          lambda i, j: show(start + i, j), first_row=start)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{y_key} has shape {y.shape}; labels are one per example, (m,)",
                        file=path)
    if len(y) != m:
        raise DataError(f"{x_key} has {counted(m, 'example')} but {y_key} has {counted(len(y), 'label')}",
                        file=path)
    kind_y = y.dtype.kind
    if kind_y == "b":
        labels = y.astype(np.int64)
    elif kind_y in "iuf":
        labels = check_numeric_labels(y.astype(np.float64), path, y_key, where)
    elif kind_y in "US":
        text = np.char.decode(y, "utf-8") if kind_y == "S" else y
        text = np.char.strip(text)
        if (text == "").any():
            row = int(np.argmax(text == ""))
            raise DataError(f"the label is empty{where(row)}", file=path, row=row + 1,
                            column=y_key)
        labels = np.asarray(text, dtype=str)
    else:
        raise DataError(f"{y_key} has dtype {y.dtype}; labels are integers or strings",
                        file=path)
    return Table(X=flat, labels=labels, feature_names=names, source=path, kind=kind,
                 image_shape=image_shape, label_column=y_key, where=where, mapped=mapped)
