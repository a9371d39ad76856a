"""Data augmentation of image training batches (SPEC section 11), vectorised over the batch.

Per example: a horizontal flip with probability 0.5 (``flip``), a random integer shift in
``[-shift, shift]`` pixels along x and along y, and a rotation by an angle uniform in
``[-rotate, rotate]`` degrees. The three are one affine map per example, applied by inverse
mapping (each output pixel looks up where it came from) with bilinear interpolation; outside the
image the source is blank (raw pixel 0). Batches hold normalised rows, so pixels are
un-normalised, moved, and normalised again. All draws come from the ``rng`` passed in.

Conventions: images are row-major (h, w), row 0 at the top. A positive x shift moves the picture
right, a positive y shift down; a positive angle turns it counter-clockwise as displayed (a
90-degree turn equals ``numpy.rot90``); the rotation is about the image centre. The transform
is flip, then rotate, then shift. Examples drawn as unchanged (no flip, zero shift, zero angle)
are left exactly as they were; a batch with no active augmentation is not touched at all.

Speed (no Python loop over examples): source coordinates are the sum of a per-column and a
per-row term, x and y stacked so one broadcast add builds both grids; the source images sit in a
zero-padded buffer wide enough that no coordinate needs clipping; the four bilinear neighbours
are four ``take`` calls on offset views of that buffer; work buffers are allocated once and
reused. Without rotation, source coordinates are whole numbers and one integer ``take`` does the
job (what bilinear interpolation gives at whole numbers). Large batches are done in chunks of
256 examples, which bounds memory and keeps float32 flat indices exact.
"""
from __future__ import annotations

import math

import numpy as np

from dlcli.config.schema import AugmentConfig
from dlcli.data.dataset import Dataset
from dlcli.errors import ConfigError


