"""dlcli sweep (SPEC section 12): the grid parser, the study directory and its files, failed and
diverged runs, Ctrl-C and --resume, the shared data split, and bad input refused up front.
Real runs of a tiny network, each well under a second."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dlcli.cli.app import app
from dlcli.config import load_config, read_yaml
from dlcli.errors import InputError
from dlcli.experiment import prepare
from dlcli.study.executors import InProcessExecutor
from dlcli.study.grid import create_sweep, open_sweep, parse_grid_option, split_values
from helpers import StopAfter, csv_rows, sub_dirs, write_yaml

BASE = {"name": "g", "seed": 5,
        "data": {"dataset": "moons", "options": {"n_samples": 120}, "dev_fraction": 0.25},
        "model": {"hidden": [4]}, "optimizer": {"name": "adam", "learning_rate": 0.05},
        "training": {"epochs": 6, "batch_size": 32}}

runner = CliRunner()


def sweep_cli(args):
    return runner.invoke(app, ["sweep", *args])


def rows(path: Path) -> list[dict[str, str]]:
    return csv_rows(path / "study.csv")


# -- the grid parser ------------------------------------------------------------------------------

@pytest.mark.parametrize("text,parts", [
    ("gd,adam", ["gd", "adam"]),
    ("[16,8],[32]", ["[16,8]", "[32]"]),
    ("[[1,2],[3]],[4]", ["[[1,2],[3]]", "[4]"]),
    ("{momentum: 0.9, epsilon: 1.0e-5},false", ["{momentum: 0.9, epsilon: 1.0e-5}", "false"]),
    ("'a,b',\"c,[d\",e", ["'a,b'", "\"c,[d\"", "e"]),
    ("0.1", ["0.1"]),
])
def test_values_split_on_commas_outside_brackets_and_quotes(text, parts):
    assert split_values(text) == parts


def test_grid_values_are_yaml_scalars():
    assert parse_grid_option("model.hidden=[16,8],[32]") == ("model.hidden", [[16, 8], [32]])
    assert parse_grid_option("optimizer.learning_rate=1e-3, 0.01") == \
        ("optimizer.learning_rate", [1e-3, 0.01])   # numbers as people write them
    assert parse_grid_option("model.batch_norm=false,{momentum: 0.5}") == \
        ("model.batch_norm", [False, {"momentum": 0.5}])
    assert parse_grid_option("name='a,b'") == ("name", ["a,b"])


@pytest.mark.parametrize("text,words", [
    ("model.hidden=[16,8", "']' is missing"),
    ("model.hidden=16],[8]", "closes nothing"),
    ("optimizer.name='gd,adam", "quote ' is not closed"),
    ("optimizer.name=gd,,adam", "a value is empty"),
    ("optimizer.name=", "a value is empty"),
    ("optimizer.name", "write KEY.PATH=V1,V2"),
    ("model.hidden=[1, 2]]", "closes nothing"),
    ("seed=" + "9" * 5000, "an integer of 5000 digits is too large"),
    ("model.hidden=" + "[" * 3000 + "]" * 3000, "nesting deeper than 100 levels"),
])
def test_bad_grid_values_are_input_errors(text, words):
    with pytest.raises(InputError, match=words.replace("[", r"\[").replace("]", r"\]")):
        parse_grid_option(text)


# -- the study directory -----------------------------------------------------------------------

def test_study_directory_has_a_run_per_point_and_seed_a_row_each_and_a_summary(tmp_path):
    study = create_sweep({**BASE, "sweep": {"grid": {"optimizer.name": ["gd", "adam"]}}},
                         tmp_path / "runs", grid=["model.hidden=[3],[4,2]"], seeds=2)
    result = study.run(InProcessExecutor())
    path = result.path
    assert path.parent == tmp_path / "runs" and path.name.endswith("-g-sweep")
    table = rows(path)
    assert len(table) == 8 and len(sub_dirs(path)) == 8
    assert list(table[0])[:6] == ["number", "point", "optimizer.name", "model.hidden", "seed",
                                  "status"]
    assert [(r["point"], r["optimizer.name"], r["model.hidden"], r["seed"]) for r in table[:4]] \
        == [("1", "gd", "[3]", "5"), ("1", "gd", "[3]", "6"),
            ("2", "gd", "[4, 2]", "5"), ("2", "gd", "[4, 2]", "6")]
    for row in table:
        config = read_yaml(path / row["run"] / "config.yaml")
        metrics = json.loads((path / row["run"] / "metrics.json").read_text())
        assert config["optimizer"]["name"] == row["optimizer.name"]
        assert config["model"]["hidden"] == yaml.safe_load(row["model.hidden"])
        assert config["seed"] == int(row["seed"]) and config["data"]["seed"] == 5
        assert row["status"] == metrics["status"] == "completed"
        assert float(row["final.dev_loss"]) == metrics["final"]["dev_loss"]
        assert float(row["best.dev_accuracy"]) == metrics["best"]["dev_accuracy"]
        assert int(row["best.epoch"]) == metrics["best_epoch"]
    summary = json.loads((path / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["seeds"] == [5, 6]
    assert summary["grid"] == {"optimizer.name": ["gd", "adam"], "model.hidden": [[3], [4, 2]]}
    assert [p["label"] for p in summary["points"]] == [
        "optimizer.name=gd, model.hidden=[3]", "optimizer.name=gd, model.hidden=[4, 2]",
        "optimizer.name=adam, model.hidden=[3]", "optimizer.name=adam, model.hidden=[4, 2]"]
    for point in summary["points"]:
        mine = [r for r in table if r["point"] == str(point["point"])]
        for block in ("final", "best"):
            values = [float(r[f"{block}.dev_loss"]) for r in mine]
            stats = point[block]["dev_loss"]
            assert stats["n"] == 2 and point["n"] == 2
            assert stats["mean"] == pytest.approx(np.mean(values))
            assert stats["std"] == pytest.approx(np.std(values, ddof=1))
            assert (stats["min"], stats["max"]) == (min(values), max(values))
    best = min(summary["points"], key=lambda p: p["best"]["dev_loss"]["mean"])
    assert summary["best_point"]["point"] == best["point"]
    assert (path / "study.png").stat().st_size > 1000


def test_every_seed_of_a_sweep_is_judged_on_the_same_dev_examples(tmp_path):
    result = create_sweep(BASE, tmp_path, seeds=3).run(InProcessExecutor())
    configs = [read_yaml(result.path / o.run / "config.yaml") for o in result.outcomes]
    assert [c["seed"] for c in configs] == [5, 6, 7]
    prepared = [prepare(load_config(raw=c)) for c in configs]
    for other in prepared[1:]:
        np.testing.assert_array_equal(other.data.dev.X, prepared[0].data.dev.X)
        assert not np.array_equal(other.trainer.network.get_params()["W1"],
                                  prepared[0].trainer.network.get_params()["W1"])


def test_failed_and_diverged_runs_are_recorded_and_the_sweep_goes_on(tmp_path):
    base = {**BASE, "optimizer": {"name": "gd", "learning_rate": 0.1}}
    study = create_sweep(base, tmp_path, grid=["optimizer.learning_rate=0.5,1.0e6"], seeds=2)
    result = study.run(InProcessExecutor())
    table = rows(result.path)
    assert [r["status"] for r in table] == ["completed", "completed", "diverged", "diverged"]
    assert all(r["message"] for r in table[2:])
    summary = json.loads((result.path / "summary.json").read_text())
    diverged = summary["points"][1]
    assert diverged["n"] == 0 and diverged["statuses"] == {"diverged": 2}
    assert diverged["final"]["dev_loss"]["mean"] is None
    assert summary["best_point"]["point"] == 1
    # compare groups the same way: a diverged run is counted, never averaged in.
    shown = compare_cli([str(result.path), "--format", "json"])
    groups = {g["group"]["optimizer.learning_rate"]: g for g in json.loads(shown.stdout)}
    assert groups[1.0e6]["statuses"] == {"diverged": 2} and groups[1.0e6]["n"] == 2
    assert groups[1.0e6]["best"]["dev_loss"]["n"] == 0
    assert groups[0.5]["best"]["dev_loss"]["n"] == 2


def test_ctrl_c_keeps_finished_runs_and_resume_runs_only_the_rest(tmp_path):
    study = create_sweep(BASE, tmp_path, grid=["optimizer.name=gd,adam"], seeds=2)
    with pytest.raises(KeyboardInterrupt):
        study.run(InProcessExecutor(), [StopAfter(3)])
    before = rows(study.path)
    assert [r["number"] for r in before] == ["1", "2", "3"]
    assert json.loads((study.path / "summary.json").read_text())["status"] == "interrupted"
    # An attempt that was interrupted (no row), as a worker stopped by Ctrl-C leaves it: its
    # rerun replaces the directory.
    left = study.path / ("20000101-000000-" + before[2]["run"].split("-", 2)[2])
    shutil.move(study.path / before[2]["run"], left)
    (left / "metrics.json").write_text(json.dumps({"status": "interrupted"}))
    (study.path / "study.csv").write_text(
        "".join((study.path / "study.csv").read_text().splitlines(keepends=True)[:3]))

    result = open_sweep(study.path).run(InProcessExecutor())
    table = rows(study.path)
    assert [r["number"] for r in table] == ["1", "2", "3", "4"]
    assert table[:2] == before[:2]                          # not run again
    assert table[2]["best.dev_loss"] == before[2]["best.dev_loss"]   # same run, same result
    assert not left.exists()
    assert len(sub_dirs(study.path)) == 4                  # one directory per run
    assert result.status == "completed"


def test_grid_from_the_config_with_a_grid_option_replacing_one_key(tmp_path):
    config = write_yaml(tmp_path / "exp.yaml", {**BASE, "sweep": {
        "grid": {"optimizer": {"name": ["gd", "adam"]}, "model.hidden": [[3]]}, "seeds": 1}})
    result = sweep_cli([str(config), "--grid", "optimizer.name=rmsprop,momentum,adam",
                                 "-w", "1", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    path = Path(result.stdout.strip().splitlines()[-1])
    table = rows(path)
    assert [r["optimizer.name"] for r in table] == ["rmsprop", "momentum", "adam"]
    assert {r["model.hidden"] for r in table} == {"[3]"} and {r["seed"] for r in table} == {"5"}
    assert "3 points by mean dev_loss" in " ".join(result.stderr.split())


@pytest.mark.parametrize("grid,words", [
    ("optimizer.nme=gd,adam", "config error at --grid optimizer.nme: unknown key 'nme' (did "
                              "you mean 'name'?); allowed keys here: name, learning_rate"),
    ("optimizer.name=gd,adamw", "config error at optimizer.name: 'adamw' is not allowed; "
                                "must be one of gd, momentum, rmsprop, adam (did you mean "
                                "'adam'?)"),
    ("optimizer.learning_rate=0.1,-1", "config error at optimizer.learning_rate: -1 is not "
                                       "allowed"),
    ("seed=1,2", "--grid seed: the sweep sets each run's seed itself; use --seeds"),
    ("model.hidden=[4,,2]", "--grid model.hidden"),
    ("optimizer.name=gd,gd", "the values must differ"),
])
def test_bad_grid_is_exit_2_before_anything_runs_and_no_directory(tmp_path, grid, words):
    config = write_yaml(tmp_path / "exp.yaml", BASE)
    result = sweep_cli([str(config), "--grid", grid,
                                 "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.stderr.split())
    assert not (tmp_path / "runs").exists()


def test_a_point_whose_values_do_not_fit_together_is_refused_up_front(tmp_path):
    config = write_yaml(tmp_path / "exp.yaml", {**BASE, "model": {"hidden": [4, 2]}})
    result = sweep_cli([str(config), "-g", "model.hidden=[4,2],[4]",
                                 "-g", "model.activation=relu,[relu, tanh]",
                                 "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2, result.output
    text = " ".join(result.stderr.split())
    assert "model.activation has 2 values for 1 hidden layer" in text
    assert "grid point 4: model.hidden=[4], model.activation=[relu, tanh]" in text
    assert not (tmp_path / "runs").exists()


def test_bad_sweep_section_names_its_key(tmp_path):
    config = write_yaml(tmp_path / "exp.yaml", {**BASE, "sweep": {"grids": {}}})
    result = sweep_cli([str(config), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "sweep.grids: unknown key 'grids' (did you mean 'grid'?)" in \
        " ".join(result.stderr.split())


def test_the_sweep_section_names_the_metric_and_metric_wins_over_it(tmp_path):
    section = {"grid": {"optimizer.learning_rate": [0.01, 0.1]}, "seeds": 1,
               "metric": "final.dev_loss"}
    study = create_sweep({**BASE, "sweep": section}, tmp_path / "a")
    assert study.planner.metric == "final.dev_loss" and study.planner.mode == "min"
    chosen = create_sweep({**BASE, "sweep": section}, tmp_path / "b", metric="dev_accuracy")
    assert chosen.planner.metric == "dev_accuracy" and chosen.planner.mode == "max"
    bad = write_yaml(tmp_path / "bad.yaml", {**BASE, "sweep": {**section, "metric": "dev_los"}})
    result = sweep_cli([str(bad), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "did you mean 'dev_loss'?" in " ".join(result.stderr.split())
    assert not (tmp_path / "runs").exists()


def test_cli_resume_refuses_options_that_would_change_the_sweep(tmp_path):
    path = create_sweep(BASE, tmp_path, seeds=1).path
    result = sweep_cli(["--resume", str(path), "--seeds", "4"])
    assert result.exit_code == 2 and "--seeds" in result.stderr
    again = sweep_cli(["--resume", str(path), "-w", "1", "-q"])
    assert again.exit_code == 0, again.output
    assert len(rows(path)) == 1


def test_dlcli_app_has_the_sweep_command_and_exit_1_when_no_run_succeeds(tmp_path):
    config = write_yaml(tmp_path / "exp.yaml", {**BASE, "optimizer": {"name": "gd"}})
    result = runner.invoke(app, ["sweep", str(config), "-g",
                                       "optimizer.learning_rate=1.0e6", "--seeds", "1",
                                       "-w", "1", "-q", "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 1, result.output
    assert "no run succeeded" in result.stderr


# -- compare --group-by ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory) -> Path:
    study = create_sweep(BASE, tmp_path_factory.mktemp("sweep"),
                         grid=["optimizer.name=gd,adam"], seeds=2)
    return study.run(InProcessExecutor()).path


def compare_cli(args):
    return runner.invoke(app, ["compare", *args])


def test_compare_groups_a_sweep_directory_by_its_grid_keys(small_sweep):
    shown = compare_cli([str(small_sweep), "--format", "json"])
    assert shown.exit_code == 0, shown.output
    groups = json.loads(shown.stdout)
    table = rows(small_sweep)
    assert [g["group"] for g in groups] == sorted(
        [{"optimizer.name": "gd"}, {"optimizer.name": "adam"}],
        key=lambda g: np.mean([float(r["best.dev_loss"]) for r in table
                               if r["optimizer.name"] == g["optimizer.name"]]))
    for group in groups:
        mine = [float(r["best.dev_loss"]) for r in table
                if r["optimizer.name"] == group["group"]["optimizer.name"]]
        stats = group["best"]["dev_loss"]
        assert group["n"] == stats["n"] == 2 and group["statuses"] == {"completed": 2}
        assert stats["mean"] == pytest.approx(np.mean(mine))
        assert stats["std"] == pytest.approx(np.std(mine, ddof=1))
    ungrouped = compare_cli([str(small_sweep), "--group-by", "none",
                                              "--format", "json"])
    assert len(json.loads(ungrouped.stdout)) == 4


@pytest.mark.slow
def test_compare_of_a_sweep_directory_draws_the_sweeps_own_study_png(small_sweep, tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shown = compare_cli([str(small_sweep), "--plot", str(tmp_path / "again.png")])
    assert shown.exit_code == 0, shown.output
    # same points in the same order, the same seed's boundary, the same title: the same file
    assert (tmp_path / "again.png").read_bytes() == (small_sweep / "study.png").read_bytes()


def test_plot_groups_keep_the_order_runs_were_made_in_not_their_rank(small_sweep):
    from dlcli.reports import compare as report
    from dlcli.reports import groups as grouped
    from dlcli.runs.reader import read_run, read_runs

    for metric in ("final.dev_loss", "final.dev_accuracy", "final.train_loss"):
        grouping = grouped.group_runs(report.compare_runs(read_runs([small_sweep]), metric),
                                      ["optimizer.name"])
        groups = grouped.plot_groups(grouping)
        assert list(groups) == ["optimizer.name=gd", "optimizer.name=adam"]   # grid order
        for dirs in groups.values():
            assert [read_run(d).config["seed"] for d in dirs] == [5, 6]


def test_compare_group_by_seed_gives_a_row_per_seed_and_plots_bands(small_sweep, tmp_path):
    shown = compare_cli([str(small_sweep), "--group-by", "seed",
                                          "--format", "markdown",
                                          "--plot", str(tmp_path / "g.png")])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0] == "| seed | n | best dev loss | best dev acc | best train loss |"
    assert {line.split(" | ")[0] for line in lines[2:4]} == {"| 5", "| 6"}
    assert "4 runs in 2 groups by seed" in shown.stdout
    assert (tmp_path / "g.png").stat().st_size > 1000


def test_compare_group_by_an_unknown_key_is_exit_2(small_sweep):
    shown = compare_cli([str(small_sweep), "--group-by", "optimizer.nam"])
    assert shown.exit_code == 2
    assert "did you mean 'optimizer.name'" in shown.stderr


def test_train_trains_the_base_config_of_a_study_config(tmp_path):
    config = write_yaml(tmp_path / "exp.yaml",
                        {**BASE, "sweep": {"grid": {"optimizer.name": ["gd"]}},
                         "search": {"optimizer.learning_rate": {"log_uniform": [0.001, 0.1]}}})
    result = runner.invoke(app, ["train", str(config), "-q", "--runs-dir",
                                       str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    resolved = read_yaml(Path(result.stdout.strip().splitlines()[-1]) / "config.yaml")
    assert "sweep" not in resolved and resolved["optimizer"]["name"] == "adam"


def test_a_sweep_completes_with_a_warning_when_its_picture_cannot_be_drawn(tmp_path,
                                                                           monkeypatch):
    import dlcli.reports.study_plot as study_plot

    def broken(groups, path, *, title=""):
        raise ValueError("no picture today")

    monkeypatch.setattr(study_plot, "plot_study", broken)
    said = []
    result = create_sweep(BASE, tmp_path, seeds=1).run(InProcessExecutor(), log=said.append)
    assert result.status == "completed" and len(rows(result.path)) == 1
    assert said == ["study.png was not drawn: ValueError: no picture today"]
    assert not (result.path / "study.png").exists()
