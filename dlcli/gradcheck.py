"""Gradient checking (SPEC section 9): backprop against two-sided finite differences.

For each checked component i of the flat parameter vector theta (every W, b, gamma, beta)::

    gradapprox_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)
    difference   = ||grad - gradapprox||_2 / (||grad||_2 + ||gradapprox||_2)

and the verdict uses the course's bands: ``< 1e-7`` great, ``< 1e-3`` inspect, ``>= 1e-3`` bad.
The same formula restricted to one parameter array (W1, b1, gamma1, ...) gives that array's own
difference, so a bug is located, not only detected.

The check always runs on a float64 copy of the network with dropout switched off (keep_prob 1.0:
a random mask would make J a different function at every evaluation), batch norm in training mode
on one fixed batch (running averages untouched), and J = J0 + the L1/L2 penalties, all through the
network's own ``train_step``: the forward pass under test is the oracle for its backward pass.

Networks too large to check every component check a seeded sample of ``max_params`` of them,
spread over the parameter arrays so that small arrays (b, gamma, beta) are not left out.

The built-in check (``builtin_cases``) runs two small networks that between them use every layer
kind: five hidden layers with every activation, L1 and L2 > 0, one with a sigmoid output and plain
hidden layers (with b), one with a softmax output and batch norm (gamma, beta). Several results
are summarised by ``to_json``: the overall difference is the worst case's, parameter keys are
prefixed with the case name (``sigmoid/W1``), so a bug in one case cannot hide behind the other.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dlcli.errors import InputError
from dlcli.nn.losses import output_for
from dlcli.nn.network import Network

if TYPE_CHECKING:
    from dlcli.config.schema import Config

DEFAULT_EPSILON = 1e-7
DEFAULT_BATCH = 16          # examples in the fixed batch of a config check
GREAT = 1e-7                # difference < GREAT: great
BAD = 1e-3                  # difference >= BAD: bad; in between: inspect
# Rounding units (of eps_machine * |J| / eps) per component that finite differences of a correct
# backprop reach; measured about 1 on the built-in networks, so 10 leaves room and still sits far
# below any real bug.
ROUNDING_UNITS = 10.0


def verdict_for(difference: float) -> str:
    """The course's bands: great (< 1e-7), inspect (< 1e-3), bad (>= 1e-3 or not a number)."""
    if difference < GREAT:
        return "great"
    if difference < BAD:
        return "inspect"
    return "bad"   # NaN compares false above, so a NaN gradient is bad too


def relative_difference(grad: np.ndarray, approx: np.ndarray) -> float:
    """``||grad - approx|| / (||grad|| + ||approx||)``; 0 when both are exactly zero."""
    denominator = float(np.linalg.norm(grad)) + float(np.linalg.norm(approx))
    if denominator == 0.0:
        return 0.0   # both vectors are zero: they agree
    return float(np.linalg.norm(grad - approx)) / denominator


@dataclass(frozen=True)
class ParamCheck:
    """The check of one parameter array (e.g. W2) in the course's shape."""

    name: str
    layer: int                      # l of W{l}, b{l}, gamma{l}, beta{l}
    shape: tuple[int, ...]
    size: int                       # components in the array
    checked: int                    # components checked (all unless sampled)
    difference: float               # SPEC 9 formula over the checked components of this array
    grad_norm: float                # ||grad|| over the checked components
    error_norm: float               # ||grad - approx|| over the checked components
    rounding: float                 # how large error_norm can get from rounding in J alone
    worst_index: tuple[int, ...] | None   # component with the largest |grad - approx|
    worst_abs_error: float
    worst_grad: float
    worst_approx: float

    @property
    def within_rounding(self) -> bool:
        """The discrepancy is no larger than rounding errors in J can make it.

        Then the relative difference says nothing: an array whose true gradient is zero (beta
        before a linear activation feeding batch norm, say) has a difference near 1 made of
        rounding noise alone."""
        return self.error_norm <= self.rounding

    @property
    def verdict(self) -> str:
        """The array's band; ``great`` when its discrepancy is within rounding noise."""
        return "great" if self.within_rounding else verdict_for(self.difference)


