"""Optimisers and learning-rate schedules (SPEC sections 6 and 7)."""
from dlcli.optim.optimizers import OPTIMIZERS, Optimizer, make_optimizer
from dlcli.optim.schedules import SCHEDULES, learning_rate, make_schedule

__all__ = ["OPTIMIZERS", "SCHEDULES", "Optimizer", "learning_rate", "make_optimizer",
           "make_schedule"]
