"""study.png (SPEC section 12): the picture of a study's lesson, one colour per grid point.

``plot_study(groups, path)`` takes the study's points (a label and the run directories of its
seeds) and reads every run's files itself. It draws, for each point, the mean curve over the
seeds with a shaded band from the lowest to the highest seed:

- panels for the training cost, the train and dev loss, and the train and dev accuracy (a panel
  is left out when no run has its data);
- a log y axis on every panel whose values span more than two decades, plain tick labels (no
  offset) elsewhere;
- markers at each seed's best epoch and early stop, and a cross where a run diverged;
- a learning-rate panel when the learning rate differs between points (a schedule study);
- a gradient-norm panel when the runs log them: the norm of each layer's dW against the layer,
  at the first and the last logged epoch, which is where vanishing and exploding gradients show;
- for 2-feature data, a row of decision boundaries, one per point (its first seed's network).

matplotlib is imported lazily; the file is written atomically.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlcli.errors import DlcliError
from dlcli.reports import boundary
from dlcli.reports.compare import short_keys
from dlcli.reports.plots import colors, save_atomically, series, value_axis
from dlcli.run_schema import (COST, EVALUATED_SPLITS, LEARNING_RATE, MEASURES,
                              grad_norm_column, metric_name)
from dlcli.runs.reader import RunRecord, read_run

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

TRAIN_STYLE, DEV_STYLE = ":", "-"   # dev data solid (the lesson), training data dotted
TRAIN_PREFIX = metric_name("train", "")
DEV_LOSS = metric_name("dev", "loss")
GRAD_NORM = re.compile("^" + re.escape(grad_norm_column("W")) + r"(\d+)$")
BOUNDARIES_PER_ROW = 6


@dataclass
class Point:
    """One grid point: its label, its colour, its seeds' runs (readable ones only) and the width
    of its lines: points drawn first get wider lines, so a curve that another point's curve
    covers exactly (momentum and plain gradient descent at a small learning rate) still shows
    as a rim around it."""

    label: str
    color: Any
    runs: list[RunRecord]
    width: float = 1.6


@dataclass
class Band:
    epochs: list[float]
    mean: list[float]
    low: list[float]
    high: list[float]


def band(runs: Sequence[RunRecord], column: str) -> Band:
    """Mean, min and max of ``column`` over ``runs`` at every epoch where some run has a finite
    value. Runs of different lengths (early stopping, divergence) are averaged over the runs
    still going at each epoch."""
    by_epoch: dict[float, list[float]] = {}
    for run in runs:
        for epoch, value in zip(*series(run.history, column)):
            by_epoch.setdefault(epoch, []).append(value)
    epochs = sorted(by_epoch)
    return Band(epochs, [math.fsum(by_epoch[e]) / len(by_epoch[e]) for e in epochs],
                [min(by_epoch[e]) for e in epochs], [max(by_epoch[e]) for e in epochs])


def _draw_band(ax: Axes, b: Band, color: Any, style: str, shade: bool = True,
               width: float = 1.6) -> None:
    """Draw one band: the mean curve and, where the seeds differ, the min-max shade."""
    if not b.epochs:
        return
    ax.plot(b.epochs, b.mean, style, color=color, linewidth=width)
    if shade and any(lo != hi for lo, hi in zip(b.low, b.high)):
        ax.fill_between(b.epochs, b.low, b.high, color=color, alpha=0.18, linewidth=0)


def _scale_values(points: Sequence[Point], column: str) -> list[float]:
    """The values a panel is scaled to: those of the runs that did not diverge and where the
    diverging ones started (their last epochs reach 1e30 and would flatten every other curve),
    or all when every run diverged."""
    runs = [run for point in points for run in point.runs]
    if all(run.status == "diverged" for run in runs):
        return [v for run in runs for v in series(run.history, column)[1]]
    return [v for run in runs
            for v in series(run.history, column)[1][:None if run.status != "diverged" else 1]]


def _keep_to(ax: Axes, values: Sequence[float]) -> None:
    """Limit the y axis to ``values`` (with a margin) when other curves in it go far beyond:
    a diverging run then leaves through the top of the panel, its cross drawn on the edge."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return
    low, high = min(finite), max(finite)
    top = ax.get_ylim()[1]
    if ax.get_yscale() == "log":
        if low > 0 and top > high * 100:
            ax.set_ylim(low / 2, high * 30)
    elif top > high + 2 * (high - low) + 1e-12:
        ax.set_ylim(top=high + 0.3 * (high - low))


