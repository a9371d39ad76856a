"""Building a run's data, network and optimiser from a config and the data's shape."""
from __future__ import annotations

import numpy as np

from dlcli.config.schema import Config
from dlcli.data import load_data
from dlcli.data.dataset import Dataset
from dlcli.errors import ConfigError
from dlcli.npzfile import read_npz_arrays
from dlcli.nn.losses import output_for
from dlcli.nn.network import Network
from dlcli.optim.optimizers import Optimizer, make_optimizer
from dlcli.train.streams import Streams


def load_run_data(config: Config) -> Dataset:
    """The run's data, drawn from its data stream: training and applying a run (evaluation on
    the run's own splits) both get it here, so they see the same examples."""
    return load_data(config.data, Streams.from_seed(config.seed).data, config.training.dtype)


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
