"""Concurrent runs never share a run directory (docs/run-directory.md, "Reliability")."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading

import pytest

from dlcli.runs.rundir import create_run_dir
from helpers import SMALL, metrics, write_config


def test_runs_made_at_the_same_instant_get_their_own_directories(tmp_path):
    now, made, barrier = dt.datetime(2026, 11, 26, 12, 0, 0), [], threading.Barrier(8)

    def make():
        barrier.wait()
        made.append(create_run_dir(tmp_path, "same", now=now))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(p.name for p in made) == sorted(
        ["20261126-120000-same"] + [f"20261126-120000-same-{n}" for n in range(2, 9)])


@pytest.mark.slow
def test_simultaneous_dlcli_processes_of_one_name_each_complete_in_their_own_directory(
        tmp_path):
    config = write_config(tmp_path, dict(SMALL, training={"epochs": 3}))
    runs = tmp_path / "runs"
    procs = [subprocess.Popen([sys.executable, "-m", "dlcli", "train", str(config),
                               "--runs-dir", str(runs), "-q"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [proc.communicate(timeout=300) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, outputs
    dirs = sorted(runs.iterdir())
    assert len(dirs) == 4
    assert {metrics(run)["status"] for run in dirs} == {"completed"}
    assert sorted(out.strip().splitlines()[-1] for out, _ in outputs) == \
        sorted(str(run) for run in dirs)
