"""How much memory a run needs, estimated before anything is allocated (``dlcli.resources``
compares it with the machine's). ``--set 'model.hidden=[100000000000]'`` should be refused with the estimate, not met by
NumPy's ``Unable to allocate 1.46 TiB`` half-way through building the network.

The estimate counts what training holds at its peak (SPEC section 1 sizes, ``n`` = units):

- the parameters and their gradients as flat vectors, plus one scratch vector for the penalties
  (3 P, P = every W, b, gamma, beta and batch-norm running statistic);
- the optimiser's slots (momentum and rmsprop 1 P, adam 2 P) and, with early stopping that
  restores the best epoch, a copy of the best parameters (1 P);
- a checkpoint being written: a copy of the parameters and slots, and its serialised bytes
  (2 x (1 + slots) P);
- a mini-batch's buffers: per layer Z, A (with its row of ones), dA, and the dropout mask and
  batch-norm intermediates where used, each (n, batch);
- the inference buffers of evaluation (Z, A, a scratch and relu's zeros per layer), kept for
  each split's size, on chunks of at most ``EVAL_ELEMENTS`` entries in the widest layer;
- the data set as loaded.

It is an estimate (NumPy's temporaries come and go), good to the factor that decides whether a
run can fit at all.
"""
from __future__ import annotations

from collections.abc import Sequence

EVAL_ELEMENTS = 1 << 21   # the network's inference chunk (dlcli.nn.network.EVAL_ELEMENTS)
SLOTS = {"gd": 0, "momentum": 1, "rmsprop": 1, "adam": 2}


def estimate_bytes(sizes: Sequence[int], *, batch: int, eval_rows: Sequence[int], itemsize: int,
                   optimizer: str, dropout: bool, batch_norm: bool, keep_best: bool,
                   data_bytes: int = 0) -> int:
    """Peak bytes of a training run of a network with layer sizes ``sizes`` (input first).

    ``eval_rows`` are the sizes of the splits evaluated. Python integers throughout: absurd
    sizes give an absurd number, never an overflow."""
    hidden = list(sizes[1:-1])
    params = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes, sizes[1:]))
    if batch_norm:
        params += 4 * sum(hidden)      # gamma, beta, running mean and variance
    slots = SLOTS.get(optimizer, 2)
    vectors = 3 + slots + (1 if keep_best else 0) + 2 * (1 + slots)
    per_unit = 3 + (2 if dropout else 0) + (2 if batch_norm else 0)   # Z, A, dA, masks, BN
    units = sum(sizes[1:])
    step = per_unit * units * batch + sizes[0] * batch   # and the batch's input rows
    widest = max(sizes)
    chunks = sum(min(max(m, 1), max(1, EVAL_ELEMENTS // widest)) for m in eval_rows)
    inference = 4 * units * chunks
    return (vectors * params + step + inference) * itemsize + data_bytes


def human_bytes(n: int) -> str:
    """1536 -> '1.5 KiB', as NumPy words its allocation errors; Python ints of any size."""
    units = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
    power = 0
    while power < len(units) - 1 and n >= 1024 ** (power + 1):
        power += 1
    if power == 0:
        return f"{n} bytes"
    if n >= 1024 ** power * 10**6:   # past YiB: the digits say it
        return f"about 10^{len(str(n // 1024 ** power)) - 1} {units[power]}"
    return f"{n / 1024 ** power:.3g} {units[power]}"
