"""Optimiser steps against SPEC section 6 worked by hand; dtype kept; chunking invisible."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dlcli.optim import OPTIMIZERS, make_optimizer
from dlcli.optim import optimizers as optimizers_module

GRADS = [np.array([0.5, -2.0, 0.0]), np.array([0.1, -1.0, 3.0]), np.array([-0.4, 0.2, 1.0])]
THETA0 = np.array([1.0, 2.0, -3.0])
LR = 0.1


def run(name, **hyper):
    opt = make_optimizer(name, 3, "float64", **hyper)
    theta = THETA0.copy()
    history = []
    for g in GRADS:
        opt.step(theta, g.copy(), LR)
        history.append(theta.copy())
    return history, opt


def test_gradient_descent():
    history, _ = run("gd")
    expected = THETA0.copy()
    for g, got in zip(GRADS, history):
        expected = expected - LR * g
        np.testing.assert_allclose(got, expected, rtol=1e-13)


def test_gradient_descent_two_steps_worked_by_hand():
    # SPEC 6: W -= lr * dW, with lr 0.1 and dW [0.5, -2, 0] then [0.1, -1, 3].
    history, opt = run("gd")
    np.testing.assert_allclose(history[0], [0.95, 2.2, -3.0], rtol=1e-15)
    np.testing.assert_allclose(history[1], [0.94, 2.3, -3.3], rtol=1e-15)
    assert opt.state == {} and opt.t == 3


def test_rmsprop_two_steps_worked_by_hand():
    # SPEC 6: s = beta2 s + (1 - beta2) dW^2; W -= lr dW / (sqrt(s) + eps), beta2 0.9.
    history, _ = run("rmsprop", beta2=0.9, epsilon=1e-8)
    # Step 1: s = 0.1 dW^2 = [0.025, 0.4, 0]. dW / sqrt(s) = sign(dW) / sqrt(0.1): every
    # component with a gradient moves by about lr / sqrt(0.1) = 0.3162; a zero gradient stays
    # put (0 / (0 + eps)).
    first = [1.0 - 0.1 * 0.5 / (math.sqrt(0.025) + 1e-8),
             2.0 + 0.1 * 2.0 / (math.sqrt(0.4) + 1e-8), -3.0]
    np.testing.assert_allclose(history[0], first, rtol=1e-12)
    np.testing.assert_allclose(history[0], [0.6838, 2.3162, -3.0], atol=1e-4)
    # Step 2: s = 0.9 [0.025, 0.4, 0] + 0.1 [0.01, 1, 9] = [0.0235, 0.46, 0.9].
    np.testing.assert_allclose(history[1], [
        first[0] - 0.1 * 0.1 / (math.sqrt(0.0235) + 1e-8),
        first[1] + 0.1 * 1.0 / (math.sqrt(0.46) + 1e-8),
        -3.0 - 0.1 * 3.0 / (math.sqrt(0.9) + 1e-8)], rtol=1e-12)
    np.testing.assert_allclose(history[1], [0.6185, 2.4637, -3.3162], atol=1e-4)


def test_momentum_by_hand():
    history, opt = run("momentum", beta=0.8)
    theta, v = THETA0.copy(), np.zeros(3)
    for g, got in zip(GRADS, history):
        v = 0.8 * v + 0.2 * g
        theta = theta - LR * v
        np.testing.assert_allclose(got, theta, rtol=1e-13)
    np.testing.assert_allclose(opt.state["v"], v)
    # first step, worked out: v = 0.2 * [0.5, -2, 0] = [0.1, -0.4, 0]
    np.testing.assert_allclose(history[0], [1.0 - 0.01, 2.0 + 0.04, -3.0])


def test_rmsprop_by_hand():
    history, opt = run("rmsprop", beta2=0.9, epsilon=1e-8)
    theta, s = THETA0.copy(), np.zeros(3)
    for g, got in zip(GRADS, history):
        s = 0.9 * s + 0.1 * g ** 2
        theta = theta - LR * g / (np.sqrt(s) + 1e-8)
        np.testing.assert_allclose(got, theta, rtol=1e-12)
    np.testing.assert_allclose(opt.state["s"], s)


def test_adam_by_hand_with_uncorrected_state():
    history, opt = run("adam", beta1=0.9, beta2=0.999, epsilon=1e-8)
    theta, v, s = THETA0.copy(), np.zeros(3), np.zeros(3)
    for t, (g, got) in enumerate(zip(GRADS, history), start=1):
        v = 0.9 * v + 0.1 * g
        s = 0.999 * s + 0.001 * g ** 2
        v_hat, s_hat = v / (1 - 0.9 ** t), s / (1 - 0.999 ** t)
        theta = theta - LR * v_hat / (np.sqrt(s_hat) + 1e-8)
        np.testing.assert_allclose(got, theta, rtol=1e-12)
    # the stored averages are the uncorrected ones
    np.testing.assert_allclose(opt.state["v"], v, rtol=1e-13)
    np.testing.assert_allclose(opt.state["s"], s, rtol=1e-13)
    assert opt.t == 3
    # first Adam step moves every component with a non-zero gradient by about lr
    first = THETA0 - history[0]
    np.testing.assert_allclose(first[:2], LR * np.sign(GRADS[0][:2]), rtol=1e-6)
    assert first[2] == 0


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_new_optimizer_has_no_updates_and_zero_state(name):
    opt = make_optimizer(name, 4, "float64")
    assert opt.t == 0
    assert all(np.all(state == 0) for state in opt.state.values())
    assert len(opt._coef) == len(opt.coefficients)
    opt.step(np.zeros(4), np.ones(4), 0.1)
    assert opt.t == 1


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_float32_stays_float32(name):
    opt = make_optimizer(name, 5, "float32")
    theta = np.ones(5, dtype=np.float32)
    grad = np.full(5, 0.3, dtype=np.float32)
    opt.step(theta, grad, 0.01)
    assert theta.dtype == np.float32
    assert all(state.dtype == np.float32 for state in opt.state.values())
    assert np.all(theta < 1)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_chunked_update_equals_whole_vector_update(name, monkeypatch):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(1000) for _ in range(3)]
    results = []
    for chunk in (1 << 15, 64):
        monkeypatch.setattr(optimizers_module, "CHUNK", chunk)
        opt = make_optimizer(name, 1000, "float64")
        theta = np.linspace(-1, 1, 1000)
        for g in grads:
            opt.step(theta, g, 0.05)
        results.append(theta)
    np.testing.assert_array_equal(results[0], results[1])


def test_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(4) for _ in range(4)]
    a = make_optimizer("adam", 4, "float64")
    theta_a = np.zeros(4)
    for g in grads[:2]:
        a.step(theta_a, g, 0.1)
    b = make_optimizer("adam", 4, "float64")
    b.load_state_dict(a.state_dict())
    theta_b = theta_a.copy()
    for g in grads[2:]:
        a.step(theta_a, g, 0.1)
        b.step(theta_b, g, 0.1)
    np.testing.assert_array_equal(theta_a, theta_b)
    assert math.isclose(b.t, 4)


def _layout_and_grads(dtype: str, steps: int = 4):
    from dlcli.nn import Network, output_for

    net = Network([5, 7, 3], ["relu"], output_for("softmax", 3), dtype=dtype)
    rng = np.random.default_rng(3)
    return net.layout, [rng.standard_normal(net.layout.size).astype(dtype) for _ in range(steps)]


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", list(OPTIMIZERS.names()))
def test_a_copy_continues_bit_for_bit_and_independently(name, threads, how, monkeypatch):
    import copy
    import pickle

    monkeypatch.setattr(optimizers_module, "CHUNK", 16)   # several chunks: the threads' path
    layout, grads = _layout_and_grads("float32")
    original = make_optimizer(name, layout, "float32")
    original = type(original)(layout, "float32", threads=threads, **original.hyper)
    theta = np.linspace(-1, 1, layout.size, dtype=np.float32)
    for g in grads[:2]:
        original.step(theta, g, LR)
    copied = copy.deepcopy(original) if how == "deepcopy" else pickle.loads(
        pickle.dumps(original))
    assert copied.t == original.t == 2 and copied.threads == original.threads
    frozen = {slot: vector.copy() for slot, vector in original.state.items()}
    theta_copy = theta.copy()
    # Stepping the copy first leaves the original's state as it was ...
    for g in grads[2:]:
        copied.step(theta_copy, g, LR)
    for slot, vector in original.state.items():
        np.testing.assert_array_equal(vector, frozen[slot])
        assert not np.shares_memory(vector, copied.state[slot])
    # ... and the original, given the same gradients, ends on the same bits.
    for g in grads[2:]:
        original.step(theta, g, LR)
    assert theta.dtype == theta_copy.dtype == np.float32
    np.testing.assert_array_equal(theta, theta_copy)
    for slot in original.slots:
        np.testing.assert_array_equal(original.state[slot], copied.state[slot])
        # The copy's named views read its own state vector.
        for key, view in copied.state_views[slot].items():
            assert np.shares_memory(view, copied.state[slot])
            np.testing.assert_array_equal(view, original.state_views[slot][key])
    assert copied.state_dict()["t"] == original.t == 4


def test_a_copy_made_after_the_thread_pool_started_still_copies(monkeypatch):
    import copy

    monkeypatch.setattr(optimizers_module, "CHUNK", 16)
    layout, grads = _layout_and_grads("float64")
    original = make_optimizer("adam", layout, "float64")
    original = type(original)(layout, "float64", threads=2, **original.hyper)
    theta = np.zeros(layout.size)
    original.step(theta, grads[0], LR)
    assert original._pool is not None          # a thread pool cannot be copied itself
    copied = copy.deepcopy(original)
    theta_copy = theta.copy()
    copied.step(theta_copy, grads[1], LR)
    original.step(theta, grads[1], LR)
    np.testing.assert_array_equal(theta, theta_copy)
