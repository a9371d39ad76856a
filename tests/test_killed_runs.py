"""A run whose process died without writing its status is reported as killed (SPEC section 1),
with epochs and metrics from history.csv, and can be resumed; history rows reach the disk within
the half second promised even when no further row comes."""
from __future__ import annotations

import json
import re
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from dlcli.cli.app import app
from dlcli.runs.liveness import process_gone
from dlcli.runs.reader import read_history, read_run
from dlcli.runs.rundir import HistoryFile
from helpers import SMALL, metrics, only_run, write_config

runner = CliRunner()


def wait_for(condition, limit: float = 60.0) -> None:
    """Poll until ``condition()`` holds; fail after ``limit`` seconds (a hung test, not a
    measurement)."""
    end = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < end, "gave up waiting"
        time.sleep(0.05)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_history_row_reaches_the_disk_without_another_append(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    history = HistoryFile(path, ["epoch", "step", "cost"], flush_seconds=0.5)
    history.append({"epoch": 0, "step": 0, "cost": 0.69})
    # Nothing more is appended, flushed or closed: only the background flush can write it.
    wait_for(lambda: len(read_history(path)) == 1)
    assert read_history(path) == [{"epoch": 0, "step": 0, "cost": 0.69}]
    history.close()


def test_a_run_records_its_process_and_a_heartbeat(tmp_path: Path, runs_dir: Path) -> None:
    config = write_config(tmp_path)
    assert runner.invoke(app, ["train", str(config), "--runs-dir", str(runs_dir),
                               "-q"]).exit_code == 0
    run = only_run(runs_dir)
    facts = metrics(run)
    assert facts["pid"] == os.getpid() and facts["host"]
    assert (run / "heartbeat").is_file()
    assert read_run(run).status == "completed"   # a finished run is never "killed"


def _fake_killed(run: Path, **changes) -> None:
    facts = metrics(run)
    facts.update(status="running", final={}, best={}, epochs_run=0, best_epoch=None,
                 finished=None, **changes)
    (run / "metrics.json").write_text(json.dumps(facts))


def test_a_running_run_whose_process_is_gone_reads_as_killed_with_its_history(
        tmp_path: Path, runs_dir: Path) -> None:
    config = write_config(tmp_path)
    assert runner.invoke(app, ["train", str(config), "--runs-dir", str(runs_dir),
                               "-q"]).exit_code == 0
    run = only_run(runs_dir)
    finished = metrics(run)
    _fake_killed(run, pid=dead_pid())
    record = read_run(run)
    assert record.status == "killed"
    assert record.metrics["epochs_run"] == 15
    assert record.metrics["best_epoch"] == finished["best_epoch"]
    assert record.block("best")["dev_loss"] == finished["best"]["dev_loss"]
    assert record.block("final")["dev_accuracy"] == finished["final"]["dev_accuracy"]

    out = runner.invoke(app, ["compare", str(runs_dir), "--format", "json"])
    assert out.exit_code == 0, out.output
    row = json.loads(out.stdout)[0]
    assert row["status"] == "killed" and row["epochs_run"] == 15
    shown = runner.invoke(app, ["show", str(run)])
    assert re.search(r"^status +killed$", shown.stdout, re.M) and "is gone" in shown.stdout


def test_the_live_process_and_old_runs_without_a_pid_stay_running(tmp_path: Path,
                                                                 runs_dir: Path) -> None:
    config = write_config(tmp_path)
    runner.invoke(app, ["train", str(config), "--runs-dir", str(runs_dir), "-q"])
    run = only_run(runs_dir)
    _fake_killed(run, pid=os.getpid())
    assert read_run(run).status == "running"
    facts = metrics(run)
    del facts["pid"]
    (run / "metrics.json").write_text(json.dumps(facts))
    assert read_run(run).status == "running"


def test_on_another_host_a_stale_heartbeat_means_killed(tmp_path: Path) -> None:
    (tmp_path / "heartbeat").touch()
    other = {"status": "running", "pid": 1, "host": "some-other-machine"}
    assert not process_gone(tmp_path, other)
    old = time.time() - 3600
    os.utime(tmp_path / "heartbeat", (old, old))
    assert process_gone(tmp_path, other)


def test_kill_9_mid_run_then_show_ls_compare_and_resume(tmp_path: Path,
                                                       runs_dir: Path) -> None:
    config = write_config(tmp_path, dict(SMALL, training={
        "epochs": 100000, "batch_size": 32, "checkpoint_every": 1}))
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, "-m", "dlcli", "train", str(config), "--runs-dir",
                             str(runs_dir), "-q"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        wait_for(lambda: any(runs_dir.iterdir()) and
                 len(read_history(only_run(runs_dir) / "history.csv")) > 3
                 if (any(runs_dir.iterdir()) and
                     (only_run(runs_dir) / "history.csv").exists()) else False)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    run = only_run(runs_dir)
    assert metrics(run)["status"] == "running"       # it had no chance to say otherwise
    record = read_run(run)
    assert record.status == "killed" and record.metrics["epochs_run"] >= 3

    shown = runner.invoke(app, ["show", str(run)])
    assert "killed" in shown.stdout
    compared = runner.invoke(app, ["compare", str(run), "--format", "json"])
    assert compared.exit_code == 0 and json.loads(compared.stdout)[0]["status"] == "killed"
    resumed = runner.invoke(app, ["resume", str(run), "--epochs",
                                  str(record.metrics["epochs_run"] + 2), "-q"])
    assert resumed.exit_code == 0, resumed.output
    child = Path(resumed.stdout.strip().splitlines()[-1])
    assert metrics(child)["status"] == "completed"
    assert metrics(child)["parent"] == str(run.resolve())
