"""Augmentation (SPEC 11): the geometry of flips, shifts and rotations, un- and re-normalisation,
seeding, and never touching a batch when inactive."""
from __future__ import annotations


import numpy as np
import pytest

from dlcli.config.schema import AugmentConfig, DataConfig
from dlcli.data import Augmenter, load_data, warp
from dlcli.data.augment import Warp
from dlcli.data.dataset import Dataset, Split
from dlcli.errors import ConfigError


def images(m: int = 3, h: int = 7, w: int = 7, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((m, h, w)) + 1.0  # never 0: blanks stand out


def image_dataset(h: int = 6, w: int = 5, m: int = 40, seed: int = 0) -> tuple[Dataset,
                                                                              np.ndarray]:
    """A dataset of normalised images and their raw pixels."""
    rng = np.random.default_rng(seed)
    raw = rng.random((m, h * w)) * 10 + 1
    shift, scale = raw.mean(axis=0), raw.std(axis=0)
    X = (raw - shift) / scale
    ds = Dataset(train=Split(X, np.zeros(m, np.int64)), dev=None, test=None, n_classes=2,
                 class_names=["0", "1"], feature_names=[], image_shape=(h, w), shift=shift,
                 scale=scale)
    return ds, raw


def test_flip_of_flip_is_the_original_and_flip_mirrors_columns():
    x = images()
    flipped = warp(x, flip=[True, True, False])
    np.testing.assert_array_equal(flipped[:2], x[:2, :, ::-1])
    np.testing.assert_array_equal(flipped[2], x[2])
    np.testing.assert_array_equal(warp(flipped, flip=[True, True, False]), x)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_shift_by_k_moves_pixels_by_k_and_fills_blank(k):
    x = images(m=2)
    out = warp(x, dx=[k, -k], dy=[0, k])
    np.testing.assert_array_equal(out[0, :, k:], x[0, :, :-k])  # right by k
    np.testing.assert_array_equal(out[0, :, :k], 0.0)
    np.testing.assert_array_equal(out[1, k:, :-k], x[1, :-k, k:])  # left by k, down by k
    np.testing.assert_array_equal(out[1, :k, :], 0.0)
    np.testing.assert_array_equal(out[1, :, -k:], 0.0)
    # The bilinear path (any rotation asked for) agrees at whole-pixel moves.
    np.testing.assert_allclose(warp(x, dx=[k, -k], dy=[0, k], angle_degrees=[0, 0]), out,
                               atol=1e-12)


def test_zero_rotation_zero_shift_no_flip_is_identity():
    x = images(m=4, h=8, w=5)
    np.testing.assert_allclose(warp(x, angle_degrees=np.zeros(4)), x, atol=1e-12)
    np.testing.assert_array_equal(warp(x), x)


@pytest.mark.parametrize("size", [6, 7])
def test_rotation_by_90_degrees_is_rot90(size):
    x = images(m=2, h=size, w=size)
    out = warp(x, angle_degrees=[90, -90])
    # cos(90 deg) is 6e-17, not 0: equal up to interpolation round-off.
    np.testing.assert_allclose(out[0], np.rot90(x[0]), atol=1e-9)
    np.testing.assert_allclose(out[1], np.rot90(x[1], k=-1), atol=1e-9)


def reference(x: np.ndarray, flip: bool, dx: int, dy: int, quarter_turns: int) -> np.ndarray:
    """An independent oracle: flip, then np.rot90, then a shift with zero fill."""
    a = x[:, ::-1] if flip else x
    a = np.rot90(a, k=quarter_turns)
    h, w = a.shape
    out = np.zeros_like(a)
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        a[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("quarter_turns", [0, 1, -1])
def test_flip_then_rotate_then_shift_matches_the_oracle(flip, quarter_turns):
    x = images(m=6, h=6, w=6, seed=2)
    moves = [(1, 0), (0, 2), (-2, 1), (1, -1), (2, 2), (0, 0)]
    dx, dy = np.array(moves).T
    angle = None if quarter_turns == 0 else np.full(6, 90.0 * quarter_turns)
    out = warp(x, flip=np.full(6, flip), dx=dx, dy=dy, angle_degrees=angle)
    for i, (mx, my) in enumerate(moves):
        np.testing.assert_allclose(out[i], reference(x[i], flip, mx, my, quarter_turns),
                                   atol=1e-9, err_msg=f"move {mx, my}")


def test_small_rotation_keeps_the_centre_and_blanks_corners():
    x = np.zeros((1, 9, 9))
    x[0, 4, :] = 1.0  # a horizontal bar through the centre
    out = warp(x, angle_degrees=[45])[0]
    assert out[4, 4] == pytest.approx(1.0)
    # Counter-clockwise as displayed: the bar now runs from bottom-left to top-right.
    assert out[1, 7] > 0.5 and out[7, 1] > 0.5
    assert out[1, 1] < 1e-9 and out[7, 7] < 1e-9
    assert warp(np.ones((1, 9, 9)), angle_degrees=[45])[0, 0, 0] == 0.0


def test_augmenter_renormalises_and_blank_is_a_raw_zero():
    ds, raw = image_dataset()
    h, w = ds.image_shape
    batch = ds.train.X.copy()
    Augmenter(ds, AugmentConfig(flip=True))(batch, np.random.default_rng(1))
    back = batch * ds.scale + ds.shift  # raw pixels of the augmented batch
    flipped = raw.reshape(-1, h, w)[:, :, ::-1].reshape(len(raw), -1)
    is_flipped = np.all(np.isclose(back, flipped), axis=1)
    is_same = np.all(batch == ds.train.X, axis=1)  # unflipped rows stay bit-for-bit the same
    assert np.all(is_flipped | is_same)
    assert 5 < is_flipped.sum() < 35  # probability 0.5 each
    batch = ds.train.X.copy()
    Augmenter(ds, AugmentConfig(shift=1))(batch, np.random.default_rng(1))
    back = (batch * ds.scale + ds.shift).reshape(-1, h, w)
    # Every row moved by at most one pixel: at least one border column or row is blank (raw 0),
    # unless it drew (0, 0).
    blank = [np.allclose(b[:, 0], 0) or np.allclose(b[:, -1], 0) or np.allclose(b[0], 0)
             or np.allclose(b[-1], 0) for b in back]
    unmoved = np.all(np.isclose(back.reshape(len(raw), -1), raw), axis=1)
    assert np.all(np.array(blank) | unmoved) and sum(blank) > 20


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_augmenter_is_seeded_and_keeps_dtype(dtype):
    ds, _ = image_dataset()
    aug = Augmenter(ds, AugmentConfig(flip=True, shift=2, rotate=20))
    batches = []
    for seed in (7, 7, 8):
        batch = ds.train.X.astype(dtype)
        aug(batch, np.random.default_rng(seed))
        assert batch.dtype == dtype and np.isfinite(batch).all()
        batches.append(batch)
    np.testing.assert_array_equal(batches[0], batches[1])
    assert not np.array_equal(batches[0], batches[2])
    assert not np.array_equal(batches[0], ds.train.X.astype(dtype))


def test_augmenter_works_on_a_strided_view():
    # The trainer augments X1[:, :-1] of a buffer whose last column holds ones.
    ds, _ = image_dataset()
    config = AugmentConfig(flip=True, shift=1, rotate=30)
    expected = ds.train.X.copy()
    Augmenter(ds, config)(expected, np.random.default_rng(9))
    X1 = np.ones((ds.train.m, ds.n_features + 1))
    X1[:, :-1] = ds.train.X
    Augmenter(ds, config)(X1[:, :-1], np.random.default_rng(9))
    np.testing.assert_array_equal(X1[:, :-1], expected)
    np.testing.assert_array_equal(X1[:, -1], 1.0)


def test_inactive_augmenter_never_touches_the_batch_or_the_rng():
    ds, _ = image_dataset()
    batch = ds.train.X.copy()
    rng = np.random.default_rng(3)
    state = rng.bit_generator.state
    Augmenter(ds, AugmentConfig())(batch, rng)
    np.testing.assert_array_equal(batch, ds.train.X)
    assert rng.bit_generator.state == state


def test_augmenting_non_image_data_is_a_config_error():
    moons = load_data(DataConfig(dataset="moons"), np.random.default_rng(0), "float32")
    with pytest.raises(ConfigError) as info:
        Augmenter(moons, AugmentConfig(flip=True))
    assert info.value.path == "data.augment" and "image" in str(info.value)
    Augmenter(moons, AugmentConfig())  # inactive: fine


def test_large_batches_are_vectorised_and_chunked(monkeypatch):
    # 600 examples span three chunks of 256: the warp runs once per chunk, never per example.
    ds, _ = image_dataset(h=8, w=8, m=600)
    config = AugmentConfig(flip=True, shift=2, rotate=10)
    aug = Augmenter(ds, config)
    passes = []
    bilinear = Warp._bilinear
    monkeypatch.setattr(Warp, "_bilinear",
                        lambda self, buffers, m, *rest: passes.append(m)
                        or bilinear(self, buffers, m, *rest))
    chunked = ds.train.X.copy()
    aug(chunked, np.random.default_rng(4))
    assert passes == [256, 256, 88]
    # Chunking does not change the result: the same draws in one pass give the same batch.
    monkeypatch.setattr(Warp, "CHUNK", 1000)
    whole = ds.train.X.copy()
    Augmenter(ds, config)(whole, np.random.default_rng(4))
    np.testing.assert_allclose(whole, chunked, rtol=0, atol=1e-12)
    assert not np.allclose(whole, ds.train.X)


def test_digits_batch_end_to_end():
    digits = load_data(DataConfig(dataset="digits"), np.random.default_rng(0), "float32")
    aug = Augmenter(digits, AugmentConfig(flip=True, shift=1, rotate=15))
    batch = digits.train.X[:64].copy()
    aug(batch, np.random.default_rng(0))
    assert batch.shape == (64, 64) and batch.dtype == np.float32
    assert np.isfinite(batch).all() and not np.array_equal(batch, digits.train.X[:64])
    raw = batch * digits.scale + digits.shift
    assert raw.min() > -1e-3 and raw.max() < 16 + 1e-3  # bilinear stays within the pixel range
