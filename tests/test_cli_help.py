"""Every command has help and is in the README (the CLI is the product's front door)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dlcli.cli.app import app
from helpers import SMALL, only_run, write_config

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
COMMANDS = sorted(cmd.name or cmd.callback.__name__ for cmd in app.registered_commands)
runner = CliRunner()


def documented_commands() -> set[str]:
    """The commands in the README's commands table (rows starting ``| `dlcli NAME``)."""
    return {line.split("`dlcli ", 1)[1].split()[0].rstrip("`") for line in README.splitlines()
            if line.startswith("| `dlcli ")}


def test_the_app_has_exactly_the_commands_the_readme_table_lists():
    assert {"train", "resume", "gradcheck", "compare", "show", "tune"} <= documented_commands()
    assert set(COMMANDS) == documented_commands()


@pytest.mark.parametrize("command", COMMANDS)
def test_command_has_help_and_is_documented(command):
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output and len(result.output) > 200
    assert f"| `dlcli {command}" in README   # a row of the commands table


@pytest.mark.parametrize("command", COMMANDS)
def test_help_paragraphs_fill_an_80_column_terminal(command):
    """A docstring wrapped at the source's width must not come out ragged: inside a paragraph
    of the description every line but the last is filled to near the width."""
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    text = result.output.split("Usage:", 1)[1].split("\u256d", 1)[0]   # up to the first panel
    paragraphs: list[list[str]] = [[]]
    for line in text.splitlines()[1:]:
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    for lines in paragraphs:
        for line, following in zip(lines, lines[1:]):
            assert len(line) + 1 + len(following.split()[0]) > 78, (line, following)


def test_set_help_shows_a_list_value_and_a_list_value_works(tmp_path):
    """--set takes YAML values, lists included (model.hidden is one): the help says so."""
    output = runner.invoke(app, ["train", "--help"]).output
    help_text = " ".join(output.replace("\u2502", " ").split())   # the panel's borders out
    assert "--set model.hidden=[16,8]" in help_text and "null, lists, mappings" in help_text
    config = write_config(tmp_path, SMALL)
    result = runner.invoke(app, ["train", str(config), "--runs-dir", str(tmp_path / "runs"), "-q",
                                 "--set", "model.hidden=[5,2]", "--set", "training.epochs=1"])
    assert result.exit_code == 0, result.output
    resolved = yaml.safe_load((only_run(tmp_path / "runs") / "config.yaml").read_text())
    assert resolved["model"]["hidden"] == [5, 2]


def test_top_level_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


def test_readme_starts_with_the_two_setup_commands():
    block = README.split("```bash", 1)[1].split("```", 1)[0].strip().splitlines()
    assert block[0] == "pip install -e . && dlcli train configs/quickstart.yaml"
    assert block[1].startswith("pip install -e '.[test]' && python -m pytest")
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert block[1] in ci


def flags():
    """(command, parameter name, option) for every boolean flag of every command and of dlcli
    itself (--version)."""
    import typer

    group = typer.main.get_command(app)
    commands = {"": group, **group.commands}
    found = []
    for name, command in commands.items():
        ctx = command.make_context(name or "dlcli", [], resilient_parsing=True)
        for param in command.get_params(ctx):
            if getattr(param, "is_flag", False) and param.expose_value:
                found += [(name, param.name, opt) for opt in param.opts if opt.startswith("--")]
    return found


FLAGS = flags()


def test_every_command_with_a_flag_is_checked():
    assert {"train", "resume", "tune", "sweep", "gradcheck", "prune", ""} <= \
        {command for command, _, _ in FLAGS}


@pytest.mark.parametrize("command,name,option", FLAGS)
def test_a_flag_reads_true_and_false_written_as_values_too(command, name, option):
    """--quiet, --quiet=true and --quiet=false: help shows a flag, and a flag given a value
    as other tools accept it is read, not refused."""
    import typer

    group = typer.main.get_command(app)
    cmd = group.commands[command] if command else group
    for args, value in (([option], True), ([f"{option}=true"], True),
                        ([f"{option}=YES"], True), ([f"{option}=false"], False),
                        ([f"{option}=0"], False), ([], False)):
        if command == "" and option == "--version" and value:
            continue   # --version prints the version and exits (below)
        ctx = cmd.make_context(command or "dlcli", list(args), resilient_parsing=True)
        assert bool(ctx.params[name]) is value, (args, ctx.params)


def test_a_flag_with_another_value_is_a_usage_error_and_version_true_prints_it(tmp_path):
    result = runner.invoke(app, ["train", "x.yaml", "--quiet=maybe"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "'maybe' is neither true nor false (--quiet alone means true)" in result.output
    assert runner.invoke(app, ["--version=true"]).stdout.startswith("dlcli ")


def test_train_quiet_true_prints_only_the_run_directory(tmp_path):
    config = write_config(tmp_path)
    quiet = runner.invoke(app, ["train", str(config), "--runs-dir", str(tmp_path / "a"),
                                "--quiet=true"])
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert quiet.stdout.splitlines() == [str(only_run(tmp_path / "a"))]
    loud = runner.invoke(app, ["train", str(config), "--runs-dir", str(tmp_path / "b"),
                               "--quiet=false"])
    assert loud.exit_code == 0 and "│ final " in loud.stderr
