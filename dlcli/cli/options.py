"""Command-line options more than one command takes, defined once."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

SetOption = Annotated[Optional[list[str]], typer.Option(
    "--set", "-s", metavar="KEY.PATH=VALUE",
    help="Override a config value, e.g. --set optimizer.learning_rate=1e-3 or --set "
         "model.hidden=[16,8] (repeatable; values are read as YAML: numbers, true/false, null, "
         "lists, mappings).")]
TagOption = Annotated[Optional[list[str]], typer.Option(
    "--tag", "-t", metavar="TAG",
    help="Label the run, e.g. --tag baseline (repeatable); dlcli ls and compare filter by it.",
    show_default=False)]
def _runs_dir(text: str | Path) -> Path:
    """A runs directory; an empty one (``--runs-dir ""``, an unset shell variable) is refused
    rather than read as the current directory."""
    if not str(text).strip():
        raise typer.BadParameter("is empty; give a directory, e.g. --runs-dir runs")
    return Path(text)


RunsDirOption = Annotated[Path, typer.Option(
    "--runs-dir", parser=_runs_dir, metavar="<path>",
    help="Where the run (or study) directory goes.")]
NameOption = Annotated[Optional[str], typer.Option(
    "--name", help="Name of the run (or study): its directory is <time>-<name> (default: the "
                   "config's name:, else the file's stem).", show_default=False)]
QuietOption = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress bar or summary; print only the directory made.")]
NoteOption = Annotated[Optional[str], typer.Option(
    "--note", metavar="TEXT", help="A line saying what the run is for; dlcli show prints it.",
    show_default=False)]


TRUE, FALSE = ("true", "yes", "on", "1", "t", "y"), ("false", "no", "off", "0", "f", "n")


def flag_values(params: list[Any], args: list[str], *, options_first: bool = False
                ) -> list[str]:
    """``args`` with every ``--flag=VALUE`` of a boolean flag among ``params`` (typer's click
    parameters) read as the flag (true, yes, on, 1) or its absence (false, no, off, 0;
    ``--no-flag`` where it has one), so ``--quiet``, ``--quiet=true`` and ``--quiet=false`` all
    work, as they do in other tools. Any other value is a usage error naming the flag.
    ``options_first``: stop at the first argument that is not an option (a group's
    subcommand, whose own arguments follow)."""
    flags = {name: param for param in params
             if getattr(param, "is_flag", False) and not getattr(param, "count", False)
             for name in param.opts if name.startswith("--")}
    result: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--" or (options_first and not arg.startswith("-")):
            return result + args[i:]
        name, equals, value = arg.partition("=")
        param = flags.get(name) if equals else None
        if param is None:
            result.append(arg)
        elif value.lower() in TRUE:
            result.append(name)
        elif value.lower() in FALSE:
            result.extend(param.secondary_opts[:1])
        else:
            raise typer.BadParameter(f"{value!r} is neither true nor false ({name} alone "
                                     "means true)", param_hint=f"'{name}'")
    return result
