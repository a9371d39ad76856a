"""Evaluation in inference mode (SPEC section 3): J0 and accuracy of a whole split, checked against
float64 formulas written out here, including ties at zero logits and splits cut into chunks."""
from __future__ import annotations

import math

import numpy as np
import pytest

import dlcli.nn.network as network_module
from dlcli.nn import Network, output_for


def make_net(n_classes, dtype, *, hidden=(6, 5), init="he", seed=0):
    output = output_for("auto", n_classes)
    sizes = [4, *hidden, output.units(n_classes)]
    net = Network(sizes, ["relu"] * len(hidden), output, dtype=dtype)
    net.initialize(init, rng=np.random.default_rng(seed))
    for entry in net.layout.entries:   # non-zero biases, so the ones row is exercised too
        if entry.kind == "b":
            net.params[entry.name][...] = np.random.default_rng(
                seed + entry.layer).standard_normal(entry.shape)
    return net


def reference(net, X, y):
    """(J0, accuracy) from the logits in float64, written the textbook way."""
    Z = net.logits(X).astype(np.float64)
    if Z.shape[0] == 1:
        z = Z[0]
        a = 1.0 / (1.0 + np.exp(-z))
        loss = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
        return loss, np.mean((z > 0) == y)
    E = np.exp(Z - Z.max(axis=0))
    P = E / E.sum(axis=0)
    loss = -np.mean(np.log(P[y, np.arange(len(y))]))
    return loss, np.mean(Z.argmax(axis=0) == y)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_loss_and_accuracy_match_the_formulas(n_classes, dtype):
    rng = np.random.default_rng(n_classes)
    X = rng.standard_normal((300, 4))
    y = rng.integers(0, n_classes, 300)
    net = make_net(n_classes, dtype)
    loss, accuracy = net.evaluate(X.astype(dtype), y)
    ref_loss, ref_accuracy = reference(net, X.astype(dtype), y)
    assert type(loss) is float and type(accuracy) is float
    assert loss == pytest.approx(ref_loss, rel=1e-5 if dtype == "float32" else 1e-12)
    assert accuracy == ref_accuracy


@pytest.mark.parametrize("n_classes", [2, 4])
def test_zero_logits_predict_class_zero(n_classes):
    """All logits 0 (zeros initialisation): every example is predicted as class 0, and each
    loss is log 2 (sigmoid) or log K (softmax)."""
    y = np.array([0, 1, 1, 0, 1, 1, 1, 0, 1, 1])[:10] % n_classes
    X = np.random.default_rng(0).standard_normal((10, 4))
    net = make_net(n_classes, "float32", init="zeros")
    for name in net.params:
        if name.startswith("b"):
            net.params[name][...] = 0.0
    loss, accuracy = net.evaluate(X.astype(np.float32), y)
    assert accuracy == np.mean(y == 0)
    assert loss == pytest.approx(math.log(max(n_classes, 2)), rel=1e-6)


def test_confident_logits_give_finite_exact_losses():
    """Logits of +-60 in float32: softplus without overflow, and no cancellation between large
    terms (the right answers cost e^-60 each, the wrong ones 60)."""
    net = Network([1, 1], [], output_for("sigmoid", 2), dtype="float32")
    net.params["W1"][...] = 60.0
    X = np.array([[1.0], [1.0], [-1.0], [-1.0]], dtype=np.float32)
    loss, accuracy = net.evaluate(X, np.array([1, 0, 0, 1]))
    assert accuracy == 0.5
    assert loss == pytest.approx((2 * math.exp(-60) + 2 * 60) / 4, rel=1e-6)
    loss_right, _ = net.evaluate(X[[0, 2]], np.array([1, 0]))
    assert loss_right == pytest.approx(math.exp(-60), rel=1e-4)


@pytest.mark.parametrize("n_classes", [2, 5])
def test_a_split_in_chunks_gives_the_same_numbers(monkeypatch, n_classes):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((1000, 4))
    y = rng.integers(0, n_classes, 1000)
    net = make_net(n_classes, "float64")
    whole = net.evaluate(X, y)
    monkeypatch.setattr(network_module, "EVAL_CHUNK", 300)
    monkeypatch.setattr(network_module, "EVAL_ELEMENTS", 1)
    assert net._eval_chunk(1000) == 256
    rows = net.eval_rows(X, y)
    assert [len(t) for _, t in rows.chunks] == [256, 256, 256, 232]
    assert net.evaluate_rows(rows) == pytest.approx(whole, rel=1e-12)


def test_evaluating_leaves_the_network_and_the_data_alone():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((50, 4))
    y = rng.integers(0, 3, 50)
    net = make_net(3, "float64")
    theta, X_before = net.theta.copy(), X.copy()
    first = net.evaluate(X, y)
    assert net.evaluate(X, y) == first
    np.testing.assert_array_equal(net.theta, theta)
    np.testing.assert_array_equal(X, X_before)
