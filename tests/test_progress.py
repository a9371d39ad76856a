"""The progress bar (dlcli.console.Bar): one line that fits the terminal, what gives way first,
and what train, resume, tune and sweep put on it, as a user sees it at 80 columns."""
from __future__ import annotations

import io
import re

import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from dlcli.cli.app import app
from dlcli.console import (BAR_WIDTH, DESCRIPTION_RANK, MARGIN, TIMES_RANK, Bar, Field,
                           fit_line)
from dlcli.numbers import measure, spread
from helpers import SMALL, only_run, sigint_as_in_a_terminal, write_config

runner = CliRunner()
TRAIN_FIELDS = [Field("ctrlc", DESCRIPTION_RANK, least=8),
                Field("  4,564/100,000 epochs", kept=True),
                Field("cost 0.04820", kept=True), Field("dev acc 0.9000", 10),
                Field("0:03 elapsed · 0:10 left", TIMES_RANK, short="0:03 · 0:10 left",
                      kept=True)]


def line_length(texts, bar):
    shown = [t for t in texts if t]
    # two spaces between fields; the bar, one space each side, takes the place of two spaces
    return sum(map(cell_len, shown)) + 2 * (len(shown) - 1) \
        + (bar + (0 if texts[0] else 1) if bar else 0)


def test_everything_shows_on_a_wide_terminal_with_the_bar_at_its_widest():
    texts, bar = fit_line(200, TRAIN_FIELDS, 1)
    assert texts == [f.text for f in TRAIN_FIELDS] and bar == BAR_WIDTH[1]


def test_the_bar_shrinks_before_any_field_gives_way():
    full = line_length([f.text for f in TRAIN_FIELDS], BAR_WIDTH[0])
    texts, bar = fit_line(full + 3, TRAIN_FIELDS, 1)
    assert texts == [f.text for f in TRAIN_FIELDS] and bar == BAR_WIDTH[0] + 3


def test_at_80_columns_the_count_the_cost_and_both_times_stay_whole():
    texts, bar = fit_line(80 - MARGIN, TRAIN_FIELDS, 1)
    assert texts == ["ctrlc", "  4,564/100,000 epochs", "cost 0.04820", "",
                     "0:03 · 0:10 left"]
    assert bar >= BAR_WIDTH[0] and line_length(texts, bar) <= 80 - MARGIN


def test_at_60_columns_the_label_and_the_bar_go_too():
    texts, bar = fit_line(60 - MARGIN, TRAIN_FIELDS, 1)
    assert texts == ["", "  4,564/100,000 epochs", "cost 0.04820", "", "0:03 · 0:10 left"]
    assert bar == 0 and line_length(texts, bar) <= 60 - MARGIN


def test_a_field_with_a_least_width_is_cut_with_an_ellipsis_before_it_goes():
    fields = [Field("a-rather-long-run-name", DESCRIPTION_RANK, least=8),
              Field("10/10 epochs", kept=True)]
    texts, bar = fit_line(12 + 1 + BAR_WIDTH[0] + 1 + 12, fields, 1)
    assert texts[0] == "a-rather-lo…" and bar == BAR_WIDTH[0]


def test_the_bar_comes_back_when_a_field_that_went_after_it_left_room():
    fields = [Field("study", DESCRIPTION_RANK), Field("6/6 runs", kept=True),
              Field("at a-point-name-too-long-to-fit", DESCRIPTION_RANK + 5)]
    texts, bar = fit_line(BAR_WIDTH[0] + 1 + 8, fields, 1, bar_rank=DESCRIPTION_RANK + 2)
    assert texts == ["", "6/6 runs", ""] and bar == BAR_WIDTH[0]


def drawn(width, description="ctrlc", total=100_000, done=4_564, notes=()):
    """What a Bar prints into a file at ``width`` columns (its last state, once)."""
    console = Console(file=io.StringIO(), width=width, color_system=None)
    bar = Bar(description, total, "epochs", console)
    bar.start(0)
    bar.update(done, list(notes), force=True)
    bar.stop()
    return console.file.getvalue().rstrip("\n")


@pytest.mark.parametrize("width", [80, 60])
def test_a_six_digit_bar_keeps_count_cost_and_times_and_leaves_room_for_ctrl_c(width):
    line = drawn(width, notes=[Field("cost 0.04820", kept=True),
                               Field("dev acc 0.9000", 10)])
    assert "\n" not in line and cell_len(line) <= width - MARGIN
    assert "4,564/100,000 epochs" in line and "cost 0.04820" in line
    assert re.search(r"\d:\d\d( elapsed)? · -:-- left$", line), line


