"""data.seed (SPEC section 0): it drives data generation and the dev/test split only."""
from __future__ import annotations

import numpy as np

from dlcli.config import load_config
from dlcli.experiment import prepare
from helpers import SMALL


def prepared(**changes):
    raw = {**SMALL, **{k: v for k, v in changes.items() if k != "data"}}
    raw["data"] = {**SMALL["data"], **changes.get("data", {})}
    return prepare(load_config(raw=raw))


def test_data_seed_fixes_the_data_while_the_seed_changes_the_initial_weights():
    a = prepared(seed=1, data={"seed": 7})
    b = prepared(seed=2, data={"seed": 7})
    np.testing.assert_array_equal(a.data.train.X, b.data.train.X)
    np.testing.assert_array_equal(a.data.dev.X, b.data.dev.X)
    np.testing.assert_array_equal(a.data.dev.y, b.data.dev.y)
    assert not np.array_equal(a.trainer.network.get_params()["W1"],
                              b.trainer.network.get_params()["W1"])


def test_data_seed_changes_only_the_data():
    a = prepared(seed=1, data={"seed": 7})
    b = prepared(seed=1, data={"seed": 8})
    assert not np.array_equal(a.data.dev.X, b.data.dev.X)
    np.testing.assert_array_equal(a.trainer.network.get_params()["W1"],
                                  b.trainer.network.get_params()["W1"])


def test_unset_data_seed_is_the_top_level_seed():
    unset = prepared(seed=3)
    same = prepared(seed=3, data={"seed": 3})
    other = prepared(seed=4)
    assert unset.config.data.seed is None and unset.config.data_seed == 3
    np.testing.assert_array_equal(unset.data.dev.X, same.data.dev.X)
    assert not np.array_equal(unset.data.dev.X, other.data.dev.X)


def test_every_tune_trial_is_judged_on_the_same_dev_examples(tmp_path):
    from dlcli.config import read_yaml
    from dlcli.study.executors import InProcessExecutor
    from dlcli.study.random_search import create_search

    base = {**SMALL, "training": {"epochs": 2, "batch_size": 64}}
    space = {"optimizer.learning_rate": {"log_uniform": [1e-3, 1e-1]}}
    result = create_search(base, tmp_path, space=space, trials=3).run(InProcessExecutor())
    configs = [read_yaml(result.path / t.run / "config.yaml") for t in result.outcomes]
    assert len({c["seed"] for c in configs}) == 3
    assert {c["data"]["seed"] for c in configs} == {SMALL["seed"]}
    devs = [prepare(load_config(raw=c)).data.dev.X for c in configs]
    for dev in devs[1:]:
        np.testing.assert_array_equal(dev, devs[0])
