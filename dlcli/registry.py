"""Named component families (initializers, activations, optimisers, schedules, datasets).

One explicit dict per family, with aliases; an unknown name is an error with a "did you mean".
"""
from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Generic, TypeVar

from dlcli.errors import ConfigError

T = TypeVar("T")


def did_you_mean(name: str, choices: list[str] | tuple[str, ...]) -> str:
    """A hint naming the closest choice, or an empty string. Case is not a difference worth
    missing a match over (``ADAM``, ``Relu``)."""
    by_lower = {}
    for choice in choices:
        by_lower.setdefault(str(choice).lower(), choice)
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1, cutoff=0.6)
    return f"did you mean {by_lower[close[0]]!r}?" if close else ""


class Registry(Generic[T]):
    """A name -> component mapping with aliases."""

    def __init__(self, family: str, items: dict[str, T], aliases: dict[str, str] | None = None):
        self.family = family
        self._items = dict(items)
        self._aliases = dict(aliases or {})
        assert all(target in self._items for target in self._aliases.values())

    def canonical(self, name: str, path: str = "") -> str:
        """The canonical name for ``name`` (resolving aliases) or a ConfigError."""
        if name in self._items:
            return name
        if name in self._aliases:
            return self._aliases[name]
        raise ConfigError(path or self.family, name, f"allowed: {', '.join(self.names())}",
                          did_you_mean(name, self.names()))

    def get(self, name: str, path: str = "") -> T:
        return self._items[self.canonical(name, path)]

    def names(self) -> list[str]:
        """Every accepted name, aliases included."""
        return [*self._items, *self._aliases]

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)