def test_a_wide_terminal_labels_both_times():
    line = drawn(140, notes=[Field("cost 0.04820", kept=True)])
    assert re.search(r"ctrlc ━\S* +4,564/100,000 epochs  cost 0.04820  \d:\d\d elapsed · "
                     r"-:-- left$", line), line


def bar_line(output, unit):
    lines = [line for line in output.splitlines() if re.search(rf"\d/[\d,]+ {unit} ", line)
             and not line.startswith(("completed", "interrupted"))]
    assert len(lines) == 1, output
    return lines[0]


@pytest.mark.slow
def test_train_and_resume_label_the_bar_with_the_runs_name_at_80_columns(tmp_path):
    runs = tmp_path / "runs"
    config = write_config(tmp_path, dict(SMALL, name="babysit"))
    trained = runner.invoke(app, ["train", str(config), "--runs-dir", str(runs)],
                            env={"COLUMNS": "80"})
    assert trained.exit_code == 0, trained.output
    line = bar_line(trained.stderr, "epochs")
    assert line.startswith("babysit ━") and "15/15 epochs  cost " in line
    assert cell_len(line) <= 80 - MARGIN and line.endswith(" left")
    parent = only_run(runs)
    resumed = runner.invoke(app, ["resume", str(parent), "--epochs", "1200"],
                            env={"COLUMNS": "80"})
    assert resumed.exit_code == 0, resumed.output
    line = bar_line(resumed.stderr, "epochs")
    assert line.startswith("babysit ━") and parent.name not in line, line
    assert "1,200/1,200 epochs  cost " in line and cell_len(line) <= 80 - MARGIN
    assert "…" not in line


def screen(output: str, width: int) -> list[str]:
    """The lines a terminal ``width`` columns wide shows after ``output``: enough of a VT100 for
    what rich's live display sends (carriage return, line feed, erase line, cursor up) and for
    the terminal's own wrapping at the last column."""
    rows: list[list[str]] = [[]]
    row = col = 0
    pending = False   # the cursor stands past the last column: the next character wraps
    for match in re.finditer(r"\x1b\[([?\d;]*)([A-Za-z])|\x1b[()][A-Z0-9]|(.)", output,
                             re.DOTALL):
        params, command, char = match.groups()
        if command == "A":
            row, pending = max(0, row - int(params or 1)), False
        elif command == "K":
            rows[row][col if params in ("", "0") else 0:] = []
        elif command is not None or char is None:
            continue
        elif char == "\r":
            col, pending = 0, False
        elif char == "\n":
            row += 1
        elif char >= " ":
            if pending:
                row, col, pending = row + 1, 0, False
            while len(rows) <= row:
                rows.append([])
            line = rows[row]
            line.extend(" " * (col + 1 - len(line)))
            line[col] = char
            col += 1
            if col == width:
                col, pending = width - 1, True
        while len(rows) <= row:
            rows.append([])
    return ["".join(r).rstrip() for r in rows]


def test_screen_wraps_at_the_last_column_and_redraws_a_line_in_place():
    assert screen("abcd" + "^C", 4) == ["abcd", "^C"]
    assert screen("one\r\x1b[2Ktwo\r\n\x1b[1A\x1b[2Kthree", 10) == ["three", ""]


