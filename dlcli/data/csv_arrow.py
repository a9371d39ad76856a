"""The fast path of CSV reading: pyarrow's multithreaded C++ parser (the ``fast-io`` extra).

A clean numeric CSV (every feature cell a number, every row as wide as the header) is parsed
block by block and each block's columns are copied straight into one preallocated float64 array,
so the whole file is never held twice: the peak is that array plus one block. Anything else
(a cell that is not a number, an empty cell, a ragged row, text that is not UTF-8) makes this
path give up and return ``None``: the caller then reads the file with NumPy and its row-by-row
walk names the file, row and column exactly as it always has. The fast path therefore never
decides what is an error, only how quickly a good file is read.

The values are the same as NumPy's: both parsers round each decimal to the nearest float64.
"""
from __future__ import annotations

import importlib.util

import numpy as np

# Bytes of text per block. A block's float64 columns take about three times its text, and the
# reader keeps a few blocks in flight: 1 MiB (pyarrow's default) keeps that small (4 MiB blocks
# added 0.8 float32-arrays' worth to the peak of a 60,000 x 785 file).
BLOCK_BYTES = 1 << 20
_COUNT_BYTES = 1 << 24      # bytes read at a time while counting lines


def available() -> bool:
    """Whether pyarrow is installed (``pip install 'dlcli[fast-io]'``)."""
    return importlib.util.find_spec("pyarrow") is not None


def _line_count(path: str) -> int:
    """An upper bound on the rows of ``path``: its newlines plus one."""
    count = 1
    with open(path, "rb") as handle:
        while chunk := handle.read(_COUNT_BYTES):
            count += chunk.count(b"\n")
    return count


def read_numeric(path: str, n: int, t: int, skip: int
                 ) -> tuple[np.ndarray, list[str], np.ndarray] | None:
    """``(X, label_texts, codes)`` of a clean CSV with ``n`` columns, the labels in column
    ``t``, data from line ``skip + 1`` on; or ``None`` when the file is not clean.

    ``X`` is (m, n - 1) float64 in Fortran order (each block is copied column by column);
    ``label_texts`` are the distinct label cells, stripped of surrounding spaces, and
    ``codes`` (m,) the index of each row's label in them.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    columns = [f"c{j}" for j in range(n)]
    types = {name: pa.float64() for name in columns}
    types[columns[t]] = pa.string()
    read = pcsv.ReadOptions(skip_rows=skip, column_names=columns, block_size=BLOCK_BYTES)
    parse = pcsv.ParseOptions(delimiter=",", quote_char='"', newlines_in_values=False)
    # Only an empty cell is missing (and then refused by the slow path); "nan" and "inf" parse
    # as numbers, as NumPy reads them, and are refused later with the row and column.
    convert = pcsv.ConvertOptions(column_types=types, null_values=[""],
                                  strings_can_be_null=False, quoted_strings_can_be_null=False)
    upper = _line_count(path)
    X = np.empty((upper, n - 1), dtype=np.float64, order="F")  # untouched rows cost no memory
    texts: dict[str, int] = {}
    codes = np.empty(upper, dtype=np.int64)
    row = 0
    try:
        reader = pcsv.open_csv(path, read_options=read, parse_options=parse,
                               convert_options=convert)
        for batch in reader:
            k = batch.num_rows
            if row + k > upper:
                return None
            for j, column in enumerate(batch.columns):
                if j == t:
                    # Encoded block by block: a string column is a view of the block's text,
                    # so keeping the columns would keep the whole file in memory.
                    encoded = pc.dictionary_encode(pc.utf8_trim_whitespace(column))
                    local = np.array([texts.setdefault(text, len(texts))
                                      for text in encoded.dictionary.to_pylist()], np.int64)
                    codes[row:row + k] = local[encoded.indices.to_numpy(zero_copy_only=False)]
                    continue
                if column.null_count:
                    return None
                X[row:row + k, j if j < t else j - 1] = column.to_numpy(zero_copy_only=False)
            row += k
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, OSError):
        return None
    if row == 0:
        return None
    return X[:row], list(texts), codes[:row]
