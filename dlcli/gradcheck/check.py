"""Gradient checking (SPEC section 9): backprop against two-sided finite differences.

For each checked component i of the flat parameter vector theta (every W, b, gamma, beta)::

    gradapprox_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)

compared with backprop's gradient by ``result.relative_difference``, over all of theta and per
parameter array (the network's ``layout`` says which components are W1, b1, gamma1, ...).

The check always runs on a float64 copy of the network with dropout switched off (keep_prob 1.0:
a random mask would make J a different function at every evaluation), batch norm in training mode
on one fixed batch (running averages untouched), and J = J0 + the L1/L2 penalties, all through the
network's own ``train_step``: the forward pass under test is the oracle for its backward pass.

Networks too large to check every component check a seeded sample of ``max_params`` of them,
spread over the parameter arrays so that small arrays (b, gamma, beta) are not left out.
"""
from __future__ import annotations

import math

import numpy as np

from dlcli.errors import InputError
from dlcli.gradcheck.result import GradCheckResult, ParamCheck, relative_difference
from dlcli.nn.network import Network

DEFAULT_EPSILON = 1e-7
# Rounding units (of eps_machine * |J| / eps) per component that finite differences of a correct
# backprop reach; measured about 1 on the built-in networks, so 10 leaves room and still sits far
# below any real bug.
ROUNDING_UNITS = 10.0


def float64_copy(network: Network) -> Network:
    """A float64 copy of ``network`` with dropout off; the original is never touched."""
    bn = (network.bn_momentum, network.bn_epsilon) if network.uses_batch_norm else None
    hidden = network.layers[:-1]
    copy = Network(network.sizes, [layer.activation.name for layer in hidden], network.output,
                   dtype="float64", keep_probs=[1.0] * len(hidden), batch_norm=bn)
    copy.set_params({key: value.astype(np.float64)
                     for key, value in network.get_params().items()})
    return copy


