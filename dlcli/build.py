"""From a config to the run's data and the numerical core's objects: network, optimiser,
schedule, trainer.

The core (nn, optim, train) takes plain values; this module reads them off a ``Config`` and the
data's shape, and loads ``model.init_from``.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from dlcli.config.schema import Config
from dlcli.data import Augmenter, load_data
from dlcli.data.dataset import Dataset
from dlcli.errors import ConfigError
from dlcli.npzfile import read_npz_arrays
from dlcli.nn.losses import output_for
from dlcli.nn.network import Network
from dlcli.optim.optimizers import Optimizer, make_optimizer
from dlcli.optim.schedules import make_schedule
from dlcli.train.callbacks import Callback, EarlyStopping
from dlcli.train.loop import Trainer
from dlcli.train.streams import Streams


def data_stream(config: Config) -> np.random.Generator:
    """A fresh copy of the generator the run's data generation and splits draw from."""
    return Streams.from_seed(config.seed, config.data.seed).data


def load_run_data(config: Config) -> Dataset:
    """The run's data, drawn from its data stream: training and applying a run (evaluation on
    the run's own splits) both get it here, so they see the same examples."""
    return load_data(config.data, data_stream(config), config.training.dtype)


def layer_sizes(config: Config, n_features: int, n_classes: int) -> list[int]:
    """Units per layer, input first: what ``build_network`` will build."""
    output = output_for(config.model.output, n_classes)
    return [n_features, *config.model.hidden, output.units(n_classes)]


def build_network(config: Config, n_features: int, n_classes: int,
                  rng: np.random.Generator) -> Network:
    """A freshly initialised network for ``config.model`` (weights from the init stream)."""
    model = config.model
    if model.output == "sigmoid" and n_classes != 2:
        raise ConfigError("model.output", "sigmoid",
                          f"a sigmoid output takes 2 classes and the data has {n_classes}; "
                          "use softmax or auto")
    output = output_for(model.output, n_classes)
    bn = model.batch_norm
    network = Network([n_features, *model.hidden, output.units(n_classes)], model.activations(),
                      output, dtype=config.training.dtype, keep_probs=model.keep_probs(),
                      batch_norm=(bn.momentum, bn.epsilon) if bn else None)
    network.initialize(model.init, rng=rng, init_scale=model.init_scale)
    return network


def load_initial_params(network: Network, path: str) -> None:
    """``model.init_from``: start from a params.npz, its shapes checked against the network."""
    params = read_npz_arrays(path, lambda reason: ConfigError(
        "model.init_from", message=f"model.init_from: {path} {reason}"))
    try:
        network.set_params(params)
    except ValueError as exc:
        raise ConfigError("model.init_from", message=f"model.init_from: {path} does not fit "
                          f"the architecture: {exc}") from None


def build_optimizer(config: Config, network: Network) -> Optimizer:
    opt = config.optimizer
    return make_optimizer(opt.name, network.layout, network.dtype, beta=opt.beta,
                          beta1=opt.beta1, beta2=opt.beta2, epsilon=opt.epsilon)


def check_fits(config: Config, data: Dataset) -> list[str]:
    """Hints (not errors) about the config for this data, e.g. a batch size not a power of 2."""
    hints = []
    size = config.training.batch_size
    if size != "full" and size < data.train.m and size & (size - 1):
        hints.append(f"training.batch_size {size} is not a power of two; 32, 64, 128, ... "
                     "often run faster")
    return hints


def build_schedule(config: Config) -> Callable[[int], float]:
    """Completed epochs -> learning rate, from ``optimizer.learning_rate`` and ``schedule``."""
    sch = config.schedule
    return make_schedule(sch.name, config.optimizer.learning_rate, interval=sch.interval,
                         decay_rate=sch.decay_rate, base=sch.base, k=sch.k)


# Random initial weights this many times larger through the network than He's (the product
# over layers of init_scale / sqrt(2 / n[l-1])) blow activations and gradients up on their
# own: the divergence is the initialisation's, whatever the learning rate.
EXPLODING_GROWTH = 100.0


def divergence_hint(config: Config, network: Network) -> str:
    """What to change when the cost becomes non-finite: the initial scale when random
    weights are far larger than He's, else the learning rate."""
    model = config.model
    if model.init == "random" and model.init_scale > 0:
        growth = math.prod(model.init_scale / math.sqrt(2.0 / layer.n_in)
                           for layer in network.layers)
        if growth > EXPLODING_GROWTH:
            return (f"model.init_scale {model.init_scale:g} makes the initial weights so "
                    f"large that activations and gradients grow about {growth:,.0f}-fold "
                    f"through the {len(network.layers)} layers (exploding gradients); "
                    "use model.init=he or a smaller model.init_scale")
    return "try a smaller optimizer.learning_rate"


def check_batch_norm_batches(config: Config, data: Dataset) -> None:
    """Batch normalisation needs every mini-batch to hold 2 or more examples, as PyTorch
    requires: one example's variance is 0, so every normalised unit is 0, nothing before it
    learns from that batch and the running variance that inference divides by shrinks
    (quickstart with batch norm and a last batch of one example: dev loss 0.32 against 0.03)."""
    if not config.model.batch_norm:
        return
    size, m = config.training.batch_size, data.train.m
    batch = m if size == "full" else min(size, m)
    if batch < 2:
        raise ConfigError("training.batch_size", size,
                          "batch normalisation (model.batch_norm) needs mini-batches of at "
                          "least 2 examples: one example's variance is 0, so every normalised "
                          "unit is 0", "use a larger batch or model.batch_norm=false")
    if m % batch == 1:
        raise ConfigError("training.batch_size", size,
                          f"with batch normalisation (model.batch_norm) the last mini-batch of "
                          f"every epoch would hold 1 example ({m} training examples = "
                          f"{m // batch} x {batch} + 1), whose variance is 0",
                          f"e.g. training.batch_size={_batch_without_single_tail(m, batch)}")


def _batch_without_single_tail(m: int, batch: int) -> int:
    """The batch size nearest ``batch`` whose last mini-batch of ``m`` examples is not 1."""
    for step in range(1, m):
        for size in (batch + step, batch - step):
            if 2 <= size <= m and m % size != 1:
                return size
    return m


def build_trainer(config: Config, data: Dataset, streams: Streams,
                  callbacks: list[Callback] | None = None) -> Trainer:
    """The trainer ``config`` describes for ``data``: network (initialised from the init
    stream, or from ``model.init_from``), optimiser, schedule, early stopping, augmentation."""
    check_batch_norm_batches(config, data)
    network = build_network(config, data.n_features, data.n_classes, streams.init)
    if config.model.init_from:
        load_initial_params(network, config.model.init_from)
    training = config.training
    all_callbacks: list[Callback] = []
    stopping = training.early_stopping
    if stopping is not None:
        all_callbacks.append(EarlyStopping(stopping.monitor, stopping.patience,
                                           stopping.min_delta, stopping.restore_best,
                                           stopping.mode))
    all_callbacks += list(callbacks or [])
    return Trainer(
        network, build_optimizer(config, network), data, streams,
        learning_rate=build_schedule(config), epochs=training.epochs,
        batch_size=None if training.batch_size == "full" else training.batch_size,
        shuffle=training.shuffle, l2=config.regularization.l2, l1=config.regularization.l1,
        eval_every=training.eval_every, log_grad_norms=training.log_grad_norms,
        augment=Augmenter(data, config.data.augment) if config.data.augment.active else None,
        divergence_hint=divergence_hint(config, network), callbacks=all_callbacks)
