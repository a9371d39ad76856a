"""dlcli compare: run-directory reading, differing params, sorting, every format, the plot.

Most tests use run directories written by ``write_run`` exactly as docs/run-directory.md describes
them; the last ones make runs with the real ``dlcli train`` code.
"""
from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dlcli.cli.app import app
from dlcli.errors import InputError
from dlcli.reports import compare as report
from dlcli.runs.reader import find_runs, flatten, nest, read_history, read_run, read_runs

COLUMNS = ["epoch", "step", "learning_rate", "cost", "train_loss", "train_accuracy", "dev_loss",
           "dev_accuracy"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

runner = CliRunner()


def base_config(name: str) -> dict[str, Any]:
    return {
        "name": name, "seed": 1,
        "data": {"dataset": "moons", "options": {}, "dev_fraction": 0.2,
                 "normalize": "standardize"},
        "model": {"hidden": [5, 2], "activation": "relu", "init": "he", "batch_norm": False},
        "optimizer": {"name": "adam", "learning_rate": 0.001, "beta1": 0.9},
        "training": {"epochs": 4, "batch_size": 64},
    }


def write_run(root: Path, name: str, *, costs: list[float], dev: bool = True,
              status: str = "completed", message: str = "", stamp: str = "20261124-161500",
              set_: dict[str, Any] | None = None, overrides: list[str] | None = None,
              seconds: float = 1.5) -> Path:
    """A run directory as ``dlcli train`` writes it (docs/run-directory.md).

    ``costs`` gives the cost per epoch from epoch 0; losses and accuracies are derived from it so
    that a lower cost means a better run. ``set_`` overrides dotted config keys.
    """
    path = root / f"{stamp}-{name}"
    path.mkdir(parents=True)
    config = base_config(name)
    for key, value in (set_ or {}).items():
        *parents, leaf = key.split(".")
        section = config
        for part in parents:
            section = section.setdefault(part, {})
        section[leaf] = value
    (path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (path / "overrides.yaml").write_text(yaml.safe_dump(overrides or []))
    rows = []
    for epoch, cost in enumerate(costs):
        row = {"epoch": epoch, "step": epoch * 4, "learning_rate": 0.001, "cost": cost,
               "train_loss": cost * 0.9, "train_accuracy": 1 - cost / 2,
               "dev_loss": cost * 1.1 if dev else "", "dev_accuracy": 1 - cost / 1.8 if dev else ""}
        rows.append(row)
    with open(path / "history.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    monitor = "dev_loss" if dev else "train_loss"
    best_row = min(rows, key=lambda r: r[monitor])
    block = lambda r: {k: r[k] for k in ("epoch", *COLUMNS[3:]) if r[k] != ""}  # noqa: E731
    metrics = {
        "run": path.name, "name": name, "status": status, "message": message,
        "epochs_run": len(costs) - 1, "steps": (len(costs) - 1) * 4,
        "best_epoch": best_row["epoch"], "monitor": monitor,
        "final": block(rows[-1]), "best": block(best_row),
        "train_seconds": seconds, "samples_per_second": 1000.0, "seed": 1,
        "started": "2026-11-24T16:15:00+00:00", "finished": "2026-11-24T16:15:02+00:00",
        "host": "test", "parent": None,
        "versions": {"dlcli": "0.1.0", "python": "3.11.7", "numpy": "2.0.0"},
    }
    (path / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return path


@pytest.fixture
def three_runs(tmp_path: Path) -> Path:
    """runs/ with three runs that differ in learning rate (and one in hidden sizes)."""
    runs = tmp_path / "runs"
    write_run(runs, "slow", costs=[0.7, 0.6, 0.5, 0.45], stamp="20261124-161500",
              set_={"optimizer.learning_rate": 0.0001})
    write_run(runs, "fast", costs=[0.7, 0.3, 0.2, 0.1], stamp="20261124-161501",
              set_={"optimizer.learning_rate": 0.01})
    write_run(runs, "wide", costs=[0.7, 0.4, 0.3, 0.25], stamp="20261124-161502",
              set_={"optimizer.learning_rate": 0.01, "model.hidden": [20, 2]})
    return runs


def invoke(*args: str) -> Any:
    return runner.invoke(app, ["compare", *(str(a) for a in args)])


# --- reading run directories -----------------------------------------------------------------

def test_flatten_makes_dotted_keys_and_keeps_lists_and_empty_mappings() -> None:
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": {}}) == \
        {"a.b": 1, "a.c.d": [1, 2], "e": {}}


def test_nest_undoes_flatten_keeping_lists_none_and_key_order() -> None:
    config = {
        "name": "moons", "seed": None,
        "data": {"dataset": "moons", "options": {}, "dev_fraction": 0.2, "normalize": None},
        "model": {"hidden": [5, 2], "activations": ["relu", "relu"], "keep_prob": None},
        "optimizer": {"name": "adam", "learning_rate": 0.01, "betas": [0.9, 0.999]},
        "training": {"epochs": 4, "early_stopping": {"monitor": "dev_loss", "patience": None},
                     "augment": [{"flip": True}, None]},
    }
    flat = flatten(config)
    assert flat["training.early_stopping.patience"] is None and flat["model.keep_prob"] is None
    assert nest(flat) == config
    # show prints nest's result as config.yaml, so the sections must also keep their order
    assert json.dumps(nest(flat)) == json.dumps(config)


def test_read_run_reads_every_file(three_runs: Path) -> None:
    record = read_run(next(three_runs.glob("*-fast")))
    assert record.name == "fast" and record.status == "completed" and record.readable
    assert record.config["optimizer.learning_rate"] == 0.01
    assert record.config["model.hidden"] == [5, 2]
    assert len(record.history) == 4
    assert record.history[1]["cost"] == pytest.approx(0.3)
    assert record.metrics["best_epoch"] == 3
    assert record.run == "20261124-161501-fast"


def test_history_empty_cells_are_none_and_a_partial_last_line_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text("epoch,cost,dev_loss\n0,0.7,\n1,0.5,0.6\n2,0.4")
    assert read_history(path) == [{"epoch": 0.0, "cost": 0.7, "dev_loss": None},
                                  {"epoch": 1.0, "cost": 0.5, "dev_loss": 0.6}]
    # cut inside its last number: every cell is there, but the line is not finished
    path.write_text("epoch,cost,dev_loss\n0,0.7,\n1,0.5,0.6\n2,0.4,0.5")
    assert [row["epoch"] for row in read_history(path)] == [0, 1]


def test_history_with_a_bad_cell_names_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text("epoch,cost\n0,0.7\n1,oops\n2,0.4\n")
    with pytest.raises(ValueError, match=r"row 3, column 'cost': 'oops'"):
        read_history(path)


def test_find_runs_accepts_run_dirs_runs_dirs_and_nested_searches(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    single = write_run(runs, "single", costs=[0.7, 0.5])
    trials = [write_run(runs / "search-lr", f"trial{i}", costs=[0.7, 0.5]) for i in range(2)]
    (runs / "notes.txt").write_text("not a run")
    assert find_runs([single]) == [single]
    assert find_runs([runs]) == [single, *trials]
    assert find_runs([runs / "search-lr"]) == trials
    assert find_runs([single, runs]) == [single, *trials]  # each run once


@pytest.mark.parametrize("make, expected", [
    (lambda p: p, "does not exist"),
    (lambda p: (p.write_text("x"), p)[1], "is a file"),
    (lambda p: (p.mkdir(), p)[1], "is not a run directory"),
])
def test_find_runs_rejects_a_path_that_holds_no_run(tmp_path: Path, make: Any,
                                                    expected: str) -> None:
    path = make(tmp_path / "thing")
    with pytest.raises(InputError, match=expected) as info:
        find_runs([path])
    assert str(path) in str(info.value)


def test_corrupt_and_missing_metrics_make_a_run_unreadable(tmp_path: Path) -> None:
    corrupt = write_run(tmp_path, "corrupt", costs=[0.7, 0.5])
    (corrupt / "metrics.json").write_text('{"status": "completed", ')
    missing = write_run(tmp_path, "missing", costs=[0.7, 0.5], stamp="20261124-161501")
    (missing / "metrics.json").unlink()
    record = read_run(corrupt)
    assert record.status == "unreadable" and "metrics.json is not valid JSON" in record.unreadable
    assert record.config["name"] == "corrupt" and len(record.history) == 2  # still read
    record = read_run(missing)
    assert record.status == "unreadable" and record.unreadable == "metrics.json is missing"
    assert record.name == "missing"


def test_corrupt_config_yaml_is_named_in_the_reason(tmp_path: Path) -> None:
    run = write_run(tmp_path, "a", costs=[0.7, 0.5])
    (run / "config.yaml").write_text("model: [unclosed\n")
    record = read_run(run)
    assert record.status == "unreadable"
    assert record.unreadable.startswith("config.yaml: malformed YAML at line 2")
    assert record.metrics["name"] == "a"  # metrics.json itself was fine


# --- the comparison logic ---------------------------------------------------------------------

def test_only_differing_params_are_kept(three_runs: Path) -> None:
    comparison = report.compare_runs(read_runs([three_runs]))
    assert comparison.params == ["model.hidden", "optimizer.learning_rate"]
    everything = report.compare_runs(read_runs([three_runs]), all_params=True)
    assert "optimizer.name" in everything.params and "seed" in everything.params
    assert "name" not in everything.params


def test_a_key_missing_from_one_run_differs(tmp_path: Path) -> None:
    write_run(tmp_path, "a", costs=[0.7, 0.5], set_={"regularization.l2": 0.1})
    write_run(tmp_path, "b", costs=[0.7, 0.5], stamp="20261124-161501")
    comparison = report.compare_runs(read_runs([tmp_path]))
    assert comparison.params == ["regularization.l2"]


def test_batch_norm_on_and_off_differ_by_its_switch_not_by_its_own_keys(tmp_path: Path) -> None:
    write_run(tmp_path, "a", costs=[0.7, 0.5], set_={"model.batch_norm": {"momentum": 0.9,
                                                                          "epsilon": 1e-5}})
    write_run(tmp_path, "b", costs=[0.7, 0.5], stamp="20261124-161501")
    comparison = report.compare_runs(read_runs([tmp_path]))
    assert comparison.params == ["model.batch_norm"]
    assert [report.param_value(r, "model.batch_norm") for r in comparison.records] == \
        [True, False]
    rows = json.loads(invoke(tmp_path, "--format", "json").stdout)
    assert [r["params"] for r in rows] == [{"model.batch_norm": True},
                                           {"model.batch_norm": False}]


@pytest.mark.parametrize("metric, order", [
    ("dev_loss", ["fast", "wide", "slow"]),
    ("best.dev_accuracy", ["fast", "wide", "slow"]),
    ("final.train_loss", ["fast", "wide", "slow"]),
    ("cost", ["fast", "wide", "slow"]),
])
def test_sorting_puts_the_best_run_first_for_losses_and_accuracies(
        three_runs: Path, metric: str, order: list[str]) -> None:
    comparison = report.compare_runs(read_runs([three_runs]), metric)
    assert [r.name for r in comparison.records] == order
    assert comparison.best is not None and comparison.best.name == "fast"
    values = [v for v in comparison.values if v is not None]
    assert values == sorted(values, reverse=comparison.direction == "max")


def test_direction_per_metric() -> None:
    assert report.direction("dev_loss") == "min"
    assert report.direction("best.cost") == "min"
    assert report.direction("final.test_accuracy") == "max"
    with pytest.raises(InputError, match="higher or lower"):
        report.direction("epochs_run")


def test_an_accuracy_sorts_descending_even_when_the_loss_disagrees(tmp_path: Path) -> None:
    a = write_run(tmp_path, "a", costs=[0.7, 0.5])
    b = write_run(tmp_path, "b", costs=[0.7, 0.4], stamp="20261124-161501")
    for path, accuracy in ((a, 0.95), (b, 0.80)):  # a has the worse loss, the better accuracy
        metrics = json.loads((path / "metrics.json").read_text())
        metrics["final"]["dev_accuracy"] = accuracy
        (path / "metrics.json").write_text(json.dumps(metrics))
    records = read_runs([tmp_path])
    assert [r.name for r in report.compare_runs(records, "final.dev_accuracy").records] == \
        ["a", "b"]
    assert [r.name for r in report.compare_runs(records, "final.dev_loss").records] == ["b", "a"]


def test_default_metric_is_dev_loss_else_train_loss(tmp_path: Path) -> None:
    write_run(tmp_path, "nodev", costs=[0.7, 0.5], dev=False)
    assert report.compare_runs(read_runs([tmp_path])).metric == "train_loss"
    write_run(tmp_path, "dev", costs=[0.7, 0.6], stamp="20261124-161501")
    comparison = report.compare_runs(read_runs([tmp_path]))
    assert comparison.metric == "dev_loss"
    assert [r.name for r in comparison.records] == ["dev", "nodev"]  # no dev split goes last


def test_unreadable_and_diverged_runs_sort_last(tmp_path: Path) -> None:
    write_run(tmp_path, "diverged", costs=[0.7, float("nan")], status="diverged",
              message="cost became nan at epoch 1", stamp="20261124-161500")
    broken = write_run(tmp_path, "broken", costs=[0.7, 0.1], stamp="20261124-161501")
    (broken / "metrics.json").write_text("[1, 2")
    write_run(tmp_path, "good", costs=[0.7, 0.5], stamp="20261124-161502")
    comparison = report.compare_runs(read_runs([tmp_path]), "final.dev_loss")
    assert [r.name for r in comparison.records] == ["good", "diverged", "broken"]
    assert comparison.values == [pytest.approx(0.55), None, None]


def test_a_metric_no_run_has_is_an_error_with_the_choices(three_runs: Path) -> None:
    with pytest.raises(InputError, match="did you mean 'dev_loss'") as info:
        report.compare_runs(read_runs([three_runs]), "dev_los")
    assert "best.dev_accuracy" in str(info.value)


def test_legend_labels_name_what_differs(three_runs: Path) -> None:
    comparison = report.compare_runs(read_runs([three_runs]))
    assert report.run_labels(comparison) == ["hidden=[5, 2], learning_rate=0.01",
                                             "hidden=[20, 2], learning_rate=0.01",
                                             "hidden=[5, 2], learning_rate=0.0001"]


# --- the command ------------------------------------------------------------------------------

def test_json_output_parses_back_with_the_spec_keys(three_runs: Path) -> None:
    result = invoke(three_runs, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [set(r) for r in rows] == [{"run", "name", "status", "params", "final", "best",
                                       "epochs_run", "train_seconds"}] * 3
    fast = rows[0]
    assert fast["name"] == "fast" and fast["status"] == "completed"
    assert fast["params"] == {"model.hidden": [5, 2], "optimizer.learning_rate": 0.01}
    assert fast["final"]["dev_loss"] == pytest.approx(0.11)
    assert fast["best"]["epoch"] == 3 and fast["epochs_run"] == 3
    assert fast["train_seconds"] == 1.5
    assert Path(fast["run"]).name == "20261124-161501-fast"


def test_csv_output_parses_back(three_runs: Path) -> None:
    result = invoke(three_runs, "--format", "csv", "--metric", "final.dev_loss")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["name"] for r in rows] == ["fast", "wide", "slow"]
    assert float(rows[2]["optimizer.learning_rate"]) == 0.0001
    assert json.loads(rows[1]["model.hidden"]) == [20, 2]
    assert float(rows[0]["final.dev_loss"]) == pytest.approx(0.11)
    assert float(rows[0]["best.train_accuracy"]) == pytest.approx(0.95)
    assert rows[0]["best_epoch"] == "3" and rows[0]["epochs_run"] == "3"
    assert "optimizer.name" not in rows[0]


def test_markdown_output_is_a_table_with_the_best_run_in_bold(three_runs: Path) -> None:
    result = invoke(three_runs, "--format", "markdown")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[:4] == ["name", "model.hidden", "optimizer.learning_rate", "final dev loss"]
    assert header[4] == "final dev acc"   # the sorting loss's companion, then the rest
    assert "status" in header and "time" in header
    assert "best dev loss" not in header  # no run's best differs from its final: not repeated
    assert lines[1].count("---") == len(header)
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:5]]
    assert [c[0] for c in cells] == ["**fast**", "wide", "slow"]
    assert cells[2][2] == "0.0001"
    assert cells[1][3] == "0.2750"   # 4 significant digits, trailing zero kept
    assert "best run: fast; sorted by dev_loss (lower is better)" in result.stdout


def test_table_output_shows_rows_in_order_and_marks_the_best(three_runs: Path) -> None:
    result = invoke(three_runs, "--metric", "best.dev_accuracy", "--all-params", "--wide")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("fast") < out.index("wide") < out.index("slow")
    best_line = next(line for line in out.splitlines() if "fast" in line)
    assert "*" in best_line and "completed" in best_line
    assert "adam" in best_line  # optimizer.name, the same in every run: only with --all-params
    assert "higher is better" in out
    assert "adam" not in invoke(three_runs).stdout


def test_runs_glob_of_run_dirs_works_like_the_directory(three_runs: Path) -> None:
    paths = sorted(three_runs.iterdir())
    by_glob = json.loads(invoke(*paths, "--format", "json").stdout)
    by_dir = json.loads(invoke(three_runs, "--format", "json").stdout)
    assert by_glob == by_dir


def test_corrupt_and_partial_runs_are_listed_and_the_rest_compared(three_runs: Path) -> None:
    (next(three_runs.glob("*-slow")) / "metrics.json").write_text("{not json")
    running = write_run(three_runs, "running", costs=[0.7, 0.65], status="running",
                        stamp="20261124-161503")
    (running / "metrics.json").unlink()  # just started: config.yaml and history.csv only
    partial = write_run(three_runs, "stopped", costs=[0.7, 0.35], status="interrupted",
                        message="interrupted by the user at epoch 1", stamp="20261124-161504")
    assert partial.is_dir()
    result = invoke(three_runs, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["slow"]["status"] == "unreadable" and rows["slow"]["final"] == {}
    assert rows["running"]["status"] == "unreadable"
    assert rows["stopped"]["status"] == "interrupted"
    assert [r["name"] for r in json.loads(result.stdout)][-2:] == ["slow", "running"]
    assert "metrics.json is not valid JSON" in result.stderr
    assert "interrupted by the user" in result.stderr

    table = invoke(three_runs)
    assert table.exit_code == 0
    assert "unreadable: metrics.json is missing" in table.stdout


@pytest.mark.parametrize("args, message", [
    (["--metric", "best.epoch"], "higher or lower"),
    (["--metric", "dev_los"], "did you mean 'dev_loss'"),
    (["--metric", "worst.dev_loss"], "best.NAME or final.NAME"),
    (["--smooth", "0.9"], "--smooth changes the --plot figure"),
    (["--plot", "curves.txt"], "ending in .png"),
    (["--plot", "nowhere/curves.png"], "does not exist"),
    (["--plot", "c.png", "--smooth", "1"], "beta must be in [0, 1)"),
])
def test_bad_options_exit_2_with_a_message(three_runs: Path, tmp_path: Path, args: list[str],
                                           message: str) -> None:
    args = [str(tmp_path / a) if a.endswith((".png", ".txt")) else a for a in args]
    result = invoke(three_runs, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_a_path_that_is_not_a_run_directory_exits_2(three_runs: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke(three_runs, empty)
    assert result.exit_code == 2
    assert f"error: '{empty}' is not a run directory" in result.stderr
    # one line however long (the error path never wraps at the terminal's 80 columns)
    assert len(result.stderr) > 80 and result.stderr.count("\n") == 1
    assert invoke(tmp_path / "nope").exit_code == 2


def test_a_message_with_brackets_is_printed_as_written(tmp_path: Path) -> None:
    odd = tmp_path / "[bold]runs[/bold]"
    result = invoke(odd)
    assert result.exit_code == 2
    assert result.stderr == f"error: {str(odd)!r} does not exist\n"


def test_only_unreadable_runs_exit_1(tmp_path: Path) -> None:
    path = write_run(tmp_path, "broken", costs=[0.7, 0.5])
    (path / "metrics.json").write_text("")
    result = invoke(tmp_path)
    assert result.exit_code == 1
    assert "the run could not be read" in result.stderr


def test_plot_is_a_png_for_runs_of_different_lengths_and_without_dev(tmp_path: Path) -> None:
    write_run(tmp_path, "long", costs=[0.7 - 0.01 * i for i in range(30)])
    write_run(tmp_path, "short-nodev", costs=[0.7, 0.6, 0.5], dev=False,
              stamp="20261124-161501")
    plot = tmp_path / "out" / "curves.png"
    plot.parent.mkdir()
    for extra in ([], ["--smooth", "0.9"]):
        plot.unlink(missing_ok=True)
        result = invoke(tmp_path, "--plot", plot, "--format", "json", *extra)
        assert result.exit_code == 0, result.output
        assert plot.read_bytes()[:8] == PNG_MAGIC and plot.stat().st_size > 5000
        json.loads(result.stdout)  # the note about the plot went to stderr
        assert f"wrote {plot}" in result.stderr
    assert list(plot.parent.iterdir()) == [plot]  # no temporary file left behind


@pytest.mark.slow
def test_plot_of_a_twelve_trial_search_has_short_labels_twelve_colours_and_no_warning(
        tmp_path: Path) -> None:
    import random
    import warnings

    from dlcli.reports.plots import plot_runs

    draw = random.Random(0)
    for i in range(12):
        write_run(tmp_path, f"trial{i}", costs=[0.7 - 0.02 * i * k / 12 for k in range(20)],
                  stamp=f"20261124-1615{i:02d}",
                  set_={"optimizer.learning_rate": 10 ** draw.uniform(-4, -1), "seed": i + 1,
                        "model.keep_prob": draw.uniform(0.5, 1.0)})
    comparison = report.compare_runs(read_runs([tmp_path]))
    labels = report.run_labels(comparison)
    assert "seed" in comparison.params and not any("seed" in label for label in labels)
    for label in labels:   # 4 significant digits at most: no 0.0012345678901234
        for part in label.split(", "):
            digits = part.partition("=")[2].lstrip("0.").replace(".", "")
            assert len(digits) <= 4, label
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # "constrained_layout not applied" and the like
        result = invoke(tmp_path, "--plot", tmp_path / "c.png", "--format", "csv")
    assert result.exit_code == 0, result.output
    from matplotlib.figure import Figure

    captured: list[Figure] = []
    import dlcli.reports.plots as plots

    saved = plots.save_atomically
    plots.save_atomically = lambda fig, path: captured.append(fig)
    try:
        plot_runs([(label, r.history) for label, r in zip(labels, comparison.records)],
                  tmp_path / "unused.png")
    finally:
        plots.save_atomically = saved
    (fig,) = captured
    cost = fig.axes[0]
    colours = {str(line.get_color()) for line in cost.get_lines()}
    assert len(colours) == 12                    # none repeats after ten
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()][:12] == labels
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    legend_box = legend.get_window_extent(renderer)
    for ax in fig.axes:                          # the legend covers no axes
        assert not legend_box.overlaps(ax.get_window_extent(renderer))


def test_labels_keep_the_seed_when_it_is_all_that_differs_and_number_repeats(
        tmp_path: Path) -> None:
    for i, seed in enumerate((1, 2)):
        write_run(tmp_path, "s", costs=[0.7, 0.5], stamp=f"20261124-16150{i}",
                  set_={"seed": seed})
    assert report.run_labels(report.compare_runs(read_runs([tmp_path]))) == ["seed=1",
                                                                             "seed=2"]
    write_run(tmp_path, "s", costs=[0.7, 0.5], stamp="20261124-161509",
              set_={"seed": 2, "optimizer.learning_rate": 0.5})
    assert report.run_labels(report.compare_runs(read_runs([tmp_path]))) == [
        "learning_rate=0.001 #1", "learning_rate=0.001 #2", "learning_rate=0.5"]


def test_plot_cost_writes_one_runs_curve(tmp_path: Path) -> None:
    from dlcli.reports.plots import plot_cost

    rows = read_history(write_run(tmp_path, "a", costs=[0.7, 0.5, 0.4]) / "history.csv")
    plot_cost(rows, tmp_path / "cost.png", "a")
    assert (tmp_path / "cost.png").read_bytes()[:8] == PNG_MAGIC
    nodev = [{k: v for k, v in r.items() if not k.startswith("dev")} for r in rows]
    plot_cost(nodev, tmp_path / "cost.png", "no dev split")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["20261124-161500-a", "cost.png"]


def test_json_has_no_nan(tmp_path: Path) -> None:
    write_run(tmp_path, "diverged", costs=[0.7, math.inf], status="diverged")
    text = invoke(tmp_path, "--format", "json", "--metric", "final.train_loss").stdout
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)[0]["final"]["cost"] is None


# --- runs made by the real training code ------------------------------------------------------

def train(runs_dir: Path, name: str, callbacks: list[Any] | None = None,
          **settings: Any) -> Path:
    """Train a small moons network with ``dlcli.experiment.run``; ``settings`` are dotted keys
    written with ``__`` for the dot (``optimizer__learning_rate=0.1``)."""
    from dlcli.config import validate
    from dlcli.experiment import run

    raw: dict[str, Any] = {"name": name, "seed": 1,
                           "data": {"dataset": "moons", "dev_fraction": 0.2},
                           "model": {"hidden": [5, 2]}, "training": {"epochs": 20}}
    for key, value in settings.items():
        *parents, leaf = key.split("__")
        section = raw
        for part in parents:
            section = section.setdefault(part, {})
        section[leaf] = value
    return run(validate(raw), runs_dir, callbacks=callbacks).path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runs/ with three real runs: two learning rates, and a wider network (read only)."""
    runs = tmp_path_factory.mktemp("trained") / "runs"
    train(runs, "lr-small", optimizer__learning_rate=0.001)
    train(runs, "lr-large", optimizer__learning_rate=0.05)
    train(runs, "wide", optimizer__learning_rate=0.05, model__hidden=[16, 2])
    return runs


def metrics_of(runs: Path) -> dict[str, dict[str, Any]]:
    """Each run's metrics.json, by run name."""
    files = [json.loads((path / "metrics.json").read_text()) for path in runs.iterdir()]
    return {metrics["name"]: metrics for metrics in files}


def test_real_runs_json_has_the_differing_params_and_the_files_metrics(trained: Path) -> None:
    result = invoke(trained, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    on_disk = metrics_of(trained)
    assert {r["name"] for r in rows} == {"lr-small", "lr-large", "wide"}
    for row in rows:
        assert set(row["params"]) == {"model.hidden", "optimizer.learning_rate"}
        assert row["status"] == "completed" and row["epochs_run"] == 20
        assert row["final"] == on_disk[row["name"]]["final"]
        assert row["best"] == on_disk[row["name"]]["best"]
    by_name = {r["name"]: r for r in rows}
    assert by_name["lr-small"]["params"] == {"model.hidden": [5, 2],
                                             "optimizer.learning_rate": 0.001}
    assert by_name["wide"]["params"]["model.hidden"] == [16, 2]
    dev_losses = [r["best"]["dev_loss"] for r in rows]
    assert dev_losses == sorted(dev_losses)  # default metric: dev_loss, lowest first


def test_real_runs_sort_each_way_and_parse_back_as_csv(trained: Path) -> None:
    for metric, descending in (("final.train_accuracy", True), ("final.train_loss", False)):
        result = invoke(trained, "--format", "csv", "--metric", metric)
        assert result.exit_code == 0, result.output
        values = [float(r[metric]) for r in csv.DictReader(io.StringIO(result.stdout))]
        assert len(values) == 3 and values == sorted(values, reverse=descending)


def test_real_runs_markdown_names_the_best_run(trained: Path) -> None:
    rows = json.loads(invoke(trained, "--format", "json").stdout)
    result = invoke(trained, "--format", "markdown")
    assert result.exit_code == 0
    assert f"| **{rows[0]['name']}** |" in result.stdout
    assert f"best run: {rows[0]['name']}" in result.stdout


def test_real_tune_like_tree_with_a_corrupt_and_an_interrupted_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    train(runs, "plain", optimizer__learning_rate=0.01)
    search = runs / "search-lr"
    for lr in (0.003, 0.03):
        train(search, "trial", optimizer__learning_rate=lr)
    broken = train(runs, "broken", optimizer__learning_rate=0.02)
    (broken / "metrics.json").write_text((broken / "metrics.json").read_text()[:40])

    class Interrupt:
        def on_train_begin(self, trainer: Any) -> None: ...
        def on_train_end(self, trainer: Any) -> None: ...

        def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
            if row["epoch"] == 5:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(runs, "stopped", callbacks=[Interrupt()], data__dev_fraction=0.0)

    result = invoke(runs, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    statuses = {(r["name"], r["status"]) for r in rows}
    assert statuses == {("plain", "completed"), ("trial", "completed"),
                        ("broken", "unreadable"), ("stopped", "interrupted")}
    assert len(rows) == 5
    assert rows[-1]["name"] == "broken"  # unreadable last
    assert rows[-2]["name"] == "stopped"  # no dev split, so no dev_loss to sort by
    assert "metrics.json is not valid JSON" in result.stderr
    assert {r["params"]["optimizer.learning_rate"] for r in rows[:3]} == {0.01, 0.003, 0.03}

    plot = tmp_path / "curves.png"
    result = invoke(runs, "--plot", plot, "--smooth", "0.6")
    assert result.exit_code == 0, result.output
    assert plot.read_bytes()[:8] == PNG_MAGIC


def test_real_run_cost_png_is_drawn_by_plot_cost(tmp_path: Path) -> None:
    path = train(tmp_path, "a")
    assert (path / "cost.png").read_bytes()[:8] == PNG_MAGIC
    record = read_run(path)
    assert record.readable and len(record.history) == 21  # epoch 0 .. 20
    assert record.history[0]["step"] == 0 and record.history[-1]["dev_loss"] is not None


def test_the_dlcli_command_in_a_subprocess(trained: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "dlcli", "compare"]
    done = subprocess.run([*command, str(trained), "--format", "json"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 3
    bad = subprocess.run([*command, str(tmp_path / "missing")], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip() == f"error: '{tmp_path / 'missing'}' does not exist"


def test_a_winner_by_an_epoch_it_did_not_keep_is_named_with_the_kept_winner(tmp_path: Path) -> None:
    # "spiky" reaches the lowest dev loss at epoch 1 but ends worst; no early stopping restored
    # its best epoch, so its params.npz is epoch 3's and "steady" is best by what was kept.
    write_run(tmp_path, "spiky", costs=[0.7, 0.05, 0.6, 0.65], stamp="20261124-161500")
    write_run(tmp_path, "steady", costs=[0.7, 0.3, 0.2, 0.1], stamp="20261124-161501")
    result = invoke(*sorted(tmp_path.iterdir()))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "best run (*): spiky" in text
    assert ("spiky wins on its epoch 1 (dev_loss 0.055) but kept the parameters of epoch 3 "
            "(dev_loss 0.715); by the kept parameters steady is best (0.11). "
            "--metric final.dev_loss ranks by them") in text


def test_no_kept_note_when_the_winner_restored_or_still_wins_by_its_final_value(
        tmp_path: Path) -> None:
    restored = write_run(tmp_path, "spiky", costs=[0.7, 0.05, 0.6, 0.65], stamp="20261124-161500")
    metrics = json.loads((restored / "metrics.json").read_text())
    metrics["restored_epoch"] = 1
    (restored / "metrics.json").write_text(json.dumps(metrics))
    write_run(tmp_path, "steady", costs=[0.7, 0.3, 0.2, 0.1], stamp="20261124-161501")
    assert "kept the parameters" not in invoke(*sorted(tmp_path.iterdir())).output
    assert "kept the parameters" not in invoke(
        *sorted(tmp_path.iterdir()), "--metric", "final.dev_loss").output
    other = tmp_path / "other"
    write_run(other, "bumpy", costs=[0.7, 0.05, 0.08, 0.09], stamp="20261124-161500")
    write_run(other, "steady", costs=[0.7, 0.3, 0.2, 0.1], stamp="20261124-161501")
    assert "kept the parameters" not in invoke(*sorted(other.iterdir())).output
