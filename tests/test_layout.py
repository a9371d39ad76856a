"""The parameter layout: names, shapes and places of every array in theta (SPEC section 1).

``params``/``grads`` must be views (writes go through to theta and grad), the layout must cover
theta exactly once, and everything keyed by name (get/set params, optimiser state, checkpoints)
must agree with it.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from dlcli.config import load_config
from dlcli.experiment import prepare
from dlcli.nn import Network, output_for
from dlcli.nn.layout import Layout
from dlcli.optim import make_optimizer
from dlcli.runs.checkpoint import load_checkpoint, save_checkpoint
from helpers import SMALL


def network(batch_norm: bool, dtype: str = "float64") -> Network:
    net = Network([4, 6, 5, 3], ["relu", "tanh"], output_for("softmax", 3), dtype=dtype,
                  batch_norm=(0.9, 1e-5) if batch_norm else None)
    net.initialize("he", rng=np.random.default_rng(0))
    return net


def test_layout_names_shapes_layers_and_weights_in_file_order():
    plain = network(batch_norm=False).layout
    assert [(e.name, e.kind, e.layer, e.shape, e.weight) for e in plain.entries] == [
        ("W1", "W", 1, (6, 4), True), ("b1", "b", 1, (6, 1), False),
        ("W2", "W", 2, (5, 6), True), ("b2", "b", 2, (5, 1), False),
        ("W3", "W", 3, (3, 5), True), ("b3", "b", 3, (3, 1), False)]
    assert plain.size == 6 * 5 + 5 * 7 + 3 * 6
    bn = network(batch_norm=True).layout
    assert [(e.name, e.layer, e.shape, e.weight) for e in bn.entries] == [
        ("W1", 1, (6, 4), True), ("gamma1", 1, (6, 1), False), ("beta1", 1, (6, 1), False),
        ("W2", 2, (5, 6), True), ("gamma2", 2, (5, 1), False), ("beta2", 2, (5, 1), False),
        ("W3", 3, (3, 5), True), ("b3", 3, (3, 1), False)]   # the output layer keeps its b
    assert bn.size == 24 + 12 + 30 + 10 + 18
    assert [e.name for e in bn.layer(2)] == ["W2", "gamma2", "beta2"]


@pytest.mark.parametrize("batch_norm", [False, True])
def test_layout_covers_theta_exactly_once_with_no_gaps(batch_norm):
    net = network(batch_norm)
    positions = np.concatenate([entry.indices().ravel() for entry in net.layout.entries])
    assert np.array_equal(np.sort(positions), np.arange(net.theta.size))
    assert sum(entry.size for entry in net.layout.entries) == net.layout.size == net.theta.size
    # Each array's indices pick its own values out of theta.
    net.theta[...] = np.arange(net.theta.size)
    for entry in net.layout.entries:
        np.testing.assert_array_equal(net.theta[entry.indices()], net.params[entry.name])


def test_a_layout_that_leaves_a_gap_or_overlaps_is_refused():
    entries = Layout.for_network([2, 3, 1], batch_norm=False).entries
    with pytest.raises(AssertionError, match="tile"):
        Layout(entries, entries[-1].span.stop + 1)              # one position nobody owns
    with pytest.raises(AssertionError, match="tile"):
        Layout([entries[0], entries[0].__class__("W1b", "W", 1, (3, 2), entries[0].span,
                                                 entries[0].columns), *entries[1:]],
               entries[-1].span.stop)                           # two arrays on one place


@pytest.mark.parametrize("batch_norm", [False, True])
def test_params_and_grads_are_views_into_theta_and_grad(batch_norm):
    net = network(batch_norm)
    assert list(net.params) == list(net.grads) == list(net.layout)
    for name in net.layout:
        entry = net.layout[name]
        assert net.params[name].shape == net.grads[name].shape == entry.shape
        assert np.shares_memory(net.params[name], net.theta)
        assert np.shares_memory(net.grads[name], net.grad)
    # A write through a view lands in theta at exactly that array's positions, and back.
    before = net.theta.copy()
    last = "b3"
    net.params[last][...] = 7.0
    changed = np.flatnonzero(net.theta != before)
    np.testing.assert_array_equal(changed, np.sort(net.layout[last].indices().ravel()))
    net.theta[net.layout["W1"].indices()[0, 1]] = -5.0
    assert net.params["W1"][0, 1] == -5.0
    # The gradients of a step appear in the views.
    X = np.random.default_rng(1).standard_normal((8, 4))
    net.train_step(net.with_ones(X), net.output.targets(np.arange(8) % 3, net.dtype))
    for entry in net.layout.entries:
        np.testing.assert_array_equal(net.grads[entry.name], net.grad[entry.indices()])
    assert np.abs(net.grads["W1"]).sum() > 0 and np.abs(net.grads["b3"]).sum() > 0


def test_views_cannot_be_rebound():
    net = network(False)
    with pytest.raises(TypeError):
        net.params["W1"] = np.zeros((6, 4))   # would cut the alias: write into it instead


@pytest.mark.parametrize("batch_norm", [False, True])
def test_weight_mask_get_params_and_grad_norms_follow_the_layout(batch_norm):
    net = network(batch_norm)
    mask = net.layout.views(net.weight_mask)
    for entry in net.layout.entries:
        assert np.all(mask[entry.name] == (1.0 if entry.name.startswith("W") else 0.0))
    saved = net.get_params()
    for name in net.layout:
        np.testing.assert_array_equal(saved[name], net.params[name])
        assert saved[name].flags.c_contiguous and not np.shares_memory(saved[name], net.theta)
    assert set(saved) - set(net.layout) == ({f"running_{s}{i}" for s in ("mean", "var")
                                             for i in (1, 2)} if batch_norm else set())
    net.grad[...] = np.random.default_rng(2).standard_normal(net.grad.size)
    assert net.grad_norms() == {f"W{i}": float(np.linalg.norm(net.grads[f"W{i}"]))
                                for i in (1, 2, 3)}


def test_optimizer_state_uses_the_same_names():
    net = network(True)
    opt = make_optimizer("adam", net.layout, net.dtype)
    assert set(opt.state_views) == {"v", "s"}
    for slot, views in opt.state_views.items():
        assert list(views) == list(net.params)
        assert all(np.shares_memory(views[name], opt.state[slot]) for name in views)
    net.grad[...] = 1.0
    opt.step(net.theta, net.grad, 0.1)
    state = opt.state_dict()
    assert state["t"] == 1 and set(state["v"]) == set(net.params)
    np.testing.assert_allclose(state["v"]["gamma2"], np.full((5, 1), 0.1))
    again = make_optimizer("adam", net.layout, net.dtype)
    again.load_state_dict(state)
    np.testing.assert_array_equal(again.state["s"], opt.state["s"])
    state["v"] = {**state["v"], "W1": np.zeros((4, 6))}
    with pytest.raises(ValueError, match=r"W1 has shape \(4, 6\)"):
        again.load_state_dict(state)


def test_checkpoint_stores_params_and_optimizer_state_by_name(tmp_path):
    config = load_config(raw=dict(SMALL, model={"hidden": [6, 3], "batch_norm": True},
                                  training={"epochs": 3, "batch_size": 32}))
    trainer = prepare(config).trainer
    trainer.fit()
    save_checkpoint(tmp_path / "checkpoint.npz", trainer.state_dict())
    with np.load(tmp_path / "checkpoint.npz") as npz:
        keys = set(npz.files)
    names = list(trainer.network.layout)
    assert {f"params.{n}" for n in names} | {"params.running_mean1", "params.running_var2"} \
        <= keys
    assert {f"optimizer.{slot}.{n}" for slot in ("v", "s") for n in names} <= keys
    assert not any(key in keys for key in ("theta", "optimizer.v", "network_state"))
    np.testing.assert_array_equal(np.load(tmp_path / "checkpoint.npz")["params.W1"],
                                  trainer.network.params["W1"])

    # A format-1 checkpoint (flat theta and optimiser vectors) still loads, to the same state.
    net, opt = trainer.network, trainer.optimizer
    legacy = dict(load_checkpoint(tmp_path / "checkpoint.npz"))
    legacy.pop("params")
    legacy.update(theta=net.theta.copy(), network_state=net.state_arrays(),
                  optimizer={"t": opt.t, "v": opt.state["v"].copy(), "s": opt.state["s"].copy()})
    for state in (load_checkpoint(tmp_path / "checkpoint.npz"), legacy):
        fresh = prepare(config).trainer
        fresh.load_state_dict(state)
        np.testing.assert_array_equal(fresh.network.theta, net.theta)
        np.testing.assert_array_equal(fresh.network.get_params()["running_var1"],
                                      net.get_params()["running_var1"])
        for slot in ("v", "s"):
            np.testing.assert_array_equal(fresh.optimizer.state[slot], opt.state[slot])
        assert fresh.optimizer.t == opt.t


def test_a_checkpoint_of_another_architecture_is_refused_by_name(tmp_path):
    small = load_config(raw=SMALL)
    state = prepare(small).trainer.state_dict()
    wider = prepare(load_config(raw=dict(SMALL, model={"hidden": [7, 3]}))).trainer
    with pytest.raises(ValueError, match=r"W1 has shape \(6, 2\), the architecture needs "
                                         r"\(7, 2\)"):
        wider.load_state_dict(state)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_grad_norms_do_not_overflow_where_the_squares_would(dtype):
    net = network(False, dtype=dtype)
    huge = 1e25 if dtype == "float32" else 1e200   # squares past the dtype's largest value
    net.grad[...] = huge * np.random.default_rng(4).uniform(0.5, 1.0, net.grad.size)
    assert np.isfinite(net.grad).all()
    norms = net.grad_norms()
    for name, value in norms.items():
        exact = np.asarray(net.grads[name], dtype=np.float64) / huge   # the oracle, rescaled
        assert math.isfinite(value)
        assert value == pytest.approx(huge * math.sqrt(float(np.sum(exact * exact))),
                                      rel=1e-6 if dtype == "float32" else 1e-13)
    # Below the overflow, the norm is numpy's own, bit for bit (history.csv is unchanged).
    net.grad[...] = np.random.default_rng(5).standard_normal(net.grad.size) * 1e15
    assert net.grad_norms() == {name: float(np.linalg.norm(net.grads[name])) for name in norms}
    # A gradient that holds inf or nan keeps its non-finite norm: the step did diverge.
    net.grad[0] = np.inf
    assert net.grad_norms()["W1"] == np.inf
