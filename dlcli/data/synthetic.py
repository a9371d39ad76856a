"""Synthetic 2-D (and n-D) classification data, generated with NumPy from the run's data stream
(SPEC section 13).

Every generator takes the ``numpy.random.Generator`` it must draw from and keyword options already
validated by ``dlcli.data.builtin``; it returns ``(X, y)`` with ``X`` (m, n_features) float64 and
``y`` (m,) int64 in 0..K-1. No generator touches global random state.

Decisions (where SPEC 13 is silent):

- Classes are as balanced as ``n_samples`` allows: class k gets ``n_samples // K`` examples, plus
  one for the first ``n_samples % K`` classes.
- Rows are shuffled (one permutation drawn after the noise), as scikit-learn's ``make_*`` do by
  default, so ``training.shuffle: false`` does not see the classes in blocks.
- ``noise`` is the standard deviation of Gaussian noise. For ``moons``, ``circles`` and ``blobs``
  it is added to the coordinates; for ``spirals`` and ``flower`` it is added to the angle (in
  radians) and, for ``flower``, also to the radius, as in the course's planar data set.
"""
from __future__ import annotations

import math

import numpy as np


def class_sizes(n_samples: int, n_classes: int) -> np.ndarray:
    """How many examples each class gets: as equal as possible, the first classes take the
    remainder."""
    sizes = np.full(n_classes, n_samples // n_classes, dtype=np.int64)
    sizes[: n_samples % n_classes] += 1
    return sizes


def _labels(sizes: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)


def _shuffled(rng: np.random.Generator, X: np.ndarray, y: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(y))
    return np.ascontiguousarray(X[order]), y[order]


def moons(rng: np.random.Generator, *, n_samples: int, noise: float
          ) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (the same curves as scikit-learn's ``make_moons``)."""
    n_out, n_in = class_sizes(n_samples, 2)
    t_out = np.linspace(0.0, math.pi, n_out)
    t_in = np.linspace(0.0, math.pi, n_in)
    X = np.concatenate([np.column_stack([np.cos(t_out), np.sin(t_out)]),
                        np.column_stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)])])
    X += noise * rng.standard_normal(X.shape)
    return _shuffled(rng, X, _labels(np.array([n_out, n_in])))


def circles(rng: np.random.Generator, *, n_samples: int, noise: float, factor: float
            ) -> tuple[np.ndarray, np.ndarray]:
    """A large circle (class 0) around a smaller one of radius ``factor`` (class 1)."""
    n_out, n_in = class_sizes(n_samples, 2)
    t_out = np.linspace(0.0, 2 * math.pi, n_out, endpoint=False)
    t_in = np.linspace(0.0, 2 * math.pi, n_in, endpoint=False)
    X = np.concatenate([np.column_stack([np.cos(t_out), np.sin(t_out)]),
                        factor * np.column_stack([np.cos(t_in), np.sin(t_in)])])
    X += noise * rng.standard_normal(X.shape)
    return _shuffled(rng, X, _labels(np.array([n_out, n_in])))


def flower(rng: np.random.Generator, *, n_samples: int, petals: int, a: float, noise: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """The course's planar "flower" data set: for class j, ``t = linspace(j*3.12, (j+1)*3.12)
    + noise*randn``, ``r = a*sin(petals*t) + noise*randn``, ``x = (r sin t, r cos t)``.

    The course's values are ``n_samples=400, petals=4, a=4, noise=0.2`` (``a`` is the longest
    petal's length; ``petals`` is the frequency k of the rose ``r = a sin(k t)``)."""
    sizes = class_sizes(n_samples, 2)
    parts = []
    for j, size in enumerate(sizes):
        t = np.linspace(j * 3.12, (j + 1) * 3.12, size) + noise * rng.standard_normal(size)
        r = a * np.sin(petals * t) + noise * rng.standard_normal(size)
        parts.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
    return _shuffled(rng, np.concatenate(parts), _labels(sizes))


def spirals(rng: np.random.Generator, *, n_samples: int, n_classes: int, noise: float,
            turns: float) -> tuple[np.ndarray, np.ndarray]:
    """``n_classes`` interleaved spiral arms from the origin to radius 1 (the CS231n spiral data,
    with the arms spread evenly): arm k has radius ``r = linspace(0, 1)`` and angle
    ``2*pi*(turns*r + k/K) + noise*randn``."""
    sizes = class_sizes(n_samples, n_classes)
    parts = []
    for k, size in enumerate(sizes):
        r = np.linspace(0.0, 1.0, size)
        t = 2 * math.pi * (turns * r + k / n_classes) + noise * rng.standard_normal(size)
        parts.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
    return _shuffled(rng, np.concatenate(parts), _labels(sizes))


def blobs(rng: np.random.Generator, *, n_samples: int, n_classes: int, n_features: int,
          cluster_std: float) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian clusters, one per class, centres uniform in [-10, 10] per feature (as
    scikit-learn's ``make_blobs``)."""
    centers = rng.uniform(-10.0, 10.0, size=(n_classes, n_features))
    y = _labels(class_sizes(n_samples, n_classes))
    X = centers[y] + cluster_std * rng.standard_normal((n_samples, n_features))
    return _shuffled(rng, X, y)