class Warp:
    """Moves batches of (h, w) images by per-example affine maps (flip, rotation, shift), with
    reusable buffers. ``max_shift`` and ``rotates`` bound the maps it must handle."""

    # Examples per pass: bounds buffer memory (a full-batch MNIST epoch is one call) and keeps
    # flat float indices exact (below 2**24 in float32).
    CHUNK = 256

    def __init__(self, h: int, w: int, max_shift: int, rotates: bool) -> None:
        self.h, self.w = h, w
        self.max_shift = int(max_shift)
        self.rotates = rotates
        self.cx, self.cy = (w - 1) / 2, (h - 1) / 2
        if rotates:
            # Every source point lies within radius R of the centre; pad so that both bilinear
            # neighbours of any such point are inside the buffer (no clipping needed).
            R = math.hypot(self.cx, self.cy) + self.max_shift * math.sqrt(2)
            self.pad = int(math.ceil(R - min(self.cx, self.cy))) + 2
        else:
            self.pad = self.max_shift
        self.Hp, self.Wp = h + 2 * self.pad, w + 2 * self.pad
        self.chunk = max(1, min(self.CHUNK, (2 ** 24 - 1) // (self.Hp * self.Wp)))
        self._buffers: dict[str, dict[str, np.ndarray]] = {}
        # Output pixel coordinates: centred (rotation) and whole (integer moves).
        self._xs, self._ys = np.arange(w) - self.cx, np.arange(h) - self.cy
        self._cols, self._rows_wp = np.arange(w), np.arange(h) * self.Wp

    def _get(self, m: int, dtype: np.dtype) -> dict[str, np.ndarray]:
        """Work buffers for m examples: views of arrays allocated once per dtype and grown when
        needed (the number of examples that move varies from batch to batch)."""
        store = self._buffers.get(dtype.str)
        if store is None or store["padded"].shape[0] < m:
            h, w, hw = self.h, self.w, self.h * self.w
            # Zeroed once: only the interior is ever written, so the border stays blank.
            store = {"padded": np.zeros((m, self.Hp, self.Wp), dtype),
                     "out": np.empty((m, hw), dtype),
                     "idx": np.empty((m, hw), np.intp),  # np.take converts other types
                     "first": (np.arange(m) * (self.Hp * self.Wp))[:, None]}
            if self.rotates:
                # x and y stacked on a leading axis: one call per step serves both.
                store["coords"] = np.empty((2, m, h, w), dtype)
                store["floors"] = np.empty((2, m, h, w), dtype)
                for name in ("v00", "v01", "v10"):
                    store[name] = np.empty((m, hw), dtype)
                store["image_rows"] = (np.arange(m) * self.Hp).astype(dtype)[:, None, None]
            self._buffers[dtype.str] = store
        if store["padded"].shape[0] == m:
            return store
        return {name: (array[:, :m] if name in ("coords", "floors") else array[:m])
                for name, array in store.items()}

    def apply(self, images: np.ndarray, out: np.ndarray, flip: np.ndarray, dx: np.ndarray,
              dy: np.ndarray, angle: np.ndarray | None,
              pixels: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
        """Write the transformed ``images`` (m, h*w) into ``out`` (m, h*w; may be ``images``).

        ``flip`` bool (m,), ``dx``/``dy`` whole pixels (m,), ``angle`` radians (m,) or None for
        no rotation. ``pixels = (shift, scale, 1/scale)`` (shapes (h, w), (h, w), (h*w,)) says
        the rows are normalised: they are moved as raw pixels ``x*scale + shift`` and
        normalised again, so the blank outside the image is a raw 0.
        """
        m = images.shape[0]
        dtype = images.dtype
        h, w, p = self.h, self.w, self.pad
        for start in range(0, m, self.chunk):
            stop = min(m, start + self.chunk)
            k = stop - start
            buffers = self._get(k, dtype)
            source = buffers["padded"][:, p:p + h, p:p + w]
            rows = images[start:stop].reshape(k, h, w)
            if pixels is None:
                source[...] = rows
            else:
                # Contiguous multiply first: the strided write into the padded buffer is the
                # slow part, so it is done once.
                scratch = buffers["out"].reshape(k, h, w)
                np.multiply(rows, pixels[1], out=scratch)
                np.add(scratch, pixels[0], out=source)
            sel = slice(start, stop)
            if angle is None or not self.rotates:
                moved = self._integer(buffers, k, flip[sel], dx[sel], dy[sel])
            else:
                moved = self._bilinear(buffers, k, dtype, flip[sel], dx[sel], dy[sel],
                                       angle[sel])
            target = out[start:stop]
            if pixels is None:
                target[...] = moved
            else:
                np.subtract(moved, pixels[0].reshape(-1), out=target)
                target *= pixels[2]

    def _integer(self, buffers: dict[str, np.ndarray], m: int, flip: np.ndarray,
                 dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
        h, w, p, Wp = self.h, self.w, self.pad, self.Wp
        # Source column of output column x: x - dx, or w-1 - (x - dx) when flipped; as
        # offset + sign * x. Source row: y - dy. Both shifted by the padding p.
        offset = np.where(flip, w - 1 + p + dx, p - dx)
        sign = np.where(flip, -1, 1)
        src_col = offset[:, None] + sign[:, None] * self._cols
        src_row = buffers["first"] + (p - dy)[:, None] * Wp + self._rows_wp
        idx = buffers["idx"]
        np.add(src_row[:, :, None], src_col[:, None, :], out=idx.reshape(m, h, w))
        out = buffers["out"]
        np.take(buffers["padded"].reshape(-1), idx, out=out, mode="clip")
        return out

    def _bilinear(self, buffers: dict[str, np.ndarray], m: int, dtype: np.dtype,
                  flip: np.ndarray, dx: np.ndarray, dy: np.ndarray, angle: np.ndarray
                  ) -> np.ndarray:
        Wp = self.Wp
        cos, sin = np.cos(angle), np.sin(angle)
        sign_cos = np.where(flip, -cos, cos)
        sign_sin = np.where(flip, -sin, sin)
        # Inverse map of out = shift(rotate(flip(in))), rotation counter-clockwise as displayed
        # (y points down): with u = x - cx - dx, v = y - cy - dy (output pixel, centred),
        #   x_in = cx + sign * (cos*u - sin*v),   y_in = cy + sin*u + cos*v.
        # Each is (constant + a * column) + (b * row): one broadcast add builds the grid.
        x_const = self.cx + self.pad - sign_cos * dx + sign_sin * dy
        y_const = self.cy + self.pad - sin * dx - cos * dy
        col = (np.stack([x_const, y_const])[:, :, None]
               + np.stack([sign_cos, sin])[:, :, None] * self._xs).astype(dtype)
        row = (np.stack([-sign_sin, cos])[:, :, None] * self._ys).astype(dtype)
        coords, floors = buffers["coords"], buffers["floors"]
        np.add(col[:, :, None, :], row[:, :, :, None], out=coords)
        # Coordinates are positive inside the padded buffer: floor, and the fraction left.
        np.floor(coords, out=floors)
        coords -= floors
        wx, wy = coords[0].reshape(m, -1), coords[1].reshape(m, -1)
        # Flat index of the top-left neighbour, (i*Hp + y0)*Wp + x0: whole numbers, exact in
        # float32 below 2**24 (the chunk size sees to it).
        x0, y0 = floors
        y0 += buffers["image_rows"]
        y0 *= Wp
        y0 += x0
        idx = buffers["idx"]
        idx[...] = y0.reshape(m, -1)
        flat = buffers["padded"].reshape(-1)
        v00, v01, v10, v11 = buffers["v00"], buffers["v01"], buffers["v10"], buffers["out"]
        np.take(flat, idx, out=v00, mode="clip")
        np.take(flat[1:], idx, out=v01, mode="clip")
        np.take(flat[Wp:], idx, out=v10, mode="clip")
        np.take(flat[Wp + 1:], idx, out=v11, mode="clip")
        # Bilinear blend in place: top = v00 + wx (v01 - v00), bottom likewise, then along y.
        v01 -= v00
        v01 *= wx
        v01 += v00
        v11 -= v10
        v11 *= wx
        v11 += v10
        v11 -= v01
        v11 *= wy
        v11 += v01
        return v11


def warp(images: np.ndarray, flip: np.ndarray | None = None, dx: np.ndarray | None = None,
         dy: np.ndarray | None = None, angle_degrees: np.ndarray | None = None) -> np.ndarray:
    """A transformed copy of raw ``images`` (m, h, w): the deterministic core of ``Augmenter``
    (the same code path), for tests and for looking at what augmentation does."""
    images = np.asarray(images)
    dtype = images.dtype if images.dtype.kind == "f" else np.dtype(np.float64)
    m, h, w = images.shape
    rows = np.array(images.reshape(m, h * w), dtype=dtype, order="C")
    flip = np.zeros(m, bool) if flip is None else np.asarray(flip, bool)
    dx = np.zeros(m, np.int64) if dx is None else np.asarray(dx, np.int64)
    dy = np.zeros(m, np.int64) if dy is None else np.asarray(dy, np.int64)
    angle = None if angle_degrees is None else np.deg2rad(np.asarray(angle_degrees, np.float64))
    max_shift = int(max(np.abs(dx).max(initial=0), np.abs(dy).max(initial=0)))
    Warp(h, w, max_shift, angle is not None).apply(rows, rows, flip, dx, dy, angle)
    return rows.reshape(m, h, w)


class Augmenter:
    """Augments training batches of normalised image rows in place.

    ``Augmenter(dataset, cfg.augment)`` raises a ``ConfigError`` at ``data.augment`` when the
    augmentation is active but the data are not images. ``aug(batch, rng)`` changes ``batch``
    (m, n_features), any float array or view, drawing from ``rng``; it does nothing when no
    augmentation is active.
    """

    def __init__(self, dataset: Dataset, cfg: AugmentConfig) -> None:
        self.flip, self.shift, self.rotate = bool(cfg.flip), int(cfg.shift), float(cfg.rotate)
        self.active = bool(cfg.active)
        self.image_shape = dataset.image_shape
        if not self.active:
            return
        if dataset.image_shape is None:
            raise ConfigError("data.augment", cfg.model_dump(),
                              "augmentation needs image data: the digits data set, an NPZ "
                              "file with X of shape (m, h, w), a Keras-style mnist.npz, or "
                              "flat pixel columns with data.image_shape: [h, w] (or [h, w, c])",
                              f"{dataset.source or 'this data'} has no image shape; "
                              "remove data.augment or give data.image_shape")
        h, w = dataset.image_shape[:2]
        # Channels-last pixel columns (h, w, c), as images are stored row by row: channel k of
        # an example is every c-th column from column k. All channels move together.
        self.channels = dataset.image_shape[2] if len(dataset.image_shape) == 3 else 1
        n = h * w * self.channels
        assert dataset.n_features == n
        self._shift = np.zeros(n) if dataset.shift is None else np.asarray(dataset.shift)
        self._scale = np.ones(n) if dataset.scale is None else np.asarray(dataset.scale)
        self._pixels: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        self._warp = Warp(h, w, self.shift, self.rotate > 0)

    def _pixel_maps(self, dtype: np.dtype) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(shift, scale, 1/scale) of each channel in the batch dtype (a float64 operand would
        make every operation on a float32 batch float64)."""
        maps = self._pixels.get(dtype.str)
        if maps is None:
            shape, c = self.image_shape[:2], self.channels  # type: ignore[index]
            maps = [(self._shift[k::c].astype(dtype).reshape(shape),
                     self._scale[k::c].astype(dtype).reshape(shape),
                     (1.0 / self._scale[k::c]).astype(dtype)) for k in range(c)]
            self._pixels[dtype.str] = maps
        return maps

    def _move(self, images: np.ndarray, flip: np.ndarray, dx: np.ndarray, dy: np.ndarray,
              angle: np.ndarray | None) -> None:
        """Apply the per-example maps to every channel of ``images`` (m, n_features) in place."""
        c = self.channels
        for k, pixels in enumerate(self._pixel_maps(images.dtype)):
            channel = images[:, k::c] if c > 1 else images
            self._warp.apply(channel, channel, flip, dx, dy, angle, pixels)

    def __call__(self, batch: np.ndarray, rng: np.random.Generator) -> None:
        """Augment ``batch`` (m, n_features) in place with draws from ``rng``."""
        if not self.active or batch.shape[0] == 0:
            return
        m = batch.shape[0]
        n = math.prod(self.image_shape)  # type: ignore[arg-type]
        # Any layout works (the trainer passes the feature columns of a buffer that also
        # holds a column of ones): rows are read through reshape and written through slices.
        if batch.ndim != 2 or batch.shape[1] != n or batch.dtype.kind != "f":
            raise ValueError(f"expected a float (m, {n}) batch, got {batch.dtype} "
                             f"{batch.shape}")
        moved = np.zeros(m, bool)
        flip = dx = dy = angle = None
        if self.flip:
            flip = rng.random(m) < 0.5
            moved |= flip
        if self.shift:
            # Whole pixels uniform in [-shift, shift] (floor of a uniform draw: rng.integers
            # costs several times more per call).
            dx, dy = (rng.random((2, m)) * (2 * self.shift + 1)).astype(np.int64) - self.shift
            moved |= (dx != 0) | (dy != 0)
        if self.rotate > 0:
            angle = np.deg2rad(rng.uniform(-self.rotate, self.rotate, size=m))
            moved |= angle != 0
        count = int(moved.sum())
        if count == 0:
            return
        zeros = np.zeros(m, np.int64)
        flip = np.zeros(m, bool) if flip is None else flip
        dx = zeros if dx is None else dx
        dy = zeros if dy is None else dy
        if count == m:
            self._move(batch, flip, dx, dy, angle)
            return
        # Only the examples that move are touched, so the others stay bit-for-bit the same.
        rows = np.flatnonzero(moved)
        images = batch[rows]
        self._move(images, flip[rows], dx[rows], dy[rows], None if angle is None else angle[rows])
        batch[rows] = images
