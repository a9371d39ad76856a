"""Tables for people that fit the terminal: ranked columns, short headers, and the choice of
what to leave out (pure logic; the CLI measures and draws).

A table is a list of ``Column``s in the order they are drawn, each with a rank: when the table
is too wide, columns are left out from the least important up (never cut or folded mid-value),
and the table says which. A table of few runs and many columns is drawn transposed instead,
runs as columns and fields as rows, when that shows everything.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

SEPARATORS = (" ", ".", "_")
MIN_PART = 3   # no header line as short as "n_"
# At most this many runs are drawn as columns (transposed); more read better as rows.
TRANSPOSE_MAX_RUNS = 6


@dataclass(frozen=True)
class Column:
    """One column: a header of one or two lines, a cell per row, and a rank (lower stays
    longer; rank 0 is never left out). ``label`` names it in a note ("train loss") and heads
    its row when the table is transposed."""

    key: str
    header: str
    cells: list[str]
    rank: int
    numeric: bool = False
    label: str = ""
    family: str = ""   # columns of one quantity (final and best dev loss: "dev loss")

    @property
    def name(self) -> str:
        return self.label or self.header.replace("\n", " ")

    @property
    def width(self) -> int:
        """The width it needs: its widest header line or cell."""
        return max([len(line) for line in self.header.split("\n")] + [len(c) for c in self.cells])


def heading(text: str, room: int = 0) -> str:
    """``text`` on two lines when that makes it narrower than one and than ``room`` (the
    widest cell under it): split at the space, dot or underscore that gives the narrowest
    header; the separator stays at the end of the first line unless it is a space
    (``final\\ndev loss``, ``optimizer.\\nlearning_rate``, ``learning_\\nrate``)."""
    if len(text) <= room:
        return text
    best = text
    for index, char in enumerate(text):
        if char not in SEPARATORS or min(index, len(text) - 1 - index) < MIN_PART:
            continue
        first = text[:index] if char == " " else text[:index + 1]
        second = text[index + 1:]
        if max(len(first), len(second), room) < max((len(p) for p in best.split("\n"))):
            best = f"{first}\n{second}"
    return best


def fit_columns(columns: Sequence[Column], fits: Callable[[list[Column]], bool]
                ) -> tuple[list[Column], list[Column]]:
    """The columns that fit, in drawing order, and those left out (in rank order).

    Columns are added most important first (rank, then position) while ``fits`` accepts the
    table; one that does not fit is left out and narrower, less important ones are still tried.
    """
    order = sorted(range(len(columns)), key=lambda i: (columns[i].rank, i))
    kept: set[int] = set()
    left_out: list[Column] = []
    for index in order:
        trial = kept | {index}
        if columns[index].rank == 0 or fits([columns[i] for i in sorted(trial)]):
            kept = trial
        else:
            left_out.append(columns[index])
    return [columns[i] for i in sorted(kept)], left_out


def left_out_note(left_out: Sequence[Column], shown: Sequence[Column], width: int,
                  how: str) -> str:
    """``left out to fit 80 columns: train loss, time (the same in every run: epochs 300);
    <how>``: a family (final and best dev acc) named once when none of its columns is shown,
    a column with one value for every row named with it; "" when nothing was left out."""
    if not left_out:
        return ""
    shown_families = {c.family for c in shown}
    names: list[str] = []
    same: list[str] = []
    for column in left_out:
        if column.cells and len(set(column.cells)) == 1 and not column.family:
            same.append(f"{column.name} {column.cells[0]}")
            continue
        name = column.family if column.family and column.family not in shown_families \
            else column.name
        if name not in names:
            names.append(name)
    parts = [", ".join(names)] if names else []
    if same:
        parts.append(f"the same in every run: {', '.join(same)}")
    return f"left out to fit {width} columns: {'; '.join(parts)}; {how}"
