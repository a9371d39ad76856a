"""What ``dlcli gradcheck`` checks: the built-in networks, or the one a config describes.

The built-in check (``builtin_cases``) runs two small networks that between them use every layer
kind: five hidden layers with every activation, L1 and L2 > 0, one with a sigmoid output and plain
hidden layers (with b), one with a softmax output and batch norm (gamma, beta). ``check_cases``
checks several networks under one component budget.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dlcli.errors import InputError
from dlcli.gradcheck.check import DEFAULT_EPSILON, check_gradients, share_budget
from dlcli.gradcheck.result import GradCheckResult
from dlcli.nn.losses import output_for
from dlcli.nn.network import Network

if TYPE_CHECKING:
    from dlcli.config.schema import Config

DEFAULT_BATCH = 16          # examples in the fixed batch of a config check


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


# Where move_offsets centres each kind of array: its initial value (SPEC section 4).
INITIAL = {"b": 0.0, "gamma": 1.0, "beta": 0.0}


def move_offsets(network: Network, rng: np.random.Generator, scale: float = 0.3) -> None:
    """Draw every b, gamma and beta away from its initial value (0, 1, 0): there some bugs (a
    gradient that forgets gamma, say) would give the right number by accident."""
    for entry in network.layout.entries:
        if entry.kind in INITIAL:
            network.params[entry.name][...] = (INITIAL[entry.kind]
                                               + scale * rng.standard_normal(entry.shape))


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
    # Imported here: the built-in check (meant to take a second) loads no data.
    from dlcli.data import load_data
    from dlcli.build import build_network, load_initial_params
    from dlcli.train.streams import Streams

    if batch < 1:
        raise InputError(f"the batch needs at least one example, got {batch}")
    streams = Streams.from_seed(config.seed, config.data.seed)
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
