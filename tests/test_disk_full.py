"""A full disk: one clear line, exit code 1, metrics.json says ``failed`` with the reason, and no
half-written file. On a real 200 KB tmpfs where the test may mount one (root, Linux); always
with a write helper that raises ENOSPC."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from dlcli.cli.app import app
from dlcli.errors import WriteError
from dlcli.reports.background import Painter
from dlcli.runs import files
from dlcli.runs.rundir import HistoryFile
from helpers import SMALL, metrics, only_run, write_config

runner = CliRunner()
ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def small_disk(tmp_path):
    """A 200 KB tmpfs, or a skip where mounting is not allowed (not root, a container)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)],
                       check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("cannot mount a tmpfs here; test_a_failed_checkpoint_write_* simulate it")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True, timeout=30).returncode:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30)


def no_temporary_files(run: Path) -> bool:
    return not [p for p in run.iterdir() if p.name.endswith(".tmp")]


def test_training_onto_a_full_tmpfs_fails_with_one_line_and_an_honest_status(tmp_path,
                                                                             small_disk):
    # 66,817 parameters: a checkpoint (params and two Adam slots) does not fit in 200 KB.
    config = write_config(tmp_path, dict(SMALL, model={"hidden": [256, 256]}))
    runs = small_disk / "runs"
    proc = subprocess.run([sys.executable, "-m", "dlcli", "train", str(config), "--runs-dir",
                           str(runs), "-q"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    run = only_run(runs)
    assert proc.stderr.strip() == \
        f"error: no space left on device while writing {run / 'checkpoint.npz'}"
    status = metrics(run)
    assert status["status"] == "failed"
    assert status["message"] == f"no space left on device while writing {run / 'checkpoint.npz'}"
    assert not (run / "checkpoint.npz").exists() and no_temporary_files(run)
    assert (run / "history.csv").read_text().endswith("\n")


def test_history_csv_is_cut_back_to_its_last_whole_row_when_the_disk_fills(small_disk):
    path = small_disk / "history.csv"
    history = HistoryFile(path, ["epoch", "cost"], flush_seconds=3600)
    try:
        history.append({"epoch": 0, "cost": 0.5})
        history.flush()
        kept = path.read_text()
        fd = os.open(small_disk / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            with pytest.raises(OSError):
                while True:                       # fill the disk to its last byte
                    os.write(fd, b"x" * 512)
        finally:
            os.close(fd)
        with pytest.raises(WriteError, match="no space left on device while writing "
                                             ".*history.csv"):
            for epoch in range(1, 5000):      # more rows than the space left
                history.append({"epoch": epoch, "cost": 0.25})
            history.flush()
        assert path.read_text() == kept
    finally:
        (small_disk / "filler").unlink(missing_ok=True)
        history.close()


def full_disk_at(monkeypatch, name: str, after: int = 0) -> None:
    """Writes of files called ``name`` (after the first ``after``) go to /dev/full, which
    answers every write with ENOSPC as a full disk does; without /dev/full, the temporary
    file cannot be made."""
    real, calls = tempfile.mkstemp, []

    def mkstemp(prefix="", suffix="", dir=None):
        fd, tmp = real(prefix=prefix, suffix=suffix, dir=dir)
        if prefix.startswith(f".{name}."):
            calls.append(tmp)
            if len(calls) > after:
                os.close(fd)
                if not os.path.exists("/dev/full"):
                    os.unlink(tmp)
                    raise ENOSPC
                return os.open("/dev/full", os.O_WRONLY), tmp
        return fd, tmp

    monkeypatch.setattr(files, "tempfile", SimpleNamespace(mkstemp=mkstemp))
    # The figures are drawn in this process, where the full disk is simulated (dlcli train draws
    # them in a helper process, which a real full disk fails the same way).
    monkeypatch.setattr("dlcli.experiment.Painter", lambda background=False: Painter(False))


@pytest.mark.parametrize("name", ["checkpoint.npz", "params.npz", "metrics.json", "cost.png"])
def test_a_failed_write_is_one_line_exit_1_and_a_failed_status(tmp_path, runs_dir, monkeypatch,
                                                               name):
    full_disk_at(monkeypatch, name)
    config = write_config(tmp_path, dict(SMALL, training={"epochs": 12,
                                                          "checkpoint_every": 5}))
    result = runner.invoke(app, ["train", str(config), "--runs-dir", str(runs_dir), "-q"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    run = only_run(runs_dir)
    expected = f"no space left on device while writing {run / name}"
    assert result.output.strip().splitlines()[-1] == f"error: {expected}"
    assert not (run / name).exists() and no_temporary_files(run)
    if name != "metrics.json":   # the status is written where it still can be
        assert metrics(run)["status"] == "failed"
        assert metrics(run)["message"] == expected
    log = (run / "train.log").read_text()
    last = log.splitlines()[-1]
    assert last.startswith("failed after ") and last.endswith(f"of training: {expected}")
    assert "Traceback" not in log


def test_a_write_error_during_a_run_keeps_the_history_whole(tmp_path, runs_dir, monkeypatch):
    # The first checkpoint (epoch 0) is written, the one at epoch 5 meets a full disk.
    full_disk_at(monkeypatch, "checkpoint.npz", after=1)
    clock = iter(range(0, 10**6, 10))   # every checkpoint is due: no 2 s minimum between them
    monkeypatch.setattr("dlcli.runs.recorder.time", SimpleNamespace(monotonic=lambda: next(clock)))
    config = write_config(tmp_path, dict(SMALL, training={"epochs": 12, "checkpoint_every": 5}))
    result = runner.invoke(app, ["train", str(config), "--runs-dir", str(runs_dir), "-q"])
    assert result.exit_code == 1, result.output
    run = only_run(runs_dir)
    status = metrics(run)
    assert status["status"] == "failed" and status["epochs_run"] == 5
    lines = (run / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == [str(e) for e in range(6)]
    assert status["message"].endswith("checkpoint.npz") and no_temporary_files(run)
    # the checkpoint of epoch 0 is kept whole: the run can be resumed from there
    monkeypatch.undo()
    result = runner.invoke(app, ["resume", str(run), "-q"])
    assert result.exit_code == 0, result.output
