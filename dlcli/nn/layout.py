"""Where each parameter array lives in the flat vector theta (SPEC section 1 names the arrays).

A network keeps all its parameters in one flat vector ``theta``; its gradients and every
optimiser state vector use the same layout, so a training step is a handful of whole-vector
operations. The ``Layout`` is the one place that knows which stretch of such a vector is ``W1``,
``b1``, ``gamma1`` or ``beta1``: names, layers, course shapes, positions and which arrays are
weights (the only ones L1/L2 penalise). Everything that meets theta by name reads it from here:
the network's ``params``/``grads`` views, get/set params, the regularisation mask, optimiser
state in checkpoints, gradient checking and gradient norms.

Without batch norm a layer's ``W`` and ``b`` share one row-major block ``[W | b]`` of shape
(n[l], n[l-1] + 1), so ``Z = [W | b] [A; 1]`` is one matrix product: ``W`` is the block's first
n[l-1] columns and ``b`` its last. With batch norm a layer holds ``W`` (row-major), ``gamma`` and
``beta`` one after the other. An array is therefore described by the stretch of theta it lies in
(``span``) read as rows, and the columns of those rows that are its own (``columns``).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

KINDS = ("W", "b", "gamma", "beta")
WEIGHTS = frozenset({"W"})   # what L1/L2 penalise: weights only, never b, gamma or beta


@dataclass(frozen=True)
class Entry:
    """One parameter array: its name, layer, course shape and place in the flat vector."""

    name: str                  # W1, b1, gamma1, beta1, ...
    kind: str                  # W | b | gamma | beta
    layer: int                 # l = 1..L
    shape: tuple[int, ...]     # course convention: W (n[l], n[l-1]), the others (n[l], 1)
    span: slice                # the stretch of the flat vector the array lies in
    columns: slice             # its columns when ``span`` is read as ``shape[0]`` rows

    @property
    def weight(self) -> bool:
        """Penalised by L1/L2 (SPEC section 3): the W arrays."""
        return self.kind in WEIGHTS

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def view(self, vector: np.ndarray) -> np.ndarray:
        """This array as a view into ``vector`` (theta, grad or an optimiser state vector)."""
        return vector[self.span].reshape(self.shape[0], -1)[:, self.columns]

    def indices(self) -> np.ndarray:
        """The positions in the flat vector of this array's elements, shaped like it."""
        positions = np.arange(self.span.start, self.span.stop)
        return positions.reshape(self.shape[0], -1)[:, self.columns]


def check_arrays(arrays: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]]) -> None:
    """A ValueError naming every missing, unexpected or misshapen array of ``arrays`` against
    the ``shapes`` they should have (one message for all problems, in ``shapes`` order)."""
    problems = [f"{name} has shape {tuple(np.shape(arrays[name]))}, the architecture needs "
                f"{shape}" for name, shape in shapes.items()
                if name in arrays and np.shape(arrays[name]) != tuple(shape)]
    missing = [name for name in shapes if name not in arrays]
    unexpected = [name for name in arrays if name not in shapes]
    if missing:
        problems.append("missing " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected " + ", ".join(unexpected))
    if problems:
        raise ValueError("; ".join(problems))


class ArrayViews(Mapping[str, np.ndarray]):
    """Named views into one flat vector: ``params["W1"]`` writes through to ``theta``.

    Read-only as a mapping (assigning ``views["W1"] = x`` would silently cut the alias); write
    into an array instead: ``params["W1"][...] = x``."""

    def __init__(self, layout: Layout, vector: np.ndarray) -> None:
        assert vector.ndim == 1 and vector.size == layout.size, "the vector does not fit"
        self.layout = layout
        self.vector = vector
        self._views = {entry.name: entry.view(vector) for entry in layout.entries}

    def __getitem__(self, name: str) -> np.ndarray:
        return self._views[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{name}: {view.shape}" for name, view in self._views.items())
        return f"ArrayViews({{{shapes}}})"


class Layout(Mapping[str, Entry]):
    """The arrays of a flat parameter vector, in file order (layer by layer)."""

    def __init__(self, entries: Iterable[Entry], size: int) -> None:
        self.entries = tuple(entries)
        self.size = int(size)
        self._by_name = {entry.name: entry for entry in self.entries}
        assert len(self._by_name) == len(self.entries), "duplicate array names"
        # Internal invariant: the arrays cover the vector exactly once, with no gaps.
        counts = np.bincount(np.concatenate([e.indices().ravel() for e in self.entries]
                                            or [np.zeros(0, np.intp)]), minlength=self.size)
        assert counts.size == self.size and np.all(counts == 1), "arrays do not tile the vector"

    @classmethod
    def for_network(cls, sizes: list[int], *, batch_norm: bool) -> Layout:
        """The layout of a fully connected network ``sizes = [n_x, n1, ..., n_L]``.

        Layer by layer: ``[W | b]`` as one block, or with batch norm on a hidden layer ``W``,
        ``gamma``, ``beta`` (the output layer keeps its ``b``, SPEC section 8)."""
        entries: list[Entry] = []
        start = 0
        L = len(sizes) - 1
        for index in range(1, L + 1):
            n_in, n_out = sizes[index - 1], sizes[index]
            if batch_norm and index < L:
                k = n_out * n_in
                entries += [
                    Entry(f"W{index}", "W", index, (n_out, n_in), slice(start, start + k),
                          slice(None)),
                    Entry(f"gamma{index}", "gamma", index, (n_out, 1),
                          slice(start + k, start + k + n_out), slice(None)),
                    Entry(f"beta{index}", "beta", index, (n_out, 1),
                          slice(start + k + n_out, start + k + 2 * n_out), slice(None))]
                start += k + 2 * n_out
            else:
                block = slice(start, start + n_out * (n_in + 1))
                entries += [Entry(f"W{index}", "W", index, (n_out, n_in), block, slice(0, n_in)),
                            Entry(f"b{index}", "b", index, (n_out, 1), block,
                                  slice(n_in, n_in + 1))]
                start = block.stop
        return cls(entries, start)

    # ------------------------------------------------------------------ mapping

    def __getitem__(self, name: str) -> Entry:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self.entries)

    def layer(self, index: int) -> list[Entry]:
        """The arrays of layer ``index`` (1..L), in file order."""
        return [entry for entry in self.entries if entry.layer == index]

    # ------------------------------------------------------------------ vectors

    def views(self, vector: np.ndarray) -> ArrayViews:
        """Every array as a named view into ``vector``."""
        return ArrayViews(self, vector)

    def weight_mask(self, dtype: np.dtype | str) -> np.ndarray:
        """1 where the vector holds a weight (penalised by L1/L2), 0 elsewhere."""
        mask = np.zeros(self.size, dtype=dtype)
        for entry in self.entries:
            if entry.weight:
                entry.view(mask)[...] = 1.0
        return mask

    def copies(self, vector: np.ndarray) -> dict[str, np.ndarray]:
        """Contiguous copies of every array of ``vector``, by name (for files)."""
        return {entry.name: np.array(entry.view(vector), order="C") for entry in self.entries}

    def check(self, arrays: Mapping[str, np.ndarray]) -> None:
        """A ValueError naming every missing, unexpected or misshapen array of ``arrays``."""
        check_arrays(arrays, {entry.name: entry.shape for entry in self.entries})

    def assign(self, vector: np.ndarray, arrays: Mapping[str, np.ndarray]) -> None:
        """Write named arrays into ``vector``; a ValueError (nothing written) if they do not
        fit: see ``check``."""
        self.check(arrays)
        for entry in self.entries:
            entry.view(vector)[...] = arrays[entry.name]
