"""Data (SPEC sections 0, 11 and 13): built-in data sets, data files, splits, normalisation and
augmentation.

``load_data(cfg, rng, dtype)`` turns a ``DataConfig`` into a checked, normalised ``Dataset``;
``Augmenter(dataset, cfg.augment)`` augments image training batches; ``DATASETS`` is the registry
of built-in data set names.
"""
from dlcli.data.augment import Augmenter, warp
from dlcli.data.builtin import DATASETS
from dlcli.data.dataset import Dataset, Split
from dlcli.data.prepare import fit_normalization, load_data

__all__ = ["DATASETS", "Augmenter", "Dataset", "Split", "fit_normalization", "load_data", "warp"]
