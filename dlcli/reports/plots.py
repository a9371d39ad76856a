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
from dlcli.run_schema import COST, EPOCH, LEARNING_RATE, metric_name
from dlcli.runs.files import write_bytes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

HistoryRows = Sequence[Mapping[str, float | None]]
FORMATS = (".png", ".svg", ".pdf")
TRAIN, DEV = "-", "--"  # line styles: training data solid, dev data dashed
DEV_LOSS = metric_name("dev", "loss")


def _figure(panels: int) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(7.5, 4.2 * panels), layout="constrained")


def colors(n: int) -> list[Any]:
    """``n`` distinct colours: matplotlib's ten default colours; up to 20, those and then their
    light versions (tab20); beyond, evenly spaced samples of a colour map (turbo)."""
    if n <= 10:
        return [f"C{i}" for i in range(n)]
    from matplotlib import colormaps

    if n <= 20:   # tab20's strong colours (tab10's) first, then their light partners: runs
        cmap = colormaps["tab20"]   # next to each other in a legend never get one hue twice
        return [cmap(2 * i if i < 10 else 2 * (i - 10) + 1) for i in range(n)]
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


def plot_cost(history_rows: HistoryRows, path: str | os.PathLike[str], title: str,
              metrics: Mapping[str, Any] | None = None) -> None:
    """Draw one run's cost.png to ``path`` (see ``cost_figure``)."""
    save_atomically(cost_figure(history_rows, title, metrics), path)


def cost_figure(history_rows: HistoryRows, title: str,
                metrics: Mapping[str, Any] | None = None) -> Figure:
    """One run's cost curve: the training cost (solid) and the dev loss (dashed) when there is
    a dev split, on a log axis when they span more than two decades. With the run's
    ``metrics`` (metrics.json) the best epoch is marked on the monitored curve, an early stop
    and a divergence where they happened. A learning-rate panel is added under the curve when
    the rate changes during the run (a schedule)."""
    from matplotlib.figure import Figure

    metrics = metrics or {}
    lr_x, lr_y = series(history_rows, LEARNING_RATE)
    with_lr = len(set(lr_y)) > 1
    # Fixed margins rather than a layout engine: drawn at the end of every run, this figure's
    # layout is known in advance, and constrained layout costs a quarter of the drawing time.
    height = 5.6 if with_lr else 4.2
    fig = Figure(figsize=(7.5, height))
    fig.subplots_adjust(left=0.1, right=0.98, top=1 - 0.35 / height, bottom=0.5 / height,
                        hspace=0.08)
    if with_lr:
        ax, lr_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    else:
        ax, lr_ax = fig.subplots(), None
    drawn: dict[str, tuple[list[float], list[float]]] = {}
    for column, style, label in ((COST, TRAIN, "training cost"),
                                 (DEV_LOSS, DEV, "dev loss")):
        x, y = series(history_rows, column)
        if x:
            ax.plot(x, y, style, label=label, color="C0" if column == COST else "C1")
            drawn[column] = (x, y)
    ax.set(title=title, ylabel="cost")
    ax.set_label("cost")
    value_axis(ax, [v for _, y in drawn.values() for v in y])
    _run_markers(ax, history_rows, metrics, drawn)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:   # a run that failed before its first row has none
        ax.legend(fontsize="small")
    if lr_ax is not None:
        lr_ax.plot(lr_x, lr_y, color="C2", drawstyle="steps-pre")
        lr_ax.set(ylabel="learning rate")
        lr_ax.set_label("learning rate")
        value_axis(lr_ax, lr_y)
        lr_ax.grid(alpha=0.3)
        _epoch_axis(lr_ax)
    else:
        _epoch_axis(ax)
    return fig