@pytest.mark.slow
def test_ctrl_c_in_an_80_column_terminal_leaves_one_bar_and_the_resume_command(tmp_path):
    """A real terminal (a pty) 80 columns wide and a real ^C typed into it: the terminal echoes
    ^C after the bar, which must not wrap the line and leave the bar drawn twice."""
    import fcntl
    import os
    import pty
    import struct
    import sys
    import termios
    import time

    config = write_config(tmp_path, dict(SMALL, name="ctrlc",
                                         training={"epochs": 100_000, "batch_size": 32}))
    runs = tmp_path / "runs"
    env = {**os.environ, "COLUMNS": "80", "LINES": "24", "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    pid, fd = pty.fork()
    if pid == 0:   # the child: a terminal of 80 columns, then dlcli
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        sigint_as_in_a_terminal()   # CI may start the suite with SIGINT ignored
        os.execve(sys.executable, [sys.executable, "-m", "dlcli", "train", str(config),
                                   "--runs-dir", str(runs)], env)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    sent = False
    try:
        while time.monotonic() < deadline:
            text = b"".join(chunks).decode("utf-8", "replace")
            if not sent and text.count("/100,000 epochs") >= 3:
                os.write(fd, b"\x03")   # the user types Ctrl-C
                sent = True
            try:
                chunk = os.read(fd, 65536)
            except OSError:   # the child is gone and the terminal closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert sent, b"".join(chunks).decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 130
    lines = screen(b"".join(chunks).decode("utf-8"), 80)
    bars = [line for line in lines if re.search(r"\d/100,000 epochs ", line)
            and not line.startswith("interrupted")]
    assert len(bars) == 1, "\n".join(lines)
    assert all(cell_len(line) <= 80 for line in lines)
    run = only_run(runs)
    folded = re.sub(r"\s+", "", "".join(lines))   # a path longer than a line is folded
    assert re.sub(r"\s+", "", f"dlcli resume {run} --epochs 100000") in folded, lines


def table_rows(output):
    """The rows of the last table in ``output``, as lists of cells (header lines first)."""
    rows = [line for line in output.splitlines() if line.startswith(("┃", "│"))]
    return [[cell.strip() for cell in re.split("[┃│]", row)[1:-1]] for row in rows]


@pytest.mark.slow
def test_a_sweep_at_80_columns_names_points_by_their_values_and_ranks_by_the_mean(tmp_path):
    config = write_config(tmp_path, dict(SMALL, training={"epochs": 10, "batch_size": 32}))
    result = runner.invoke(app, ["sweep", str(config), "--grid", "optimizer.learning_rate=0.1,"
                                 "0.001", "--seeds", "2", "-w", "1", "--runs-dir",
                                 str(tmp_path / "runs")], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    import json
    from pathlib import Path

    summary = json.loads((Path(result.stdout.strip()) / "summary.json").read_text())
    best = summary["best_point"]
    mean = best["dev_loss"]["mean"]
    line = bar_line(result.stderr, "runs")
    assert cell_len(line) <= 80 - MARGIN and "4/4 runs" in line
    lr = {0.1: "0.1", 0.001: "0.001"}[best["values"]["optimizer.learning_rate"]]
    assert f"best mean dev_loss {measure(mean)}  at learning_rate={lr}" in line, line
    rows = table_rows(result.stderr)
    assert rows[0] == ["", "", "dev_loss"] and rows[1] == ["learning_rate", "n", "mean ± std"]
    assert rows[2][0] == lr and rows[2][1] == "2"
    stats = best["dev_loss"]
    assert rows[2][2] == spread(stats["mean"], stats["std"])
    assert all(cell_len(line) <= 80 for line in result.stderr.splitlines()
               if line.startswith(("┃", "│", "┏", "└")))


@pytest.mark.slow
def test_a_search_table_heads_its_columns_with_the_keys_last_parts(tmp_path):
    space = {"optimizer.learning_rate": {"log_uniform": [1e-3, 1e-1]},
             "training.epochs": {"int_uniform": [5, 10]},
             "training.batch_size": {"choice": [16, 32]}}
    config = write_config(tmp_path, dict(SMALL, search=space))
    result = runner.invoke(app, ["tune", str(config), "--trials", "3", "-w", "1",
                                 "--runs-dir", str(tmp_path / "runs")], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stderr)
    assert rows[0] == ["trial", "round", "dev_loss", "learning_rate", "batch_size", "epochs"]
    for row in rows[1:]:
        assert re.fullmatch(r"0\.\d{4,}", row[2]) and len(row[3]) <= 8, row   # 4 digits
    line = bar_line(result.stderr, "trials")
    assert re.search(r"3/3 trials  best dev_loss [\d.]+ \(trial \d\)", line), line
    assert re.search(r"^best: trial \d, dev_loss [\d.]+, run ", result.stderr, re.M)


@pytest.mark.slow
def test_a_sweep_of_seeds_alone_shows_its_best_mean_without_a_point_name(tmp_path):
    config = write_config(tmp_path, dict(SMALL, training={"epochs": 5, "batch_size": 32}))
    result = runner.invoke(app, ["sweep", str(config), "--seeds", "2", "-w", "1",
                                 "--runs-dir", str(tmp_path / "runs")], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    line = bar_line(result.stderr, "runs")
    assert re.search(r"2/2 runs  best mean dev_loss [\d.]+  \d:\d\d", line), line
    resumed = runner.invoke(app, ["sweep", "--resume", result.stdout.strip(), "-w", "1"],
                            env={"COLUMNS": "80"})
    assert resumed.exit_code == 0, resumed.output   # nothing left to run: still the best
    best = re.search(r"best mean dev_loss [\d.]+", line)[0]
    assert best in bar_line(resumed.stderr, "runs")
