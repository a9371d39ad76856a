"""dlcli tune (SPEC section 12): search directory, trials.csv, rounds, failures, resume, workers,
Ctrl-C and the command line. Real trials of a tiny network, each well under a second."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dlcli.cli.app import app
from dlcli.config import load_config, read_yaml
from dlcli.experiment import run
from dlcli.study.executors import InProcessExecutor, LocalExecutor, worker_report
from dlcli.study.random_search import create_search, open_search, trial_seeds
from dlcli.study.runner import Study
from dlcli.study.tasks import metric_of
from helpers import (StopAfter, csv_rows, interrupt, start_interruptible, sub_dirs,
                     write_yaml)

ROOT = Path(__file__).resolve().parents[1]
BASE = {"name": "s", "seed": 1, "data": {"dataset": "moons", "dev_fraction": 0.25},
        "model": {"hidden": [8]}, "training": {"epochs": 20, "batch_size": 64}}
SPACE = {"optimizer.learning_rate": {"log_uniform": [1e-3, 1e-1]},
         "optimizer.beta1": {"one_minus_log_uniform": [0.8, 0.99]},
         "model.activation": {"choice": ["relu", "tanh"]}}

runner = CliRunner()


def rows(search_dir: Path) -> list[dict[str, str]]:
    return csv_rows(search_dir / "trials.csv")


def status_of(run_dir: Path) -> str | None:
    try:
        return json.loads((run_dir / "metrics.json").read_text())["status"]
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def history_rows(run_dir: Path) -> list[str]:
    try:
        return (run_dir / "history.csv").read_text().splitlines()
    except FileNotFoundError:
        return []


def search(tmp_path: Path, **options) -> Study:
    settings = {"space": SPACE, "trials": 4, **options}
    return create_search(BASE, tmp_path / "runs", **settings)


def test_trials_csv_has_one_row_per_trial_and_each_config_reproduces_it(tmp_path):
    result = search(tmp_path).run(InProcessExecutor())
    path = result.path
    assert path.parent == tmp_path / "runs" and path.name.endswith("-s-search")
    table = rows(path)
    assert [r["trial"] for r in table] == ["1", "2", "3", "4"]
    assert list(table[0])[:4] == ["trial", "round", "status", "dev_loss"]
    assert {"optimizer.learning_rate", "optimizer.beta1", "model.activation"} <= set(table[0])
    assert read_yaml(path / "space.yaml") == SPACE
    assert "search" not in read_yaml(path / "base-config.yaml")
    seeds = set()
    for row in table:
        run_dir = path / row["run"]
        assert row["run"].endswith(f"-s-t{int(row['trial']):03d}")
        config = read_yaml(run_dir / "config.yaml")
        # Exactly the sampled values (floats written with repr read back bit for bit).
        assert config["optimizer"]["learning_rate"] == float(row["optimizer.learning_rate"])
        assert config["optimizer"]["beta1"] == float(row["optimizer.beta1"])
        assert config["model"]["activation"] == row["model.activation"]
        assert config["seed"] == int(row["seed"]) == trial_seeds(1, int(row["trial"]))[1]
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert row["status"] == metrics["status"] == "completed"
        assert float(row["dev_loss"]) == metrics["best"]["dev_loss"]
        seeds.add(config["seed"])
    assert len(seeds) == 4                       # every trial has its own seed
    # dlcli train on a trial's config.yaml gives the same run again.
    first = path / table[0]["run"]
    again = run(load_config(first / "config.yaml"), tmp_path / "again")
    assert again.metrics["best"]["dev_loss"] == float(table[0]["dev_loss"])
    overrides = yaml.safe_load((first / "overrides.yaml").read_text())
    assert f"model.activation={table[0]['model.activation']}" in overrides
    summary = json.loads((path / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["trials"]["completed"] == 4
    assert summary["best"]["trial"] == result.best.number
    assert summary["best"]["dev_loss"] == min(float(r["dev_loss"]) for r in table)
    assert (path / "trials.png").stat().st_size > 1000


def test_coarse_to_fine_samples_each_round_in_the_span_of_the_last_rounds_best(tmp_path):
    result = search(tmp_path, trials=5, rounds=3, keep=0.5).run(InProcessExecutor())
    table = rows(result.path)
    assert len(table) == 15 and [r["round"] for r in table] == ["1"] * 5 + ["2"] * 5 + ["3"] * 5
    rounds = json.loads((result.path / "summary.json").read_text())["round_details"]
    assert [r["trials"] for r in rounds] == [[1, 5], [6, 10], [11, 15]]
    assert rounds[0]["space"] == SPACE
    for before, after in zip(rounds, rounds[1:]):
        kept = [table[n - 1] for n in before["kept"]]
        assert len(kept) == 3                                  # half of 5, rounded up
        best = sorted(float(r["dev_loss"]) for r in table[before["trials"][0] - 1:
                                                            before["trials"][1]])[:3]
        assert sorted(float(r["dev_loss"]) for r in kept) == best
        for key in ("optimizer.learning_rate", "optimizer.beta1"):
            values = [float(r[key]) for r in kept]
            kind = next(iter(after["space"][key]))
            assert after["space"][key][kind] == [min(values), max(values)]
            lo, hi = min(values), max(values)
            for row in table[after["trials"][0] - 1:after["trials"][1]]:
                assert lo <= float(row[key]) <= hi
        assert after["space"]["model.activation"] == SPACE["model.activation"]


def test_a_diverged_trial_is_recorded_and_the_search_goes_on(tmp_path):
    base = {**BASE, "optimizer": {"name": "gd"}}
    space = {"optimizer.learning_rate": {"choice": [0.5, 1.0e6]}}
    result = create_search(base, tmp_path / "runs", space=space, trials=6, seed=3,
                           rounds=2).run(InProcessExecutor())
    table = rows(result.path)
    assert len(table) == 12
    by_status = {}
    for row in table:
        by_status.setdefault(row["status"], []).append(row)
    assert set(by_status) == {"completed", "diverged"}
    for row in by_status["diverged"]:
        assert row["optimizer.learning_rate"] == "1000000.0"
        assert row["dev_loss"] == "" and row["message"]
        assert json.loads((result.path / row["run"] / "metrics.json").read_text())[
            "status"] == "diverged"
    assert result.best.values["optimizer.learning_rate"] == 0.5


def test_a_trial_whose_values_do_not_fit_together_is_failed_and_the_search_goes_on(tmp_path):
    # Each value is checked alone against the base config (two hidden layers); one hidden layer
    # with two activations only fails in combination, when the trial is made.
    base = {**BASE, "model": {"hidden": [8, 4]}}
    space = {"model.hidden": {"choice": [[8], [8, 4]]},
             "model.activation": {"choice": ["relu", ["relu", "tanh"]]}}
    result = create_search(base, tmp_path / "runs", space=space, trials=8,
                           seed=2).run(InProcessExecutor())
    table = rows(result.path)
    assert len(table) == 8
    for row in table:
        bad = row["model.hidden"] == "[8]" and row["model.activation"] == "[relu, tanh]"
        assert row["status"] == ("failed" if bad else "completed")
        if bad:
            assert "model.activation has 2 values for 1 hidden layer;" in row["message"]
            assert row["run"] == ""
    assert any(r["status"] == "failed" for r in table)


def test_ctrl_c_keeps_finished_trials_and_resume_does_not_repeat_them(tmp_path):
    first = search(tmp_path, trials=3, rounds=2)
    with pytest.raises(KeyboardInterrupt):
        first.run(InProcessExecutor(), [StopAfter(2)])
    path = first.path
    assert [r["trial"] for r in rows(path)] == ["1", "2"]
    assert json.loads((path / "summary.json").read_text())["status"] == "interrupted"
    before = {r["trial"]: r for r in rows(path)}

    result = open_search(path).run(InProcessExecutor())
    table = rows(path)
    assert [r["trial"] for r in table] == ["1", "2", "3", "4", "5", "6"]
    assert all(table[i] == before[str(i + 1)] for i in range(2))   # not run again
    assert len(sub_dirs(path)) == 6
    assert result.status == "completed"


def test_resume_with_more_rounds_and_after_losing_rows(tmp_path):
    first = search(tmp_path, trials=3, rounds=1).run(InProcessExecutor())
    path = first.path
    original = rows(path)
    # Lose the last row, as if the search had been killed before recording trial 3.
    lines = (path / "trials.csv").read_text().splitlines(keepends=True)
    (path / "trials.csv").write_text("".join(lines[:-1]))

    search_again = open_search(path, rounds=2)
    search_again.run(InProcessExecutor())
    table = rows(path)
    assert [r["trial"] for r in table] == ["1", "2", "3", "4", "5", "6"]
    assert table[:2] == original[:2]
    # Trial 3 ran again with the same values and seed: sampling depends on (seed, trial) only.
    for key in ("optimizer.learning_rate", "optimizer.beta1", "model.activation", "seed",
                "dev_loss"):
        assert table[2][key] == original[2][key]
    assert len(sub_dirs(path)) == 7           # the lost trial's first directory stays
    assert json.loads((path / "search.json").read_text())["rounds"] == 2
    with pytest.raises(Exception, match="already has trials of round 2"):
        open_search(path, rounds=1)


def test_metric_is_the_best_value_over_the_history():
    history = [{"dev_loss": 0.7, "dev_accuracy": 0.5}, {"dev_loss": 0.3, "dev_accuracy": 0.8},
               {"dev_loss": 0.4, "dev_accuracy": 0.9}, {"dev_loss": float("nan")}]
    assert metric_of(history, "dev_loss") == 0.3
    assert metric_of(history, "dev_accuracy") == 0.9
    assert metric_of(history, "final.dev_loss") == 0.4
    assert metric_of(history, "train_loss") is None


def test_accuracy_metrics_are_maximised_and_train_loss_is_the_default_without_dev(tmp_path):
    no_dev = {**BASE, "data": {"dataset": "moons"}}
    created = create_search(no_dev, tmp_path / "a", space=SPACE, trials=1)
    assert (created.planner.metric, created.planner.mode) == ("train_loss", "min")
    acc = create_search(BASE, tmp_path / "b", space=SPACE, trials=1, metric="dev_accuracy")
    assert acc.planner.mode == "max"
    with pytest.raises(Exception, match="no dev split"):
        create_search(no_dev, tmp_path / "c", space=SPACE, trials=1, metric="dev_loss")
    with pytest.raises(Exception, match="did you mean 'dev_loss'"):
        create_search(BASE, tmp_path / "d", space=SPACE, trials=1, metric="dev_los")
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists()


def test_two_workers_are_two_processes_with_one_blas_thread_each(tmp_path):
    pool = LocalExecutor(2)
    try:
        reports = [f.result() for f in [pool.submit(worker_report, None) for _ in range(6)]]
        result = search(tmp_path, trials=4).run(pool)
    finally:
        pool.close()
    workers = {t.worker for t in result.outcomes}
    pids = {int(w.rsplit(":", 1)[1]) for w in workers}
    assert len(pids) == 2 and os.getpid() not in pids
    for report in reports:
        assert report["env"]["OPENBLAS_NUM_THREADS"] == "1"
        assert report["env"]["OMP_NUM_THREADS"] == "1"
        assert all(n == 1 for n in report["blas_threads"])
    assert [t.status for t in result.outcomes] == ["completed"] * 4


def test_parallel_and_sequential_searches_draw_the_same_trials(tmp_path):
    pool = LocalExecutor(2)
    try:
        parallel = search(tmp_path / "p", trials=3).run(pool)
    finally:
        pool.close()
    sequential = search(tmp_path / "s", trials=3).run(InProcessExecutor())
    assert [(t.values, t.seed, t.metric) for t in parallel.outcomes] == \
        [(t.values, t.seed, t.metric) for t in sequential.outcomes]


# -- the command line ----------------------------------------------------------------------------

def test_cli_runs_a_search_from_the_configs_search_section(tmp_path):
    config = write_yaml(tmp_path / "exp.yaml", {**BASE, "search": SPACE})
    result = runner.invoke(app, ["tune", str(config), "--trials", "2", "--rounds", "2",
                                 "--workers", "1", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip().splitlines()[-1])
    assert path.is_dir() and len(rows(path)) == 4
    assert "best" in result.stderr


def test_cli_space_file_wins_over_the_config_and_compare_reads_the_search(tmp_path):
    config = write_yaml(tmp_path / "exp.yaml",
                        {**BASE, "search": {"nonsense.key": {"uniform": [0, 1]}}})
    space = write_yaml(tmp_path / "space.yaml",
                       {"regularization.l2": {"log_uniform": [1e-4, 1e-2]}})
    result = runner.invoke(app, ["tune", str(config), "--space", str(space), "--trials", "3", "-q",
                                 "--workers", "1", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip().splitlines()[-1])
    assert list(rows(path)[0])[4] == "regularization.l2"

    shown = runner.invoke(app, ["compare", str(path), "--format", "json"])
    assert shown.exit_code == 0, shown.output
    runs = json.loads(shown.stdout)
    assert len(runs) == 3 and {r["status"] for r in runs} == {"completed"}
    assert all("regularization.l2" in r["params"] for r in runs)


@pytest.mark.parametrize("space,words", [
    ({"optimizer.learnin_rate": {"log_uniform": [1e-4, 1e-1]}},
     ["optimizer.learnin_rate", "did you mean 'learning_rate'"]),
    ({"optimizer.learning_rate": {"log_uniform": [0, 1e-1]}}, ["0 < a < b"]),
])
def test_cli_bad_space_is_exit_2_with_the_key_path_and_nothing_written(tmp_path, space, words):
    config = write_yaml(tmp_path / "exp.yaml", BASE)
    space_file = write_yaml(tmp_path / "space.yaml", space)
    result = runner.invoke(app, ["tune", str(config), "--space", str(space_file), "--trials", "2",
                                 "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    text = " ".join(result.stderr.split())
    for word in words:
        assert word in text
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args,words", [
    ([], "--trials"),
    (["--trials", "2", "--keep", "1.5"], "--keep"),
    (["--trials", "2", "--executor", "dask"], "--scheduler"),
    (["--trials", "2", "--space", "missing.yaml"], "space file 'missing.yaml' does not exist"),
])
def test_cli_bad_options_are_exit_2(tmp_path, args, words):
    config = write_yaml(tmp_path / "exp.yaml", {**BASE, "search": SPACE})
    result = runner.invoke(app, ["tune", str(config), *args, "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.stderr.split())


def test_cli_resume_refuses_options_that_would_change_the_search(tmp_path):
    path = search(tmp_path, trials=1).run(InProcessExecutor()).path
    result = runner.invoke(app, ["tune", "--resume", str(path), "--trials", "5"])
    assert result.exit_code == 2 and "--trials" in result.stderr
    again = runner.invoke(app, ["tune", "--resume", str(path), "--rounds", "2", "-w", "1", "-q"])
    assert again.exit_code == 0, again.output
    assert len(rows(path)) == 2


def test_cli_exit_1_when_no_trial_succeeds(tmp_path):
    config = write_yaml(tmp_path / "exp.yaml", {**BASE, "optimizer": {"name": "gd"},
                                           "search": {"optimizer.learning_rate":
                                                      {"log_uniform": [1e5, 1e6]}}})
    result = runner.invoke(app, ["tune", str(config), "--trials", "2", "-w", "1",
                                 "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1
    assert "no trial succeeded" in result.stderr


def test_dlcli_app_runs_a_search(tmp_path):
    config = write_yaml(tmp_path / "exp.yaml", {**BASE, "search": SPACE})
    result = runner.invoke(app, ["tune", str(config), "--trials", "2", "-w", "1", "-q",
                                       "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert len(rows(Path(result.stdout.strip().splitlines()[-1]))) == 2


@pytest.mark.slow
def test_ctrl_c_in_a_parallel_search_then_resume(tmp_path):
    """A real SIGINT to the dlcli process while two workers train: exit 130, finished trials
    kept, running trials recorded as interrupted in their run directories, resume completes."""
    # Trials of a few seconds: history.csv reaches the disk in half-second steps, and the
    # signal must land while the search is still running.
    slow = {**BASE, "training": {"epochs": 6000, "batch_size": 16}, "search": SPACE}
    config = write_yaml(tmp_path / "exp.yaml", slow)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = start_interruptible([sys.executable, "-m", "dlcli", "tune", str(config), "--trials",
                                "6", "--workers", "2", "-q", "--runs-dir",
                                str(tmp_path / "runs")], env=env)
    try:
        deadline = time.monotonic() + 180   # generous: CI machines may be busy
        path, running = None, None
        while time.monotonic() < deadline and running is None:
            found = list((tmp_path / "runs").glob("*-search/trials.csv"))
            if found and len(rows(found[0].parent)) >= 1:
                path = found[0].parent
                # A trial in the middle of its epochs (not one already writing its results).
                running = next((d for d in sub_dirs(path) if status_of(d) == "running"
                                and 5 < len(history_rows(d)) < 5000), None)
            time.sleep(0.02)
        assert running is not None, "no trial finished, or none was running, in time"
        out, err = interrupt(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "--resume" in err and out.strip().splitlines()[-1] == str(path)
    finished = rows(path)
    assert 1 <= len(finished) < 6
    assert {r["status"] for r in finished} == {"completed"}
    assert status_of(running) == "interrupted"        # the trial that was running
    assert "running" not in [status_of(d) for d in sub_dirs(path)]
    assert json.loads((path / "summary.json").read_text())["status"] == "interrupted"

    resumed = runner.invoke(app, ["tune", "--resume", str(path), "-w", "2", "-q"])
    assert resumed.exit_code == 0, resumed.output
    table = rows(path)
    assert [int(r["trial"]) for r in table] == list(range(1, 7))
    assert all(r in table for r in finished)          # kept as they were
    completed_dirs = [d for d in sub_dirs(path) if status_of(d) == "completed"]
    assert len(completed_dirs) == 6                    # no finished trial ran twice
