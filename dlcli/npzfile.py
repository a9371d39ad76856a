"""Opening the ``.npz`` files users hand to dlcli (data files, ``model.init_from``,
checkpoints): one path from every way such a file can be broken to one plain reason.

``np.load`` fails in a different way for each: ``EOFError`` for an empty file,
``zipfile.BadZipFile`` for one that starts like a zip but is cut short, ``ValueError`` about
pickles for text, ``zlib.error`` for a damaged member, and an array for a ``.npy``. The caller
says which of its errors the reason goes into (a config error for ``init_from``, a data error for
data, a run error for a checkpoint), so each file's message keeps its kind and exit code.
"""
from __future__ import annotations

import contextlib
import math
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from dlcli.errors import os_reason

Fail = Callable[[str], Exception]

_BROKEN = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)


def _reason(path: str | os.PathLike[str], exc: BaseException) -> str:
    """Why ``path`` could not be read, in a user's words."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(6)
    except OSError as err:
        return f"cannot be read ({os_reason(err)})"
    if not head:
        return "is empty (0 bytes); it should be an NPZ file (numpy.savez)"
    if head.startswith(b"\x93NUMPY"):
        return "holds a single NumPy array (.npy), not an NPZ archive of named arrays"
    if not head.startswith(b"PK"):
        return "is not an NPZ file (a zip archive of NumPy arrays, as numpy.savez writes)"
    if isinstance(exc, ValueError) and "allow_pickle" in str(exc):
        return "holds Python objects, which would need unpickling; save plain numeric arrays"
    detail = str(exc) or type(exc).__name__
    if len(detail) > 80:   # a damaged header is quoted whole in numpy's message
        detail = detail[:77] + "..."
    return f"is truncated or damaged ({detail[:1].lower()}{detail[1:]})"


@contextlib.contextmanager
def open_npz(path: str | os.PathLike[str], fail: Fail) -> Iterator[np.lib.npyio.NpzFile]:
    """``np.load(path)`` as a context, arrays read inside it; any way the file is broken
    (missing, empty, not a zip, truncated, a damaged array) is raised as ``fail(reason)``.

    ``fail`` gets the reason without the path ("is empty (0 bytes); ..."), to put after it."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise fail("does not exist") from None
    except IsADirectoryError:
        raise fail("is a directory, not an NPZ file") from None
    except _BROKEN as exc:
        raise fail(_reason(path, exc)) from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise fail("holds a single NumPy array (.npy), not an NPZ archive of named arrays")
    try:
        with loaded as npz:
            yield npz
    except _BROKEN as exc:
        raise fail(_reason(path, exc)) from None


def read_npz_arrays(path: str | os.PathLike[str], fail: Fail) -> dict[str, np.ndarray]:
    """Every array of an NPZ file, by name (see ``open_npz``)."""
    with open_npz(path, fail) as npz:
        return {key: npz[key] for key in npz.files}


class MemberRows:
    """One array of an NPZ file, read a block of rows at a time (``blocks``), so an array larger
    than memory can be streamed: ``dlcli predict`` on a large ``X``.

    The array's ``.npy`` header gives ``shape`` and ``dtype`` when the file is opened; ``blocks``
    then reads the member's bytes in order through the zip archive's own reader, which
    decompresses a ``savez_compressed`` member as it goes, so compressed and uncompressed files
    alike hold one block in memory at a time. (An uncompressed member could also be memory-mapped,
    as ``dlcli.data.mapped.map_array`` does for training, but a single pass in file order gains
    nothing from a map, and the pages it touched would count in the process's resident memory
    until the kernel reclaims them.) An array stored in Fortran order has no contiguous rows and
    is read whole. Any way the file is broken is raised as ``fail(reason)`` (see ``open_npz``).
    """

    def __init__(self, path: str | os.PathLike[str], member: str | None, fail: Fail) -> None:
        """``member``: the array's name in the NPZ file; None for an ``.npy`` file, read the
        same way."""
        self.path, self.member, self.fail = path, member, fail
        self._archive: zipfile.ZipFile | None = None
        try:
            try:
                if member is None:
                    self._stream: Any = open(path, "rb")
                else:
                    self._archive = zipfile.ZipFile(path)
                    self._stream = self._archive.open(f"{member}.npy")
                version = np.lib.format.read_magic(self._stream)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                self.shape, self.fortran, self.dtype = read_header(self._stream)
            except BaseException:
                if self._archive is not None:
                    self._archive.close()
                raise
        except FileNotFoundError:
            raise fail("does not exist") from None
        except KeyError:
            raise fail(f"has no array {member!r}") from None
        except _BROKEN as exc:
            raise fail(self._reason(exc)) from None
        if self.dtype.hasobject:
            self.close()
            raise fail(self._reason(ValueError("allow_pickle")))

    def __enter__(self) -> MemberRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stream.close()
        if self._archive is not None:
            self._archive.close()

    def _reason(self, exc: BaseException) -> str:
        if self.member is not None:
            return _reason(self.path, exc)
        if isinstance(exc, OSError):
            return f"cannot be read ({os_reason(exc)})"
        if isinstance(exc, ValueError) and "allow_pickle" in str(exc):
            return "holds Python objects, which would need unpickling; save plain numbers"
        return f"is truncated or damaged ({str(exc) or type(exc).__name__})"

    def blocks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """``(start, array[start:start + rows])`` in order, each block a new array."""
        m = self.shape[0] if self.shape else 0
        if self.fortran and len(self.shape) > 1:
            if self.member is None:
                whole = np.load(self.path, allow_pickle=False)
            else:
                with open_npz(self.path, self.fail) as npz:
                    whole = npz[self.member]
            for start in range(0, m, rows):
                yield start, whole[start:start + rows]
            return
        row_shape = tuple(self.shape[1:])
        row_bytes = self.dtype.itemsize * math.prod(row_shape)
        for start in range(0, m, rows):
            k = min(rows, m - start)
            try:
                data = self._stream.read(k * row_bytes)
            except _BROKEN as exc:
                raise self.fail(self._reason(exc)) from None
            if len(data) != k * row_bytes:
                what = f"array {self.member!r}" if self.member else "the array"
                done = start + len(data) // max(row_bytes, 1)
                raise self.fail(self._reason(EOFError(f"{what} ends after {done} of its {m} "
                                                      "rows")))
            yield start, np.frombuffer(data, dtype=self.dtype).reshape(k, *row_shape)