@dataclass(frozen=True)
class GradCheckResult:
    """The whole check: overall difference, verdict and one ``ParamCheck`` per array."""

    difference: float
    epsilon: float
    checked: int                    # components checked
    total: int                      # components in theta
    per_parameter: dict[str, ParamCheck]
    cost: float                     # J (J0 + penalties) at theta on the batch
    examples: int                   # size of the fixed batch
    dropout_disabled: bool          # the network had keep_prob < 1, switched off for the check
    source_dtype: str               # the network's own dtype (the check ran in float64)
    error_norm: float               # ||grad - approx|| over every checked component
    rounding: float                 # how large error_norm can get from rounding in J alone

    @property
    def verdict(self) -> str:
        return verdict_for(self.difference)

    @property
    def within_rounding(self) -> bool:
        """The whole discrepancy is rounding noise: the gradients are too small to judge at
        this epsilon (the verdict still follows SPEC's bands; a larger epsilon helps)."""
        return self.error_norm <= self.rounding

    @property
    def sampled(self) -> bool:
        return self.checked < self.total

    def suspects(self) -> list[str]:
        """Arrays that are not great, largest difference first."""
        off = [p for p in self.per_parameter.values() if p.verdict != "great"]
        return [p.name for p in sorted(off, key=lambda p: -_sortable(p.difference))]

    def first_discrepancy(self) -> str | None:
        """Where the bug most likely is: the worst array of the highest layer that is off.

        Backprop runs from the output down, so a wrong local gradient in layer l also spoils
        every layer below it, while the layers above stay right."""
        off = [p for p in self.per_parameter.values() if p.verdict != "great"]
        if not off:
            return None
        top = max(p.layer for p in off)
        in_top = [p for p in off if p.layer == top]
        return max(in_top, key=lambda p: _sortable(p.difference)).name


def _sortable(value: float) -> float:
    return math.inf if math.isnan(value) else value


# ---------------------------------------------------------------------- the check


def float64_copy(network: Network) -> Network:
    """A float64 copy of ``network`` with dropout off; the original is never touched."""
    bn = (network.bn_momentum, network.bn_epsilon) if network.uses_batch_norm else None
    hidden = network.layers[:-1]
    copy = Network(network.sizes, [layer.activation.name for layer in hidden], network.output,
                   dtype="float64", keep_probs=[1.0] * len(hidden), batch_norm=bn)
    copy.set_params({key: value.astype(np.float64)
                     for key, value in network.get_params().items()})
    return copy


def named_arrays(network: Network) -> list[tuple[str, int, np.ndarray]]:
    """(name, layer, view into theta) of every parameter array, in file order (SPEC 1)."""
    arrays = []
    for layer in network.layers:
        i = layer.index
        arrays.append((f"W{i}", i, layer.W))
        if layer.batch_norm:
            arrays += [(f"gamma{i}", i, layer.gamma), (f"beta{i}", i, layer.beta)]
        else:
            arrays.append((f"b{i}", i, layer.b))
    return arrays


