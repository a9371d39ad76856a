"""Training: the loop, its callbacks and the random streams (numpy and the standard library).

Building a trainer from a config is ``dlcli.build``'s job, one layer up.

The names below are loaded on first use (PEP 562), so importing one light module of this package
(``dlcli.train.callbacks``, whose ``Callback`` the command line's progress bar extends) does not
load the training loop and numpy with it: ``dlcli --help`` stays quick (tests/test_startup.py)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Callback", "EarlyStopping", "Streams", "Trainer"]

_WHERE = {"Callback": "callbacks", "EarlyStopping": "callbacks", "Trainer": "loop",
          "Streams": "streams"}

if TYPE_CHECKING:
    from dlcli.train.callbacks import Callback, EarlyStopping
    from dlcli.train.loop import Trainer
    from dlcli.train.streams import Streams


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'dlcli.train' has no attribute {name!r}")
    value = getattr(__import__(f"dlcli.train.{_WHERE[name]}", fromlist=[name]), name)
    globals()[name] = value
    return value
