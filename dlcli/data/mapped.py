"""Training from a memory-mapped file: features read from the disk as batches need them.

An uncompressed NPY or NPZ file (``numpy.save``, ``numpy.savez``; not ``savez_compressed``) holds
its array as raw bytes, so the array can be mapped instead of read (``map_array``): only the pages
a batch touches are read, and the operating system drops them again under memory pressure. A data
set larger than the machine's memory can then train.

``MappedRows`` is a split whose rows stay in the map: it gathers rows, converts them to float64,
normalises them and casts them to the run's dtype only when asked (``take`` for a batch, slicing
for an evaluation chunk). Each value goes through the same float64 arithmetic as an in-memory
split's (``prepare._split``), so training from the map gives bit for bit the same run.
"""
from __future__ import annotations

import mmap
import struct
import zipfile
from typing import Any

import numpy as np

_LOCAL_HEADER = struct.Struct("<4s5H3L2H")   # a zip member's local header (30 bytes)


def map_array(path: str, member: str | None = None) -> np.memmap | None:
    """The array of an ``.npy`` file, or member ``member`` (e.g. ``"X"``) of an ``.npz`` file,
    memory-mapped read-only; ``None`` when it cannot be mapped (a compressed member, an object
    array). Raises ``OSError``/``ValueError``/``zipfile.BadZipFile`` for a broken file."""
    offset = 0
    if member is not None:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(f"{member}.npy")
        if info.compress_type != zipfile.ZIP_STORED:
            return None
        with open(path, "rb") as handle:
            handle.seek(info.header_offset)
            fields = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
        if fields[0] != b"PK\x03\x04":
            raise ValueError("a zip member's local header is damaged")
        name_length, extra_length = fields[-2], fields[-1]
        offset = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    with open(path, "rb") as handle:
        handle.seek(offset)
        version = np.lib.format.read_magic(handle)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(handle)
        start = handle.tell()
    if dtype.hasobject or 0 in shape:
        return None
    return np.memmap(path, dtype=dtype, mode="r", offset=start, shape=shape,
                     order="F" if fortran else "C")


class MappedRows:
    """Rows ``source[rows]`` (m, n) normalised as ``(x - shift) / scale`` in float64 and cast to
    ``dtype``, computed when read. ``source`` is any (M, n) array, typically a memory map;
    ``rows`` picks and orders its rows (None: all of them, in order)."""

    ndim = 2

    def __init__(self, source: np.ndarray, rows: np.ndarray | None, shift: np.ndarray,
                 scale: np.ndarray, dtype: np.dtype | str) -> None:
        self.source = source
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        self.shift = np.asarray(shift, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.dtype = np.dtype(dtype)
        m = source.shape[0] if self.rows is None else len(self.rows)
        self.shape = (int(m), int(source.shape[1]))
        self._advice: int | None = None

    def __len__(self) -> int:
        return self.shape[0]

    def _advise(self, advice: int | None) -> None:
        """Tell the kernel how the map is about to be read: a shuffled batch reads scattered
        rows, and the default read-ahead then reads (and evicts) far more than the rows; an
        evaluation chunk reads rows in order. Without this, a 3 GB file under a 1 GB memory
        limit read over a terabyte in one epoch."""
        mapping = getattr(self.source, "_mmap", None)   # np.memmap's mapping, views included
        if advice is None or mapping is None or advice == self._advice:
            return
        try:
            mapping.madvise(advice)
            self._advice = advice
        except (OSError, ValueError):
            self._advice = None

    def _raw(self, index: Any) -> np.ndarray:
        """The raw rows at ``index`` (a slice or an index array into this split)."""
        if self.rows is None:
            picked = self.source[index]
        else:
            picked = self.source[self.rows[index]]
        return np.asarray(picked)

    def _normalised(self, raw: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        X = np.array(raw, dtype=np.float64)   # the same float64 arithmetic as prepare._split
        X -= self.shift
        X /= self.scale
        if out is None:
            return np.ascontiguousarray(X, dtype=self.dtype)
        np.copyto(out, X, casting="same_kind")
        return out

    def take(self, indices: np.ndarray, axis: int = 0, out: np.ndarray | None = None
             ) -> np.ndarray:
        """Rows ``indices`` normalised, written into ``out`` when given (``ndarray.take``'s
        signature, so the trainer gathers a batch from this as from an array)."""
        if axis != 0:
            raise ValueError("MappedRows gathers whole rows (axis 0)")
        self._advise(getattr(mmap, "MADV_RANDOM", None))
        # Sorted reads touch the file in order; the rows come back in the order asked for.
        indices = np.asarray(indices, dtype=np.int64)
        order = np.argsort(indices, kind="stable")
        raw = np.empty((len(indices), self.shape[1]), dtype=self.source.dtype)
        raw[order] = self._raw(indices[order])
        return self._normalised(raw, out)

    def __getitem__(self, index: Any) -> np.ndarray:
        """Normalised rows of a slice or an index array, as a new array."""
        if isinstance(index, tuple) or isinstance(index, (int, np.integer)):
            raise TypeError("MappedRows takes a slice or an array of row indices")
        if isinstance(index, slice):   # rows in file order (kept rows are sorted)
            self._advise(getattr(mmap, "MADV_SEQUENTIAL", None))
        return self._normalised(self._raw(index))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """Every row, normalised, in memory (for small uses such as plotting 2-D data)."""
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype, copy=False)
