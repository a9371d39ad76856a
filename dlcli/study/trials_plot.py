"""trials.png (SPEC section 12): a search's metric against each sampled hyperparameter.

One panel per space key, one point per succeeded trial, coloured by round, the best trial starred:
where the good points bunch up is the region the next search should sample. Keys sampled on a log
scale get a log axis; for ``one_minus_log_uniform`` the axis is ``1 - value``, the quantity that
was sampled (a beta of 0.9, 0.99, 0.999 is evenly spaced there). ``choice`` keys get one column per
choice.

matplotlib is imported lazily and drawn with the Agg backend through ``matplotlib.figure.Figure``
(no pyplot state); the file is written atomically (temporary file, then a rename).
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dlcli.reports.plots import save_atomically
from dlcli.study.space import CHOICE, ONE_MINUS_LOG_UNIFORM, Distribution, Space, yaml_value
from dlcli.numbers import counted

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from dlcli.study.tasks import Outcome as Trial


def axis_value(dist: Distribution, value: Any) -> float:
    """Where a sampled value goes on its panel's x axis."""
    if dist.kind == CHOICE:
        texts = [yaml_value(c) for c in dist.choices]
        return float(texts.index(yaml_value(value))) if yaml_value(value) in texts else math.nan
    if dist.kind == ONE_MINUS_LOG_UNIFORM:
        return 1.0 - float(value)
    return float(value)


def axis_label(key: str, dist: Distribution) -> str:
    return f"1 - {key}" if dist.kind == ONE_MINUS_LOG_UNIFORM else key


def _jitter(number: int) -> float:
    # Spread the points of one choice sideways so they do not hide each other; derived from the
    # trial number, so the figure is the same every time it is drawn.
    return ((number * 0.618034) % 1.0 - 0.5) * 0.3


def _x(dist: Distribution, trial: Trial, key: str) -> float:
    x = axis_value(dist, trial.values.get(key))
    return x + _jitter(trial.number) if dist.kind == CHOICE else x


def _panel(ax: Axes, key: str, dist: Distribution, trials: Sequence[Trial],
           best: Trial, metric: str, rounds: int) -> None:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for round_ in sorted({t.group for t in trials}):
        group = [t for t in trials if t.group == round_]
        ax.scatter([_x(dist, t, key) for t in group], [t.metric for t in group], s=22,
                   color=cmap(0.0 if rounds <= 1 else (round_ - 1) / (rounds - 1)),
                   alpha=0.85, linewidths=0, label=f"round {round_}")
    ax.scatter([_x(dist, best, key)], [best.metric], s=140, marker="*", color="tab:red",
               zorder=3, label=f"best (trial {best.number})")
    if dist.kind == CHOICE:
        ax.set_xticks(range(len(dist.choices)), [yaml_value(c) for c in dist.choices])
        ax.set_xlim(-0.6, len(dist.choices) - 0.4)
    else:
        # The whole first-round range, so the plot shows where in it the good trials bunch.
        ends = sorted(axis_value(dist, v) for v in (dist.low, dist.high))
        if dist.log_scale:
            ax.set_xscale("log")
            ax.set_xlim(ends[0] / 1.25, ends[1] * 1.25)
        elif ends[1] > ends[0]:
            pad = 0.04 * (ends[1] - ends[0])
            ax.set_xlim(ends[0] - pad, ends[1] + pad)
    ax.set_xlabel(axis_label(key, dist) + (" (log scale)" if dist.log_scale else ""))
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3, which="both")


def plot_trials(trials: Sequence[Trial], space: Space, metric: str, mode: str,
                path: str | os.PathLike[str]) -> Figure:
    """Draw the succeeded ``trials`` of a search into ``path`` (.png, .svg or .pdf).

    ``space`` is the first round's space (its ranges are the x axes). Returns the figure."""
    from matplotlib.figure import Figure

    ok = sorted((t for t in trials if t.succeeded), key=lambda t: t.number)
    if not ok:
        raise ValueError("no succeeded trial to plot")
    best = min(ok, key=lambda t: (t.metric if mode == "min" else -t.metric, t.number))
    rounds = max(t.group for t in trials)
    keys = list(space)
    columns = min(3, len(keys))
    rows = math.ceil(len(keys) / columns)
    fig = Figure(figsize=(4.2 * columns, 3.4 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for index, key in enumerate(keys):
        _panel(axes[index // columns][index % columns], key, space.dists[key], ok, best,
               metric, rounds)
    for index in range(len(keys), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    # Losses of bad trials can be orders of magnitude above good ones; a log axis keeps the good
    # region readable instead of squashed against the bottom.
    values = [t.metric for t in ok if t.metric is not None]
    if not metric.endswith("accuracy") and min(values) > 0 and max(values) / min(values) > 20:
        for ax in axes.flat:
            ax.set_yscale("log")
    failed = sum(1 for t in trials if not t.succeeded)
    title = f"{metric} ({'lower' if mode == 'min' else 'higher'} is better) of {counted(len(ok), 'trial')}"
    if failed:
        title += f"; {failed} failed or diverged trial{'s' if failed != 1 else ''} not shown"
    fig.suptitle(title, fontsize=10)
    axes[0][0].legend(loc="best", fontsize=8)
    save_atomically(fig, path)
    return fig
