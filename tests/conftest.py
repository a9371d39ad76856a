"""Shared test set-up.

Tests run in parallel (pytest -n 2); one BLAS thread per worker keeps the workers from fighting
over the two cores (OpenBLAS threads that spin against each other make small products 20x slower).
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture
def runs_dir(tmp_path):
    """A fresh runs directory."""
    path = tmp_path / "runs"
    path.mkdir()
    return path
