"""Checkpoints: a trainer's whole state in one ``.npz`` (no pickle), written atomically.

Arrays are stored under dotted keys; everything else (counters, random stream states,
early-stopping scalars) goes into one JSON document stored as bytes under ``__meta__``.

Format 2 stores the parameters and the optimiser state by the network's array names
(``params.W1``, ``params.running_mean1``, ``optimizer.v.W1``, ...), so a checkpoint reads like
params.npz and does not depend on how the network lays its arrays out in memory. Format 1 stored
them as flat vectors (``theta``, ``optimizer.v``); the trainer still loads those.
"""
from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from dlcli.errors import RunError
from dlcli.npzfile import open_npz, read_npz_arrays
from dlcli.runs.files import write_npz

META = "__meta__"
FORMAT = 2


def _flatten(state: dict[str, Any], prefix: str, arrays: dict[str, np.ndarray]) -> dict:
    meta: dict[str, Any] = {}
    for key, value in state.items():
        name = f"{prefix}{key}"
        if isinstance(value, np.ndarray):
            arrays[name] = value
        elif isinstance(value, dict):
            meta[key] = _flatten(value, name + ".", arrays)
        else:
            meta[key] = value.item() if isinstance(value, np.generic) else value
    return meta


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write ``state`` (nested dicts of arrays and JSON-able values) atomically."""
    arrays: dict[str, np.ndarray] = {}
    meta = {"format": FORMAT, "state": _flatten(state, "", arrays)}
    arrays[META] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    write_npz(path, arrays)


def _unflatten(meta: dict[str, Any], prefix: str, arrays: dict[str, np.ndarray]) -> dict:
    state: dict[str, Any] = {}
    for key, value in meta.items():
        state[key] = _unflatten(value, f"{prefix}{key}.", arrays) if isinstance(value, dict) \
            else value
    depth = prefix.count(".")
    for name, array in arrays.items():
        if name.startswith(prefix) and name.count(".") == depth:
            state[name[len(prefix):]] = array
    return state


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state written by ``save_checkpoint``; a RunError if the file is unusable."""
    arrays = read_npz_arrays(path, lambda reason: RunError(f"checkpoint {path} {reason}"))
    if META not in arrays:
        raise RunError(f"{path} is not a dlcli checkpoint")
    try:
        meta = json.loads(arrays.pop(META).tobytes().decode("utf-8"))
    except ValueError:   # not UTF-8, or not JSON
        meta = None
    if not isinstance(meta, dict) or not isinstance(meta.get("state"), dict):
        raise RunError(f"checkpoint {path} is damaged: its {META} record is not the JSON "
                       "document dlcli writes")
    if meta.get("format", 1) > FORMAT:
        raise RunError(f"checkpoint {path} has format {meta['format']}, newer than this dlcli "
                       f"reads ({FORMAT}); upgrade dlcli to resume it")
    return _unflatten(meta["state"], "", arrays)


def checkpoint_epoch(path: str | os.PathLike[str]) -> int | None:
    """The epoch a checkpoint continues from, reading only its small record (not the arrays);
    None when the file is missing or unusable."""
    try:
        with open_npz(path, lambda reason: RunError(reason)) as npz:
            meta = json.loads(npz[META].tobytes().decode("utf-8"))
        epoch = meta["state"]["epoch"]
    except (RunError, KeyError, TypeError, ValueError):
        return None
    return epoch if isinstance(epoch, int) else None
