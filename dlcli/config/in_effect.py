"""Which keys of a resolved config take effect in its run (SPEC sections 4, 6, 7, 8 and 10).

A resolved config holds every key with its default, including keys that the other values make
meaningless: ``model.init_scale`` for an He initialisation, ``schedule.base`` with schedule
``none``, ``optimizer.beta`` for Adam. Tables and legends that show what differs between runs
ask here, so a difference nobody could have felt is never shown as one.

Configs are taken flattened to dotted key paths (``optimizer.learning_rate``), as
``dlcli.runs.reader.flatten`` gives them and as ``--set`` names them.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dlcli.config.schema import SCHEDULES

# key -> (the key that decides it, the values of that key under which it takes effect)
DEPENDS_ON: dict[str, tuple[str, frozenset[Any]]] = {
    "model.init_scale": ("model.init", frozenset({"random"})),             # section 4
    "optimizer.beta": ("optimizer.name", frozenset({"momentum"})),         # section 6
    "optimizer.beta1": ("optimizer.name", frozenset({"adam"})),
    "optimizer.beta2": ("optimizer.name", frozenset({"rmsprop", "adam"})),
    "optimizer.epsilon": ("optimizer.name", frozenset({"rmsprop", "adam"})),
    "schedule.decay_rate": ("schedule.name", frozenset({"inverse_time"})),  # section 7
    "schedule.base": ("schedule.name", frozenset({"exponential"})),
    "schedule.k": ("schedule.name", frozenset({"inverse_sqrt"})),
    "schedule.interval": ("schedule.name", frozenset(SCHEDULES) - {"none"}),
}
# Sections that are switched off by false/null and on by a mapping of their own keys (section 8,
# section 10). Flattened, an "off" section is one key (``model.batch_norm: false``) and an "on"
# one only its sub-keys; ``in_effect`` gives both a switch key, true or false.
OPTIONAL_SECTIONS = ("model.batch_norm", "training.early_stopping")
# Keys that a starting point loaded from a file (``model.init_from``) makes meaningless.
REPLACED_BY_INIT_FROM = ("model.init", "model.init_scale")


def _section_on(section: str, config: Mapping[str, Any]) -> bool:
    prefix = section + "."
    value = config.get(section)
    if isinstance(value, Mapping):
        return True
    return value not in (None, False) or any(key.startswith(prefix) for key in config)


def applies(key: str, config: Mapping[str, Any]) -> bool:
    """Whether ``key`` takes effect in the run of ``config`` (a key this module knows nothing
    about, or that ``config`` lacks, is taken to apply)."""
    for section in OPTIONAL_SECTIONS:
        if key.startswith(section + ".") and not _section_on(section, config):
            return False
    if key in REPLACED_BY_INIT_FROM and config.get("model.init_from"):
        return False
    if key in DEPENDS_ON:
        decider, values = DEPENDS_ON[key]
        if decider in config and applies(decider, config):
            return config[decider] in values
    return True


def in_effect(config: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of ``config`` that take effect, with their values, in the config's order; each
    optional section (batch norm, early stopping) as a switch key, ``true`` or ``false``,
    followed by its own keys when it is on."""
    result: dict[str, Any] = {}
    for key, value in config.items():
        for section in OPTIONAL_SECTIONS:
            if (key == section or key.startswith(section + ".")) and section not in result:
                result[section] = _section_on(section, config)
        if key in OPTIONAL_SECTIONS or not applies(key, config):
            continue
        result[key] = value
    return result
