"""Exception types of the library.

Library code raises these and never prints or exits; the CLI turns them into messages and exit
codes in one place (``dlcli.cli.app``).
"""
from __future__ import annotations

import math
import reprlib
from typing import Any


def os_reason(error: OSError) -> str:
    """Why a file operation failed, in plain words: the system's reason lower-cased, without
    the errno and the file name that ``str(error)`` repeats (``[Errno 21] Is a directory:
    'configs'`` -> ``is a directory``). The message around it names the file, once."""
    reason = error.strerror or (str(error) if error.args else "")
    return reason[:1].lower() + reason[1:] if reason else type(error).__name__


class DlcliError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class InputError(DlcliError):
    """Bad input from the user (config, data, command line): exit code 2."""

    exit_code = 2


class _Bounded(reprlib.Repr):
    """reprlib with a budget: it looks at a bounded part of a value (a few levels, the first
    items of a container, the ends of a long string), so showing a value never costs more than
    a glance, whatever its size; an alias bomb expands to billions of items."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxtuple, self.maxdict = 4, 8, 8, 8
        self.maxset = self.maxfrozenset = self.maxdeque = self.maxarray = 8
        self.maxstring, self.maxother = 120, 120
        self.maxlong = 40

    def repr_int(self, x: int, level: int) -> str:
        # repr() of an int over 4,300 digits raises; its size is what a reader needs anyway.
        digits = int(abs(x).bit_length() * math.log10(2)) + 1
        if digits > self.maxlong:
            return f"<an integer of {digits:,} digits>"
        return repr(x)

    def repr_str(self, x: str, level: int) -> str:
        if len(x) <= self.maxstring:
            return repr(x)
        half = self.maxstring // 2
        return repr(x[:half]) + f"...<{len(x) - 2 * half:,} more characters>..." \
            + repr(x[-half:])

    def repr_instance(self, x: Any, level: int) -> str:
        if x is None or isinstance(x, (bool, float, complex)):
            return repr(x)
        return super().repr_instance(x, level)   # cut to maxother


_BOUNDED = _Bounded()
LIMIT = 300


def shown(value: Any) -> str:
    """``value`` as a message shows it: like repr(), but bounded before it is rendered.

    Every user-facing value in a message goes through here (never repr() an unbounded value)."""
    text = _BOUNDED.repr(value)
    return text if len(text) <= LIMIT else text[:LIMIT - 3] + "..."


def shown_setting(value: Any) -> str:
    """A config value as a message shows it: YAML's words for what YAML reads as None and
    booleans (``null``, ``true``), else as ``shown``."""
    if value is None or isinstance(value, bool):
        return "null" if value is None else str(value).lower()
    return shown(value)


def kind_of(value: Any, notation: str = "YAML") -> str:
    """What a value is, in the words of the file it came from (``list``, ``string``, ``number``;
    a JSON ``array`` and ``object``), never a Python type name (``str``, ``dict``)."""
    json = notation == "JSON"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array" if json else "list"
    if isinstance(value, dict):
        return "object" if json else "mapping"
    return type(value).__name__


def shown_name(name: str) -> str:
    """A key or file name as a message shows it: as written when it is short and printable,
    else quoted and bounded like any value (a key may hold a newline or a megabyte)."""
    name = str(name)
    return name if len(name) <= 60 and name.isprintable() and name.strip() == name and name \
        else shown(name)


class ConfigError(InputError):
    """A config value is wrong: names the key path, the bad value and what is allowed."""

    def __init__(self, path: str, value: Any = None, allowed: str = "", hint: str = "",
                 *, message: str = "") -> None:
        self.path, self.value, self.allowed, self.hint = path, value, allowed, hint
        if not message:
            message = f"{path}: {shown_setting(value)} is not allowed"
            if allowed:
                message += f"; {allowed}"
            if hint:
                message += f" ({hint})"
        # Without a key path the message says what it is about itself ("config file 'x' does
        # not exist"): the CLI's "error: " is its one prefix.
        super().__init__(f"config error at {message}" if path else message)


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
            where.append(f"column {shown(column)}")
        prefix = f"data error in {', '.join(where)}: " if where else "data error: "
        super().__init__(prefix + message)


class RunError(DlcliError):
    """A run could not go on (a failed check, a broken run directory): exit code 1."""


class WriteError(RunError):
    """A file could not be written (a full disk, a read-only or vanished directory): one line
    naming the reason and the file, e.g. ``no space left on device while writing
    runs/x/checkpoint.npz``."""

    def __init__(self, path: Any, error: OSError) -> None:
        self.path, self.error = path, error
        super().__init__(f"{os_reason(error)} while writing {path}")


class Interrupted(DlcliError):
    """Work stopped by the user (Ctrl-C) after keeping what it had: exit code 130. The message
    says what was ``kept`` and, on a line of its own to copy whole, the ``command`` that
    continues (train, sweep and tune say it alike)::

        interrupted; 3 finished runs are kept in runs/x/study.csv
        Continue with: dlcli sweep --resume runs/x
    """

    exit_code = 130

    def __init__(self, kept: str, command: str | None = None) -> None:
        self.kept, self.command = kept, command
        super().__init__(f"interrupted; {kept}"
                         + (f"\nContinue with: {command}" if command else ""))
