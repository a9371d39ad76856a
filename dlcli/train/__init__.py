"""Training: the loop, its callbacks and the random streams (numpy and the standard library)."""
from dlcli.train.build import build_network, build_optimizer, load_initial_params
from dlcli.train.callbacks import Callback, EarlyStopping
from dlcli.train.loop import Trainer
from dlcli.train.streams import Streams

__all__ = ["Callback", "EarlyStopping", "Streams", "Trainer",
           "build_network", "build_optimizer", "load_initial_params"]