def _has(points: Sequence[Point], column: str) -> bool:
    return any(series(run.history, column)[0] for p in points for run in p.runs)


def _value_at(run: RunRecord, column: str, epoch: Any) -> float | None:
    for row in run.history:
        if row.get("epoch") == epoch:
            value = row.get(column)
            return value if value is not None and math.isfinite(value) else None
    return None


def _last_value(run: RunRecord, column: str) -> tuple[float, float] | None:
    x, y = series(run.history, column)
    return (x[-1], y[-1]) if x else None


def _markers(ax_for: Mapping[str, Axes], points: Sequence[Point]) -> set[str]:
    """Mark each run's best epoch (o) and early stop (a dotted vertical line) on the panel of its
    monitored column, and a divergence (x) on the cost panel; returns the kinds of marker drawn
    (for the legend). Points drawn first get larger markers, so a marker another point's covers
    exactly (the same best epoch) still shows as a ring."""
    drawn: set[str] = set()
    for index, point in enumerate(points):
        size = 5.5 + 4.0 * (len(points) - 1 - index) / max(len(points) - 1, 1)
        for run in point.runs:
            monitor = str(run.metrics.get("monitor") or DEV_LOSS)
            ax = ax_for.get(monitor) or ax_for.get(COST)
            column = monitor if monitor in ax_for else COST
            if ax is None:
                continue
            best = run.metrics.get("best_epoch")
            value = _value_at(run, column, best) if best is not None else None
            if value is not None:
                ax.plot([best], [value], "o", color=point.color, markersize=size,
                        markeredgecolor="black", markeredgewidth=0.6, zorder=5)
                drawn.add("best")
            if run.status == "early_stopped":
                last = _last_value(run, column)
                if last is not None:
                    ax.axvline(last[0], color=point.color, linestyle=(0, (2, 2)),
                               linewidth=1.3, alpha=0.9, zorder=1)
                    drawn.add("stop")
            if run.status == "diverged" and COST in ax_for:
                last = _last_value(run, COST)
                if last is not None:
                    cost_ax = ax_for[COST]
                    y = min(last[1], cost_ax.get_ylim()[1])   # on the edge when off the panel
                    cost_ax.plot([last[0]], [y], "x", color=point.color, markersize=9,
                                 markeredgewidth=2.2, zorder=5, clip_on=False)
                    drawn.add("diverged")
    return drawn


def _learning_rates_differ(points: Sequence[Point]) -> bool:
    """Whether the learning rate changes during some run or differs between runs at an epoch
    (runs that stop early are compared over the epochs they have)."""
    by_epoch: dict[float, set[float]] = {}
    for point in points:
        for run in point.runs:
            epochs, rates = series(run.history, LEARNING_RATE)
            if len(set(rates)) > 1:
                return True
            for epoch, rate in zip(epochs, rates):
                by_epoch.setdefault(epoch, set()).add(rate)
    return any(len(rates) > 1 for rates in by_epoch.values())


def _grad_norm_layers(points: Sequence[Point]) -> list[int]:
    layers = {int(m.group(1)) for p in points for run in p.runs for row in run.history[:1]
              for key in row if (m := GRAD_NORM.match(key))}
    return sorted(layers)


def _norms_at(run: RunRecord, layers: Sequence[int], which: int) -> list[float] | None:
    """Every layer's gradient norm in the first (which=0) or last (-1) row that logs them all
    and whose epoch ended with a finite cost (a diverging epoch's norms are its partial steps)."""
    rows = [row for row in run.history if _finite(row.get(COST))
            and all(_finite(row.get(grad_norm_column(f"W{n}"))) for n in layers)]
    if not rows:
        return None
    return [float(rows[which][grad_norm_column(f"W{n}")]) for n in layers]  # type: ignore[arg-type]


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _draw_grad_norms(ax: Axes, points: Sequence[Point], layers: list[int]) -> None:
    values: list[float] = []
    for point in points:
        for which, style in ((0, "-o"), (-1, "--s")):
            per_run = [n for run in point.runs if (n := _norms_at(run, layers, which))]
            if not per_run:
                continue
            # the geometric mean: norms are compared on a log axis, decades apart
            mean = [math.exp(math.fsum(math.log(max(v, 1e-300)) for v in col) / len(col))
                    for col in zip(*per_run)]
            low = [min(col) for col in zip(*per_run)]
            high = [max(col) for col in zip(*per_run)]
            ax.plot(layers, mean, style, color=point.color, markersize=4,
                    linewidth=point.width)
            if len(per_run) > 1:
                ax.fill_between(layers, low, high, color=point.color, alpha=0.15, linewidth=0)
            values += low + high
    ax.set(xlabel="layer", ylabel="gradient norm ||dW||")
    ax.set_title("gradient norm by layer, geometric mean\n(solid: first epoch, dashed: last)",
                 fontsize="medium")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) > 10:
        ax.set_yscale("log")
    else:
        value_axis(ax, values)


