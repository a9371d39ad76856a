"""dlcli resume, and what an interrupted run keeps (SPEC section 1; issue: resume)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from dlcli.cli.app import app
from helpers import (SMALL, history, interrupt, metrics, only_run, start_interruptible,
                     write_config)

runner = CliRunner()


def params(run):
    with np.load(run / "params.npz") as npz:
        return {k: npz[k] for k in npz.files}


def same_params(a, b):
    pa, pb = params(a), params(b)
    return pa.keys() == pb.keys() and all(np.array_equal(pa[k], pb[k]) for k in pa)


def test_resumed_run_is_bit_identical_to_an_unbroken_one(tmp_path):
    config = dict(SMALL, model={"hidden": [8, 4], "keep_prob": 0.9, "batch_norm": True},
                  schedule={"name": "exponential"}, training={"epochs": 12, "batch_size": 32,
                                                              "checkpoint_every": 5})
    path = write_config(tmp_path, config)
    short, full = tmp_path / "short", tmp_path / "full"
    assert runner.invoke(app, ["train", str(path), "--runs-dir", str(short), "-q",
                               "--set", "training.epochs=5"]).exit_code == 0
    parent = only_run(short)
    result = runner.invoke(app, ["resume", str(parent), "--epochs", "12", "-q"])
    assert result.exit_code == 0, result.output
    child = next(p for p in short.iterdir() if p != parent)
    assert runner.invoke(app, ["train", str(path), "--runs-dir", str(full), "-q"]).exit_code == 0
    unbroken = only_run(full)
    assert same_params(child, unbroken)
    assert history(child) == history(unbroken)          # epochs continue, history included
    m = metrics(child)
    assert m["parent"] == str(parent.resolve()) and m["epochs_run"] == 12


def test_resume_with_a_nudged_learning_rate(tmp_path):
    path = write_config(tmp_path)
    runs = tmp_path / "runs"
    assert runner.invoke(app, ["train", str(path), "--runs-dir", str(runs), "-q"]).exit_code == 0
    parent = only_run(runs)
    result = runner.invoke(app, ["resume", str(parent), "--epochs", "20", "-q", "--set",
                                 "optimizer.learning_rate=0.001"])
    assert result.exit_code == 0, result.output
    child = next(p for p in runs.iterdir() if p != parent)
    rows = history(child)
    assert [float(r["learning_rate"]) for r in rows[-5:]] == [0.001] * 5
    assert float(rows[15]["learning_rate"]) == 0.01


def test_a_resumed_run_that_diverges_says_why_as_train_does(tmp_path):
    path = write_config(tmp_path, dict(SMALL, optimizer={"name": "gd", "learning_rate": 0.01},
                                       model={"hidden": [20, 20]}))
    runs = tmp_path / "runs"
    assert runner.invoke(app, ["train", str(path), "--runs-dir", str(runs), "-q"]).exit_code == 0
    parent = only_run(runs)
    result = runner.invoke(app, ["resume", str(parent), "--epochs", "40", "-q", "--set",
                                 "optimizer.learning_rate=1e6"])
    assert result.exit_code == 1, result.output
    child = next(p for p in runs.iterdir() if p != parent)
    assert metrics(child)["status"] == "diverged"
    assert result.stdout.strip() == str(child)          # the run directory, as train prints
    assert result.stderr.startswith("error: the cost became")
    assert "optimizer.learning_rate" in result.stderr


def test_resume_refuses_changes_that_do_not_make_sense_mid_run(tmp_path):
    path = write_config(tmp_path)
    runs = tmp_path / "runs"
    assert runner.invoke(app, ["train", str(path), "--runs-dir", str(runs), "-q"]).exit_code == 0
    parent = only_run(runs)
    result = runner.invoke(app, ["resume", str(parent), "--epochs", "20", "--set",
                                 "model.hidden=[4]"])
    assert result.exit_code == 2 and "model.hidden" in result.output
    result = runner.invoke(app, ["resume", str(parent)])
    assert result.exit_code == 2 and "--epochs" in result.output
    result = runner.invoke(app, ["resume", str(tmp_path)])
    assert result.exit_code == 2 and "not a resumable run directory" in result.output
    assert len(list(runs.iterdir())) == 1


def start_long_run(tmp_path, checkpoint_every, rows):
    """A real ``dlcli train`` subprocess, returned once its history has ``rows`` rows."""
    config = dict(SMALL, training={"epochs": 100000, "batch_size": 32,
                                   "checkpoint_every": checkpoint_every})
    runs = tmp_path / "runs"
    proc = start_interruptible([sys.executable, "-m", "dlcli", "train",
                                str(write_config(tmp_path, config)), "--runs-dir", str(runs),
                                "-q"])
    deadline = time.time() + 60
    while time.time() < deadline:
        found = list(runs.glob("*/history.csv")) if runs.exists() else []
        if found and len(found[0].read_text().splitlines()) > rows:
            break
        time.sleep(0.1)
    return proc, runs


def test_ctrl_c_keeps_what_was_logged_and_the_run_resumes(tmp_path):
    proc, runs = start_long_run(tmp_path, checkpoint_every=5, rows=30)
    out, err = interrupt(proc)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    run = only_run(runs)
    # stdout names the run for a script (run=$(dlcli train ... -q)); stderr says how to go on
    assert out.splitlines() == [str(run)]
    from dlcli.runs.checkpoint import checkpoint_epoch, load_checkpoint
    start = checkpoint_epoch(run / "checkpoint.npz")
    assert start == load_checkpoint(run / "checkpoint.npz")["epoch"] and start % 5 == 0
    assert err.strip().splitlines()[-2:] == [
        f"error: interrupted; what was logged is kept in {run} (a resume starts from its "
        f"checkpoint at epoch {start:,})",
        f"Continue with: dlcli resume {run} --epochs 100000"]
    m = metrics(run)
    assert m["status"] == "interrupted" and m["epochs_run"] >= 29
    assert len(history(run)) >= 30
    assert (run / "params.npz").exists() and (run / "checkpoint.npz").exists()
    result = runner.invoke(app, ["resume", str(run), "--epochs", str(m["epochs_run"] + 3), "-q"])
    assert result.exit_code == 0, result.output
    child = next(p for p in runs.iterdir() if p != run)
    rows = history(child)
    # resumed from the last checkpoint (a multiple of 5), continuing the epoch numbers
    assert int(rows[-1]["epoch"]) == m["epochs_run"] + 3
    assert [int(r["epoch"]) for r in rows] == list(range(len(rows)))


def test_killed_run_resumes_bit_for_bit_as_an_unbroken_run(tmp_path):
    proc, runs = start_long_run(tmp_path, checkpoint_every=10, rows=25)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    run = only_run(runs)
    assert metrics(run)["status"] == "running"          # nobody could say otherwise
    from dlcli.runs.checkpoint import load_checkpoint
    saved = load_checkpoint(run / "checkpoint.npz")["epoch"]
    assert saved % 10 == 0
    target = saved + 10
    result = runner.invoke(app, ["resume", str(run), "--epochs", str(target), "-q"])
    assert result.exit_code == 0, result.output
    child = next(p for p in runs.iterdir() if p != run)
    assert metrics(child)["epochs_run"] == target
    assert [int(r["epoch"]) for r in history(child)] == list(range(target + 1))
    # the same config trained without a break to the same epoch: the same bits
    full = tmp_path / "full"
    result = runner.invoke(app, ["train", str(run / "config.yaml"), "--runs-dir", str(full),
                                 "-q", "--set", f"training.epochs={target}"])
    assert result.exit_code == 0, result.output
    unbroken = only_run(full)
    assert same_params(child, unbroken)
    assert history(child) == history(unbroken)


def test_a_parent_history_that_does_not_reach_its_checkpoint_is_refused(tmp_path):
    runs = tmp_path / "runs"
    config = write_config(tmp_path, dict(SMALL, training={"epochs": 20, "checkpoint_every": 5}))
    assert runner.invoke(app, ["train", str(config), "--runs-dir", str(runs), "-q"]
                         ).exit_code == 0
    parent = only_run(runs)
    lines = (parent / "history.csv").read_text().splitlines(keepends=True)
    (parent / "history.csv").write_text("".join(lines[:11]))   # header and epochs 0-9
    result = runner.invoke(app, ["resume", str(parent), "--epochs", "25", "-q"])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        f"error: cannot resume {parent}: {parent / 'history.csv'} ends at epoch 9 but "
        "checkpoint.npz is at epoch 20; the resumed history would miss epochs (was "
        "history.csv cut or edited?)")
    assert [p.name for p in runs.iterdir()] == [parent.name]   # no new run directory
    # rows out of order are refused too
    (parent / "history.csv").write_text(lines[0] + "".join(lines[1:22][::-1]))
    result = runner.invoke(app, ["resume", str(parent), "--epochs", "25", "-q"])
    assert result.exit_code == 2 and "repeats or reorders epochs" in result.output


def test_resuming_an_early_stopped_run_says_why_it_stops_again_and_the_way_on(tmp_path):
    config = dict(SMALL, data={"dataset": "moons", "options": {"n_samples": 200, "noise": 0.35},
                               "dev_fraction": 0.4},
                  model={"hidden": [32, 32]},
                  training={"epochs": 400, "batch_size": 32,
                            "early_stopping": {"patience": 5}})
    path = write_config(tmp_path, config)
    runs = tmp_path / "runs"
    assert runner.invoke(app, ["train", str(path), "--runs-dir", str(runs), "-q"]
                         ).exit_code == 0
    parent = only_run(runs)
    stopped = metrics(parent)
    assert stopped["status"] == "early_stopped"
    waited = stopped["epochs_run"] - stopped["best_epoch"]
    result = runner.invoke(app, ["resume", str(parent), "--epochs", "400"])
    assert result.exit_code == 0, result.output
    child = Path(result.stdout.strip().splitlines()[-1])
    again = metrics(child)
    assert again["status"] == "early_stopped"
    way_on = f"--set training.early_stopping.patience={waited + 5}"
    assert "stopped early" in result.stderr and way_on in result.stderr
    assert way_on in again["message"]
    onward = runner.invoke(app, ["resume", str(parent), "--epochs", "400", "-q", "--set",
                                 f"training.early_stopping.patience={waited + 5}"])
    assert onward.exit_code == 0, onward.output
    grandchild = Path(onward.stdout.strip().splitlines()[-1])
    assert metrics(grandchild)["epochs_run"] >= stopped["epochs_run"] + 5
