"""dlcli schema: the config's JSON Schema from the validation models; the shipped copy is up to
date, every example config names it on its first line and validates against it."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from dlcli.cli.app import app
from dlcli.config.json_schema import SCHEMA_FILE, config_json_schema, schema_text

runner = CliRunner()
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
EXAMPLES = sorted(CONFIGS.glob("*.yaml"))
VALIDATOR = jsonschema.Draft202012Validator(config_json_schema())


def test_dlcli_schema_prints_the_schema_and_the_shipped_file_is_up_to_date() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    printed = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(printed)
    assert printed["properties"]["model"] == {"$ref": "#/$defs/ModelConfig"}
    assert (CONFIGS / SCHEMA_FILE).read_text() == schema_text(), (
        f"configs/{SCHEMA_FILE} is out of date: dlcli schema > configs/{SCHEMA_FILE}")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_names_the_schema_and_validates(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    assert first == f"# yaml-language-server: $schema={SCHEMA_FILE}"
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}"
              for e in VALIDATOR.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


@pytest.mark.parametrize("config", [
    {"data": {"dataset": "moons"}, "model": {"hidden": [4], "batch_norm": True,
                                             "activation": ["relu"]},
     "training": {"batch_size": "full", "early_stopping": {"patience": 5}}},
    {"model": {"hidden": [4], "batch_norm": {"momentum": 0.8}}, "data": {"dataset": "moons"},
     "search": {"optimizer.learning_rate": {"log_uniform": [1e-4, 0.1]},
                "optimizer": {"beta1": {"one_minus_log_uniform": [0.9, 0.999]}},
                "training.batch_size": {"choice": [32, 64]}}},
])
def test_configs_dlcli_accepts_validate(config: dict) -> None:
    assert list(VALIDATOR.iter_errors(config)) == []


@pytest.mark.parametrize("config, where", [
    ({"optimizer": {"nme": "adam"}}, "optimizer"),
    ({"optimizer": {"name": "adm"}}, "optimizer.name"),
    ({"model": {"hidden": [4], "init": "kaiming"}}, "model.init"),
    ({"search": {"optimizer.learning_rate": {"normal": [0, 1]}}},
     "search.optimizer.learning_rate"),
])
def test_the_schema_flags_what_an_editor_should(config: dict, where: str) -> None:
    config = {"data": {"dataset": "moons"}, "model": {"hidden": [4]}, **config}
    errors = list(VALIDATOR.iter_errors(config))
    assert errors and any(".".join(map(str, e.path)).startswith(where) or
                          ".".join(map(str, e.path)) == where.rpartition(".")[0]
                          for e in errors)
