"""What wins when a study's plan and ``--set`` name the same config key: the command line, as
in Hydra (docs/decisions.md, "The command line wins over a study's plan").

``--set KEY=VALUE`` fixes KEY for every run of a sweep or search: a sweep grid or a search space
that varies KEY (or a key inside the section KEY sets) drops it, and the study says so.
``--grid KEY=...`` replaces the config's grid values of KEY (``grid.merge_grid``); ``--set`` and
``--grid`` of one key together are a contradiction, refused, as is a ``--set`` of a key inside a
section the study varies as a whole (each run's value of the section would replace it).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from dlcli.config import parse_override
from dlcli.errors import ConfigError


def set_keys(overrides: Sequence[str]) -> list[str]:
    """The key paths of ``KEY.PATH=VALUE`` overrides, in order (unknown keys are errors)."""
    return [parse_override(text)[0] for text in overrides]


def fixed_keys(keys: Iterable[str], overrides: Sequence[str]) -> dict[str, str]:
    """Of ``keys`` (a grid's or a space's key paths), those ``--set`` fixes: key -> the
    ``--set`` key that fixes it (the key itself, or a section holding it)."""
    given = set_keys(overrides)
    fixed: dict[str, str] = {}
    for key in keys:
        for set_key in given:
            if key == set_key or key.startswith(set_key + "."):
                fixed[key] = set_key
    return fixed


def check_not_inside(keys: Iterable[str], overrides: Sequence[str], verb: str,
                     plan: str) -> None:
    """A ConfigError for a ``--set`` of a key inside a section the study varies as a whole
    (``--set model.batch_norm.momentum=0.5`` while the grid sweeps ``model.batch_norm`` over
    false and true): each run's value of the section would replace what ``--set`` put in it."""
    given = set_keys(overrides)
    for key in keys:
        for set_key in given:
            if set_key.startswith(key + "."):
                raise ConfigError(f"--set {set_key}", message=f"--set {set_key}: {key} is "
                                  f"{verb} as a whole, and each run's value of it would replace "
                                  f"what --set puts inside it; write the setting into the "
                                  f"{plan}'s values of {key}, or fix {key} with --set")


def fixed_note(key: str, by: str, verb: str) -> str:
    """``model.batch_norm is fixed by --set; not swept``."""
    source = "--set" if by == key else f"--set {by}"
    return f"{key} is fixed by {source}; not {verb}"
