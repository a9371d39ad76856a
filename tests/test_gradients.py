"""Every layer's backward against two-sided finite differences, in float64."""
from __future__ import annotations

import numpy as np
import pytest

from dlcli.nn import Network, output_for


def numeric_gradient(net: Network, X1, t, *, l2=0.0, l1=0.0, rng_state=None, eps=1e-6):
    approx = np.zeros_like(net.theta)
    for i in range(net.theta.size):
        old = net.theta[i]
        costs = []
        for delta in (eps, -eps):
            net.theta[i] = old + delta
            rng = None
            if rng_state is not None:
                rng = np.random.default_rng()
                rng.bit_generator.state = rng_state
            costs.append(net.train_step(X1, t, l2=l2, l1=l1, rng=rng, backward=False,
                                        update_running=False))
        net.theta[i] = old
        approx[i] = (costs[0] - costs[1]) / (2 * eps)
    return approx


def relative_difference(a, b):
    return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))


def make(activations, output, n_classes, *, batch_norm=False, keep=None, seed=0):
    rng = np.random.default_rng(seed)
    out = output_for(output, n_classes)
    sizes = [4] + [6, 5, 3][:len(activations)] + [out.units(n_classes)]
    net = Network(sizes, activations, out, dtype="float64", keep_probs=keep,
                  batch_norm=(0.9, 1e-5) if batch_norm else None)
    net.initialize("xavier", rng=rng)
    # Non-zero b, gamma, beta: no ReLU kink at exactly 0.
    offsets = {"b": (0.0, 0.3), "gamma": (1.0, 0.5), "beta": (0.0, 0.5)}
    for entry in net.layout.entries:
        if entry.kind in offsets:
            centre, scale = offsets[entry.kind]
            net.params[entry.name][...] = centre + scale * rng.standard_normal(entry.shape)
    X = rng.standard_normal((9, 4))
    y = rng.integers(0, n_classes, 9)
    return net, net.with_ones(X), net.output.targets(y, net.dtype)


def analytic(net, X1, t, **kw):
    net.train_step(X1, t, update_running=False, **kw)
    return net.grad.copy()


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("output,n_classes", [("sigmoid", 2), ("softmax", 4)])
def test_activation_and_output_backward(activation, output, n_classes):
    net, X1, t = make([activation, activation], output, n_classes)
    grad = analytic(net, X1, t)
    assert relative_difference(grad, numeric_gradient(net, X1, t)) < 1e-7


@pytest.mark.parametrize("output,n_classes", [("sigmoid", 2), ("softmax", 3)])
def test_batch_norm_backward(output, n_classes):
    net, X1, t = make(["tanh", "relu", "sigmoid"], output, n_classes, batch_norm=True)
    grad = analytic(net, X1, t)
    diff = relative_difference(grad, numeric_gradient(net, X1, t))
    assert diff < 1e-7
    # gamma and beta really are checked: their gradients are not all zero
    assert np.abs(net.layers[0].dgamma).sum() > 0 and np.abs(net.layers[0].dbeta).sum() > 0


@pytest.mark.parametrize("l2,l1", [(0.7, 0.0), (0.0, 0.9), (0.4, 0.3)])
def test_penalty_gradients(l2, l1):
    net, X1, t = make(["tanh", "relu"], "softmax", 3, batch_norm=True)
    grad = analytic(net, X1, t, l2=l2, l1=l1)
    assert relative_difference(grad, numeric_gradient(net, X1, t, l2=l2, l1=l1)) < 1e-7


def test_dropout_backward_with_a_fixed_mask():
    net, X1, t = make(["relu", "tanh"], "sigmoid", 2, keep=[0.6, 0.8])
    state = np.random.default_rng(5).bit_generator.state
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    net.train_step(X1, t, rng=rng, update_running=False)
    grad = net.grad.copy()
    assert relative_difference(grad, numeric_gradient(net, X1, t, rng_state=state)) < 1e-7


def test_penalty_gradients_follow_the_formula_on_weights_only():
    net, X1, t = make(["relu", "tanh"], "softmax", 3, batch_norm=True)
    m, l2, l1 = X1.shape[0], 3.0, 2.0
    net.train_step(X1, t, update_running=False)
    plain = {key: value.copy() for key, value in net.grads.items()}
    net.train_step(X1, t, l2=l2, l1=l1, update_running=False)
    params = net.params
    for key, value in net.grads.items():
        added = value - plain[key]
        if key.startswith("W"):
            W = params[key]
            np.testing.assert_allclose(added, l2 / m * W + l1 / (2 * m) * np.sign(W),
                                       rtol=1e-10, atol=1e-12)
        else:   # b, gamma, beta are never regularised
            assert np.all(added == 0), key
    assert {"W1", "gamma1", "beta1", "W3", "b3"} <= set(net.grads)


def test_cost_is_cross_entropy_computed_by_hand():
    rng = np.random.default_rng(1)
    net = Network([3, 4, 1], ["tanh"], output_for("sigmoid", 2), dtype="float64")
    net.initialize("he", rng=rng)
    X = rng.standard_normal((5, 3))
    y = np.array([0, 1, 1, 0, 1])
    cost = net.train_step(net.with_ones(X), net.output.targets(y, net.dtype), l2=0.5)
    W1, b1, W2, b2 = (net.get_params()[k] for k in ("W1", "b1", "W2", "b2"))
    a = 1 / (1 + np.exp(-(W2 @ np.tanh(W1 @ X.T + b1) + b2)))
    j0 = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
    penalty = 0.5 / (2 * 5) * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
    assert cost == pytest.approx(j0 + penalty, rel=1e-12)


def test_stable_cost_for_huge_logits():
    # sigmoid: logits of +-2e4 would overflow exp() and give log(0) in the textbook formula
    net = Network([2, 1], [], output_for("sigmoid", 2), dtype="float32")
    net.params["W1"][...] = 1e4
    X1 = net.with_ones(np.array([[1.0, 1.0], [-1.0, -1.0]], dtype=np.float32))
    cost = net.train_step(X1, net.output.targets(np.array([0, 1]), net.dtype))
    assert np.isfinite(cost) and cost == pytest.approx(2e4, rel=1e-3)
    assert np.all(np.isfinite(net.grad))
    # softmax: the same with three classes (log-sum-exp)
    net = Network([2, 3], [], output_for("softmax", 3), dtype="float32")
    net.params["W1"][...] = [[1e4, 1e4], [0, 0], [-1e4, -1e4]]
    cost = net.train_step(X1, net.output.targets(np.array([2, 0]), net.dtype))
    # each example: -log softmax(z)_y = max(z) - z_y = 2e4 - (-2e4)
    assert np.isfinite(cost) and cost == pytest.approx(4e4, rel=1e-3)
    assert np.all(np.isfinite(net.grad))
