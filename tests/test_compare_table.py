"""dlcli compare's table in a terminal: it fits the width, never splits a value, says what it left
out, names runs that share a name by their id, and shows only parameters that take effect."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dlcli.cli.app import app
from dlcli.config.in_effect import applies, in_effect
from dlcli.reports import compare as report
from dlcli.reports.columns import Column, fit_columns, heading, left_out_note
from dlcli.runs.reader import read_runs
from test_compare import write_run

runner = CliRunner()


def compare(*args: Any, columns: int | None = 80) -> Any:
    env = {"COLUMNS": None if columns is None else str(columns)}
    result = runner.invoke(app, ["compare", *(str(a) for a in args)], env=env)
    assert result.exit_code == 0, result.output
    return result


def widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


@pytest.fixture
def search(tmp_path: Path) -> Path:
    """Twelve trials of a search: drawn learning rates and keep_probs, a seed each, two
    early-stopped (so best and final differ)."""
    runs = tmp_path / "search"
    for i in range(12):
        costs = [0.7 - 0.04 * (i + 1) * k / 12 for k in range(8)]
        if i % 5 == 0:
            costs[-1] += 0.1
        write_run(runs, f"trial-{i:03d}", costs=costs, stamp=f"20261124-1615{i:02d}",
                  status="early_stopped" if i % 5 == 0 else "completed",
                  set_={"optimizer.learning_rate": 10 ** (-4 + 3 * i / 11) * 1.2345678901,
                        "model.keep_prob": 0.5 + i / 23, "seed": 1000003 * (i + 1)})
    return runs


def row_of(text: str, name: str) -> str:
    (line,) = [line for line in text.splitlines() if re.match(rf"[ *]*{name}(\s|$)", line)]
    return line


# --- fitting 80 columns -----------------------------------------------------------------------

@pytest.mark.parametrize("columns", [80, 100, 60])
def test_the_table_fits_the_terminal_and_never_splits_a_value(search: Path,
                                                              columns: int) -> None:
    out = compare(search, columns=columns).stdout
    assert widest(out) <= columns
    comparison = report.compare_runs(read_runs([search]))
    cells = {c.key: c.cells for c in report.columns(comparison)}
    for index, record in enumerate(comparison.records):
        line = row_of(out, record.name)   # one line per run: nothing wrapped
        for key in ("final.dev_loss", "optimizer.learning_rate"):
            assert f" {cells[key][index]} " in f" {line} "
    assert "left out to fit" in out and "--wide" in out and "csv|json" in out


def test_a_real_pipe_gets_80_columns_and_the_note(search: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    done = subprocess.run([sys.executable, "-m", "dlcli", "compare", str(search)],
                          capture_output=True, text=True, env=env, check=True)
    assert widest(done.stdout) <= 80 and "left out to fit 80 columns" in done.stdout


def test_values_have_4_significant_digits_and_drawn_settings_are_short(search: Path) -> None:
    out = compare(search).stdout
    assert "0.0001235" in out            # a drawn learning rate of 0.00012345678901
    assert "0.00012345678" not in out
    assert re.search(r"\b0\.\d{3}0\b", out) or re.search(r"\b0\.\d{4}\b", out)


def test_piped_output_without_columns_is_80_wide_and_wide_shows_everything(
        search: Path) -> None:
    piped = compare(search, columns=None).stdout
    assert widest(piped) <= 80 and "left out to fit 80 columns" in piped
    wide = compare(search, "--wide").stdout
    assert "left out" not in wide and widest(wide) > 80
    assert "train acc" in wide and "time" in wide and "seed" in wide


def test_wide_draws_the_table_as_wide_as_it_needs_and_the_lines_under_it_to_the_terminal(
        tmp_path: Path) -> None:
    write_run(tmp_path, "spiky", costs=[0.7, 0.05, 0.6, 0.65], stamp="20261124-161500")
    write_run(tmp_path, "steady", costs=[0.7, 0.3, 0.2, 0.1], stamp="20261124-161501")
    lines = compare(*sorted(tmp_path.iterdir()), "--wide").stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("best run"))
    under = " ".join(lines[at:])
    assert "wins on its epoch 1" in under and "keeps a best epoch." in under
    assert max(map(len, lines[at:])) <= 80


def test_the_left_out_note_names_families_once_and_constant_columns_with_their_value(
        search: Path) -> None:
    out = " ".join(compare(search, columns=70).stdout.split())
    note = out[out.index("left out to fit"):]
    assert "train loss" in note and "final train loss" not in note
    assert "the same in every run: epochs 7" in note


def test_best_columns_appear_only_where_they_differ_from_final(tmp_path: Path,
                                                               search: Path) -> None:
    write_run(tmp_path / "plain", "a", costs=[0.7, 0.5, 0.4])
    write_run(tmp_path / "plain", "b", costs=[0.7, 0.6, 0.5], stamp="20261124-161501")
    plain = compare(tmp_path / "plain", "--format", "markdown").stdout
    assert "final dev loss" in plain and "best dev loss" not in plain
    assert "best epoch" in plain
    early = compare(search, "--format", "markdown").stdout
    assert "| final dev loss | best dev loss |" in early   # side by side where they differ


def test_the_sorting_metric_is_always_a_column_the_cost_too(search: Path) -> None:
    # (metric, the column drawn right after the parameters, the column holding what the runs
    # are sorted by, which is never left out: NAME and best.NAME sort by the best value)
    for metric, first, kept in (("cost", "final cost", "best cost"),
                                ("final.train_accuracy", "final train acc", "final train acc"),
                                ("best.dev_accuracy", "final dev acc", "best dev acc"),
                                ("dev_loss", "final dev loss", "best dev loss")):
        md = compare(search, "--format", "markdown", "--metric", metric).stdout
        cells = [c.strip() for c in md.splitlines()[0].strip("|").split("|")]
        assert cells[cells.index("seed") + 1] == first   # right after the parameters
        assert kept in cells
        out = " ".join(compare(search, "--metric", metric, columns=60).stdout.split())
        assert "left out" in out and kept not in out[out.index("left out"):]


def test_few_runs_with_many_fields_are_drawn_transposed(tmp_path: Path) -> None:
    for i, name in enumerate(("gd", "momentum", "rmsprop")):
        write_run(tmp_path, f"opt-{name}", costs=[0.7, 0.5 - 0.1 * i], stamp=f"2026112{i}-161500",
                  set_={"optimizer.name": name, "model.hidden": [8 + i, 4],
                        "regularization.l2": 0.01 * i})
    out = compare(tmp_path).stdout
    assert widest(out) <= 80 and "left out" not in out
    header = out.splitlines()[0].split()
    assert header == ["opt-rmsprop", "*", "opt-momentum", "opt-gd"]
    assert row_of(out, "optimizer").split() == ["optimizer", "rmsprop", "momentum", "gd"]
    assert row_of(out, "final dev loss").split()[3:] == ["0.3300", "0.4400", "0.5500"]


# --- names that clash -----------------------------------------------------------------------

def test_runs_that_share_a_name_are_told_apart_by_their_id(tmp_path: Path) -> None:
    for i, init in enumerate(("zeros", "random", "he")):
        write_run(tmp_path, "initializers", costs=[0.7, 0.6 - 0.1 * i],
                  stamp=f"20261124-16150{i}", set_={"model.init": init})
    out = compare(tmp_path).stdout
    assert "best run (*): initializers (20261124-161502)" in out
    for i in range(3):
        assert f"20261124-16150{i}" in out
    md = compare(tmp_path, "--format", "markdown").stdout
    assert "| id |" in md and "best run: initializers (20261124-161502)" in md


# --- parameters that take effect --------------------------------------------------------------

def test_in_effect_knows_which_keys_the_other_values_make_meaningless() -> None:
    he = {"model.init": "he", "model.init_scale": 10.0, "optimizer.name": "gd",
          "optimizer.beta": 0.9, "optimizer.beta1": 0.9, "optimizer.epsilon": 1e-8,
          "schedule.name": "none", "schedule.base": 0.95, "schedule.decay_rate": 1.0,
          "schedule.interval": 1, "model.batch_norm": False,
          "training.early_stopping": None, "regularization.l2": 0.0}
    assert in_effect(he) == {"model.init": "he", "optimizer.name": "gd",
                             "schedule.name": "none", "model.batch_norm": False,
                             "training.early_stopping": False, "regularization.l2": 0.0}
    other = {**he, "model.init": "random", "optimizer.name": "momentum",
             "schedule.name": "exponential", "model.batch_norm": None,
             "model.batch_norm.epsilon": 1e-5, "training.early_stopping": None}
    del other["model.batch_norm"]
    effect = in_effect(other)
    assert effect["model.init_scale"] == 10.0 and effect["optimizer.beta"] == 0.9
    assert effect["schedule.base"] == 0.95 and "schedule.decay_rate" not in effect
    assert effect["model.batch_norm"] is True and effect["model.batch_norm.epsilon"] == 1e-5
    assert "optimizer.beta1" not in effect and "optimizer.epsilon" not in effect
    assert not applies("model.batch_norm.epsilon", he)
    assert not applies("model.init_scale", {**other, "model.init_from": "params.npz"})
    assert applies("some.unknown_key", he)


def test_in_effect_names_only_keys_and_values_the_schema_has() -> None:
    from dlcli.config import schema
    from dlcli.config.in_effect import DEPENDS_ON, OPTIONAL_SECTIONS, REPLACED_BY_INIT_FROM
    from dlcli.runs.reader import flatten

    config = schema.Config.model_validate({"data": {"dataset": "moons", "dev_fraction": 0.2},
                                           "model": {"hidden": [4], "batch_norm": True},
                                           "training": {"early_stopping": {}}})
    flat = flatten(config.to_dict())
    choices = {"model.init": schema.INITIALIZERS, "optimizer.name": schema.OPTIMIZERS,
               "schedule.name": schema.SCHEDULES}
    for key, (decider, values) in DEPENDS_ON.items():
        assert key in flat and decider in flat, key
        assert values <= set(choices[decider]), key
    for section in OPTIONAL_SECTIONS:
        assert any(k.startswith(section + ".") for k in flat), section
    assert all(key in flat for key in REPLACED_BY_INIT_FROM) and "model.init_from" in flat


def test_parameters_that_do_not_apply_are_not_differences_nor_shown(tmp_path: Path) -> None:
    write_run(tmp_path, "he", costs=[0.7, 0.3], stamp="20261124-161500",
              set_={"model.init": "he", "model.init_scale": 0.01,
                    "optimizer.name": "gd", "optimizer.beta": 0.5, "optimizer.beta1": 0.5,
                    "schedule.name": "none", "schedule.base": 0.5})
    write_run(tmp_path, "big", costs=[0.7, 0.4], stamp="20261124-161501",
              set_={"model.init": "random", "model.init_scale": 10.0,
                    "optimizer.name": "momentum", "optimizer.beta": 0.9, "optimizer.beta1": 0.9,
                    "schedule.name": "none", "schedule.base": 0.9})
    write_run(tmp_path, "small", costs=[0.7, 0.5], stamp="20261124-161502",
              set_={"model.init": "random", "model.init_scale": 0.01,
                    "optimizer.name": "momentum", "optimizer.beta": 0.9, "optimizer.beta1": 0.2,
                    "schedule.name": "none", "schedule.base": 0.2})
    comparison = report.compare_runs(read_runs([tmp_path]))
    # beta1 (Adam's) and base (exponential's) differ in the files but nowhere take effect;
    # beta is the same wherever it applies (momentum); init_scale differs between random runs.
    assert comparison.params == ["model.init", "model.init_scale", "optimizer.name"]
    out = compare(tmp_path, "--wide").stdout
    assert row_of(out, "he").split()[1:5] == ["he", "he", "-", "gd"]
    assert row_of(out, "big").split()[:4] == ["big", "random", "10", "momentum"]
    assert "beta" not in out and "base" not in out
    rows = {r["name"]: r for r in json.loads(compare(tmp_path, "--format", "json").stdout)}
    assert rows["he"]["params"]["model.init_scale"] is None
    assert rows["big"]["params"]["model.init_scale"] == 10.0
    assert report.run_labels(comparison) == ["init=he, optimizer=gd",
                                             "init=random, init_scale=10, optimizer=momentum",
                                             "init=random, init_scale=0.01, optimizer=momentum"]


# --- the grouped table and the pieces ---------------------------------------------------------

def test_grouped_table_writes_mean_and_std_to_the_same_place_and_fits(search: Path) -> None:
    out = compare(search, "--group-by", "model.keep_prob", columns=60).stdout
    assert widest(out) <= 60
    assert re.search(r"\d ± \d", out) is None   # a group of one run: the mean alone
    out = compare(search, "--group-by", "model.hidden").stdout
    mean_std = re.search(r"(\d[\d.]*) ± (\d[\d.e+-]*)", out)
    assert mean_std is not None
    assert len(mean_std.group(1).partition(".")[2]) == len(mean_std.group(2).partition(".")[2])


def test_heading_splits_where_it_saves_room_and_keeps_short_headers() -> None:
    assert heading("final dev loss") == "final\ndev loss"
    assert heading("learning_rate", 6) == "learning_\nrate"
    assert heading("optimizer.learning_rate", 6) == "optimizer.\nlearning_rate"
    assert heading("n_samples", 3) == "n_samples"
    assert heading("hidden", 7) == "hidden"


def test_fit_columns_leaves_out_the_least_important_and_keeps_drawing_order() -> None:
    cols = [Column(k, k, ["x" * w, "y"], rank) for k, w, rank in
            (("name", 10, 0), ("a", 20, 3), ("b", 5, 1), ("c", 30, 2))]
    shown, left = fit_columns(cols, lambda cs: sum(c.width for c in cs) <= 40)
    assert [c.key for c in shown] == ["name", "a", "b"]   # c (30) did not fit, a (20) did
    assert [c.key for c in left] == ["c"]
    assert left_out_note(left, shown, 40, "see --wide") == \
        "left out to fit 40 columns: c; see --wide"
    assert left_out_note([], shown, 40, "") == ""