def share_budget(sizes: dict[str, int], budget: int) -> dict[str, int]:
    """Split ``budget`` components (at most their total) between groups of the given sizes.

    Evenly, smallest groups first: a group smaller than its share is taken whole and what it
    leaves goes to the larger ones. So with a budget of at least one per group every group gets
    some, and a 10-element gamma is not drowned by a 100 000-element W."""
    quotas: dict[str, int] = {}
    remaining = min(budget, sum(sizes.values()))
    order = sorted(sizes, key=lambda name: sizes[name])
    for left, name in zip(range(len(order), 0, -1), order):
        quotas[name] = min(sizes[name], -(-remaining // left))   # ceil(remaining / left)
        remaining -= quotas[name]
    return {name: quotas[name] for name in sizes}                 # in the given order


def sample_components(sizes: dict[str, int], max_params: int,
                      rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Which components (flat positions within each array) to check: ``max_params`` in all,
    shared between the arrays by ``share_budget`` and drawn without replacement from ``rng``."""
    chosen: dict[str, np.ndarray] = {}
    for name, quota in share_budget(sizes, max_params).items():
        size = sizes[name]
        pick = rng.choice(size, size=quota, replace=False) if quota < size else np.arange(size)
        chosen[name] = np.sort(pick)
    return chosen


def check_gradients(network: Network, X: np.ndarray, y: np.ndarray, *, l2: float = 0.0,
                    l1: float = 0.0, epsilon: float = DEFAULT_EPSILON,
                    max_params: int | None = None,
                    rng: np.random.Generator | None = None) -> GradCheckResult:
    """Check ``network``'s backprop on the batch ``X`` (m, n_x) with labels ``y`` (m,).

    Works on a float64 copy with dropout off (``network`` itself is not changed). ``max_params``
    (None or 0: all) bounds the number of components checked; the sample is drawn from ``rng``
    (default: seed 0), so the same seed checks the same components."""
    if not (isinstance(epsilon, (int, float)) and math.isfinite(epsilon) and epsilon > 0):
        raise InputError(f"epsilon must be a positive number, got {epsilon!r}")
    if max_params is not None and max_params < 0:
        raise InputError(f"max_params must be 0 (check all) or positive, got {max_params}")
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != network.sizes[0] or y.shape != (X.shape[0],):
        raise InputError(f"the batch does not fit the network: X {X.shape}, y {y.shape}, "
                         f"the network takes {network.sizes[0]} features")
    if X.shape[0] < 1 or (network.uses_batch_norm and X.shape[0] < 2):
        raise InputError("the batch needs at least 2 examples with batch norm, 1 without")

    net = float64_copy(network)
    dropout = any(layer.keep_prob < 1.0 for layer in network.layers)
    X1 = net.with_ones(X)                         # built once, reused by every evaluation
    targets = net.output.targets(y, net.dtype)

    def cost() -> float:
        # Forward only, training mode, running averages untouched: J(theta) on the batch.
        return net.train_step(X1, targets, l2=l2, l1=l1, backward=False, update_running=False)

    J = net.train_step(X1, targets, l2=l2, l1=l1, update_running=False)
    grad = net.grad.copy()

    layout = net.layout                           # which components are W1, b1, gamma1, ...
    total = layout.size
    sizes = {entry.name: entry.size for entry in layout.entries}
    if max_params and max_params < total:
        picks = sample_components(sizes, max_params, rng or np.random.default_rng(0))
    else:
        picks = {name: np.arange(size) for name, size in sizes.items()}

    theta = net.theta
    parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, local in picks.items():
        positions = layout[name].indices().ravel()[local]   # where in theta
        approx = np.empty(positions.size)
        for k, i in enumerate(positions):
            old = theta[i]
            theta[i] = old + epsilon
            plus = cost()
            theta[i] = old - epsilon
            minus = cost()
            theta[i] = old                        # restored exactly: the saved value
            approx[k] = (plus - minus) / (2.0 * epsilon)
        parts[name] = (grad[positions], approx)

    # Each J is rounded to a few units in the last place of |J| (at least of 1: the terms
    # summed into J can be larger than J itself), and the central difference divides that by
    # 2 eps; this many units per component is what rounding alone can explain.
    unit = ROUNDING_UNITS * np.finfo(np.float64).eps * max(abs(J), 1.0) / epsilon
    per_parameter = {}
    for name, (g, a) in parts.items():
        entry, local = layout[name], picks[name]
        shape = entry.shape
        if local.size:
            errors = np.abs(g - a)
            k = int(np.nanargmax(errors)) if not np.all(np.isnan(errors)) else 0
            worst = tuple(int(v) for v in np.unravel_index(local[k], shape))
            worst_error, worst_g, worst_a = float(errors[k]), float(g[k]), float(a[k])
        else:
            worst, worst_error, worst_g, worst_a = None, 0.0, 0.0, 0.0
        per_parameter[name] = ParamCheck(
            name=name, layer=entry.layer, shape=tuple(shape), size=entry.size,
            checked=int(local.size), difference=relative_difference(g, a),
            grad_norm=float(np.linalg.norm(g)), error_norm=float(np.linalg.norm(g - a)),
            rounding=unit * math.sqrt(local.size), worst_index=worst,
            worst_abs_error=worst_error, worst_grad=worst_g, worst_approx=worst_a)

    all_g = np.concatenate([g for g, _ in parts.values()])
    all_a = np.concatenate([a for _, a in parts.values()])
    return GradCheckResult(
        difference=relative_difference(all_g, all_a), epsilon=float(epsilon),
        checked=int(all_g.size), total=int(total), per_parameter=per_parameter, cost=float(J),
        examples=int(X.shape[0]), dropout_disabled=dropout, source_dtype=str(network.dtype),
        error_norm=float(np.linalg.norm(all_g - all_a)),
        rounding=unit * math.sqrt(all_g.size))
