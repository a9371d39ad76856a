"""The config schema allows exactly the names each registry knows."""
from __future__ import annotations

import pytest

from dlcli.config import schema
from dlcli.data import DATASETS
from dlcli.errors import ConfigError
from dlcli.nn import ACTIVATIONS, INITIALIZERS, OUTPUTS, output_for
from dlcli.optim import OPTIMIZERS, SCHEDULES


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
