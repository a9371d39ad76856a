"""The config schema allows exactly the names each registry knows."""
from __future__ import annotations

import numpy as np
import pytest

from dlcli.config import load_config, schema
from dlcli.data import DATASETS
from dlcli.errors import ConfigError
from dlcli.nn import ACTIVATIONS, INITIALIZERS, OUTPUTS, output_for
from dlcli.optim import OPTIMIZERS, SCHEDULES
from helpers import SMALL


@pytest.mark.parametrize("names,registry", [
    (schema.INITIALIZERS, INITIALIZERS), (schema.ACTIVATIONS, ACTIVATIONS),
    (schema.OPTIMIZERS, OPTIMIZERS), (schema.SCHEDULES, SCHEDULES), (schema.DATASETS, DATASETS),
])
def test_schema_names_match_registry(names, registry):
    assert sorted(names) == sorted(registry.names())


def test_unknown_name_says_did_you_mean():
    with pytest.raises(ConfigError, match="did you mean 'rmsprop'"):
        OPTIMIZERS.get("rmsprob")


def test_output_registry_matches_the_schema_and_auto_chooses_by_class_count():
    assert sorted(schema.OUTPUTS) == sorted(["auto", *OUTPUTS.names()])
    assert output_for("auto", 2) is OUTPUTS.get("sigmoid")
    assert output_for("auto", 5) is OUTPUTS.get("softmax")
    with pytest.raises(ConfigError, match="did you mean 'softmax'"):
        output_for("softmx", 3)


@pytest.mark.parametrize("path,registry", [
    ("model.init", INITIALIZERS), ("model.activation", ACTIVATIONS),
    ("model.output", OUTPUTS), ("optimizer.name", OPTIMIZERS), ("schedule.name", SCHEDULES),
    ("data.dataset", DATASETS),
])
def test_the_config_accepts_every_registered_name_and_nothing_else(path, registry):
    """What pydantic validates with is the registry's list, not a copy that could drift."""
    section, key = path.split(".")
    for name in registry.names():
        config = load_config(raw=SMALL, overrides=[f"{path}={name}"])
        assert getattr(getattr(config, section), key) == name
    with pytest.raises(ConfigError, match=path.replace(".", r"\.")):
        load_config(raw=SMALL, overrides=[f"{path}=not_a_{key}"])


def test_dtypes_are_listed_once_and_numpy_knows_them():
    from dlcli.data import prepare
    assert prepare.DTYPES is schema.DTYPES
    assert [np.dtype(name).name for name in schema.DTYPES] == list(schema.DTYPES)
