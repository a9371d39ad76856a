"""Batch norm running averages, inference mode, dropout scaling, initialisers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dlcli.nn import INITIALIZERS, Network, output_for
from dlcli.nn.initializers import init_weights


def bn_net(momentum=0.8):
    net = Network([3, 4, 1], ["relu"], output_for("sigmoid", 2), dtype="float64",
                  batch_norm=(momentum, 1e-5))
    net.initialize("he", rng=np.random.default_rng(0))
    return net


def test_batch_norm_running_averages_follow_the_formula():
    net = bn_net(momentum=0.8)
    layer = net.layers[0]
    rng = np.random.default_rng(1)
    W = layer.W.copy()
    mean, var = np.zeros((4, 1)), np.ones((4, 1))
    for _ in range(3):
        X = rng.standard_normal((16, 3)) * 3 + 1
        net.train_step(net.with_ones(X), np.zeros(16), backward=False)
        Z = W @ X.T
        mean = 0.8 * mean + 0.2 * Z.mean(axis=1, keepdims=True)
        var = 0.8 * var + 0.2 * Z.var(axis=1, keepdims=True)   # biased variance
    np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, var, rtol=1e-12)


def test_batch_norm_training_output_is_normalised_per_unit():
    net = bn_net()
    X = np.random.default_rng(2).standard_normal((50, 3)) * 10 + 5
    net.train_step(net.with_ones(X), np.zeros(50), backward=False)
    Zt = net._buffers[50][0].Zt   # gamma = 1, beta = 0: Z~ = Z_norm
    np.testing.assert_allclose(Zt.mean(axis=1), 0, atol=1e-10)
    np.testing.assert_allclose(Zt.var(axis=1), 1, rtol=1e-5)


def test_inference_uses_running_statistics_not_the_batch():
    net = bn_net()
    layer = net.layers[0]
    layer.running_mean[...] = 100.0   # absurd statistics: inference must show them
    X = np.random.default_rng(3).standard_normal((4, 3))
    Z = layer.W @ X.T
    expected_hidden = np.maximum(0, (Z - 100.0) / np.sqrt(1 + 1e-5))
    out = net.layers[1]
    expected = out.W @ expected_hidden + out.b
    np.testing.assert_allclose(net.logits(X), expected, rtol=1e-10)


def test_inverted_dropout_keeps_the_expected_activation():
    net = Network([20, 500, 1], ["relu"], output_for("sigmoid", 2), dtype="float64",
                  keep_probs=[0.7])
    net.initialize("he", rng=np.random.default_rng(0))
    X = np.random.default_rng(1).standard_normal((400, 20))
    X1 = net.with_ones(X)
    net.train_step(X1, np.zeros(400), rng=np.random.default_rng(2), backward=False)
    buf = net._buffers[400][0]
    A_drop, G = buf.A[:500], buf.G
    kept = buf.D != 0
    assert kept.mean() == pytest.approx(0.7, abs=0.01)
    np.testing.assert_allclose(A_drop[kept], G[kept] / 0.7)
    # E[A_drop] = E[G]: the sum over units and examples matches to sampling error
    assert A_drop.sum() / G.sum() == pytest.approx(1.0, abs=0.03)


def test_dropout_is_off_at_inference():
    net = Network([5, 8, 1], ["relu"], output_for("sigmoid", 2), dtype="float64",
                  keep_probs=[0.5])
    net.initialize("he", rng=np.random.default_rng(0))
    W1, b1, W2, b2 = (net.params[k] for k in ("W1", "b1", "W2", "b2"))
    b1[...] = 0.1
    b2[...] = -0.2
    X = np.random.default_rng(1).standard_normal((6, 5))
    y = np.array([0, 1, 1, 0, 1, 0])

    def cross_entropy(Z):
        a = 1 / (1 + np.exp(-Z[0]))
        return -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))

    # Inference: the forward pass by hand with no mask and no 1/keep_prob scaling.
    hidden = np.maximum(0, W1 @ X.T + b1)
    expected = W2 @ hidden + b2
    np.testing.assert_allclose(net.logits(X), expected, rtol=1e-12)
    assert net.evaluate(X, y)[0] == pytest.approx(cross_entropy(expected), rel=1e-12)

    # Training: the same network does drop units, so its cost is that of the masked pass.
    cost = net.train_step(net.with_ones(X), net.output.targets(y, net.dtype),
                          rng=np.random.default_rng(2), backward=False)
    D = net._buffers[6][0].D
    assert 0 < np.count_nonzero(D) < D.size and set(np.unique(D)) == {0.0, 2.0}
    assert cost == pytest.approx(cross_entropy(W2 @ (hidden * D) + b2), rel=1e-12)
    assert abs(cost - cross_entropy(expected)) > 1e-3


@pytest.mark.parametrize("name,scale", [
    ("zeros", 0.0), ("random", 0.01), ("lecun", math.sqrt(1 / 400)), ("tanh", math.sqrt(1 / 400)),
    ("he", math.sqrt(2 / 400)), ("xavier", math.sqrt(2 / (400 + 300)))])
def test_initialisers_are_normal_with_the_spec_scale(name, scale):
    W = init_weights(name, 300, 400, rng=np.random.default_rng(0), dtype=np.float64)
    assert W.shape == (300, 400)
    if scale == 0:
        assert np.all(W == 0)
        return
    assert W.std() == pytest.approx(scale, rel=0.02)
    assert abs(W.mean()) < scale * 0.02
    assert W.min() < 0 < W.max()   # standard normal, not rand's [0, 1)


def test_initialiser_registry_accepts_alias():
    assert INITIALIZERS.canonical("tanh") == "lecun"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_step_keeps_every_dtype(dtype):
    net = Network([4, 6, 3], ["relu"], output_for("softmax", 3), dtype=dtype, keep_probs=[0.8],
                  batch_norm=(0.9, 1e-5))
    net.initialize("he", rng=np.random.default_rng(0))
    X = np.random.default_rng(1).standard_normal((8, 4)).astype(dtype)
    net.train_step(net.with_ones(X), net.output.targets(np.arange(8) % 3, net.dtype),
                   l2=0.1, l1=0.1, rng=np.random.default_rng(2))
    assert net.theta.dtype == net.grad.dtype == np.dtype(dtype)
    assert all(v.dtype == np.dtype(dtype) for v in net.get_params().values())
    buf = net._buffers[8]
    assert all(b.Z.dtype == np.dtype(dtype) and b.A.dtype == np.dtype(dtype) for b in buf)


def test_params_use_course_shapes_and_round_trip():
    net = Network([4, 6, 5, 3], ["relu", "tanh"], output_for("softmax", 3),
                  batch_norm=(0.9, 1e-5))
    net.initialize("he", rng=np.random.default_rng(0))
    params = net.get_params()
    assert {k: v.shape for k, v in params.items()} == {
        "W1": (6, 4), "gamma1": (6, 1), "beta1": (6, 1), "running_mean1": (6, 1),
        "running_var1": (6, 1), "W2": (5, 6), "gamma2": (5, 1), "beta2": (5, 1),
        "running_mean2": (5, 1), "running_var2": (5, 1), "W3": (3, 5), "b3": (3, 1)}
    other = Network([4, 6, 5, 3], ["relu", "tanh"], output_for("softmax", 3),
                    batch_norm=(0.9, 1e-5))
    other.set_params(params)
    np.testing.assert_array_equal(other.theta, net.theta)
    params["W2"] = np.zeros((6, 5))
    with pytest.raises(ValueError, match=r"W2 has shape \(6, 5\).*\(5, 6\)"):
        other.set_params(params)


@pytest.mark.parametrize("batch_norm", [None, (0.8, 1e-5)])
def test_a_pickled_network_predicts_the_same_and_its_views_share_theta(batch_norm):
    import pickle

    net = Network([2, 5, 4, 3], ["tanh", "relu"], output_for("softmax", 3), dtype="float32",
                  keep_probs=[1.0, 0.7], batch_norm=batch_norm)
    net.initialize("he", rng=np.random.default_rng(3))
    X = np.random.default_rng(4).standard_normal((40, 2)).astype(np.float32)
    net.train_step(net.with_ones(X), np.arange(40) % 3, rng=np.random.default_rng(5))
    copy = pickle.loads(pickle.dumps(net))
    assert copy._buffers == {}   # work buffers are not carried
    np.testing.assert_array_equal(copy.theta, net.theta)
    for key, value in net.get_params().items():
        assert copy.get_params()[key].dtype == value.dtype
        np.testing.assert_array_equal(copy.get_params()[key], value)   # running averages too
    np.testing.assert_array_equal(copy.logits(X), net.logits(X))
    assert [layer.keep_prob for layer in copy.layers] == [1.0, 0.7, 1.0]
    copy.theta += 1.0   # the named arrays are views into the new theta, as in the original
    np.testing.assert_array_equal(copy.params["W1"], net.params["W1"] + 1.0)
    np.testing.assert_array_equal(copy.layers[0].W, net.layers[0].W + 1.0)


def special_values(shape, seed=0):
    Z = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    flat = Z.reshape(-1)
    flat[::7], flat[::11], flat[::13] = -0.0, 0.0, np.nan
    flat[::17], flat[::19] = -np.inf, np.inf
    return Z


def test_relu_against_a_0d_zero_gives_the_bits_of_a_zeros_array():
    from dlcli.nn.activations import ACTIVATIONS, ZERO_ARRAY_MAX, work_arrays

    relu = ACTIVATIONS.get("relu")
    for shape in [(64, 8), (1024, ZERO_ARRAY_MAX // 1024 + 1)]:   # a zeros array; a 0-d zero
        work = work_arrays(shape, np.dtype(np.float32))
        assert work.zeros.shape == (shape if shape[0] < 1024 else ())
        Z, dA = special_values(shape), special_values(shape, seed=1)
        A = np.empty_like(Z)
        relu.forward(Z, A, work)
        assert A.tobytes() == np.maximum(Z, np.zeros(shape, np.float32)).tobytes()
        with np.errstate(invalid="ignore"):   # inf * 0 where Z <= 0
            expected = dA * (Z > np.zeros(shape, np.float32))
            relu.backward(dA, Z, A, work)
        assert dA.tobytes() == expected.tobytes()


def test_a_network_trains_the_same_bits_whichever_zeros_relu_compares_against(monkeypatch):
    from dlcli.nn import activations, network
    from dlcli.optim.optimizers import make_optimizer

    X = special_values((50, 20))
    X[~np.isfinite(X)] = 0.0
    y = np.arange(50) % 3
    results = []
    for limit in (0, 1 << 62):   # every layer against a 0-d zero; every layer against arrays
        monkeypatch.setattr(activations, "ZERO_ARRAY_MAX", limit)
        monkeypatch.setattr(network, "ZERO_ARRAY_MAX", limit)
        net = Network([20, 64, 32, 3], ["relu", "relu"], output_for("softmax", 3),
                      dtype="float32")
        net.initialize("he", rng=np.random.default_rng(2))
        adam = make_optimizer("adam", net.layout, "float32")
        for _ in range(3):
            net.train_step(net.with_ones(X), y)
            adam.step(net.theta, net.grad, 0.01)
        results.append((net.theta.tobytes(), net.logits(X).tobytes()))
    assert results[0] == results[1]
