"""Broken .npz files (model.init_from, data files, checkpoints): one plain line each, with the
error kind of the file's role (config error 2, data error 2, run error 1), never a traceback or a
bare ``Aborted.``."""
from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from dlcli.cli.app import app
from dlcli.errors import RunError
from dlcli.npzfile import read_npz_arrays
from helpers import SMALL, only_run, write_config

runner = CliRunner()


def broken_files(folder):
    good = folder / "good.npz"
    np.savez(good, X=np.random.default_rng(0).random((40, 2)), y=np.arange(40) % 2)
    data = good.read_bytes()
    files = {
        "empty": (b"", "is empty (0 bytes)"),
        "truncated": (data[: len(data) // 2], "is truncated or damaged (file is not a zip"),
        "zip-like": (b"PK\x03\x04" + b"\0" * 40, "is truncated or damaged"),
        "text": (b"X,y\n1,0\n", "is not an NPZ file"),
    }
    paths = {}
    for name, (content, reason) in files.items():
        path = folder / f"{name}.npz"
        path.write_bytes(content)
        paths[name] = (path, reason)
    npy = folder / "array.npy"
    np.save(npy, np.zeros(3))
    paths["npy"] = (npy, "holds a single NumPy array (.npy)")
    return paths


@pytest.mark.parametrize("kind", ["empty", "truncated", "zip-like", "text", "npy"])
def test_a_broken_init_from_is_a_config_error(tmp_path, runs_dir, kind):
    path, reason = broken_files(tmp_path)[kind]
    config = write_config(tmp_path, dict(SMALL, model={"hidden": [6, 3],
                                                       "init_from": str(path)}))
    result = runner.invoke(app, ["train", str(config), "--runs-dir", str(runs_dir), "-q"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: config error at model.init_from: {path} {reason}")
    assert len(result.output.strip().splitlines()) == 1
    assert "Aborted" not in result.output and "Traceback" not in result.output
    assert list(runs_dir.iterdir()) == []


@pytest.mark.parametrize("kind", ["empty", "truncated", "zip-like"])
def test_a_broken_data_npz_is_a_data_error(tmp_path, runs_dir, kind):
    path, reason = broken_files(tmp_path)[kind]
    if kind == "empty":
        reason = "empty"   # the data reader's own check of the file comes first
    config = write_config(tmp_path, dict(SMALL, data={"train": str(path)}))
    result = runner.invoke(app, ["train", str(config), "--runs-dir", str(runs_dir), "-q"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: data error in {path}: ")
    assert reason in result.output and "Traceback" not in result.output
    assert list(runs_dir.iterdir()) == []


@pytest.mark.parametrize("kind", ["empty", "truncated", "text"])
def test_a_broken_checkpoint_is_a_run_error_naming_it(tmp_path, runs_dir, kind):
    config = write_config(tmp_path, dict(SMALL, training={"epochs": 3}))
    assert runner.invoke(app, ["train", str(config), "--runs-dir", str(runs_dir),
                               "-q"]).exit_code == 0
    run = only_run(runs_dir)
    source, reason = broken_files(tmp_path)[kind]
    (run / "checkpoint.npz").write_bytes(source.read_bytes())
    result = runner.invoke(app, ["resume", str(run), "--epochs", "5", "-q"])
    assert result.exit_code == 1, result.output
    assert result.output.strip().startswith(f"error: checkpoint {run / 'checkpoint.npz'} "
                                            f"{reason}")
    assert "Traceback" not in result.output


def test_read_npz_arrays_reads_a_good_file_and_names_a_missing_one(tmp_path):
    broken_files(tmp_path)
    arrays = read_npz_arrays(tmp_path / "good.npz", RunError)
    assert sorted(arrays) == ["X", "y"] and arrays["X"].shape == (40, 2)
    with pytest.raises(RunError, match="^does not exist$"):
        read_npz_arrays(tmp_path / "missing.npz", RunError)


def test_a_checkpoint_with_a_damaged_record_is_a_run_error(tmp_path):
    from dlcli.runs.checkpoint import load_checkpoint
    path = tmp_path / "checkpoint.npz"
    np.savez(path, __meta__=np.frombuffer(b"\xff{not json", dtype=np.uint8))
    with pytest.raises(RunError, match="is damaged: its __meta__ record is not the JSON"):
        load_checkpoint(path)


def test_a_broken_params_npz_is_one_line_when_a_run_is_applied(tmp_path, runs_dir):
    from dlcli.apply import load_run
    from dlcli.errors import InputError
    config = write_config(tmp_path, dict(SMALL, training={"epochs": 2}))
    assert runner.invoke(app, ["train", str(config), "--runs-dir", str(runs_dir),
                               "-q"]).exit_code == 0
    run = only_run(runs_dir)
    (run / "params.npz").write_bytes(b"")
    with pytest.raises(InputError, match=r"params.npz is empty \(0 bytes\)"):
        load_run(run)
