"""Decision boundaries of classifiers on 2-feature data (boundary.png, study.png's bottom row).

Drawn as the course draws them: the network's prediction at every point of a grid over the input
plane, filled by class, with the training points on top in the same colours. The plane is the
data's own (raw, unnormalised) coordinates: the network is fed the grid through the run's fitted
normalisation, so the axes read in the units of the data file.

``from_trained`` takes a network and its data in memory (the end of a run); ``from_run`` takes a
run directory: the network through ``dlcli.apply.load_run``, the training points by loading the
data again with the run's seeded data stream (the split is the one the run trained on).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dlcli.nn.network import Network
from dlcli.run_schema import CONFIG_FILE, PARAMS_FILE

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from dlcli.data.dataset import Dataset

GRID = 200           # grid points per axis
MAX_POINTS = 1500    # training points drawn at most (a seeded sample of a larger set)


@dataclass
class BoundaryInputs:
    """What a boundary picture needs: a classifier over raw 2-feature inputs, and the training
    points it learned from (raw coordinates, class labels 0..K-1)."""

    predict: Callable[[np.ndarray], np.ndarray]
    X: np.ndarray
    y: np.ndarray
    class_names: list[str]
    feature_names: list[str]


def from_trained(network: Network, data: Dataset) -> BoundaryInputs | None:
    """The inputs for a network trained on ``data``; None unless the data has 2 features."""
    if data.n_features != 2:
        return None
    shift, scale = _normalization(data)
    return BoundaryInputs(NetworkClasses(network, shift, scale), _raw_points(data),
                          np.asarray(data.train.y), list(data.class_names),
                          list(data.feature_names))


@dataclass(frozen=True)
class NetworkClasses:
    """The class a network predicts for raw points: normalised as the run's data was, then
    through the network. A module-level class rather than a closure, so that boundary inputs
    pickle and a run's helper process (``dlcli.reports.background``) can draw them."""

    network: Network
    shift: np.ndarray
    scale: np.ndarray

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return self.network.predict((X - self.shift) / self.scale)


def _normalization(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    shift = np.zeros(2) if data.shift is None else np.asarray(data.shift, dtype=float)
    scale = np.ones(2) if data.scale is None else np.asarray(data.scale, dtype=float)
    return shift, scale


def _raw_points(data: Dataset) -> np.ndarray:
    """The training points in the data's own units (the normalisation undone)."""
    shift, scale = _normalization(data)
    return np.asarray(data.train.X, dtype=float) * scale + shift


def two_features(run_dir: str | os.PathLike[str]) -> bool:
    """Whether the run's network takes 2 inputs (read from params.npz, without loading data)."""
    try:
        with np.load(Path(run_dir) / PARAMS_FILE, allow_pickle=False) as npz:
            return "W1" in npz.files and npz["W1"].shape[1] == 2
    except (OSError, ValueError):
        return False


def from_run(run_dir: str | os.PathLike[str]) -> BoundaryInputs | None:
    """The inputs for a finished run directory; None when its network does not take 2 features
    or it has no params.npz. The network is the run's own (``dlcli.apply.load_run``: raw
    features in, inference mode); the training points are drawn again from the run's config with
    its data stream, so they are the split it trained on. Raises InputError when the run or its
    data cannot be loaded again."""
    # Imported here: a run's helper process draws boundary.png without configs or data files.
    from dlcli.apply import load_run
    from dlcli.config.load import load_config, read_yaml
    from dlcli.data import load_data
    from dlcli.train.streams import Streams

    run_dir = Path(run_dir)
    if not two_features(run_dir):
        return None
    model = load_run(run_dir)
    config = load_config(raw=read_yaml(run_dir / CONFIG_FILE))
    streams = Streams.from_seed(config.seed, config.data.seed)   # the data, as the run drew it
    data = load_data(config.data, streams.data, config.training.dtype)

    def predict(X: np.ndarray) -> np.ndarray:   # class indices, as data.train.y holds them
        return model.predict_proba(X).argmax(axis=1)

    return BoundaryInputs(predict, _raw_points(data), np.asarray(data.train.y),
                          list(data.class_names), list(model.feature_names))


def _cmap(n_classes: int):  # type: ignore[no-untyped-def]
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    if n_classes == 2:   # the course's Spectral: its red and its blue
        spectral = colormaps["Spectral"]
        return ListedColormap([spectral(0.1), spectral(0.92)])
    tab = colormaps["tab10"]
    return ListedColormap([tab(i % 10) for i in range(n_classes)])


def plane(X: np.ndarray, n: int = GRID) -> tuple[np.ndarray, np.ndarray]:
    """A grid over the points' bounding box with a margin of 10% of each side (at least 0.5)."""
    low, high = X.min(axis=0), X.max(axis=0)
    margin = np.maximum(0.1 * (high - low), 0.5)
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], n)
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], n)
    return np.meshgrid(xs, ys)


