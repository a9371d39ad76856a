"""Matching a file's columns to the ones wanted, by name and in any order: a dev or test CSV
against the training file's (``prepare``), a file to predict on against a trained run's
features (``dlcli.apply.inputs``). One rule for both: every wanted column must be there, and
every other column is an error (a misspelt feature would otherwise be dropped silently), except
the label column, which the caller names.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence

from dlcli.errors import DataError


def listing(names: Sequence[str], limit: int = 8) -> str:
    """``'a', 'b', ...`` for a message: the first ``limit`` names, then how many in all."""
    shown = ", ".join(map(repr, names[:limit]))
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def column_order(columns: Sequence[str], wanted: Sequence[str], source: str, *, whose: str,
                 foreign: str, ignore: Collection[str] = (), note: str = "") -> list[int]:
    """Where each of ``wanted`` is in ``columns``, in ``wanted``'s order.

    A column of ``wanted`` that is missing, or one of ``columns`` that is neither wanted nor in
    ``ignore``, is a DataError naming ``source`` and the first such column: "its columns differ
    from {whose} (missing 'b'; {foreign}: 'c'){note}"."""
    position = {name: j for j, name in reversed(list(enumerate(columns)))}   # the first
    known = set(wanted) | set(ignore)
    missing = [name for name in wanted if name not in position]
    extra = [name for name in columns if name not in known]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {listing(missing)}")
        if extra:
            parts.append(f"{foreign}: {listing(extra)}")
        raise DataError(f"its columns differ from {whose} ({'; '.join(parts)}){note}",
                        file=source, column=(missing or extra)[0])
    return [position[name] for name in wanted]
