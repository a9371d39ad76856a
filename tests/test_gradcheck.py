"""dlcli gradcheck (SPEC section 9): the check passes correct backprop and catches real bugs.

The bug tests monkeypatch a wrong backward into the network code (a missing factor, batch norm
without its mean term, a dropped L2 term, a transposed gradient, the course's own buggy example)
and assert the verdict is bad and the per-array table points at the broken array. A check that
could not fail would be worse than none.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dlcli import gradcheck as gc
from dlcli.cli.app import app
from dlcli.config import load_config
from dlcli.errors import InputError
from dlcli.nn import activations, batchnorm, output_for
from dlcli.nn.activations import ACTIVATIONS, Activation
from dlcli.nn.network import Network

ALL_ACTIVATIONS = ["relu", "leaky_relu", "tanh", "sigmoid", "linear"]
JSON_KEYS = {"difference", "verdict", "epsilon", "checked", "parameters"}

runner = CliRunner()


def small_network(activations_: list[str], output: str, n_classes: int, *, batch_norm=False,
                  keep=None, dtype="float64", seed=0):
    """A network with non-trivial b, gamma, beta and a random batch for it."""
    rng = np.random.default_rng(seed)
    head = output_for(output, n_classes)
    sizes = [4] + [6, 5, 5][:len(activations_)] + [head.units(n_classes)]
    net = Network(sizes, activations_, head, dtype=dtype, keep_probs=keep,
                  batch_norm=(0.9, 1e-5) if batch_norm else None)
    net.initialize("xavier", rng=rng)
    gc.move_offsets(net, rng)
    X = rng.standard_normal((8, 4))
    y = np.arange(8) % n_classes
    return net, X, y


def layer_of(case: gc.Case, activation: str) -> int:
    """The layer index (1..L) of the hidden layer with this activation."""
    return next(layer.index for layer in case.network.layers
                if layer.activation is not None and layer.activation.name == activation)


def not_great(result: gc.GradCheckResult) -> set[str]:
    return {name for name, check in result.per_parameter.items() if check.verdict != "great"}


# ---------------------------------------------------------------------- formula and bands


def test_verdict_bands_are_the_courses():
    assert gc.verdict_for(0.0) == "great"
    assert gc.verdict_for(9.99e-8) == "great"
    assert gc.verdict_for(1e-7) == "inspect"
    assert gc.verdict_for(9.99e-4) == "inspect"
    assert gc.verdict_for(1e-3) == "bad"
    assert gc.verdict_for(0.29) == "bad"
    assert gc.verdict_for(float("nan")) == "bad"


def test_relative_difference_is_spec_formula():
    g, a = np.array([3.0, 4.0]), np.array([3.0, 0.0])
    assert gc.relative_difference(g, a) == pytest.approx(4.0 / (5.0 + 3.0))
    assert gc.relative_difference(np.zeros(3), np.zeros(3)) == 0.0
    assert gc.relative_difference(g, -g) == pytest.approx(1.0)


# ---------------------------------------------------------------------- correct backprop passes


def test_builtin_cases_use_every_layer_kind_and_penalty():
    cases = gc.builtin_cases(0)
    assert [c.name for c in cases] == ["sigmoid", "softmax"]
    assert [c.network.output.name for c in cases] == ["sigmoid", "softmax"]
    assert [c.network.uses_batch_norm for c in cases] == [False, True]
    for case in cases:
        hidden = [layer.activation.name for layer in case.network.layers[:-1]]
        assert sorted(hidden) == sorted(ALL_ACTIVATIONS)
        assert case.l2 > 0 and case.l1 > 0
        n_classes = 2 if case.name == "sigmoid" else 3
        assert set(case.y.tolist()) == set(range(n_classes))    # every class in the batch
    names = set(cases[0].check().per_parameter) | set(cases[1].check().per_parameter)
    assert {"W1", "b1", "gamma1", "beta1"} <= names


def test_builtin_check_is_great_for_every_array_and_fast():
    start = time.perf_counter()
    results = gc.check_cases(gc.builtin_cases(0))
    seconds = time.perf_counter() - start
    for result in results.values():
        assert result.difference < 1e-7
        assert result.checked == result.total
        assert all(check.difference < 1e-7 for check in result.per_parameter.values())
        assert result.suspects() == [] and result.first_discrepancy() is None
    assert seconds < 5.0, f"the built-in check took {seconds:.2f}s"


@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
@pytest.mark.parametrize("output,n_classes", [("sigmoid", 2), ("softmax", 4)])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_correct_backprop_is_great(activation, output, n_classes, batch_norm):
    net, X, y = small_network([activation, activation], output, n_classes,
                              batch_norm=batch_norm)
    result = gc.check_gradients(net, X, y, l2=0.5, l1=0.2)
    assert result.difference < 1e-7
    assert result.verdict == "great"


def test_course_example_correct_and_buggy(monkeypatch):
    """The course's gradient_check_n: correct backprop about 1e-7 or below, the one with
    ``dW2 * 2`` and ``db1 * 4/m`` about 0.285."""
    legacy = np.random.RandomState(1)          # the course's np.random.seed(1) draws
    x = legacy.randn(4, 3)
    y = np.array([1, 1, 0])
    params = {"W1": legacy.randn(5, 4), "b1": legacy.randn(5, 1), "W2": legacy.randn(3, 5),
              "b2": legacy.randn(3, 1), "W3": legacy.randn(1, 3), "b3": legacy.randn(1, 1)}
    net = Network([4, 5, 3, 1], ["relu", "relu"], output_for("sigmoid", 2), dtype="float64")
    net.set_params(params)
    correct = gc.check_gradients(net, x.T, y)
    assert correct.difference < 1e-7

    original = Network.train_step

    def course_bugs(self, *args, **kwargs):
        cost = original(self, *args, **kwargs)
        if kwargs.get("backward", True):
            self.grads["W2"][...] *= 2              # dW2 = 1./m * np.dot(dZ2, A1.T) * 2
            self.grads["b1"][...] *= 4              # db1 = 4./m * np.sum(dZ1, ...)
        return cost

    monkeypatch.setattr(Network, "train_step", course_bugs)
    buggy = gc.check_gradients(net, x.T, y)
    assert buggy.difference == pytest.approx(0.2850931567761623, abs=1e-6)
    assert buggy.verdict == "bad"
    assert not_great(buggy) == {"W2", "b1"}


# ---------------------------------------------------------------------- injected bugs are caught


def test_catches_missing_factor_in_sigmoid_backward(monkeypatch):
    def sigmoid_backward_bug(dA, Z, A, work):
        # d/dz (1 + tanh(z/2)) / 2 with the inner 1/2 forgotten: 2 A (1 - A) instead of A (1 - A)
        np.multiply(A, 1.0 - A, out=work.tmp)
        np.multiply(dA, 2.0 * work.tmp, out=dA)

    buggy = Activation("sigmoid", activations.sigmoid_forward, sigmoid_backward_bug, True)
    monkeypatch.setitem(ACTIVATIONS._items, "sigmoid", buggy)
    for case in gc.builtin_cases(0):                 # built after the patch: they use the bug
        result = case.check()
        broken = layer_of(case, "sigmoid")
        assert result.verdict == "bad" and result.difference > 1e-2, case.name
        # The layer with the bug is the first one (from the output) that is off; every layer
        # above it is still right, since backprop reaches them before the bug.
        assert result.per_parameter[result.first_discrepancy()].layer == broken
        assert result.per_parameter[f"W{broken}"].verdict == "bad"
        assert all(check.verdict == "great" for check in result.per_parameter.values()
                   if check.layer > broken)


def test_catches_batch_norm_backward_without_mean_term(monkeypatch):
    def backward_without_mean(dZt, Zn, gamma, stats, dgamma, dbeta, tmp):
        m = dZt.shape[1]
        np.sum(dZt, axis=1, keepdims=True, out=dbeta)
        np.multiply(dZt, Zn, out=tmp)
        np.sum(tmp, axis=1, keepdims=True, out=dgamma)
        scale = stats["inv"] * gamma
        np.multiply(Zn, scale * dgamma * (1.0 / m), out=tmp)
        np.multiply(dZt, scale, out=dZt)
        # the line that subtracts scale * sum(dZ~) / m is missing
        np.subtract(dZt, tmp, out=dZt)

    monkeypatch.setattr(batchnorm, "backward", backward_without_mean)
    plain, with_bn = gc.builtin_cases(0)
    assert plain.check().verdict == "great"          # no batch norm there: not affected
    result = with_bn.check()
    assert result.verdict == "bad"
    top = with_bn.network.L - 1                      # the highest batch-norm layer
    # dgamma and dbeta are right (computed before the mean term); the gradient flowing into the
    # layer's W is not, and neither is anything below it.
    assert result.first_discrepancy() == f"W{top}"
    assert result.per_parameter[f"gamma{top}"].verdict == "great"
    assert result.per_parameter[f"beta{top}"].verdict == "great"
    assert result.per_parameter[f"W{with_bn.network.L}"].verdict == "great"


def test_catches_a_dropped_l2_gradient_term(monkeypatch):
    original = Network._penalty

    def penalty_without_l2_gradient(self, m, l2, l1, *, backward):
        # The cost keeps (lambda/2m) ||W||^2 but backward forgets dW += (lambda/m) W.
        return original(self, m, 0.0 if backward else l2, l1, backward=backward)

    monkeypatch.setattr(Network, "_penalty", penalty_without_l2_gradient)
    for case in gc.builtin_cases(0):
        result = case.check()
        assert result.verdict == "bad", case.name
        weights = {name for name in result.per_parameter if name.startswith("W")}
        assert not_great(result) == weights          # every W, and nothing but the W's


def test_catches_a_transposed_gradient(monkeypatch):
    original = Network.train_step

    def transposed_dW2(self, *args, **kwargs):
        cost = original(self, *args, **kwargs)
        if kwargs.get("backward", True):
            dW = self.grads["W2"]                    # W2 is 5 x 5: the shapes still fit
            dW[...] = dW.T.copy()
        return cost

    monkeypatch.setattr(Network, "train_step", transposed_dW2)
    for case in gc.builtin_cases(0):
        result = case.check()
        assert result.verdict == "bad", case.name
        assert result.suspects() == ["W2"] and result.first_discrepancy() == "W2"
        assert result.per_parameter["W2"].difference > 1e-2


# ---------------------------------------------------------------------- conditions of the check


def test_float32_network_is_checked_in_float64_and_left_untouched(monkeypatch):
    net, X, y = small_network(["tanh", "relu"], "softmax", 3, batch_norm=True, dtype="float32")
    before = {key: value.copy() for key, value in net.get_params().items()}
    seen = []
    original = Network.train_step

    def spy(self, X1, *args, **kwargs):
        seen.append((self.dtype, X1.dtype))
        return original(self, X1, *args, **kwargs)

    monkeypatch.setattr(Network, "train_step", spy)
    result = gc.check_gradients(net, X, y, l2=0.3)
    # In float32 a step of 1e-7 is below the rounding of the weights: float32 could not do this.
    assert result.difference < 1e-7
    assert result.source_dtype == "float32"
    assert seen and all(d == np.float64 and x == np.float64 for d, x in seen)
    assert net.dtype == np.float32
    for key, value in net.get_params().items():     # running averages included
        np.testing.assert_array_equal(value, before[key])


def test_dropout_is_switched_off_and_reported():
    net, X, y = small_network(["relu", "tanh"], "sigmoid", 2, keep=[0.5, 0.7])
    result = gc.check_gradients(net, X, y)
    assert result.dropout_disabled
    assert result.difference < 1e-7
    assert [layer.keep_prob for layer in net.layers[:-1]] == [0.5, 0.7]   # original kept
    plain, X2, y2 = small_network(["relu", "tanh"], "sigmoid", 2)
    assert not gc.check_gradients(plain, X2, y2).dropout_disabled


def test_penalties_are_part_of_J():
    # The same network with and without penalties: the checked gradient changes (so J contains
    # them) and both agree with backprop.
    net, X, y = small_network(["tanh", "tanh"], "sigmoid", 2)
    without = gc.check_gradients(net, X, y)
    with_penalties = gc.check_gradients(net, X, y, l2=2.0, l1=1.0)
    assert without.difference < 1e-7 and with_penalties.difference < 1e-7
    assert with_penalties.cost > without.cost
    assert with_penalties.per_parameter["W1"].worst_grad != without.per_parameter["W1"].worst_grad


def test_sample_checks_exactly_n_components_spread_over_arrays_and_seeded():
    sizes = {"W1": 1000, "b1": 10, "W2": 500, "b2": 1}
    picks = gc.sample_components(sizes, 100, np.random.default_rng(3))
    assert sum(p.size for p in picks.values()) == 100
    assert picks["b1"].size == 10 and picks["b2"].size == 1      # small arrays whole
    for name, pick in picks.items():
        assert len(set(pick.tolist())) == pick.size and pick.max() < sizes[name]
    again = gc.sample_components(sizes, 100, np.random.default_rng(3))
    assert all(np.array_equal(picks[k], again[k]) for k in sizes)
    other = gc.sample_components(sizes, 100, np.random.default_rng(4))
    assert not np.array_equal(picks["W1"], other["W1"])


def test_max_params_bounds_the_check_and_says_how_many():
    net, X, y = small_network(["relu", "tanh", "sigmoid"], "softmax", 3, batch_norm=True)
    total = net.theta.size
    result = gc.check_gradients(net, X, y, max_params=25, rng=np.random.default_rng(7))
    assert result.checked == 25 and result.total == total and result.sampled
    assert sum(check.checked for check in result.per_parameter.values()) == 25
    assert all(check.checked >= 1 for check in result.per_parameter.values())
    assert result.difference < 1e-7
    same = gc.check_gradients(net, X, y, max_params=25, rng=np.random.default_rng(7))
    assert [c.worst_index for c in same.per_parameter.values()] == \
        [c.worst_index for c in result.per_parameter.values()]
    everything = gc.check_gradients(net, X, y, max_params=total + 5)
    assert everything.checked == total and not everything.sampled
    assert gc.check_gradients(net, X, y, max_params=0).checked == total


def test_builtin_budget_is_shared_between_the_two_networks():
    results = gc.check_cases(gc.builtin_cases(0), max_params=40, seed=1)
    assert sum(r.checked for r in results.values()) == 40
    assert all(r.checked == 20 for r in results.values())


def test_bad_inputs_raise_input_errors():
    net, X, y = small_network(["relu"], "sigmoid", 2)
    for epsilon in (0.0, -1e-7, float("nan"), float("inf")):
        with pytest.raises(InputError, match="epsilon"):
            gc.check_gradients(net, X, y, epsilon=epsilon)
    with pytest.raises(InputError, match="max_params"):
        gc.check_gradients(net, X, y, max_params=-1)
    with pytest.raises(InputError, match="does not fit"):
        gc.check_gradients(net, X[:, :3], y)
    bn, Xb, yb = small_network(["relu"], "sigmoid", 2, batch_norm=True)
    with pytest.raises(InputError, match="at least 2"):
        gc.check_gradients(bn, Xb[:1], yb[:1])


def test_within_rounding_arrays_are_not_blamed():
    # Linear activations feeding batch norm: beta of the linear layers has a true gradient of
    # exactly zero (the next layer's mean subtraction removes any shift), so their relative
    # difference is rounding noise near 1. The overall verdict and the array verdicts say great.
    net, X, y = small_network(["linear", "linear"], "softmax", 3, batch_norm=True)
    result = gc.check_gradients(net, X, y)
    assert result.verdict == "great"
    beta1 = result.per_parameter["beta1"]
    assert beta1.grad_norm < 1e-12 and beta1.within_rounding and beta1.verdict == "great"
    assert result.suspects() == []


# ---------------------------------------------------------------------- config case


def write_config(tmp_path: Path, **model) -> Path:
    raw = {
        "name": "gc", "seed": 2,
        "data": {"dataset": "blobs", "options": {"n_samples": 90}},
        "model": {"hidden": [6, 5], "activation": ["tanh", "relu"], "batch_norm": True,
                  "keep_prob": 0.8, **model},
        "regularization": {"l2": 0.4, "l1": 0.1},
        "training": {"dtype": "float32"},
    }
    path = tmp_path / "gc.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_config_case_builds_the_configs_network_on_a_fixed_batch(tmp_path):
    config = load_config(write_config(tmp_path))
    case = gc.config_case(config, batch=12, seed=5)
    assert case.X.shape == (12, case.network.sizes[0]) and case.X.dtype == np.float64
    assert case.network.dtype == np.float32          # as the config says; checked on a copy
    assert case.l2 == 0.4 and case.l1 == 0.1
    again = gc.config_case(config, batch=12, seed=5)
    np.testing.assert_array_equal(case.X, again.X)
    np.testing.assert_array_equal(case.network.theta, again.network.theta)
    result = case.check()
    assert result.verdict == "great" and result.dropout_disabled
    assert result.source_dtype == "float32"
    assert {"W1", "gamma1", "beta1", "W2", "gamma2", "beta2", "W3", "b3"} == \
        set(result.per_parameter)


# ---------------------------------------------------------------------- command line


def test_cli_builtin_reports_both_networks_and_exits_0():
    result = runner.invoke(app, ["gradcheck"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "sigmoid" in out and "softmax" in out
    for name in ("W1", "b1", "gamma1", "beta1", "W6", "b6"):
        assert name in out
    assert "great" in out


def test_cli_json_is_plain_json_with_spec_keys():
    result = runner.invoke(app, ["gradcheck", "--json", "--epsilon", "1e-6"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)                 # nothing else on stdout
    assert set(data) == JSON_KEYS
    assert data["verdict"] == "great" and data["difference"] < 1e-7
    assert data["epsilon"] == 1e-6
    assert data["checked"] == sum(c.network.theta.size for c in gc.builtin_cases(0))
    assert "sigmoid/W1" in data["parameters"] and "softmax/gamma1" in data["parameters"]
    assert all(isinstance(v, float) for v in data["parameters"].values())


def test_cli_config_json_keys_and_notes(tmp_path):
    path = write_config(tmp_path)
    result = runner.invoke(app, ["gradcheck", str(path), "--json", "--set", "model.hidden=[7,3]",
                                 "--max-params", "30", "--seed", "4"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == JSON_KEYS
    assert data["checked"] == 30
    assert list(data["parameters"]) == ["W1", "gamma1", "beta1", "W2", "gamma2", "beta2",
                                        "W3", "b3"]
    notes = result.stderr
    assert "dropout switched off" in notes and "float64" in notes and "30 of" in notes


def test_cli_human_output_says_dropout_is_off_and_how_many_were_checked(tmp_path):
    result = runner.invoke(app, ["gradcheck", str(write_config(tmp_path)), "--max-params", "40"])
    assert result.exit_code == 0, result.output
    assert "dropout switched off" in result.stdout
    assert "40 of" in result.stdout and "checked" in result.stdout


def test_cli_bad_backprop_exits_1_and_names_the_array(monkeypatch):
    original = Network.train_step

    def transposed_dW2(self, *args, **kwargs):
        cost = original(self, *args, **kwargs)
        if kwargs.get("backward", True):
            self.grads["W2"][...] = self.grads["W2"].T.copy()
        return cost

    monkeypatch.setattr(Network, "train_step", transposed_dW2)
    result = runner.invoke(app, ["gradcheck"])
    assert result.exit_code == 1
    assert "bad" in result.stdout and "first discrepancy from the output back is W2" in \
        result.stdout
    as_json = runner.invoke(app, ["gradcheck", "--json"])
    assert as_json.exit_code == 1
    data = json.loads(as_json.stdout)
    assert data["verdict"] == "bad"
    assert data["parameters"]["sigmoid/W2"] > 1e-3 and data["parameters"]["sigmoid/W1"] < 1e-3


def test_cli_strict_fails_an_inspect_verdict():
    # A large epsilon leaves a truncation error of order epsilon^2: inspect, not great.
    loose = runner.invoke(app, ["gradcheck", "--json", "--epsilon", "1e-3"])
    assert json.loads(loose.stdout)["verdict"] == "inspect"
    assert loose.exit_code == 0
    assert runner.invoke(app, ["gradcheck", "--json", "--epsilon", "1e-3", "--strict"]).exit_code == 1


@pytest.mark.parametrize("args", [["--set", "model.hidden=[3]"], ["--epsilon", "0"],
                                  ["--batch", "4"]])
def test_cli_bad_input_is_exit_2_with_a_one_line_message(args):
    result = runner.invoke(app, ["gradcheck", *args])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_registered_command_exit_codes():
    ok = runner.invoke(app, ["gradcheck", "--json"])
    assert ok.exit_code == 0 and set(json.loads(ok.stdout)) == JSON_KEYS
    assert runner.invoke(app, ["gradcheck", "--epsilon", "0"]).exit_code == 2
    assert runner.invoke(app, ["gradcheck", "--set", "seed=1"]).exit_code == 2
    assert runner.invoke(app, ["gradcheck", "missing.yaml"]).exit_code == 2


def test_real_dlcli_subprocess():
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "dlcli", "gradcheck", "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == JSON_KEYS
    bad = subprocess.run([sys.executable, "-m", "dlcli", "gradcheck", "--epsilon", "-1"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and "epsilon" in bad.stderr