def _run_markers(ax: Axes, rows: HistoryRows, metrics: Mapping[str, Any],
                 drawn: Mapping[str, tuple[list[float], list[float]]]) -> None:
    """The best epoch (a circle on the monitored curve, or a line when that curve is not
    drawn), an early stop (a vertical line) and a divergence (a cross at the last finite cost).
    """
    best = metrics.get("best_epoch")
    monitor = str(metrics.get("monitor") or DEV_LOSS)
    restored = metrics.get("restored_epoch") is not None
    if isinstance(best, int):
        label = f"best epoch {best}" + (" (parameters kept)" if restored else "")
        x, y = drawn.get(monitor, ([], []))
        if best in x:
            ax.plot([best], [y[x.index(best)]], "o", color="black", markersize=6,
                    markerfacecolor="none", markeredgewidth=1.5, label=label, zorder=5)
        else:
            ax.axvline(best, color="black", linestyle=":", linewidth=1, label=label)
    status = metrics.get("status")
    if status == "early_stopped" and rows:
        stop = rows[-1].get(EPOCH)
        ax.axvline(stop, color="C3", linestyle="--", linewidth=1.2,
                   label=f"early stop at epoch {stop}")
    if status == "diverged":
        x, y = drawn.get(COST, ([], []))
        if x:
            ax.plot([x[-1]], [y[-1]], "x", color="C3", markersize=10, markeredgewidth=2,
                    label=f"diverged after epoch {x[-1]}")


def _overlay(ax: Axes, color: Any, x: list[float], y: list[float], style: str,
             smooth: float | None) -> None:
    if smooth is None or not y:
        ax.plot(x, y, style, color=color)
        return
    # The raw curve stays visible behind its smoothed version, as TensorBoard draws it.
    ax.plot(x, y, style, color=color, alpha=0.25, linewidth=1)
    ax.plot(x, ewma(y, smooth), style, color=color)


def plot_runs(runs: Sequence[tuple[str, HistoryRows]], path: str | os.PathLike[str],
              title: str = "", smooth: float | None = None, legend_title: str = "") -> None:
    """Overlay several runs' curves in one figure written to ``path``.

    ``runs`` is (legend label, history rows) per run. The top panel has the training cost (solid)
    and the dev loss (dashed, where a run has one); a second panel with train (solid) and dev
    (dashed) accuracy is added when some run has accuracies. ``smooth`` is the EWMA beta (see
    ``smoothing.ewma``); the raw curves are then drawn faintly behind the smoothed ones.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    with_accuracy = any(has_column(rows, c) for _, rows in runs
                        for c in ("train_accuracy", "dev_accuracy"))
    n_panels = 2 if with_accuracy else 1
    # The legend sits outside the axes, right of them: the figure grows by its width (and it
    # takes more columns when it is taller than the figure) so the axes keep their size.
    labels = [label for label, _ in runs] + ["training", "dev"]
    height = 4.2 * n_panels
    per_column = max(int(height / 0.22), 1)
    columns = math.ceil(len(labels) / per_column)
    legend_width = columns * (0.068 * max(len(label) for label in labels) + 0.55)
    fig = Figure(figsize=(7.5 + legend_width, height), layout="constrained")
    axes = fig.subplots(n_panels, 1, sharex=True, squeeze=False)[:, 0]
    panels = [(axes[0], "cost", ("cost", "dev_loss"))]
    if with_accuracy:
        panels.append((axes[1], "accuracy", ("train_accuracy", "dev_accuracy")))
    handles = []
    for (label, rows), color in zip(runs, colors(len(runs))):
        for ax, _, (train_column, dev_column) in panels:
            _overlay(ax, color, *series(rows, train_column), TRAIN, smooth)
            _overlay(ax, color, *series(rows, dev_column), DEV, smooth)
        handles.append(Line2D([], [], color=color, label=label))
    # black: grey is one of the runs' colours (tab10's eighth)
    handles += [Line2D([], [], color="black", linestyle=TRAIN, label="training"),
                Line2D([], [], color="black", linestyle=DEV, label="dev")]
    for ax, ylabel, _ in panels:
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        value_axis(ax, [v for line in ax.get_lines() for v in line.get_ydata()],
                   log_ok=ylabel != "accuracy")
    _epoch_axis(axes[-1])
    if smooth is not None:
        title += f"{' - ' if title else ''}smoothed (EWMA, beta={smooth}); faint: raw"
    if title:
        axes[0].set_title(title)
    fig.legend(handles=handles, loc="outside right upper", fontsize="small", ncols=columns,
               title=legend_title or None, title_fontsize="small")
    save_atomically(fig, path)
