"""Command-line options more than one command takes, defined once."""
from __future__ import annotations

from typing import Annotated, Optional

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
NoteOption = Annotated[Optional[str], typer.Option(
    "--note", metavar="TEXT", help="A line saying what the run is for; dlcli show prints it.",
    show_default=False)]
