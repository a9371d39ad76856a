"""What this machine has for a run: its memory, against the estimate of what the run needs.

The rule (docs/decisions.md): a run whose estimated peak memory (``dlcli.train.memory``) is above
the machine's physical memory, or a container's limit when that is lower, is a config error
before anything is allocated; above the memory free right now, it is a hint and the run goes on.
"""
from __future__ import annotations

import os

import numpy as np

from dlcli.build import layer_sizes
from dlcli.config.schema import Config
from dlcli.data.dataset import Dataset
from dlcli.errors import ConfigError
from dlcli.train import memory


def physical_memory() -> int | None:
    """Bytes of RAM this process may use: the machine's, or a container's limit when lower
    (cgroup v2 ``memory.max``, v1 ``memory.limit_in_bytes``). None where it cannot be told."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = None
    for limit_file in ("/sys/fs/cgroup/memory.max",
                       "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(limit_file, encoding="ascii") as handle:
                text = handle.read().strip()
        except OSError:
            continue
        if text.isdigit() and (total is None or int(text) < total):
            total = int(text)
    return total if total and total > 0 else None


def available_memory() -> int | None:
    """Bytes the kernel could hand out now without swapping (``MemAvailable``); None elsewhere."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_memory(config: Config, data: Dataset) -> list[str]:
    """A ConfigError, before anything is allocated, when the network, its optimiser state and
    its buffers cannot fit in this machine's memory (``dlcli.train.memory`` says what is
    counted). The bound is the physical memory (or a container's limit), not what happens to
    be free now: a run that could fit is never refused, one that never can is. Above the
    memory free now, the answer is a hint (the run may swap, or wait for others to end)."""
    sizes = layer_sizes(config, data.n_features, data.n_classes)
    splits = [s for s in (data.train, data.dev, data.test) if s is not None]
    size = config.training.batch_size
    stopping = config.training.early_stopping
    needed = memory.estimate_bytes(
        sizes, batch=data.train.m if size == "full" else min(size, data.train.m),
        eval_rows=[s.m for s in splits], itemsize=np.dtype(config.training.dtype).itemsize,
        optimizer=config.optimizer.name, dropout=any(p < 1.0 for p in config.model.keep_probs()),
        batch_norm=config.model.batch_norm is not None,
        keep_best=stopping is not None and stopping.restore_best,
        data_bytes=sum(_resident(s.X) + _resident(s.y) for s in splits))
    total = physical_memory()
    if total is not None and needed > total:
        shown_sizes = sizes if len(sizes) <= 8 else [*sizes[:4], "...", *sizes[-2:]]
        layers = ", ".join(str(n) for n in shown_sizes)
        raise ConfigError("model.hidden", message=(
            f"model.hidden: a network of layer sizes [{layers}] needs about "
            f"{memory.human_bytes(needed)} of memory to train (parameters, gradients, "
            f"optimizer state and buffers) and this machine has "
            f"{memory.human_bytes(total)}; use fewer or smaller hidden layers, or a smaller "
            "training.batch_size"))
    free = available_memory()
    if free is not None and needed > free:
        return [f"this run needs about {memory.human_bytes(needed)} of memory and "
                f"{memory.human_bytes(free)} is free now; it may be slow or be stopped by "
                "the system"]
    return []


def _resident(array: object) -> int:
    """Bytes an array holds in memory: none for a memory map or rows read from one on demand
    (``data.memory_map``), whose pages the system brings in and drops as it needs."""
    if isinstance(array, np.memmap) or not isinstance(array, np.ndarray):
        return 0
    return array.nbytes
