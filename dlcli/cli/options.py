"""Command-line options more than one command takes, defined once."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

SetOption = Annotated[Optional[list[str]], typer.Option(
    "--set", "-s", metavar="KEY.PATH=VALUE",
    help="Override a config value, e.g. --set optimizer.learning_rate=1e-3 or --set "
         "model.hidden=[16,8] (repeatable; values are read as YAML: numbers, true/false, null, "
         "lists, mappings).")]
