"""Search spaces (SPEC section 12): syntax, key-path validation, sampling scales, shrinking."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dlcli.errors import ConfigError
from dlcli.study.space import Distribution, check_space, parse_distribution, parse_space, yaml_value

BASE = {"name": "s", "seed": 1, "data": {"dataset": "moons", "dev_fraction": 0.25},
        "model": {"hidden": [8]}, "training": {"epochs": 20, "batch_size": 64}}


def draws(spec, n=20_000, seed=0):
    dist = parse_distribution("k", spec)
    rng = np.random.default_rng(seed)
    return [dist.sample(rng) for _ in range(n)]


def test_dotted_and_nested_keys_give_the_same_space():
    dotted = parse_space({"optimizer.learning_rate": {"log_uniform": [1e-4, 1e-1]},
                          "optimizer.beta1": {"one_minus_log_uniform": [0.9, 0.999]},
                          "model.hidden": {"choice": [[16], [16, 8]]}})
    nested = parse_space({"optimizer": {"learning_rate": {"log_uniform": [1e-4, 1e-1]},
                                        "beta1": {"one_minus_log_uniform": [0.9, 0.999]}},
                          "model": {"hidden": {"choice": [[16], [16, 8]]}}})
    assert dotted == nested
    assert list(dotted) == ["optimizer.learning_rate", "optimizer.beta1", "model.hidden"]
    assert parse_space(dotted.to_data()) == dotted     # space.yaml round-trips


def test_log_uniform_covers_each_decade_evenly():
    values = np.array(draws({"log_uniform": [1e-4, 1e-1]}))
    assert values.min() >= 1e-4 and values.max() <= 1e-1
    per_decade = [np.mean((values >= 10.0 ** e) & (values < 10.0 ** (e + 1)))
                  for e in (-4, -3, -2)]
    assert per_decade == pytest.approx([1 / 3] * 3, abs=0.015)
    # A uniform draw would put 90% of the values in the top decade.
    assert np.mean(np.array(draws({"uniform": [1e-4, 1e-1]})) >= 1e-2) > 0.88


def test_one_minus_log_uniform_samples_one_minus_beta_on_a_log_scale():
    betas = np.array(draws({"one_minus_log_uniform": [0.9, 0.999]}))
    assert betas.min() >= 0.9 and betas.max() <= 0.999
    r = np.log10(1.0 - betas)   # uniform on [-3, -1]
    assert np.mean(r < -2) == pytest.approx(0.5, abs=0.015)
    assert np.histogram(r, bins=4, range=(-3, -1))[0] / len(r) == pytest.approx([0.25] * 4,
                                                                                abs=0.015)
    # Half the betas are above 0.99: a uniform draw on [0.9, 0.999] gives fewer than 10%.
    assert np.mean(betas > 0.99) == pytest.approx(0.5, abs=0.015)


def test_int_uniform_includes_both_ends_and_choice_takes_lists():
    ints = draws({"int_uniform": [2, 5]}, n=2000)
    assert set(ints) == {2, 3, 4, 5} and all(type(v) is int for v in ints)
    picks = draws({"choice": [[16], [16, 8], "x"]}, n=600)
    assert {yaml_value(p) for p in picks} == {"[16]", "[16, 8]", "x"}
    counts = [sum(p == c for p in picks) for c in ([16], [16, 8], "x")]
    assert min(counts) > 150


def test_the_same_generator_seed_gives_the_same_values():
    space = parse_space({"optimizer.learning_rate": {"log_uniform": [1e-4, 1e-1]},
                         "training.batch_size": {"choice": [32, 64, 128]}})
    first = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    assert first == [space.sample(np.random.default_rng(7)) for _ in range(3)]
    assert space.sample(np.random.default_rng(8)) != first[0]


def test_shrink_to_the_span_of_the_kept_values():
    lr = parse_distribution("lr", {"log_uniform": [1e-5, 1.0]})
    small = lr.shrink([3e-3, 1e-3, 2e-2])
    assert (small.kind, small.low, small.high) == ("log_uniform", 1e-3, 2e-2)
    rng = np.random.default_rng(0)
    samples = [small.sample(rng) for _ in range(2000)]
    assert min(samples) >= 1e-3 and max(samples) <= 2e-2
    # Still log-uniform inside the new span: as many below the geometric mean as above.
    assert np.mean(np.array(samples) < math.sqrt(1e-3 * 2e-2)) == pytest.approx(0.5, abs=0.04)

    beta = parse_distribution("b", {"one_minus_log_uniform": [0.8, 0.9999]}).shrink(
        [0.95, 0.99, 0.999])
    assert (beta.low, beta.high) == (0.95, 0.999)
    assert parse_distribution("n", {"int_uniform": [1, 100]}).shrink([7, 30, 12]) == \
        Distribution("int_uniform", 7, 30)
    choice = parse_distribution("a", {"choice": ["relu", "tanh"]})
    assert choice.shrink(["relu"]) is choice    # choices are not ranges: never shrunk

    space = parse_space({"a": {"uniform": [0.0, 1.0]}, "b": {"log_uniform": [1e-3, 1.0]}})
    shrunk = space.shrink([{"a": 0.2, "b": 0.01}, {"a": 0.6, "b": 0.004}])
    assert shrunk.to_data() == {"a": {"uniform": [0.2, 0.6]}, "b": {"log_uniform": [0.004, 0.01]}}


def test_a_range_shrunk_to_one_point_samples_that_point():
    one = parse_distribution("lr", {"log_uniform": [1e-4, 1e-1]}).shrink([3e-3, 3e-3])
    assert one.sample(np.random.default_rng(0)) == pytest.approx(3e-3, rel=1e-12)


@pytest.mark.parametrize("spec,words", [
    ({"uniform": [1.0, 1.0]}, "a < b"),
    ({"uniform": [2.0, 1.0]}, "a < b"),
    ({"log_uniform": [0.0, 1.0]}, "0 < a < b"),
    ({"log_uniform": [-1.0, 1.0]}, "0 < a < b"),
    ({"one_minus_log_uniform": [0.9, 1.0]}, "0 < a < b < 1"),
    ({"one_minus_log_uniform": [0.0, 0.9]}, "0 < a < b < 1"),
    ({"int_uniform": [1.5, 4]}, "two integers"),
    ({"uniform": [1.0]}, "two numbers"),
    ({"uniform": "0.1, 1"}, "two numbers"),
    ({"uniform": [True, 2]}, "two numbers"),
    ({"choice": []}, "non-empty list"),
    ({"choice": [32, 32]}, "differ"),
    ({"loguniform": [1e-4, 1e-1]}, "did you mean 'log_uniform'"),
    ({"log_uniform": [1e-4, 1e-1], "uniform": [1, 2]}, "write a distribution as"),
    (0.01, "write a distribution as"),
])
def test_bad_distributions_name_the_key_and_what_is_allowed(spec, words):
    with pytest.raises(ConfigError) as info:
        parse_space({"optimizer.learning_rate": spec})
    assert "optimizer.learning_rate" in str(info.value)
    assert words in str(info.value)


def test_a_misspelt_distribution_in_a_nested_space_is_not_taken_for_a_section():
    with pytest.raises(ConfigError, match="did you mean 'int_uniform'"):
        parse_space({"training": {"epochs": {"int_unifrom": [5, 10]}}})


@pytest.mark.parametrize("space,words", [
    ({"optimizer.learnin_rate": {"log_uniform": [1e-4, 1e-1]}},
     ["search space optimizer.learnin_rate", "unknown key 'learnin_rate'",
      "did you mean 'learning_rate'"]),
    ({"optimzer": {"beta1": {"uniform": [0.8, 0.9]}}},
     ["optimzer.beta1", "did you mean 'optimizer'"]),
    ({"optimizer.beta1": {"uniform": [0.9, 1.0]}},
     ["optimizer.beta1", "can give 1.0", "less than 1"]),
    ({"training.epochs": {"uniform": [5, 50]}},
     ["training.epochs", "whole number", ]),
    ({"training.batch_size": {"choice": [32, 0]}}, ["training.batch_size", "can give 0"]),
    ({"model.activation": {"choice": ["relu", "tanhh"]}}, ["model.activation", "tanhh"]),
    ({"seed": {"int_uniform": [1, 9]}}, ["seed", "cannot be searched"]),
])
def test_space_keys_are_checked_against_the_config(space, words):
    with pytest.raises(ConfigError) as info:
        check_space(parse_space(space), BASE)
    for word in words:
        assert word in str(info.value)


def test_a_good_space_passes_the_config_check_and_one_bad_end_fails_it():
    good = {"optimizer.learning_rate": {"log_uniform": [1e-4, 1e-1]},
            "optimizer.beta1": {"one_minus_log_uniform": [0.8, 0.999]},
            "regularization.l2": {"log_uniform": [1e-6, 1e-1]},
            "model.keep_prob": {"uniform": [0.5, 1.0]},
            "model.hidden": {"choice": [[8], [16, 8]]},
            "training.batch_size": {"choice": [32, 64, "full"]},
            "training.epochs": {"int_uniform": [5, 10]}}
    space = parse_space(good)
    assert check_space(space, BASE) is None
    assert list(dict(space.items())["training.batch_size"].check_values()) == [32, 64, "full"]
    # the same space with the low end of one range moved where the config refuses it
    with pytest.raises(ConfigError, match="model.keep_prob"):
        check_space(parse_space({**good, "model.keep_prob": {"uniform": [0.0, 1.0]}}), BASE)


def test_values_round_trip_through_their_text():
    dist = parse_distribution("k", {"choice": [[16, 8], "relu", 64, 1e-5]})
    for value in dist.choices:
        assert dist.parse_cell(yaml_value(value)) == value
    lr = parse_distribution("k", {"log_uniform": [1e-6, 1e-4]})
    value = lr.sample(np.random.default_rng(3))
    assert lr.parse_cell(repr(value)) == value
    import yaml
    assert yaml.safe_load(yaml_value(1e-5)) == 1e-5   # not the string "1e-05"
