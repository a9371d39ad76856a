"""study.png: the panels plot_study draws for real run directories (structure, not pixels)."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest

from dlcli.config import load_config
from dlcli.experiment import run
from dlcli.reports.plots import colors, value_axis
from dlcli.reports.study_plot import (band, caption_of, plot_study, short_labels,
                                     study_figure)
from dlcli.runs.reader import read_run
from helpers import SMALL

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def train(runs_dir: Path, raw: dict, *overrides: str) -> Path:
    return run(load_config(raw=copy.deepcopy(raw), overrides=list(overrides)), runs_dir).path


def all_axes(fig) -> list:
    """Every axes of a figure, its subfigures' included (the root figure lists them all)."""
    return list(fig.axes)


def panels(fig) -> list[str]:
    return [ax.get_label() for ax in all_axes(fig)]


def legends(fig) -> list:
    return [legend for sub in [fig, *fig.subfigs] for legend in sub.legends]


def legend_texts(fig) -> list[str]:
    return [t.get_text() for legend in legends(fig) for t in legend.get_texts()]


@pytest.fixture(scope="module")
def moons_study(tmp_path_factory) -> dict[str, list[Path]]:
    """Two points (gd, adam) x two seeds on 2-feature moons."""
    runs_dir = tmp_path_factory.mktemp("study")
    return {f"optimizer.name={name}": [train(runs_dir, SMALL, f"optimizer.name={name}",
                                             f"seed={seed}") for seed in (1, 2)]
            for name in ("gd", "adam")}


@pytest.mark.slow
def test_study_png_has_cost_loss_accuracy_and_a_boundary_per_point(moons_study, tmp_path):
    path = plot_study(moons_study, tmp_path / "study.png", title="optimizers")
    assert path == tmp_path / "study.png"
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert list(tmp_path.iterdir()) == [path]   # written atomically, nothing left behind
    fig = study_figure(moons_study, title="optimizers")
    names = panels(fig)
    assert names == ["training cost", "loss", "accuracy", "boundary", "boundary"]
    # no learning-rate panel: both points keep one constant rate
    texts = legend_texts(fig)
    assert texts[:2] == ["gd", "adam"]          # the shared key went into the legend title
    assert legends(fig)[0].get_title().get_text() == "optimizer.name"
    assert "mean of 2 seeds; band: min-max" in texts and "best epoch" in texts
    boundary_titles = [ax.get_title() for ax in all_axes(fig) if ax.get_label() == "boundary"]
    assert boundary_titles[0].startswith("optimizer=gd")
    assert boundary_titles[1].startswith("optimizer=adam")


@pytest.mark.slow
def test_boundary_panels_draw_classes_in_greys_so_colour_only_means_the_point(moons_study):
    from matplotlib.colors import to_rgba

    fig = study_figure(moons_study)
    point_colours = {to_rgba(c) for c in colors(2)}
    for ax in (ax for ax in all_axes(fig) if ax.get_label() == "boundary"):
        drawn = [tuple(c) for collection in ax.collections
                 for c in [*collection.get_facecolors(), *collection.get_edgecolors()]]
        assert drawn and all(r == g == b for r, g, b, _ in drawn)   # regions and points: greys
        assert {to_rgba(s.get_edgecolor()) for s in ax.spines.values()} <= point_colours
    assert {"class 0", "class 1"} <= set(legend_texts(fig))


@pytest.mark.slow
def test_each_point_gets_its_own_colour_a_mean_curve_and_a_band(moons_study):
    fig = study_figure(moons_study)
    cost = next(ax for ax in all_axes(fig) if ax.get_label() == "training cost")
    assert len(cost.lines) >= 2 and len({line.get_color() for line in cost.lines[:2]}) == 2
    assert len(cost.collections) == 2            # one min-max band per point
    runs = [read_run(p) for p in moons_study["optimizer.name=adam"]]
    b = band(runs, "cost")
    first = [r.history[5]["cost"] for r in runs]
    index = b.epochs.index(5)
    assert b.low[index] == min(first) and b.high[index] == max(first)
    assert b.mean[index] == pytest.approx(sum(first) / 2)


