"""dlcli show: one run's summary, config and terminal plot; clear errors for anything else."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dlcli.cli.app import app
from dlcli.runs.reader import read_history
from test_compare import train, write_run

runner = CliRunner()


def invoke(*args: object):  # noqa: ANN201 - typer's Result
    return runner.invoke(app, ["show", *(str(a) for a in args)])


def config_lines(stdout: str) -> list[str]:
    """The lines of show's config block: from its heading to the blank line before the plot."""
    lines = stdout.splitlines()
    start = lines.index("config") + 1
    return lines[start:lines.index("", start)]


def section_of(lines: list[str], line: str) -> str:
    """The nearest line above ``line`` that is indented less: the section that holds it."""
    at = lines.index(line)
    depth = len(line) - len(line.lstrip(" "))
    return next(above for above in reversed(lines[:at])
                if len(above) - len(above.lstrip(" ")) < depth)


def test_show_prints_summary_metrics_config_and_plot(tmp_path: Path) -> None:
    run = write_run(tmp_path, "moons", costs=[0.7, 0.5, 0.3, 0.2],
                    set_={"optimizer.learning_rate": 0.01},
                    overrides=["optimizer.learning_rate=0.01"])
    result = invoke(run)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["run", str(run)]
    assert lines[2].split() == ["status", "completed"]
    assert "--set optimizer.learning_rate=0.01" in result.stdout
    final = next(line for line in lines if "final" in line and "│" in line)
    cells = [c.strip() for c in final.strip("│").split("│")]
    assert cells[:2] == ["final", "3"] and float(cells[2]) == 0.2  # label, epoch, cost
    assert config_lines(result.stdout) == (run / "config.yaml").read_text().splitlines()
    plot_top = lines.index("cost by epoch") + 1
    assert lines[plot_top].split("|")[0].strip() == "0.77"  # epoch-0 dev loss is the highest
    assert lines[-1] == "* training cost  o dev loss"


def test_show_prints_the_config_as_yaml_with_nested_keys_under_their_section(
        tmp_path: Path) -> None:
    stopping = {"monitor": "dev_loss", "patience": 7}
    run = write_run(tmp_path, "nested", costs=[0.7, 0.5],
                    set_={"optimizer.learning_rate": 0.01, "training.early_stopping": stopping})
    result = invoke(run)
    assert result.exit_code == 0, result.output
    config = config_lines(result.stdout)
    assert section_of(config, "  learning_rate: 0.01") == "optimizer:"
    assert section_of(config, "    patience: 7") == "  early_stopping:"
    assert section_of(config, "  early_stopping:") == "training:"
    assert "optimizer.learning_rate" not in result.stdout
    assert yaml.safe_load("\n".join(config))["training"]["early_stopping"] == stopping


def test_show_a_run_without_dev_split_and_with_smoothing(tmp_path: Path) -> None:
    run = write_run(tmp_path, "nodev", costs=[0.7, 0.1, 0.7, 0.1], dev=False)
    result = invoke(run, "--smooth", "0.5")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "* training cost (smoothed)"
    assert "dev_loss" not in result.stdout


def test_show_an_interrupted_run_gives_its_status_and_message(tmp_path: Path) -> None:
    run = write_run(tmp_path, "stopped", costs=[0.7, 0.6], status="interrupted",
                    message="interrupted by the user at epoch 1")
    result = invoke(run)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[2].split() == ["status", "interrupted"]
    assert lines[3].split(maxsplit=1) == ["message", "interrupted by the user at epoch 1"]


def test_show_an_unreadable_run_shows_what_it_can_and_exits_1(tmp_path: Path) -> None:
    run = write_run(tmp_path, "broken", costs=[0.7, 0.6])
    (run / "metrics.json").write_text("{")
    result = invoke(run)
    assert result.exit_code == 1
    assert "unreadable" in result.stdout
    assert "name: broken" in config_lines(result.stdout)  # the config was still read
    assert "metrics.json is not valid JSON" in result.stderr


