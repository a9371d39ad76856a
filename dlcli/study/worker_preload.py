"""Imported once by the forkserver before it forks the local workers of a study.

Every worker then starts with numpy, the training code and matplotlib (for each run's cost.png)
already loaded, instead of importing them itself: a worker is ready in milliseconds, which is
what lets two workers finish a study of short runs in about half the time of one.

The BLAS thread limit is set first, while no BLAS library is loaded yet: a worker trains with one
BLAS thread (``dlcli.study.executors``), and OpenBLAS reads the variable when it is loaded.
"""
from __future__ import annotations

import os

from dlcli.study.executors import BLAS_ENV

for _name in BLAS_ENV:
    os.environ.setdefault(_name, "1")

import numpy  # noqa: E402,F401

import dlcli.experiment  # noqa: E402,F401
import dlcli.study.tasks  # noqa: E402,F401

try:  # optional for library users; every run draws cost.png with it
    import matplotlib  # noqa: E402

    matplotlib.use("Agg")
    import matplotlib.figure  # noqa: E402,F401
    import matplotlib.backends.backend_agg  # noqa: E402,F401
except ImportError:
    pass
try:
    import threadpoolctl  # noqa: E402,F401
except ImportError:
    pass
