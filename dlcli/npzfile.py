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
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator

import numpy as np

Fail = Callable[[str], Exception]

_BROKEN = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)


def _reason(path: str | os.PathLike[str], exc: BaseException) -> str:
    """Why ``path`` could not be read, in a user's words."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(6)
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
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
