"""``dlcli schema``: the JSON Schema of a config, for editors and other tools."""
from __future__ import annotations

import typer


def schema() -> None:
    """Print the JSON Schema of a config file (generated from dlcli's validation models).

    YAML-aware editors complete and check a config's keys with it: start the file with
    "# yaml-language-server: $schema=PATH/config.schema.json", as the configs/ examples do,
    after dlcli schema > PATH/config.schema.json.
    """
    from dlcli.config.json_schema import schema_text

    typer.echo(schema_text(), nl=False)
