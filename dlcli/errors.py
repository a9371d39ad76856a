"""Exception types of the library.

Library code raises these and never prints or exits; the CLI turns them into messages and exit
codes in one place (``dlcli.cli.app``).
"""
from __future__ import annotations

from typing import Any


class DlcliError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class InputError(DlcliError):
    """Bad input from the user (config, data, command line): exit code 2."""

    exit_code = 2


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:297] + "..."


class ConfigError(InputError):
    """A config value is wrong: names the key path, the bad value and what is allowed."""

    def __init__(self, path: str, value: Any = None, allowed: str = "", hint: str = "",
                 *, message: str = "") -> None:
        self.path, self.value, self.allowed, self.hint = path, value, allowed, hint
        if not message:
            message = f"{path}: {_show(value)} is not allowed"
            if allowed:
                message += f"; {allowed}"
            if hint:
                message += f" ({hint})"
        super().__init__(f"config error at {message}" if path else f"config error: {message}")


class DataError(InputError):
    """Data is unusable: names the file (and row and column where they are known)."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None) -> None:
        self.file, self.row, self.column = file, row, column
        where = []
        if file:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = f"data error in {', '.join(where)}: " if where else "data error: "
        super().__init__(prefix + message)


class RunError(DlcliError):
    """A run could not go on (a failed check, a broken run directory): exit code 1."""
