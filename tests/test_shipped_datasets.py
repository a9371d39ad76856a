"""The four real data sets dlcli ships (dlcli/data/datasets/*.npz) are exact copies of
scikit-learn's: the same values in the same dtype and row order, the same feature and class names,
and digits' image shape. scikit-learn is in the ``test`` extra only, for this check."""
import numpy as np
import pytest
from sklearn import datasets

from dlcli.data.builtin import DATASETS, SHIPPED, load_builtin

REAL = ["digits", "iris", "wine", "breast_cancer"]


def test_the_real_data_sets_are_the_shipped_files():
    assert sorted(name for name in DATASETS if not DATASETS.get(name).synthetic) == sorted(REAL)
    assert sorted(p.stem for p in SHIPPED.glob("*.npz")) == sorted(REAL)


@pytest.mark.parametrize("name", REAL)
def test_shipped_arrays_equal_scikit_learns(name):
    bunch = getattr(datasets, f"load_{name}")()
    with np.load(SHIPPED / f"{name}.npz") as shipped:
        assert shipped["data"].dtype == bunch.data.dtype
        assert shipped["data"].shape == bunch.data.shape
        # array_equal on the bits: no tolerance, and a NaN would have to sit in the same place
        assert np.array_equal(shipped["data"].view(np.uint64), bunch.data.view(np.uint64))
        assert shipped["target"].dtype == bunch.target.dtype
        assert np.array_equal(shipped["target"], bunch.target)
        assert list(shipped["feature_names"]) == [str(n) for n in bunch.feature_names]
        assert list(shipped["target_names"]) == [str(n) for n in bunch.target_names]
        if "images" in bunch:
            assert tuple(shipped["image_shape"]) == bunch.images.shape[1:]
            assert np.array_equal(bunch.data.reshape(bunch.images.shape), bunch.images)
        else:
            assert "image_shape" not in shipped.files


@pytest.mark.parametrize("name", REAL)
def test_load_builtin_gives_scikit_learns_table(name):
    bunch = getattr(datasets, f"load_{name}")()
    table, options = load_builtin(name, {}, np.random.default_rng(0))
    assert options == {}
    assert table.X.dtype == np.float64 and table.X.flags.c_contiguous
    assert np.array_equal(table.X, bunch.data)
    assert table.labels.dtype == np.int64 and np.array_equal(table.labels, bunch.target)
    assert table.feature_names == [str(n) for n in bunch.feature_names]
    assert table.class_names == [str(c) for c in bunch.target_names]
    assert table.image_shape == (bunch.images.shape[1:] if "images" in bunch else None)
