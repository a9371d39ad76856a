"""The JSON Schema of a config file, generated from the validation models (``dlcli schema``).

YAML-aware editors (VS Code, JetBrains, vim/neovim with yaml-language-server) read it through the
first line of every example config, ``# yaml-language-server: $schema=config.schema.json``, to
complete keys and flag wrong ones as you type. ``configs/config.schema.json`` is this function's
output; a test keeps it up to date (``dlcli schema > configs/config.schema.json`` regenerates it).
"""
from __future__ import annotations

import json
from typing import Any

from dlcli.config.schema import Config

SCHEMA_FILE = "config.schema.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
# One search-space distribution (SPEC section 12): {log_uniform: [a, b]}, {choice: [...]}, ...
_PAIR = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
DISTRIBUTION = {
    "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
    "properties": {
        "uniform": _PAIR, "log_uniform": _PAIR, "one_minus_log_uniform": _PAIR,
        "int_uniform": {"type": "array", "items": {"type": "integer"}, "minItems": 2,
                        "maxItems": 2},
        "choice": {"type": "array", "minItems": 1},
    },
}


# Spellings the models accept and turn into their own form before validating ("before"
# validators), which pydantic's schema cannot see: (model, field) -> the extra JSON Schema.
BEFORE_VALIDATION = {("ModelConfig", "batch_norm"): {"type": "boolean"}}


def _distribution_or_section() -> dict[str, Any]:
    # Keys may be dotted (optimizer.learning_rate) or nested like the config itself.
    return {"anyOf": [{"$ref": "#/$defs/Distribution"},
                      {"type": "object", "additionalProperties": {"$ref": "#/$defs/Space"}}]}


def config_json_schema() -> dict[str, Any]:
    """The config's JSON Schema (draft 2020-12), with the optional ``search:`` section that
    ``dlcli tune`` reads from a config and the ``sweep:`` section ``dlcli sweep`` reads."""
    schema = Config.model_json_schema()
    schema = {"$schema": DRAFT, "title": "dlcli config",
              **{k: v for k, v in schema.items() if k != "title"}}
    schema["description"] = ("A dlcli experiment config (SPEC section 0); every key has a "
                             "default except model.hidden.")
    defs = schema.setdefault("$defs", {})
    for (model, key), extra in BEFORE_VALIDATION.items():
        field = defs[model]["properties"][key]
        field["anyOf"] = [*field.get("anyOf", [{k: field.pop(k) for k in list(field)
                                                 if k not in ("default", "title")}]), extra]
    defs["Distribution"] = DISTRIBUTION
    defs["Space"] = _distribution_or_section()
    schema["properties"]["search"] = {
        "description": "dlcli tune's search space: config key paths to distributions, e.g. "
                       "optimizer.learning_rate: {log_uniform: [1.0e-4, 1.0e-1]}",
        "type": "object", "additionalProperties": {"$ref": "#/$defs/Space"}}
    schema["properties"]["sweep"] = {
        "description": "dlcli sweep's study: a grid of config key paths to lists of values, "
                       "each point repeated with seeds seeds (seed, seed+1, ...), ranked by "
                       "metric",
        "type": "object", "additionalProperties": False,
        "properties": {
            "grid": {"type": "object", "additionalProperties": {"type": "array",
                                                                 "minItems": 1}},
            "seeds": {"type": "integer", "minimum": 1},
            "metric": {"type": "string", "description": "what the points are ranked by (the "
                       "mean over seeds): dev_loss (the best epoch's value), final.dev_loss, "
                       "..."}}}
    return schema


def schema_text() -> str:
    """The schema as the shipped file holds it."""
    return json.dumps(config_json_schema(), indent=2) + "\n"