def short_labels(labels: Sequence[str]) -> tuple[str, list[str]]:
    """(legend title, labels): "key=value" parts common to every label's key set move the key
    into the title, so the legend reads "optimizer.name" over "gd", "adam"."""
    parsed = [[part.partition("=") for part in label.split(", ")] for label in labels]
    if not labels or not all(all(sep for _, sep, _ in parts) for parts in parsed):
        return "", list(labels)
    keys = {tuple(k for k, _, _ in parts) for parts in parsed}
    if len(keys) != 1:
        return "", list(labels)
    (key_tuple,) = keys
    return ", ".join(key_tuple), [", ".join(v for _, _, v in parts) for parts in parsed]


def caption_of(label: str) -> str:
    """A panel caption for a point: "regularization.l2=0.7, model.keep_prob=1.0" reads
    "l2=0.7, keep_prob=1.0" (each key's last part, unless two keys share it; ``optimizer`` for
    ``optimizer.name``, as ``compare.short_keys`` names them)."""
    parts = [part.partition("=") for part in label.split(", ")]
    if not all(sep for _, sep, _ in parts):
        return label
    short = short_keys([key for key, _, _ in parts])
    return ", ".join(f"{name}={value}" for name, (_, _, value) in zip(short, parts))


def _boundaries(points: Sequence[Point]
                ) -> list[tuple[Point, RunRecord, boundary.BoundaryInputs]]:
    """(point, run, inputs) for each point whose first usable seed has a 2-feature network."""
    found = []
    for point in points:
        run = next((r for r in point.runs if r.status != "diverged"
                    and boundary.two_features(r.path)), None)
        if run is None:
            continue
        try:
            inputs = boundary.from_run(run.path)
        except (DlcliError, OSError, ValueError):
            continue   # a run whose data cannot be loaded again here: no boundary for it
        if inputs is not None:
            found.append((point, run, inputs))
    return found


def _epoch_axis(ax: Axes) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))


def plot_study(groups: Mapping[str, Sequence[Path]], path: Path, *, title: str = "") -> Path:
    """Draw study.png for ``groups`` (point label -> that point's run directories, in seed
    order) into ``path`` (written atomically) and return ``path``."""
    path = Path(path)
    save_atomically(study_figure(groups, title=title), path)
    return path


