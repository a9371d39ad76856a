"""How many threads the BLAS library (OpenBLAS, MKL) may use while dlcli trains.

Set through threadpoolctl when it is installed; without it the library keeps its defaults (and
the environment variables a tune worker is started with).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

# Below this many FLOPs in a step's largest matrix product, a second BLAS thread buys nothing
# (measured: 64-128-64-10 at batch 64 runs at the same speed with one thread or two), and when
# another process holds a core, two OpenBLAS threads spinning against each other make such small
# products 10-20x slower. Larger products keep the library's default.
SMALL_PRODUCT_FLOPS = 4e6


def threads_for(sizes: Sequence[int], batch_size: int) -> int | None:
    """1 for a network whose largest matrix product is small, None (the default) otherwise."""
    largest = max(2.0 * (n_in + 1) * n_out * batch_size for n_in, n_out in zip(sizes, sizes[1:]))
    return 1 if largest < SMALL_PRODUCT_FLOPS else None


@contextlib.contextmanager
def blas_limit(threads: int | None, user_api: str | None = "blas") -> Iterator[None]:
    """Limit the BLAS libraries loaded in this process to ``threads`` threads for a while
    (None: leave them as they are); ``user_api=None`` limits every thread pool (OpenMP too)."""
    if threads is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the environment variables set at worker start are then all we have
        yield
        return
    with threadpool_limits(limits=threads, user_api=user_api):
        yield
