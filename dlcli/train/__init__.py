"""Training: the loop, its callbacks and the random streams (numpy and the standard library).

Building a trainer from a config is ``dlcli.build``'s job, one layer up."""
from dlcli.train.callbacks import Callback, EarlyStopping
from dlcli.train.loop import Trainer
from dlcli.train.streams import Streams

__all__ = ["Callback", "EarlyStopping", "Streams", "Trainer"]