def study_figure(groups: Mapping[str, Sequence[Path]], *, title: str = "") -> Figure:
    """The figure ``plot_study`` writes (tests look at its panels)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    palette = colors(len(groups))
    points = []
    for index, ((label, run_dirs), color) in enumerate(zip(groups.items(), palette)):
        runs = [read_run(run_dir) for run_dir in run_dirs]
        width = 1.4 + 2.2 * (len(groups) - 1 - index) / max(len(groups) - 1, 1)
        points.append(Point(label, color, [r for r in runs if r.readable], width))

    curve_panels: list[tuple[str, tuple[str, ...]]] = [("training cost", (COST,))]
    for measure in MEASURES:   # loss, accuracy: train and dev in one panel
        split_columns = tuple(metric_name(split, measure) for split in EVALUATED_SPLITS)
        if any(_has(points, column) for column in split_columns):
            curve_panels.append((measure, split_columns))
    with_lr = _learning_rates_differ(points)
    if with_lr:
        curve_panels.append(("learning rate", (LEARNING_RATE,)))
    layers = _grad_norm_layers(points)
    boundaries = _boundaries(points)

    n_panels = len(curve_panels) + (1 if layers else 0)
    columns = {1: 1, 2: 2, 4: 2}.get(n_panels, 3)
    rows = math.ceil(n_panels / columns)
    curve_height = 3.3 * rows
    boundary_rows = math.ceil(len(points) / BOUNDARIES_PER_ROW) if boundaries else 0
    boundary_height = 3.3 * boundary_rows
    fig = Figure(figsize=(12.0, curve_height + boundary_height + 0.6), layout="constrained")
    if boundaries:
        top, bottom = fig.subfigures(2, 1, height_ratios=[curve_height, boundary_height])
    else:
        top, bottom = fig, None
    axes = list(top.subplots(rows, columns, squeeze=False).ravel())
    for extra in axes[n_panels:]:
        extra.remove()

    ax_for: dict[str, Axes] = {}
    for ax, (name, columns_drawn) in zip(axes, curve_panels):
        values: list[float] = []
        for point in points:
            for column in columns_drawn:
                train = column.startswith(TRAIN_PREFIX)
                _draw_band(ax, band(point.runs, column), point.color,
                           TRAIN_STYLE if train else DEV_STYLE, shade=not train,
                           width=point.width)
        for column in columns_drawn:
            values += _scale_values(points, column)
        for column in columns_drawn:
            ax_for[column] = ax
        ax.set_label(name)
        sub = {"loss": "dev solid, train dotted", "accuracy": "dev solid, train dotted"}
        ax.set_title(name + (f" ({sub[name]})" if name in sub and _has(points, DEV_LOSS)
                             else ""), fontsize="medium")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        value_axis(ax, values, log_ok=name != "accuracy")
        _keep_to(ax, values)
        _epoch_axis(ax)
    if layers:
        _draw_grad_norms(axes[len(curve_panels)], points, layers)
        axes[len(curve_panels)].set_label("gradient norms")
    drawn = _markers(ax_for, points)

    legend_title, labels = short_labels([p.label for p in points])
    handles: list[Any] = [Patch(facecolor=p.color, edgecolor=p.color, alpha=0.8, label=text)
                          for p, text in zip(points, labels)]
    n_seeds = sorted({len(p.runs) for p in points})
    seeds_text = "/".join(str(n) for n in n_seeds)
    handles.append(Line2D([], [], color="grey", linewidth=1.6,
                          label=f"mean of {seeds_text} seed{'s' if n_seeds != [1] else ''}; "
                                "band: min-max"))
    marker_handles = {
        "best": Line2D([], [], marker="o", linestyle="", color="grey",
                       markeredgecolor="black", label="best epoch"),
        "stop": Line2D([], [], linestyle=(0, (2, 2)), color="grey", linewidth=1.3,
                       label="early stop"),
        "diverged": Line2D([], [], marker="x", linestyle="", color="grey",
                           markeredgewidth=2, label="diverged"),
    }
    handles += [marker_handles[k] for k in ("best", "stop", "diverged") if k in drawn]
    top.legend(handles=handles, loc="outside right upper", fontsize="small",
               title=legend_title or None, title_fontsize="small")
    if title:
        fig.suptitle(title)

    if bottom is not None:
        axs = list(bottom.subplots(boundary_rows, min(len(points), BOUNDARIES_PER_ROW),
                                   squeeze=False).ravel())
        for extra in axs[len(points):]:
            extra.remove()
        by_point = {id(p): (run, inputs) for p, run, inputs in boundaries}
        for ax, point in zip(axs, points):
            text = caption_of(point.label)
            if id(point) not in by_point:
                ax.set_axis_off()
                ax.set_title(f"{text}: no boundary", fontsize="medium")
                continue
            run, inputs = by_point[id(point)]
            # the network drawn is the one the run kept: the best epoch's when it was restored
            kept = "best" if run.metrics.get("restored_epoch") is not None else "final"
            accuracy = run.block(kept).get("dev_accuracy")
            caption = text + (f"\ndev acc {accuracy:.3f}" if _finite(accuracy) else "")
            # classes in greys: colour here means the point, as in every panel above
            boundary.draw_boundary(ax, inputs, caption, greys=True)
            ax.set_label("boundary")
            for spine in ax.spines.values():
                spine.set_edgecolor(point.color)
                spine.set_linewidth(2.5)
        bottom.suptitle("decision boundaries (first seed of each point; frame: the point's "
                        "colour; markers: training data)", fontsize="medium")
        if boundaries:
            bottom.legend(handles=boundary.class_legend([i for _, _, i in boundaries]),
                          loc="outside right upper", fontsize="small", title="classes",
                          title_fontsize="small")
    return fig

