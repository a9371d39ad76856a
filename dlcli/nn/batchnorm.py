"""Batch normalisation over the mini-batch (SPEC section 8), backward under forward.

Z is (n, m): one row per unit, so every statistic is a reduction along contiguous memory.
"""
from __future__ import annotations

import numpy as np


def forward_train(Z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float,
                  Zn: np.ndarray, out: np.ndarray, stats: dict) -> None:
    """Z~ = gamma * (Z - mu) / sqrt(var + eps) + beta with the batch's mean and biased variance.

    Writes Z_norm into ``Zn`` and Z~ into ``out``; leaves mu, var and 1/sqrt(var+eps) in
    ``stats`` for the backward pass and the running averages."""
    m = Z.shape[1]
    mu = np.sum(Z, axis=1, keepdims=True)
    mu *= 1.0 / m
    np.subtract(Z, mu, out=Zn)
    np.multiply(Zn, Zn, out=out)                  # out is scratch here
    var = np.sum(out, axis=1, keepdims=True)
    var *= 1.0 / m                                # biased variance, as SPEC says
    inv = 1.0 / np.sqrt(var + eps)
    np.multiply(Zn, inv, out=Zn)
    np.multiply(Zn, gamma, out=out)
    np.add(out, beta, out=out)
    stats["mu"], stats["var"], stats["inv"] = mu, var, inv


def backward(dZt: np.ndarray, Zn: np.ndarray, gamma: np.ndarray, stats: dict,
             dgamma: np.ndarray, dbeta: np.ndarray, tmp: np.ndarray) -> None:
    """dZ~ -> dZ in place; writes dgamma and dbeta ((n, 1) views of the flat gradient).

    dZ = inv * gamma * (dZ~ - sum(dZ~)/m - Z_norm * sum(dZ~ * Z_norm)/m): the mean terms are
    (n, 1) vectors, so the whole backward is four passes over (n, m)."""
    m = dZt.shape[1]
    np.sum(dZt, axis=1, keepdims=True, out=dbeta)
    np.multiply(dZt, Zn, out=tmp)
    np.sum(tmp, axis=1, keepdims=True, out=dgamma)
    scale = stats["inv"] * gamma
    np.multiply(Zn, scale * dgamma * (1.0 / m), out=tmp)
    np.multiply(dZt, scale, out=dZt)
    np.subtract(dZt, scale * dbeta * (1.0 / m), out=dZt)
    np.subtract(dZt, tmp, out=dZt)


def update_running(running_mean: np.ndarray, running_var: np.ndarray, stats: dict,
                   momentum: float) -> None:
    """running = momentum * running + (1 - momentum) * batch value (biased variance)."""
    running_mean *= momentum
    running_mean += (1.0 - momentum) * stats["mu"]
    running_var *= momentum
    running_var += (1.0 - momentum) * stats["var"]


def forward_infer(Z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, running_mean: np.ndarray,
                  running_var: np.ndarray, eps: float, out: np.ndarray | None = None
                  ) -> np.ndarray:
    """Inference mode: normalise with the running estimates. The per-unit constants are folded
    first, so the (n, m) array takes two passes: Z~ = Z * scale + (beta - mean * scale)."""
    scale = gamma / np.sqrt(running_var + eps)
    shift = beta - running_mean * scale
    out = np.multiply(Z, scale, out=out)
    return np.add(out, shift, out=out)