def parameter_indices(network: Network) -> dict[str, np.ndarray]:
    """For each parameter array, the positions in ``theta`` of its elements, shaped like it.

    Read off the layers' views (their offsets and strides into ``theta``), so whatever layout
    the network uses, every flat index belongs to exactly one named array."""
    theta = network.theta
    size = theta.itemsize
    base = theta.__array_interface__["data"][0]
    indices: dict[str, np.ndarray] = {}
    for name, _, view in named_arrays(network):
        assert np.shares_memory(view, theta), f"{name} is not a view into theta"
        offset = view.__array_interface__["data"][0] - base
        assert offset % size == 0 and all(s % size == 0 for s in view.strides)
        grid = np.indices(view.shape)
        flat = np.full(view.shape, offset // size, dtype=np.intp)
        for axis_index, stride in zip(grid, view.strides):
            flat += axis_index * (stride // size)
        indices[name] = flat
    # Internal invariant: the arrays tile theta exactly.
    counts = np.bincount(np.concatenate([f.ravel() for f in indices.values()]),
                         minlength=theta.size)
    assert counts.size == theta.size and np.all(counts == 1), "arrays do not tile theta"
    return indices


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

    indices = parameter_indices(net)
    layer_of = {name: index for name, index, _ in named_arrays(net)}
    total = net.theta.size
    sizes = {name: flat.size for name, flat in indices.items()}
    if max_params and max_params < total:
        picks = sample_components(sizes, max_params, rng or np.random.default_rng(0))
    else:
        picks = {name: np.arange(size) for name, size in sizes.items()}

    theta = net.theta
    parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, local in picks.items():
        positions = indices[name].ravel()[local]
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
        shape = indices[name].shape
        local = picks[name]
        if local.size:
            errors = np.abs(g - a)
            k = int(np.nanargmax(errors)) if not np.all(np.isnan(errors)) else 0
            worst = tuple(int(v) for v in np.unravel_index(local[k], shape))
            worst_error, worst_g, worst_a = float(errors[k]), float(g[k]), float(a[k])
        else:
            worst, worst_error, worst_g, worst_a = None, 0.0, 0.0, 0.0
        per_parameter[name] = ParamCheck(
            name=name, layer=layer_of[name], shape=tuple(shape), size=int(indices[name].size),
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


def to_json(results: dict[str, GradCheckResult]) -> dict[str, Any]:
    """The ``--json`` object of SPEC section 0 for one or several checked networks.

    One network: ``parameters`` keys are the array names (``W1``). Several (the built-in check):
    keys are ``case/W1`` and the overall ``difference`` is the worst case's, so a bug in one
    network is never averaged away by a correct other one."""
    if not results:
        raise ValueError("no results")
    single = len(results) == 1
    difference = max((r.difference for r in results.values()), key=_sortable)
    parameters = {}
    for case, result in results.items():
        for name, check in result.per_parameter.items():
            # null for an array the sample left out (a budget smaller than the array count).
            value = _json_number(check.difference) if check.checked else None
            parameters[name if single else f"{case}/{name}"] = value
    epsilon = next(iter(results.values())).epsilon
    return {"difference": _json_number(difference), "verdict": verdict_for(difference),
            "epsilon": epsilon, "checked": sum(r.checked for r in results.values()),
            "parameters": parameters}


def _json_number(value: float) -> float | None:
    # JSON has no NaN; null says "could not be computed" and the verdict already says bad.
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------- what gets checked


@dataclass
class Case:
    """One network to check, on a fixed batch, with its penalties."""

    name: str
    description: str
    network: Network
    X: np.ndarray
    y: np.ndarray
    l2: float = 0.0
    l1: float = 0.0

    def check(self, *, epsilon: float = DEFAULT_EPSILON, max_params: int | None = None,
              rng: np.random.Generator | None = None) -> GradCheckResult:
        return check_gradients(self.network, self.X, self.y, l2=self.l2, l1=self.l1,
                               epsilon=epsilon, max_params=max_params, rng=rng)


def check_cases(cases: list[Case], *, epsilon: float = DEFAULT_EPSILON,
                max_params: int | None = None, seed: int = 0) -> dict[str, GradCheckResult]:
    """Check several networks; ``max_params`` (None or 0: all) bounds the total over them all.

    The budget is shared out like ``sample_components`` shares it between arrays, and each case
    samples from its own generator derived from ``seed``."""
    if max_params is not None and max_params < 0:
        raise InputError(f"max_params must be 0 (check all) or positive, got {max_params}")
    sizes = {case.name: case.network.theta.size for case in cases}
    budgets: dict[str, int | None] = {name: None for name in sizes}
    if max_params and max_params < sum(sizes.values()):
        budgets.update(share_budget(sizes, max_params))
    results = {}
    for index, case in enumerate(cases):
        budget = budgets[case.name]
        if budget == 0:
            raise InputError(f"a sample of {max_params} components leaves the {case.name} "
                             f"network unchecked; sample at least {len(cases)}")
        results[case.name] = case.check(epsilon=epsilon, max_params=budget,
                                        rng=np.random.default_rng([seed, index]))
    return results


# Every activation, each at a different depth in the two networks; one square layer (5 x 5) so
# that a transposed gradient has the right shape and is caught by value, not by a shape error.
BUILTIN_SIZES = [4, 5, 5, 4, 4, 3]
BUILTIN_ACTIVATIONS = {
    "sigmoid": ["relu", "tanh", "leaky_relu", "sigmoid", "linear"],
    # linear last: followed by batch norm, a linear layer's beta would have a gradient of
    # exactly zero (the next layer's mean subtraction removes any shift), checking nothing.
    "softmax": ["tanh", "sigmoid", "relu", "leaky_relu", "linear"],
}
BUILTIN_CLASSES = {"sigmoid": 2, "softmax": 3}
BUILTIN_EXAMPLES = 10
BUILTIN_L2, BUILTIN_L1 = 0.7, 0.3


def move_offsets(network: Network, rng: np.random.Generator, scale: float = 0.3) -> None:
    """Draw every b, gamma and beta away from its initial value (0, 1, 0): there some bugs (a
    gradient that forgets gamma, say) would give the right number by accident."""
    for layer in network.layers:
        if layer.b is not None:
            layer.b[...] = scale * rng.standard_normal(layer.b.shape)
        if layer.batch_norm:
            layer.gamma[...] = 1.0 + scale * rng.standard_normal(layer.gamma.shape)
            layer.beta[...] = scale * rng.standard_normal(layer.beta.shape)


def builtin_case(output: str = "sigmoid", seed: int = 0) -> Case:
    """A small network using every activation, L1 and L2 > 0, on a random batch.

    ``sigmoid``: binary output, plain hidden layers (W and b). ``softmax``: 3 classes, batch norm
    on every hidden layer (W, gamma, beta). Between them every kind of layer is checked."""
    if output not in BUILTIN_ACTIVATIONS:
        raise InputError(f"no built-in case {output!r}; choose from "
                         f"{', '.join(BUILTIN_ACTIVATIONS)}")
    rng = np.random.default_rng([seed, list(BUILTIN_ACTIVATIONS).index(output)])
    n_classes = BUILTIN_CLASSES[output]
    head = output_for(output, n_classes)
    batch_norm = output == "softmax"
    network = Network([*BUILTIN_SIZES, head.units(n_classes)], BUILTIN_ACTIVATIONS[output], head,
                      dtype="float64", batch_norm=(0.9, 1e-5) if batch_norm else None)
    network.initialize("xavier", rng=rng)
    move_offsets(network, rng)
    X = rng.standard_normal((BUILTIN_EXAMPLES, BUILTIN_SIZES[0]))
    # Every class present, in a shuffled order.
    y = rng.permutation(np.arange(BUILTIN_EXAMPLES) % n_classes)
    acts = ", ".join(BUILTIN_ACTIVATIONS[output])
    description = (f"{output} output ({n_classes} classes), hidden {BUILTIN_SIZES[1:]} "
                   f"({acts}), {'batch norm' if batch_norm else 'no batch norm'}, "
                   f"L2 {BUILTIN_L2}, L1 {BUILTIN_L1}, {BUILTIN_EXAMPLES} examples")
    return Case(output, description, network, X, y, BUILTIN_L2, BUILTIN_L1)


def builtin_cases(seed: int = 0) -> list[Case]:
    """Both built-in networks: sigmoid output without and softmax output with batch norm."""
    return [builtin_case(output, seed) for output in BUILTIN_ACTIVATIONS]


def config_case(config: Config, *, batch: int = DEFAULT_BATCH, seed: int = 0) -> Case:
    """The network ``config`` describes (its init, init_from, penalties) on a fixed batch.

    Data and initial weights come from the config's seed exactly as ``dlcli train`` makes them;
    ``seed`` picks the ``batch`` training examples. Augmentation is not applied."""
    # Imported here: loading data pulls in scikit-learn and friends, which the built-in check
    # (meant to take a second) does not need.
    from dlcli.data import load_data
    from dlcli.train.build import build_network, load_initial_params
    from dlcli.train.streams import Streams

    if batch < 1:
        raise InputError(f"the batch needs at least one example, got {batch}")
    streams = Streams.from_seed(config.seed)
    data = load_data(config.data, streams.data, config.training.dtype)
    network = build_network(config, data.n_features, data.n_classes, streams.init)
    if config.model.init_from:
        load_initial_params(network, config.model.init_from)
    m = data.train.m
    rows = np.sort(np.random.default_rng(seed).choice(m, size=min(batch, m), replace=False))
    X = np.asarray(data.train.X[rows], dtype=np.float64)
    y = np.asarray(data.train.y[rows])
    model = config.model
    reg = config.regularization
    description = (f"{network.output.name} output ({data.n_classes} classes), hidden "
                   f"{list(model.hidden)} ({', '.join(model.activations())}), "
                   f"{'batch norm' if model.batch_norm else 'no batch norm'}, L2 {reg.l2}, "
                   f"L1 {reg.l1}, {len(rows)} of {m} training examples")
    return Case(config.name or "config", description, network, X, y, reg.l2, reg.l1)