@pytest.mark.slow
def test_a_schedule_study_gets_a_learning_rate_panel_and_early_stops_are_marked(tmp_path):
    raw = {**SMALL, "training": {**SMALL["training"], "epochs": 40, "early_stopping":
                                 {"patience": 3, "min_delta": 0.05}}}
    groups = {f"schedule.name={name}": [train(tmp_path, raw, f"schedule.name={name}",
                                              "schedule.interval=2", "schedule.base=0.5")]
              for name in ("none", "exponential")}
    assert read_run(groups["schedule.name=none"][0]).status == "early_stopped"
    fig = study_figure(groups)
    assert "learning rate" in panels(fig)
    assert {"best epoch", "early stop"} <= set(legend_texts(fig))
    assert "mean of 1 seed; band: min-max" in legend_texts(fig)


def test_gradient_norms_get_a_per_layer_panel_and_wide_data_no_boundary(tmp_path):
    raw = {"seed": 1, "data": {"dataset": "blobs", "options": {"n_samples": 120,
                                                                  "n_features": 5}},
           "model": {"hidden": [8, 8, 8], "init": "random", "init_scale": 0.05},
           "optimizer": {"name": "gd", "learning_rate": 0.1},
           "training": {"epochs": 3, "log_grad_norms": True}}
    groups = {"a": [train(tmp_path, raw)], "b": [train(tmp_path, raw, "model.init=he")]}
    fig = study_figure(groups)
    names = panels(fig)
    assert "gradient norms" in names and "boundary" not in names
    norms = next(ax for ax in all_axes(fig) if ax.get_label() == "gradient norms")
    assert norms.get_xlabel() == "layer"
    assert [int(x) for x in norms.lines[0].get_xdata()] == [1, 2, 3, 4]
    assert norms.get_yscale() == "log"   # random 0.05 vanishes, He does not: decades apart


def test_value_axis_goes_log_beyond_two_decades_and_keeps_a_flat_curve_flat():
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    value_axis(ax, [1400.0, 3.0, 0.05])
    assert ax.get_yscale() == "log"
    ax = Figure().subplots()
    value_axis(ax, [0.9, 0.05])                  # 18x: not two decades
    assert ax.get_yscale() == "linear"
    ax = Figure().subplots()
    flat = [0.6931471805599453, 0.6931471805599454, 0.6931471805599452]
    ax.plot(range(3), flat)
    value_axis(ax, flat)
    low, high = ax.get_ylim()
    assert high - low >= 0.05 and low < 0.69315 < high
    assert ax.yaxis.get_major_formatter().get_useOffset() is False
    ax = Figure().subplots()
    value_axis(ax, [-1.0, 2000.0])               # not all positive: never log
    assert ax.get_yscale() == "linear"


def test_short_labels_move_shared_keys_into_a_title():
    assert short_labels(["optimizer.name=gd", "optimizer.name=adam"]) == (
        "optimizer.name", ["gd", "adam"])
    assert short_labels(["a=1, b=x", "a=2, b=y"]) == ("a, b", ["1, x", "2, y"])
    assert short_labels(["adam", "gd"]) == ("", ["adam", "gd"])
    assert short_labels(["a=1", "b=2"]) == ("", ["a=1", "b=2"])
    assert caption_of("regularization.l2=0.7, model.keep_prob=1.0") == "l2=0.7, keep_prob=1.0"
    assert caption_of("optimizer.name=adam") == "optimizer=adam"
    assert caption_of("a.x=1, b.x=2") == "a.x=1, b.x=2"
    assert caption_of("adam") == "adam"


def test_colours_never_repeat():
    for n in (1, 4, 10, 12, 20, 35):
        palette = colors(n)
        assert len(palette) == n and len({str(c) for c in palette}) == n


def test_the_learning_rate_panel_needs_a_rate_that_changes_or_differs():
    from dlcli.reports.study_plot import Point, _learning_rates_differ
    from dlcli.runs.reader import RunRecord

    def record(rates: list[float], status: str = "completed") -> RunRecord:
        return RunRecord(Path("x"), "x", status, history=[
            {"epoch": e, "learning_rate": r, "cost": 0.5} for e, r in enumerate(rates)])

    same = [Point("a", "C0", [record([0.1] * 30)]),
            Point("b", "C1", [record([0.1] * 2, "diverged")])]   # stopped early: not a change
    assert not _learning_rates_differ(same)
    assert _learning_rates_differ([Point("a", "C0", [record([0.1, 0.1, 0.05])])])
    assert _learning_rates_differ([Point("a", "C0", [record([0.1] * 3)]),
                                   Point("b", "C1", [record([0.2] * 3)])])
