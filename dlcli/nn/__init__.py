"""The numerical network (SPEC sections 1-4, 8): numpy and the standard library only."""
from dlcli.nn.activations import ACTIVATIONS
from dlcli.nn.initializers import INITIALIZERS
from dlcli.nn.losses import OUTPUTS, output_for
from dlcli.nn.network import Network

__all__ = ["ACTIVATIONS", "INITIALIZERS", "OUTPUTS", "Network", "output_for"]
