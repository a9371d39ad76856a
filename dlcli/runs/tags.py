"""Tags and notes: labels a user puts on runs to find them again (``--tag``, ``--note``).

A run keeps its own in metrics.json (``tags``: a list, ``note``: a string). A study or search
directory keeps the tags and note it was started with in ``meta.json``; every run inside it
carries them too, so ``dlcli ls --tag T`` and ``dlcli compare --tag T`` find its trials.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from dlcli.errors import InputError
from dlcli.run_schema import META_FILE
from dlcli.runs.files import write_json

MAX_TAG = 64


def check_tags(tags: Iterable[str] | None) -> list[str]:
    """The tags as given, stripped, each once, in order; InputError for an unusable one."""
    checked: list[str] = []
    for tag in tags or []:
        text = str(tag).strip()
        if not text:
            raise InputError("--tag: a tag cannot be empty")
        if any(ch in text for ch in ",\n\r\t") or len(text) > MAX_TAG:
            raise InputError(f"--tag {text!r}: a tag is one line of at most {MAX_TAG} "
                             "characters without commas or tabs (give --tag once per tag)")
        if text not in checked:
            checked.append(text)
    return checked


def check_note(note: str | None) -> str | None:
    if note is None:
        return None
    text = note.strip()
    return text or None


def merge_tags(*groups: Sequence[str] | None) -> list[str]:
    """The tags of every group, each once, first appearance first."""
    merged: list[str] = []
    for group in groups:
        for tag in group or []:
            if tag not in merged:
                merged.append(tag)
    return merged


def read_meta(directory: Path) -> dict[str, Any]:
    """A study's or search's meta.json as {"tags": [...], "note": str | None}; empty when absent
    or unreadable (tags are a convenience: a damaged file must not stop a listing)."""
    try:
        data = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {"tags": [], "note": None}
    if not isinstance(data, dict):
        return {"tags": [], "note": None}
    tags = data.get("tags")
    note = data.get("note")
    return {"tags": [str(t) for t in tags] if isinstance(tags, list) else [],
            "note": str(note) if isinstance(note, str) and note else None}


def write_meta(directory: Path, tags: Sequence[str], note: str | None) -> None:
    """Add ``tags`` to a study's or search's meta.json and set its note (when given)."""
    meta = read_meta(directory)
    meta = {"tags": merge_tags(meta["tags"], tags), "note": note or meta["note"]}
    write_json(directory / META_FILE, meta)


def run_tags(metrics: dict[str, Any]) -> list[str]:
    tags = metrics.get("tags")
    return [str(t) for t in tags] if isinstance(tags, list) else []


def run_note(metrics: dict[str, Any]) -> str | None:
    note = metrics.get("note")
    return str(note) if isinstance(note, str) and note else None
