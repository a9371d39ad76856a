"""PyTorch CPU: the same network with ``nn.Linear`` layers and fused Adam, threads = cores.

The weights start from the same arrays as dlcli's (a ``Linear`` weight is (out, in), the course's
``W`` layout). Each epoch draws a permutation and gathers batches with ``index_select``; the loss
is summed as a tensor and read once per epoch (the cheaper idiom for PyTorch).
"""
from __future__ import annotations

import os
import time

import numpy as np
import torch

from benchmarks.workloads import BETA1, BETA2, EPSILON, LEARNING_RATE, SEED, Workload, \
    initial_params, make_data


def build(w: Workload) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    s = w.sizes
    params = initial_params(w)
    for i in range(1, len(s)):
        linear = torch.nn.Linear(s[i - 1], s[i])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(params[f"W{i}"]))
            linear.bias.copy_(torch.from_numpy(params[f"b{i}"][:, 0]))
        layers.append(linear)
        if i < len(s) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def train(w: Workload) -> dict:
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(SEED)
    X_np, y_np = make_data(w)
    X = torch.from_numpy(X_np)
    if w.output == "sigmoid":
        y = torch.from_numpy(y_np.astype(np.float32))
        loss_fn: torch.nn.Module = torch.nn.BCEWithLogitsLoss()
    else:
        y = torch.from_numpy(y_np)
        loss_fn = torch.nn.CrossEntropyLoss()
    model = build(w)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, betas=(BETA1, BETA2),
                                 eps=EPSILON, fused=True)
    generator = torch.Generator().manual_seed(SEED)
    M, B = w.n_samples, w.batch_size
    seconds, samples, last = 0.0, 0, float("nan")
    for _ in range(w.epochs):
        started = time.perf_counter()
        order = torch.randperm(M, generator=generator)
        total = torch.zeros(())
        for start in range(0, M, B):
            idx = order[start:start + B]
            xb, yb = X.index_select(0, idx), y.index_select(0, idx)
            optimizer.zero_grad(set_to_none=True)
            out = model(xb)
            loss = loss_fn(out[:, 0] if w.output == "sigmoid" else out, yb)
            loss.backward()
            optimizer.step()
            total += loss.detach()
            samples += len(idx)
        last = float(total)
        seconds += time.perf_counter() - started
    with torch.no_grad():
        out = model(X)
        final = float(loss_fn(out[:, 0] if w.output == "sigmoid" else out, y))
    return {"seconds": seconds, "samples": samples, "final_train_loss": final,
            "threads": torch.get_num_threads(), "version": torch.__version__,
            "last_epoch_cost_sum": last}
