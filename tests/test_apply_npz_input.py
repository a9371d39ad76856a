"""NPZ input to predict/evaluate is read a block of rows at a time, compressed or not, and gives
the numbers of the whole array."""
from __future__ import annotations

import json
import tracemalloc
import zipfile

import numpy as np
import pytest
from typer.testing import CliRunner

from dlcli import load_run
from dlcli.apply.evaluation import evaluate
from dlcli.apply.inputs import batches
from dlcli.cli.app import app
from dlcli.errors import DataError
from tests.apply_helpers import blob_data, csv_config, train, write_csv

runner = CliRunner()


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    root = tmp_path_factory.mktemp("npz")
    X, y = blob_data(m=90)
    raw = csv_config(write_csv(root / "train.csv", X, y))
    raw["training"]["epochs"] = 3
    return train(root / "runs", raw)


@pytest.mark.parametrize("save", ["savez", "savez_compressed"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_blocks_give_the_whole_arrays_numbers(blobs, tmp_path, save, order):
    model = load_run(blobs)
    X, y = blob_data(m=1000, seed=5)
    X = np.asarray(X, dtype=np.float32, order=order)
    path = tmp_path / "input.npz"
    getattr(np, save)(path, X=X, y=y)
    read = list(batches(model, str(path), labels=True, chunk_rows=128))
    assert [b.first for b in read] == list(range(0, 1000, 128))
    np.testing.assert_array_equal(np.concatenate([b.rows for b in read]), model.prepare(X))
    np.testing.assert_array_equal(np.concatenate([b.y for b in read]), y)
    whole = evaluate(model, [next(iter(batches(model, str(path), labels=True,
                                               chunk_rows=1000)))], "whole")
    blocked = evaluate(model, read, "blocks")
    np.testing.assert_array_equal(blocked.confusion, whole.confusion)
    assert blocked.loss == pytest.approx(whole.loss, rel=1e-6)   # float32 sums, other order
    result = runner.invoke(app, ["predict", str(blobs), str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.split()[1:] == [str(v) for v in model.predict(X)]


@pytest.mark.parametrize("save", ["savez", "savez_compressed"])
def test_memory_holds_a_block_not_the_array(blobs, tmp_path, save):
    model = load_run(blobs)
    X = np.random.default_rng(0).normal(size=(200_000, 3))   # 4.8 MB of float64
    path = tmp_path / "large.npz"
    getattr(np, save)(path, X=X)
    tracemalloc.start()
    try:
        count = sum(b.m for b in batches(model, str(path), chunk_rows=2048))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 200_000
    assert peak < X.nbytes / 4, peak   # a few blocks of 2,048 rows, not the 4.8 MB array


def test_a_truncated_member_names_the_file(blobs, tmp_path):
    model = load_run(blobs)
    path = tmp_path / "cut.npz"
    np.savez(path, X=np.ones((5000, 3)))
    data = path.read_bytes()
    # Keep the zip's directory but lose the member's last bytes: a stored member whose bytes
    # end early (its recorded size is larger than what is left).
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("X.npy")
    cut = tmp_path / "cut2.npz"
    with zipfile.ZipFile(cut, "w") as archive:
        archive.writestr("X.npy", data[info.header_offset + 30 + len("X.npy"):][:60_000])
    with pytest.raises(DataError, match="cut2.npz.*truncated or damaged"):
        list(batches(model, str(cut), chunk_rows=100))
    result = runner.invoke(app, ["predict", str(blobs), str(cut)])
    assert result.exit_code == 2 and "cut2.npz" in result.output


def test_bad_arrays_are_refused(blobs, tmp_path):
    model = load_run(blobs)
    cases = {
        "text.npz": (dict(X=np.array([["a", "b", "c"]])), "X has dtype <U1; features must"),
        "flat.npz": (dict(X=np.ones(3)), r"X has shape \(3,\)"),
        "wide.npz": (dict(X=np.ones((4, 5))), "the input has 5 features"),
        "nan.npz": (dict(X=np.array([[1.0, 2, 3], [1, np.nan, 3]])), "row 2"),
        "none.npz": (dict(Z=np.ones((2, 3))), "has no array 'X'"),
    }
    for name, (arrays, message) in cases.items():
        np.savez(tmp_path / name, **arrays)
        with pytest.raises(DataError, match=message):
            list(batches(model, str(tmp_path / name)))
    np.savez(tmp_path / "short.npz", X=np.ones((4, 3)), y=np.array([0, 1]))
    with pytest.raises(DataError, match=r"X has 4 examples but y has shape \(2,\)"):
        list(batches(model, str(tmp_path / "short.npz"), labels=True))
    np.savez(tmp_path / "empty.npz", X=np.ones((0, 3)), y=np.zeros(0, dtype=int))
    result = runner.invoke(app, ["evaluate", str(blobs), str(tmp_path / "empty.npz"), "--json"])
    assert result.exit_code == 2 and "holds no examples" in result.output
    assert json.loads(result.stdout or "null") is None


def test_npy_tables_are_read_as_training_reads_them(tmp_path):
    X, y = blob_data(m=90)
    table = tmp_path / "table.npy"
    np.save(table, np.column_stack([X, y]))   # labels in the last column, as training expects
    raw = csv_config(table)
    raw["training"]["epochs"] = 3
    run_dir = train(tmp_path / "runs", raw)
    model = load_run(run_dir)
    assert model.feature_names == ["col1", "col2", "col3"]
    result = runner.invoke(app, ["predict", str(run_dir), str(table)])
    assert result.exit_code == 0, result.output
    assert result.stdout.split()[1:] == [str(v) for v in model.predict(X)]
    report = runner.invoke(app, ["evaluate", str(run_dir), str(table), "--json"])
    assert report.exit_code == 0, report.output
    final = json.loads((run_dir / "metrics.json").read_text())["final"]
    assert json.loads(report.stdout)["accuracy"] == final["train_accuracy"]
    # Features alone, read in blocks; a table of text is refused.
    np.save(tmp_path / "features.npy", X)
    read = list(batches(model, str(tmp_path / "features.npy"), chunk_rows=16))
    assert len(read) == 6
    np.testing.assert_array_equal(np.concatenate([b.rows for b in read]), model.prepare(X))
    np.save(tmp_path / "text.npy", np.array([["a", "b", "c"]]))
    result = runner.invoke(app, ["predict", str(run_dir), str(tmp_path / "text.npy")])
    assert result.exit_code == 2 and "one (m, columns) table of numbers" in result.output


def test_an_npy_input_for_a_run_on_named_features(blobs, tmp_path):
    model = load_run(blobs)
    X, _ = blob_data(m=40, seed=2)
    np.save(tmp_path / "X.npy", np.asfortranarray(X))   # Fortran order: read whole
    result = runner.invoke(app, ["predict", str(blobs), str(tmp_path / "X.npy")])
    assert result.exit_code == 0, result.output
    assert result.stdout.split()[1:] == [str(v) for v in model.predict(X)]
    np.save(tmp_path / "wide.npy", np.ones((3, 5)))
    result = runner.invoke(app, ["predict", str(blobs), str(tmp_path / "wide.npy")])
    assert result.exit_code == 2 and "missing 'x0'" in result.output
