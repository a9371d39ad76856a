"""The one YAML reader (dlcli.config.safe_yaml) and the bounded values in messages: hostile
documents are refused quickly with one line, numbers read as people write them."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dlcli.cli.app import app
from dlcli.config import load_config, parse_override, safe_yaml
from dlcli.errors import ConfigError, shown
from dlcli.study.space import parse_space

runner = CliRunner()

BASE = "data: {dataset: moons, options: {n_samples: 60}}\nmodel: {hidden: [3]}\n" \
       "training: {epochs: 2}\n"

# The classic "billion laughs": 9 levels of 9 aliases, 9^9 = 387 million strings when expanded.
BOMB = "".join(f"{a}: &{a} [{', '.join([f'*{p}'] * 9)}]\n"
               for p, a in zip("abcdefgh", "bcdefghi")).replace("*a", '"lol"')
BOMB = 'a: &a ["lol"]\n' + BOMB


def train(tmp_path, text, *extra):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["train", str(path), "--runs-dir", str(runs), "-q", *extra])
    return result, runs


def refused(tmp_path, text, *extra):
    result, runs = train(tmp_path, text, *extra)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not runs.exists() or list(runs.iterdir()) == []
    assert len(result.output.strip().splitlines()) == 1, result.output
    return result.output


@pytest.mark.parametrize("where", ["optimizer: {learning_rate: *i}",
                                   "data: {dataset: moons, options: {noise: *i}}"])
def test_an_alias_bomb_in_a_config_is_refused(tmp_path, where):
    text = BOMB + BASE.replace("data:", "#data:" if where.startswith("data") else "data:") \
        + where + "\n"
    message = refused(tmp_path, text)
    assert "alias" in message and "100,000" in message


def test_an_alias_bomb_through_set_is_refused(tmp_path):
    value = "{" + BOMB.replace("\n", ", ").rstrip(", ") + "}"
    message = refused(tmp_path, BASE, "--set", f"data.options.noise={value}")
    assert "--set data.options.noise" in message and "alias" in message


def test_a_self_containing_alias_is_refused():
    with pytest.raises(ConfigError, match="contains itself"):
        safe_yaml.load("a: &a [1, *a]\n")


@pytest.mark.parametrize("opening,closing", [("[", "]"), ("{a: ", "}")])
def test_absurd_nesting_is_refused_with_one_line(tmp_path, opening, closing):
    message = refused(tmp_path, BASE + "seed: " + opening * 3000 + "1" + closing * 3000 + "\n")
    assert "nesting deeper than 100 levels" in message and "line 4" in message


def test_reasonable_nesting_reads():
    assert safe_yaml.load("[" * 50 + "1" + "]" * 50) is not None


@pytest.mark.parametrize("how", ["file", "set"])
def test_a_5000_digit_integer_is_refused_with_one_line(tmp_path, how):
    digits = "9" * 5000
    if how == "file":
        message = refused(tmp_path, BASE + f"seed: {digits}\n")
    else:
        message = refused(tmp_path, BASE, "--set", f"training.epochs={digits}")
        assert "--set training.epochs" in message
    assert "5000 digits is too large" in message


def test_a_duplicate_key_names_the_key_and_both_lines(tmp_path):
    text = "optimizer:\n  name: adam\n" + BASE + "optimizer:\n  name: gd\n"
    message = refused(tmp_path, text)
    assert "'optimizer' is given twice, at line 1 and line 6" in message


def test_a_duplicate_nested_key_is_named_by_its_path():
    with pytest.raises(ConfigError, match=r"'optimizer.name' is given twice, at line 2 and "
                                          r"line 3"):
        safe_yaml.load("optimizer:\n  name: adam\n  name: gd\n")


def test_merge_keys_still_override_as_yaml_says():
    assert safe_yaml.load("base: &b {x: 1, y: 2}\nthis: {<<: *b, y: 3}\n")["this"] == \
        {"x": 1, "y": 3}


@pytest.mark.parametrize("text,value", [("1e-4", 1e-4), ("1E5", 1e5), ("-3e-2", -0.03),
                                        ("+2.5e+3", 2500.0), ("1.0e-8", 1e-8), (".5", 0.5),
                                        ("3", 3), ("0x10", 16), (".inf", float("inf")),
                                        ("1e", "1e"), ("e5", "e5"), ("1_000", 1000),
                                        ("true", True)])
def test_numbers_read_as_people_write_them(text, value):
    assert safe_yaml.scalar(text) == value
    assert type(safe_yaml.scalar(text)) is type(value)


def test_1e_4_is_a_float_in_configs_set_and_search_spaces(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(BASE + "optimizer: {learning_rate: 1e-4}\nregularization: {l2: 1E-3}\n")
    config = load_config(path, ["optimizer.epsilon=1e-7"])
    assert config.optimizer.learning_rate == 1e-4
    assert config.regularization.l2 == 1e-3
    assert config.optimizer.epsilon == 1e-7
    assert parse_override("optimizer.learning_rate=-3e-2") == ("optimizer.learning_rate", -0.03)
    space = parse_space(safe_yaml.load("optimizer.learning_rate: {log_uniform: [1e-4, 1e-1]}"))
    dist = space.dists["optimizer.learning_rate"]
    assert (dist.low, dist.high) == (1e-4, 1e-1)


def test_a_malformed_set_value_is_text_but_a_refused_one_stays_refused():
    assert parse_override("name=a: b: c") == ("name", "a: b: c")
    with pytest.raises(ConfigError, match="too large"):
        parse_override("seed=" + "1" * 200)


def test_python_object_tags_are_refused():
    with pytest.raises(ConfigError, match="tags that build Python objects"):
        safe_yaml.load("x: !!python/object/apply:os.system ['true']\n")


# -- bounded values in messages ---------------------------------------------------------------

def test_shown_is_bounded_whatever_the_value():
    nested: list = ["lol"] * 9
    for _ in range(9):
        nested = [nested] * 9          # 9^10 leaves if walked in full
    for value in (nested, "x" * 10**6, 10**5000, list(range(10**6)), {str(i): i for i in
                                                                      range(10**5)}):
        assert len(shown(value)) <= 300
    assert shown(10**5000) == "<an integer of 5,001 digits>"
    assert shown(0.001) == "0.001" and shown("adam") == "'adam'" and shown([1, 2]) == "[1, 2]"


def test_a_config_error_shows_a_huge_value_bounded():
    error = ConfigError("optimizer.learning_rate", "9" * 10**6, "must be a number")
    assert len(str(error)) < 500 and "more characters" in str(error)


# -- plain words ------------------------------------------------------------------------------

@pytest.mark.parametrize("extra,expected", [
    (["--name", "my run"], "name: 'my run' is not allowed; must be letters, digits, '.', '_' "
                           "and '-' only (no spaces)"),
    (["--set", "optimizer=3"], "optimizer: 3 is not allowed; must be a mapping of keys (name, "
                               "learning_rate, beta, beta1, beta2, epsilon)"),
    (["--set", "model.hidden=4"], "model.hidden: 4 is not allowed; must be a list (write a "
                                  "list as --set model.hidden=[4])"),
    (["--set", "training.epochs=1.5"], "training.epochs: 1.5 is not allowed; must be a whole "
                                       "number"),
    (["--set", "seed=-1"], "seed: -1 is not allowed; must be at least 0"),
    (["--set", "training.shuffle=maybe"], "must be true or false"),
    (["--set", "model.activation=[relu, tanh]", "--set", "model.hidden=[3]"],
     "model.activation has 2 values for 1 hidden layer;"),
])
def test_messages_are_in_plain_words(tmp_path, extra, expected):
    message = refused(tmp_path, BASE, *extra)
    assert expected in message
    for word in ("valid dictionary", "instance of", "should match pattern", "Input should"):
        assert word not in message