# In greys, classes are told apart by the shade of their region and the marker of their points,
# so a picture whose colours already mean something else (study.png: one colour per grid point)
# keeps one meaning per colour.
GREY_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "p", "h")


def grey_shades(n_classes: int) -> tuple[list[tuple[float, ...]], list[tuple[float, ...]]]:
    """(region colours, point colours) per class: regions from light to mid grey, points from
    white to black, so a point stands out on every region."""
    steps = [k / max(n_classes - 1, 1) for k in range(n_classes)]
    regions = [(g, g, g, 1.0) for g in (0.95 - 0.25 * t for t in steps)]
    points = [(g, g, g, 1.0) for g in (1.0 - t for t in steps)]
    return regions, points


def draw_boundary(ax: Axes, inputs: BoundaryInputs, title: str = "", *,
                  greys: bool = False) -> None:
    """Fill the plane with the predicted class and put the training points on top; ``greys``
    draws the classes in shades of grey with a marker each instead of in colour."""
    from matplotlib.colors import ListedColormap

    n_classes = max(len(inputs.class_names), int(inputs.y.max()) + 1 if inputs.y.size else 2)
    regions, point_colours = grey_shades(n_classes) if greys else (None, None)
    cmap = ListedColormap(regions) if regions else _cmap(n_classes)
    xx, yy = plane(inputs.X)
    predicted = inputs.predict(np.column_stack([xx.ravel(), yy.ravel()])).reshape(xx.shape)
    levels = np.arange(n_classes + 1) - 0.5
    ax.contourf(xx, yy, predicted, levels=levels, cmap=cmap, alpha=1.0 if greys else 0.35,
                vmin=-0.5, vmax=n_classes - 0.5)
    X, y = inputs.X, inputs.y
    if len(y) > MAX_POINTS:   # the same sample every time the picture is drawn
        keep = np.random.default_rng(0).choice(len(y), MAX_POINTS, replace=False)
        X, y = X[keep], y[keep]
    if point_colours:
        for k, colour in enumerate(point_colours):
            ax.scatter(X[y == k, 0], X[y == k, 1], color=colour,
                       marker=GREY_MARKERS[k % len(GREY_MARKERS)], s=11, edgecolors="black",
                       linewidths=0.4)
    else:
        ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=-0.5, vmax=n_classes - 0.5, s=9,
                   edgecolors="black", linewidths=0.3)
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    ax.set_xlabel(inputs.feature_names[0] if inputs.feature_names else "x1", labelpad=1)
    ax.set_ylabel(inputs.feature_names[1] if len(inputs.feature_names) > 1 else "x2",
                  labelpad=1)
    ax.tick_params(labelsize="small")
    if title:
        ax.set_title(title, fontsize="medium")


def plot_boundary(inputs: BoundaryInputs, path: str | os.PathLike[str], title: str = "") -> None:
    """boundary.png: one run's decision boundary with its training points."""
    from matplotlib.figure import Figure

    from dlcli.reports.plots import save_atomically

    fig = Figure(figsize=(5.2, 4.6), layout="constrained")
    draw_boundary(fig.subplots(), inputs, title)
    save_atomically(fig, path)


def class_legend(inputs: Sequence[BoundaryInputs]) -> list[Any]:
    """Legend handles for the classes as ``draw_boundary(greys=True)`` draws them: the
    marker and shade of each class's points over the shade of its region."""
    from matplotlib.lines import Line2D

    names = max((i.class_names for i in inputs), key=len, default=[])
    regions, points = grey_shades(len(names))
    return [Line2D([], [], marker=GREY_MARKERS[k % len(GREY_MARKERS)], linestyle="",
                   markerfacecolor=points[k], markeredgecolor="black", markersize=7,
                   label=f"class {name}") for k, name in enumerate(names)]
