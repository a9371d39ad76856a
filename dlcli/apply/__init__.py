"""Applying a trained run (SPEC section 1, "applying a run"): load a run directory, predict,
evaluate, export. It reads only what a run wrote and runs the network in inference mode through
``dlcli.nn``, never through the trainer, so it works where the training data never was.

``load_run(run_dir)`` gives a ``Model`` with ``predict`` and ``predict_proba``.
"""
from dlcli.apply.metadata import ModelInfo, describe, read_model
from dlcli.apply.model import Model, load_run

__all__ = ["Model", "ModelInfo", "describe", "load_run", "read_model"]
