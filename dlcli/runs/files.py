"""Atomic file writes: a temporary file in the same directory, then a rename.

A crash or a kill never leaves a half-written file: readers see the old file or the new one.
Every write failure (a full disk, a read-only directory) becomes one ``WriteError`` naming the
reason and the file, through ``writing``; the temporary file is removed.
Also the UTC timestamp the written files carry (``started``, ``finished``, ``updated``).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from dlcli.errors import WriteError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_MODE = 0o666 & ~_umask()   # what open() would give; mkstemp alone makes files 0600


@contextlib.contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """The one way a failed write is reported: any OSError inside becomes a WriteError that
    names ``path`` (``no space left on device while writing RUN/checkpoint.npz``)."""
    try:
        yield
    except WriteError:
        raise
    except OSError as exc:
        raise WriteError(path, exc) from None


@contextlib.contextmanager
def open_atomic(path: str | os.PathLike[str], mode: str = "wb", **kwargs: Any) -> Iterator[IO]:
    """A file to write ``path`` through, a piece at a time: it replaces ``path`` only when the
    with-block ends without an error (else the temporary file is removed and ``path`` is as it
    was). A failed write is a WriteError naming ``path``."""
    path = Path(path)
    with writing(path):
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, mode, **kwargs) as handle:
                yield handle
            os.chmod(tmp, _MODE)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with open_atomic(path, "wb") as handle:
        handle.write(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, allow_nan=False, default=_json_default) + "\n")


def yaml_text(data: Any) -> str:
    """``data`` as the YAML files dlcli writes hold it: keys in their order, block style."""
    import yaml   # here: the figures' helper process writes files through this module, no YAML

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def yaml_value(value: Any) -> str:
    """A value as one line of YAML: what ``--set KEY=VALUE`` and CSV cells hold.

    Floats go through PyYAML so ``1e-05`` is written ``1.0e-05`` (PyYAML reads ``1e-05`` as a
    string) and round-trips exactly."""
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def csv_cell(value: Any) -> str:
    """One CSV cell that reads back as the same value: empty for None, the shortest text of a
    float that round-trips exactly, one line of YAML for lists, mappings and booleans."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, dict, bool)):
        return yaml_value(value)
    return str(value)


def write_yaml(path: str | os.PathLike[str], data: Any) -> None:
    write_text(path, yaml_text(data))


def write_npz(path: str | os.PathLike[str], arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes(path, buffer.getvalue())


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def now_utc() -> str:
    """The current time in UTC, ISO 8601 to the second (``2026-11-24T16:15:00+00:00``)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def clean_json(value: Any) -> Any:
    """NaN and inf become None (JSON has no such numbers)."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    return value
