"""A small text plot of one or more curves, for ``dlcli show`` (pure Python, no terminal calls).

Each series gets a marker; where two series fall on the same cell, the one given first wins, so
put the curve that matters most first. Missing and non-finite values are skipped.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

MARKERS = "*o+x#"


def _fmt(value: float) -> str:
    return f"{value:.4g}"


Curve = tuple[Sequence[float], Sequence[float | None]]


def text_plot(curves: Mapping[str, Curve], width: int = 60, height: int = 10) -> list[str]:
    """Lines of text drawing each ``label: (x, y)`` curve, with axes and a legend.

    ``width`` and ``height`` are the size of the plotting area in characters (at least 2 each).
    """
    width, height = max(width, 2), max(height, 2)
    points = [(label, [(xi, yi) for xi, yi in zip(x, y)
                       if yi is not None and math.isfinite(yi)])
              for label, (x, y) in curves.items()]
    values = [y for _, pts in points for _, y in pts]
    if not values:
        return ["(no values to plot)"]
    xs = [xi for _, pts in points for xi, _ in pts]
    y_low, y_high = min(values), max(values)
    x_low, x_high = min(xs), max(xs)
    y_span = (y_high - y_low) or 1.0
    x_span = (x_high - x_low) or 1.0

    def cell(xi: float, yi: float) -> tuple[int, int]:
        return (round((y_high - yi) / y_span * (height - 1)),
                round((xi - x_low) / x_span * (width - 1)))

    grid = [[" "] * width for _ in range(height)]
    # Draw the last series first so the first one ends up on top.
    for index in reversed(range(len(points))):
        marker = MARKERS[index % len(MARKERS)]
        pts = points[index][1]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            # Join neighbouring points across the empty columns between them, so a short run
            # still reads as a line.
            (_, c0), (_, c1) = cell(x0, y0), cell(x1, y1)
            for col in range(c0 + 1, c1):
                xi = x_low + col / (width - 1) * x_span
                row, _ = cell(xi, y0 + (y1 - y0) * (xi - x0) / ((x1 - x0) or 1.0))
                grid[row][col] = marker
        for xi, yi in pts:
            row, col = cell(xi, yi)
            grid[row][col] = marker

    labels = {0: _fmt(y_high), height - 1: _fmt(y_low)}
    pad = max(len(text) for text in labels.values())
    lines = [f"{labels.get(r, ''):>{pad}} |{''.join(cells)}" for r, cells in enumerate(grid)]
    lines.append(f"{'':>{pad}} +{'-' * width}")
    left, right = _fmt(x_low), _fmt(x_high)
    lines.append(f"{'':>{pad}}  {left}{right:>{max(width - len(left), len(right) + 1)}}")
    lines.append("  ".join(f"{MARKERS[i % len(MARKERS)]} {label}"
                           for i, (label, _) in enumerate(points)))
    return lines
