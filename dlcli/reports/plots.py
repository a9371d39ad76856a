"""Figures written as files: one run's cost curve (cost.png) and runs overlaid (compare --plot).

matplotlib is imported lazily, inside the functions, so commands that draw nothing never pay for
it. Figures are built with ``matplotlib.figure.Figure`` and rendered by the Agg backend without
going through pyplot: no global figure registry to leak, no GUI backend chosen, and nothing
changed for a user who has pyplot open with another backend (``matplotlib.use`` would switch it).
Every file is written atomically (``runs.files.write_bytes``: a temporary file, then a rename).
"""
from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlcli.reports.smoothing import ewma
from dlcli.runs.files import write_bytes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

HistoryRows = Sequence[Mapping[str, float | None]]
FORMATS = (".png", ".svg", ".pdf")
TRAIN, DEV = "-", "--"  # line styles: training data solid, dev data dashed


def _figure(panels: int) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(7.5, 4.2 * panels), layout="constrained")


def colors(n: int) -> list[Any]:
    """``n`` distinct colours: matplotlib's ten default colours, then (for more than ten lines,
    where those would repeat) evenly spaced samples of a perceptually ordered colour map."""
    if n <= 10:
        return [f"C{i}" for i in range(n)]
    from matplotlib import colormaps

    if n <= 20:
        cmap = colormaps["tab20"]
        return [cmap(i) for i in range(n)]
    cmap = colormaps["turbo"]
    return [cmap(0.05 + 0.9 * i / (n - 1)) for i in range(n)]


# A curve whose values span more than this ratio (two decades) gets a log axis: a start at 1400
# and an end at 0.05 is then readable, instead of everything below 50 flattened into one line.
LOG_RATIO = 100.0
# A curve flatter than this (relative to its level) is drawn as flat: zero initialisation's cost
# of log 2 wobbles in the 8th digit, which an autoscaled axis would blow up into a "trend".
FLAT = 1e-4


def value_axis(ax: Axes, values: Sequence[float], *, log_ok: bool = True) -> None:
    """Scale ``ax``'s y axis for ``values`` (every value drawn in it): log when they are all
    positive and span more than two decades; otherwise linear, with plain tick labels (never an
    offset such as "+6.931e-1", which turns float noise into a trend) and at least a small range
    around a flat curve."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return
    low, high = min(finite), max(finite)
    if log_ok and low > 0 and high / low > LOG_RATIO:
        ax.set_yscale("log")
        return
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    level = max(abs(low), abs(high))
    if high - low <= FLAT * max(level, 1e-12):
        pad = max(0.05 * level, 1e-3)
        ax.set_ylim(low - pad, high + pad)


def save_atomically(fig: Figure, path: str | os.PathLike[str]) -> None:
    """Write ``fig`` to ``path`` (format from the suffix) through a temporary file and a rename."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # render with Agg whatever backend pyplot may have chosen
    buffer = io.BytesIO()
    fig.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png", dpi=110)
    write_bytes(path, buffer.getvalue())


def series(rows: HistoryRows, column: str) -> tuple[list[float], list[float]]:
    """(epochs, values) of one history column, skipping empty cells and non-finite values."""
    points = [(row.get("epoch"), row.get(column)) for row in rows]
    kept = [(x, y) for x, y in points
            if x is not None and y is not None and math.isfinite(y)]
    return [x for x, _ in kept], [y for _, y in kept]


def has_column(rows: HistoryRows, column: str) -> bool:
    return bool(series(rows, column)[0])


def _epoch_axis(ax: Axes) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 0.5 on short runs


def plot_cost(history_rows: HistoryRows, path: str | os.PathLike[str], title: str) -> None:
    """Draw one run's cost curve to ``path``: the training cost, and the dev loss when present."""
    fig = _figure(1)
    ax = fig.subplots()
    ax.plot(*series(history_rows, "cost"), TRAIN, label="training cost")
    if has_column(history_rows, "dev_loss"):
        ax.plot(*series(history_rows, "dev_loss"), DEV, label="dev loss")
    ax.set(title=title, ylabel="cost")
    ax.grid(alpha=0.3)
    _epoch_axis(ax)
    ax.legend()
    save_atomically(fig, path)


def _overlay(ax: Axes, color: Any, x: list[float], y: list[float], style: str,
             smooth: float | None) -> None:
    if smooth is None or not y:
        ax.plot(x, y, style, color=color)
        return
    # The raw curve stays visible behind its smoothed version, as TensorBoard draws it.
    ax.plot(x, y, style, color=color, alpha=0.25, linewidth=1)
    ax.plot(x, ewma(y, smooth), style, color=color)


def plot_runs(runs: Sequence[tuple[str, HistoryRows]], path: str | os.PathLike[str],
              title: str = "", smooth: float | None = None) -> None:
    """Overlay several runs' curves in one figure written to ``path``.

    ``runs`` is (legend label, history rows) per run. The top panel has the training cost (solid)
    and the dev loss (dashed, where a run has one); a second panel with train (solid) and dev
    (dashed) accuracy is added when some run has accuracies. ``smooth`` is the EWMA beta (see
    ``smoothing.ewma``); the raw curves are then drawn faintly behind the smoothed ones.
    """
    from matplotlib.lines import Line2D

    with_accuracy = any(has_column(rows, c) for _, rows in runs
                        for c in ("train_accuracy", "dev_accuracy"))
    fig = _figure(2 if with_accuracy else 1)
    axes = fig.subplots(2 if with_accuracy else 1, 1, sharex=True, squeeze=False)[:, 0]
    panels = [(axes[0], "cost", ("cost", "dev_loss"))]
    if with_accuracy:
        panels.append((axes[1], "accuracy", ("train_accuracy", "dev_accuracy")))
    handles = []
    for index, (label, rows) in enumerate(runs):
        color = f"C{index % 10}"
        for ax, _, (train_column, dev_column) in panels:
            _overlay(ax, color, *series(rows, train_column), TRAIN, smooth)
            _overlay(ax, color, *series(rows, dev_column), DEV, smooth)
        handles.append(Line2D([], [], color=color, label=label))
    handles += [Line2D([], [], color="grey", linestyle=TRAIN, label="training"),
                Line2D([], [], color="grey", linestyle=DEV, label="dev")]
    for ax, ylabel, _ in panels:
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    _epoch_axis(axes[-1])
    if smooth is not None:
        title += f"{' - ' if title else ''}smoothed (EWMA, beta={smooth}); faint: raw"
    if title:
        axes[0].set_title(title)
    fig.legend(handles=handles, loc="outside right upper", fontsize="small")
    save_atomically(fig, path)
