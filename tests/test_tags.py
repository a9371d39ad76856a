"""--tag and --note on train, resume and tune: kept with the run, shown by show, filtered by
compare (and ls)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from dlcli.cli.app import app
from dlcli.runs.reader import read_run
from helpers import SMALL, metrics, only_run, write_config

runner = CliRunner()


def train(config: Path, runs_dir: Path, *args: str) -> Path:
    result = runner.invoke(app, ["train", str(config), "--runs-dir", str(runs_dir), "-q",
                                 *args])
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().splitlines()[-1])


def test_tags_and_note_are_kept_in_metrics_and_shown(tmp_path: Path, runs_dir: Path) -> None:
    run = train(write_config(tmp_path), runs_dir, "--tag", "baseline", "-t", "moons",
                "--tag", "baseline", "--note", "first try with adam")
    facts = metrics(run)
    assert facts["tags"] == ["baseline", "moons"] and facts["note"] == "first try with adam"
    shown = runner.invoke(app, ["show", str(run)]).stdout
    assert re.search(r"^tags +baseline, moons$", shown, re.M)
    assert re.search(r"^note +first try with adam$", shown, re.M)


def test_a_resumed_run_keeps_its_parents_tags_and_adds_new_ones(tmp_path: Path,
                                                              runs_dir: Path) -> None:
    parent = train(write_config(tmp_path), runs_dir, "--tag", "a", "--note", "parent",
                   "--epochs", "5")
    assert metrics(parent)["epochs_run"] == 5     # --epochs is --set training.epochs
    result = runner.invoke(app, ["resume", str(parent), "--epochs", "8", "-q", "--tag", "b"])
    assert result.exit_code == 0, result.output
    child = Path(result.stdout.strip().splitlines()[-1])
    assert metrics(child)["tags"] == ["a", "b"] and metrics(child)["note"] == "parent"


def test_compare_keeps_only_the_runs_with_every_tag(tmp_path: Path, runs_dir: Path) -> None:
    config = write_config(tmp_path, dict(SMALL, training={"epochs": 3, "batch_size": 32}))
    train(config, runs_dir, "--tag", "a", "--name", "one")
    train(config, runs_dir, "--tag", "a", "--tag", "b", "--name", "two")
    train(config, runs_dir, "--name", "three")

    def names(*tags: str) -> list[str]:
        args = [a for t in tags for a in ("--tag", t)]
        out = runner.invoke(app, ["compare", str(runs_dir), "--format", "json", *args])
        assert out.exit_code == 0, out.output
        return sorted(row["name"] for row in json.loads(out.stdout))

    assert names() == ["one", "three", "two"]
    assert names("a") == ["one", "two"]
    assert names("a", "b") == ["two"]
    missing = runner.invoke(app, ["compare", str(runs_dir), "--tag", "nope"])
    assert missing.exit_code == 2
    assert "no run has the tag nope; the runs' tags: a, b" in missing.output


def test_bad_tags_are_refused_before_anything_is_written(tmp_path: Path,
                                                        runs_dir: Path) -> None:
    config = write_config(tmp_path)
    for bad in ("", "a,b"):
        result = runner.invoke(app, ["train", str(config), "--runs-dir", str(runs_dir),
                                     "--tag", bad])
        assert result.exit_code == 2
        assert "--tag" in result.output and "Traceback" not in result.output
    assert list(runs_dir.iterdir()) == []


def test_a_searchs_tags_belong_to_every_trial(tmp_path: Path, runs_dir: Path) -> None:
    config = write_config(tmp_path, dict(SMALL, training={"epochs": 2, "batch_size": 32}))
    space = tmp_path / "space.yaml"
    space.write_text("optimizer.learning_rate: {log_uniform: [1.0e-3, 1.0e-1]}\n")
    result = runner.invoke(app, ["tune", str(config), "--space", str(space), "--trials", "2",
                                 "--workers", "1", "--runs-dir", str(runs_dir), "-q",
                                 "--tag", "search1", "--note", "lr range"])
    assert result.exit_code == 0, result.output
    search = Path(result.stdout.strip().splitlines()[-1])
    trials = [p for p in search.iterdir() if p.is_dir()]
    assert len(trials) == 2
    for trial in trials:
        record = read_run(trial)
        assert record.tags == ["search1"] and record.note == "lr range"
    assert only_run(runs_dir) == search


def test_a_sweeps_tags_belong_to_every_run(tmp_path: Path, runs_dir: Path) -> None:
    config = write_config(tmp_path, dict(SMALL, training={"epochs": 2, "batch_size": 32}))
    result = runner.invoke(app, ["sweep", str(config), "--grid", "model.hidden=[4],[6]",
                                 "--seeds", "1", "--workers", "1", "--runs-dir", str(runs_dir),
                                 "-q", "--tag", "sizes"])
    assert result.exit_code == 0, result.output
    study = Path(result.stdout.strip().splitlines()[-1])
    runs = [p for p in study.iterdir() if p.is_dir()]
    assert len(runs) == 2 and all(read_run(r).tags == ["sizes"] for r in runs)
    listed = json.loads(runner.invoke(app, ["ls", str(runs_dir), "--format", "json"]).stdout)
    assert [(e["kind"], e["runs"], e["tags"]) for e in listed] == [("study", 2, ["sizes"])]