def test_show_a_directory_of_runs_is_an_error_that_names_one(tmp_path: Path) -> None:
    run = write_run(tmp_path, "only", costs=[0.7, 0.6])
    result = invoke(tmp_path)
    assert result.exit_code == 2
    assert f"'{tmp_path}' is a directory of 1 run, not one run; show takes one, e.g. its best " \
        f"by dev_loss, '{run}'; dlcli compare {tmp_path} compares them" in result.stderr
    search = tmp_path / "20261124-161500-q-search"
    for i in range(2):
        write_run(search, f"q-t{i}", costs=[0.7, 0.6 - 0.1 * i], stamp=f"20261124-16150{i}")
    (search / "trials.csv").write_text("trial\n")
    result = invoke(search)
    assert result.exit_code == 2 and f"'{search}' is a search of 2 runs" in result.stderr
    assert "e.g. its best by dev_loss" in result.stderr and "q-t1" in result.stderr


def test_show_bad_paths_and_options_exit_2_without_traceback(tmp_path: Path) -> None:
    run = write_run(tmp_path, "a", costs=[0.7, 0.6])
    for args, message in (([tmp_path / "missing"], "does not exist"),
                          ([run / "metrics.json"], "is a file"),
                          ([run, "--smooth", "2"], "beta must be in [0, 1)")):
        result = invoke(*args)
        assert result.exit_code == 2, args
        assert message in result.stderr
        assert "Traceback" not in result.output


def test_show_a_real_run(tmp_path: Path) -> None:
    run = train(tmp_path, "real", optimizer__learning_rate=0.02)
    metrics = json.loads((run / "metrics.json").read_text())
    result = invoke(run)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["name", "real"] and lines[2].split() == ["status", "completed"]
    config = config_lines(result.stdout)
    assert section_of(config, "  learning_rate: 0.02") == "optimizer:"
    assert yaml.safe_load("\n".join(config)) == yaml.safe_load((run / "config.yaml").read_text())
    assert lines[-1] == "* training cost  o dev loss"
    top = lines[lines.index("cost by epoch") + 1]
    highest = max(r[k] for r in read_history(run / "history.csv") for k in ("cost", "dev_loss"))
    assert float(top.split("|")[0]) == pytest.approx(highest, rel=1e-3)
    final = next(line for line in result.stdout.splitlines() if "│ final" in line)
    assert [c.strip() for c in final.strip("│").split("│")][1] == str(metrics["final"]["epoch"])


@pytest.mark.parametrize("name,content,expected", [
    ("metrics.json", b'{"status": "\xff"}', "metrics.json is not UTF-8 text (byte 0xff at "
                                             "position 12)"),
    ("metrics.json", b'{"epochs_run": ' + b"9" * 5000 + b"}", "metrics.json: "),
    ("config.yaml", b"name: \xfe\n", "config.yaml is not UTF-8 text (byte 0xfe"),
    ("history.csv", b"epoch,cost\n0,\xff\n", "history.csv is not UTF-8 text (byte 0xff"),
])
def test_show_names_the_file_that_holds_bytes_it_cannot_read(tmp_path: Path, name, content,
                                                              expected) -> None:
    run = write_run(tmp_path, "bytes", costs=[0.7, 0.6])
    (run / name).write_bytes(content)
    result = invoke(run)
    assert result.exit_code == 1
    assert expected in result.stderr and "Traceback" not in result.output


def test_show_refuses_an_alias_bomb_in_a_run_directory_in_one_line(tmp_path: Path) -> None:
    run = write_run(tmp_path, "bomb", costs=[0.7, 0.6])
    levels = ['a: &a ["lol"]'] + [f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]"
                                  for a, b in zip("abcdefgh", "bcdefghi")]
    (run / "overrides.yaml").write_text("\n".join(levels) + "\n")
    result = invoke(run)
    assert result.exit_code == 1
    assert "overrides.yaml: line 6: its aliases expand to more than 100,000 values" \
        in result.stderr
