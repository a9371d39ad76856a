"""dlcli ls (one line per run, study and search) and dlcli prune (remove runs by status)."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from dlcli.cli.app import app
from helpers import SMALL, metrics, write_config
from test_compare import write_run

runner = CliRunner()
TINY = dict(SMALL, training={"epochs": 3, "batch_size": 32})


def train(config: Path, runs_dir: Path, *args: str) -> Path:
    result = runner.invoke(app, ["train", str(config), "--runs-dir", str(runs_dir), "-q",
                                 *args])
    assert result.exit_code in (0, 1), result.output
    return Path(result.stdout.strip().splitlines()[-1])


def set_status(run: Path, status: str, **extra) -> None:
    facts = metrics(run)
    facts.update(status=status, **extra)
    (run / "metrics.json").write_text(json.dumps(facts))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def ls_json(*args: str) -> list[dict]:
    result = runner.invoke(app, ["ls", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def runs_with_a_search(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    config = write_config(tmp_path, TINY)
    train(config, runs, "--name", "first", "--tag", "base")
    train(config, runs, "--name", "second", "--set", "optimizer.learning_rate=0.1")
    space = tmp_path / "space.yaml"
    space.write_text("optimizer.learning_rate: {log_uniform: [1.0e-3, 1.0e-1]}\n")
    result = runner.invoke(app, ["tune", str(config), "--space", str(space), "--trials", "3",
                                 "--workers", "1", "--runs-dir", str(runs), "-q",
                                 "--tag", "lr"])
    assert result.exit_code == 0, result.output
    return runs


def test_ls_lists_runs_and_a_search_as_one_line_newest_first(tmp_path: Path) -> None:
    runs = runs_with_a_search(tmp_path)
    rows = ls_json(str(runs))
    assert [r["kind"] for r in rows] == ["search", "run", "run"]
    assert [r["name"] for r in rows] == ["small-search", "second", "first"]
    search = rows[0]
    assert search["runs"] == 3 and search["status"] == "completed" and search["tags"] == ["lr"]
    assert search["metric"] == "dev_accuracy"
    trial_values = [json.loads((Path(p) / "metrics.json").read_text())["best"]["dev_accuracy"]
                    for p in Path(search["path"]).iterdir() if p.is_dir()
                    for p in [p]]
    assert search["value"] == max(trial_values)
    assert Path(search["best_run"]).parent == Path(search["path"])
    first = rows[2]
    assert first["id"] + "-first" == Path(first["path"]).name
    assert first["epochs"] == 3 and first["tags"] == ["base"] and first["best_run"] is None


def test_ls_filters_by_status_and_tag_and_sorts_by_a_metric(tmp_path: Path) -> None:
    runs = runs_with_a_search(tmp_path)
    assert [r["name"] for r in ls_json(str(runs), "--tag", "base")] == ["first"]
    assert [r["name"] for r in ls_json(str(runs), "--tag", "lr")] == ["small-search"]
    assert ls_json(str(runs), "--status", "failed,killed") == []
    by_loss = ls_json(str(runs), "--sort", "dev_loss")
    values = [r["value"] for r in by_loss]
    assert values == sorted(values) and by_loss[0]["metric"] == "dev_loss"
    table = runner.invoke(app, ["ls", str(runs), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert [r["name"] for r in rows] == ["small-search", "second", "first"]
    assert rows[0]["tags"] == '["lr"]'


def test_ls_reports_a_killed_run_and_prune_removes_only_the_statuses_asked(
        tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    config = write_config(tmp_path, TINY)
    keep = train(config, runs, "--name", "keep")
    killed = train(config, runs, "--name", "killed")
    set_status(killed, "running", pid=dead_pid())
    interrupted = train(config, runs, "--name", "interrupted")
    set_status(interrupted, "interrupted")
    alive = train(config, runs, "--name", "alive")
    set_status(alive, "running", pid=os.getpid())
    statuses = {r["name"]: r["status"] for r in ls_json(str(runs))}
    assert statuses == {"keep": "completed", "killed": "killed", "interrupted": "interrupted",
                        "alive": "running"}

    dry = runner.invoke(app, ["prune", str(runs), "--status", "killed,interrupted",
                              "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would remove {killed}" in dry.stdout and f"would remove {interrupted}" in dry.stdout
    assert killed.exists() and interrupted.exists()

    done = runner.invoke(app, ["prune", str(runs), "--status", "killed",
                               "--status", "interrupted"])
    assert done.exit_code == 0, done.output
    assert not killed.exists() and not interrupted.exists()
    assert keep.exists() and alive.exists()
    assert "removed 2 runs" in done.stderr


def test_prune_refuses_running_and_unknown_statuses(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    train(write_config(tmp_path, TINY), runs)
    running = runner.invoke(app, ["prune", str(runs), "--status", "running"])
    assert running.exit_code == 2 and "never removes a run that is still training" in \
        running.output
    unknown = runner.invoke(app, ["prune", str(runs), "--status", "faild"])
    assert unknown.exit_code == 2 and "did you mean 'failed'" in unknown.output
    assert len(list(runs.iterdir())) == 1


def test_ls_bad_paths_exit_2(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["ls", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    run = train(write_config(tmp_path, TINY), tmp_path / "runs")
    one = runner.invoke(app, ["ls", str(run)])
    assert one.exit_code == 2 and "dlcli show" in one.output
    bad_sort = runner.invoke(app, ["ls", str(tmp_path / "runs"), "--sort", "speed"])
    assert bad_sort.exit_code == 2


def test_ls_table_fits_80_columns_in_a_real_terminal_width(tmp_path: Path) -> None:
    runs = runs_with_a_search(tmp_path)
    env = dict(os.environ, COLUMNS="80", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    # rich draws for a terminal of COLUMNS when told to; FORCE_TERMINAL makes it one.
    env["FORCE_COLOR"] = "0"
    env["TERM"] = "dumb"
    env["FORCE_TERMINAL"] = "1"
    proc = subprocess.run([sys.executable, "-m", "dlcli", "ls", str(runs)], env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 4   # the header and one line each
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[1].split()[1] == "small-search" and "lr" in lines[1]


def test_narrow_terminals_shrink_name_and_tags_never_numbers() -> None:
    from dlcli.cli.ls import fit_widths
    natural = {"id": 15, "name": 30, "status": 9, "epochs": 6, "dev acc": 7, "age": 3,
               "tags": 20}
    assert fit_widths(natural, 200) == natural
    at_80 = fit_widths(natural, 80)
    assert sum(at_80.values()) + len(at_80) - 1 == 80
    assert {k: at_80[k] for k in ("id", "status", "epochs", "dev acc", "age")} == \
        {"id": 15, "status": 9, "epochs": 6, "dev acc": 7, "age": 3}
    assert at_80["tags"] >= 6 and at_80["name"] > at_80["tags"]
    at_60 = fit_widths(natural, 60)
    assert at_60["tags"] == 0 and at_60["name"] >= 4


def test_completion_offers_run_directories_and_folders_that_hold_them(
        tmp_path: Path, monkeypatch) -> None:
    from dlcli.cli.complete import run_collections, run_dirs
    runs = tmp_path / "runs"
    run = train(write_config(tmp_path, TINY), runs)
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    assert run_dirs("") == ["runs/"]
    assert run_dirs("runs/") == [f"runs/{run.name}"]
    assert run_dirs(f"runs/{run.name[:10]}") == [f"runs/{run.name}"]
    assert run_collections("r") == ["runs"]
    assert run_dirs(str(tmp_path / "ru")) == [str(runs) + "/"]


def test_help_shows_flags_as_flags() -> None:
    result = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "100"})
    line = next(x for x in result.stdout.splitlines() if "--quiet" in x)
    assert "<bool>" not in line
    assert "--install-completion" in runner.invoke(app, ["--help"]).stdout


def test_a_search_whose_trials_tie_on_accuracy_names_the_one_with_the_lower_loss(
        tmp_path: Path) -> None:
    from dlcli.reports import listing

    search = tmp_path / "runs" / "20261124-161500-q-search"
    for i, cost in enumerate((0.5, 0.3, 0.4)):
        path = write_run(search, f"q-t{i}", costs=[0.7, cost], stamp=f"20261124-16150{i}")
        metrics = json.loads((path / "metrics.json").read_text())
        metrics["best"]["dev_accuracy"] = metrics["final"]["dev_accuracy"] = 0.9917
        (path / "metrics.json").write_text(json.dumps(metrics))
    (search / "trials.csv").write_text("trial\n")
    (entry,) = listing.read_entries(tmp_path / "runs")
    listing.score([entry], "dev_accuracy")
    assert entry.best is not None and entry.best.name == "q-t1"


def test_ls_sort_by_a_name_that_is_not_a_metric_names_sort_and_the_nearest_metric(
        tmp_path: Path) -> None:
    write_run(tmp_path / "runs", "one", costs=[0.6, 0.4])
    for typed, hint in (("accuracy", " (did you mean 'dev_accuracy'?)"),
                        ("dev_acc", " (did you mean 'dev_accuracy'?)"),
                        ("speed", "")):
        result = runner.invoke(app, ["ls", str(tmp_path / "runs"), "--sort", typed])
        assert result.exit_code == 2
        assert result.output.strip() == (
            f"error: --sort '{typed}': cannot tell whether higher or lower is better{hint}; "
            "name a loss, the cost or an accuracy (e.g. dev_loss, best.dev_accuracy)")


def test_prune_dry_run_says_it_for_one_run_and_them_for_more(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    first = write_run(runs, "first", costs=[0.6, 0.4], status="failed")
    dry = runner.invoke(app, ["prune", str(runs), "--status", "failed", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.stderr.strip() == ("would remove 1 run, 0.0 MB; run again without --dry-run to "
                                  "remove it")
    write_run(runs, "second", costs=[0.6, 0.4], status="failed", stamp="20261124-161600")
    dry = runner.invoke(app, ["prune", str(runs), "--status", "failed", "--dry-run"])
    assert dry.stderr.strip() == ("would remove 2 runs, 0.0 MB; run again without --dry-run "
                                  "to remove them")
    assert first.exists()
