"""Config loading: defaults, overrides, and errors that name the key path (SPEC section 0)."""
from __future__ import annotations

import pytest
import yaml

from dlcli.config import load_config, validate
from dlcli.errors import ConfigError

BASE = {"data": {"dataset": "moons"}, "model": {"hidden": [5, 2]}}


def write(tmp_path, text, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_for(raw=None, overrides=(), path=None):
    with pytest.raises(ConfigError) as info:
        load_config(path, list(overrides), raw=raw if path is None else None)
    return str(info.value)


def test_defaults_are_filled_and_name_comes_from_the_file(tmp_path):
    cfg = load_config(write(tmp_path, yaml.safe_dump(BASE), "moons-adam.yaml"))
    assert cfg.name == "moons-adam"
    assert cfg.optimizer.name == "adam" and cfg.optimizer.learning_rate == 0.001
    assert cfg.training.batch_size == 64 and cfg.training.dtype == "float32"
    assert cfg.model.init == "he" and cfg.model.batch_norm is None
    assert cfg.data.normalize == "standardize"


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config(raw=BASE, overrides=["model.batch_norm=true", "optimizer.learning_rate=1e-2"])
    dumped = cfg.to_dict()
    assert dumped["model"]["batch_norm"] == {"momentum": 0.9, "epsilon": 1e-5}
    again = validate(yaml.safe_load(yaml.safe_dump(dumped)))
    assert again == cfg
    off = load_config(raw=BASE).to_dict()
    assert off["model"]["batch_norm"] is False


def test_overrides_are_yaml_scalars():
    cfg = load_config(raw=BASE, overrides=[
        "optimizer.learning_rate=1e-3", "training.batch_size=full", "model.keep_prob=[0.5, 0.9]",
        "training.shuffle=false", "data.options.noise=0.3", "training.early_stopping.patience=5",
        "data.dev_fraction=0.2"])
    assert cfg.optimizer.learning_rate == 0.001
    assert cfg.training.batch_size == "full"
    assert cfg.model.keep_probs() == [0.5, 0.9]
    assert cfg.training.shuffle is False
    assert cfg.data.options == {"noise": 0.3}
    assert cfg.training.early_stopping.patience == 5


@pytest.mark.parametrize("override,fragments", [
    ("optimizer.learning_rate=0", ["optimizer.learning_rate", "0", "greater than 0"]),
    ("optimizer.learning_rate=-1", ["optimizer.learning_rate", "-1"]),
    ("model.keep_prob=1.5", ["model.keep_prob", "1.5", "at most 1"]),
    ("model.keep_prob=0", ["model.keep_prob", "greater than 0"]),
    ("model.keep_prob=[0.5, 1.2]", ["model.keep_prob[1]", "1.2"]),
    ("training.batch_size=0", ["training.batch_size", "0"]),
    ("training.batch_size=ful", ["training.batch_size", "'ful'", "did you mean 'full'"]),
    ("optimizer.name=adm", ["optimizer.name", "'adm'", "gd, momentum, rmsprop, adam",
                            "did you mean 'adam'"]),
    ("model.init=hee", ["model.init", "did you mean 'he'"]),
    ("model.activation=[relu, rel]", ["model.activation[1]", "'rel'"]),
    ("model.hidden=[5, a]", ["model.hidden[1]", "'a'", "whole number"]),
    ("training.epochs=1.5", ["training.epochs", "1.5"]),
    ("schedule.name=cosine", ["schedule.name", "inverse_time"]),
    ("data.normalize=zscore", ["data.normalize", "standardize"]),
    ("training.dtype=float16", ["training.dtype", "float32"]),
])
def test_bad_values_name_key_value_and_what_is_allowed(override, fragments):
    message = error_for(BASE, [override])
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_unknown_keys_get_a_did_you_mean():
    message = error_for({**BASE, "optimiser": {"name": "adam"}})
    assert "optimiser" in message and "did you mean 'optimizer'" in message
    message = error_for({"data": {"dataset": "moons"}, "model": {"hiden": [3]}})
    assert "model.hiden" in message and "did you mean 'hidden'" in message


def test_set_on_a_key_that_does_not_exist():
    message = error_for(BASE, ["optimizer.lr=0.1"])
    assert "optimizer.lr" in message and "learning_rate" in message
    assert "--set" in message
    message = error_for(BASE, ["trainig.epochs=3"])
    assert "did you mean 'training'" in message


def test_set_needs_an_equals_sign():
    assert "KEY.PATH=VALUE" in error_for(BASE, ["optimizer.learning_rate"])


def test_missing_required_key():
    assert "model" in error_for({"data": {"dataset": "moons"}})
    assert "model.hidden" in error_for({"data": {"dataset": "moons"}, "model": {}})


def test_cross_field_rules():
    assert "exactly one" in error_for({"model": {"hidden": [3]}, "data": {}})
    assert "dev split" in error_for(BASE, ["training.early_stopping={}"])
    assert "one per hidden layer" in error_for(BASE, ["model.activation=[relu]"])
    assert "10%" in error_for(BASE, ["data.dev_fraction=0.5", "data.test_fraction=0.45"])


@pytest.mark.parametrize("text,fragment", [
    ("", "empty"),
    ("data: [1, 2\n", "malformed YAML at line"),
    ("- 1\n- 2\n", "not a mapping"),
    ("name: !!python/object/apply:os.system ['echo hi']\n", "tags"),
])
def test_unreadable_yaml(tmp_path, text, fragment):
    assert fragment in error_for(path=write(tmp_path, text))


def test_missing_config_file(tmp_path):
    assert "does not exist" in error_for(path=tmp_path / "nope.yaml")


def test_paths_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(raw={"data": {"train": "d/train.csv"}, "model": {"hidden": [2]}})
    assert cfg.data.train == str(tmp_path / "d" / "train.csv")
