"""Take one dlcli training step apart: the time of every matrix product, activation, the loss,
the batch gather and Adam, each repeated with the threads warm (best of 5).

    python benchmarks/profile_step.py [tiny|small|medium|large]

The sum is what the step would cost with every call at its standalone speed; compare it with the
samples/s of ``run.py`` to see what the loop adds (cold caches, BLAS threads waking up).
"""
from __future__ import annotations

import sys
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.systems.dlcli_bench import make_trainer  # noqa: E402
from benchmarks.workloads import WORKLOADS  # noqa: E402


def best_ms(call, number: int) -> float:
    return min(timeit.repeat(call, number=number, repeat=5)) / number * 1e3


def main(name: str) -> None:
    w = WORKLOADS[name]
    trainer = make_trainer(w)
    net, opt = trainer.network, trainer.optimizer
    B = w.batch_size
    idx = np.random.default_rng(0).permutation(w.n_samples)[:B]
    X1, rows, t = trainer._batch_buffers(B)
    trainer._X.take(idx, 0, rows)
    trainer._targets.take(idx, None, t)
    net.train_step(X1, t)
    bufs = net._buffers_for(B)
    number = max(3, int(2e-3 * 1e9 / (6 * w.parameters * B)))
    rows: list[tuple[str, float]] = [
        ("gather", best_ms(lambda: (trainer._X.take(idx, 0, rows),
                                    trainer._targets.take(idx, None, t)), number))]
    for pos, (layer, buf) in enumerate(zip(net.layers, bufs)):
        A_prev = bufs[pos - 1].A if pos > 0 else X1.T
        dZ = buf.dA if layer.activation else buf.Z
        i = layer.index
        rows.append((f"Z{i} = [W|b] [A;1]",
                     best_ms(lambda: np.matmul(layer.block, A_prev, out=buf.Z), number)))
        if layer.activation:
            rows.append((f"A{i} = g(Z{i})", best_ms(lambda: layer.activation.forward(
                buf.Z, buf.A[:layer.n_out], buf.work), number)))
        rows.append((f"[dW{i}|db{i}] = dZ [A;1]^T",
                     best_ms(lambda: np.matmul(dZ, A_prev.T, out=layer.dblock), number)))
        if pos > 0:
            rows.append((f"dA{i - 1} = W{i}^T dZ", best_ms(
                lambda: np.matmul(layer.W.T, dZ, out=bufs[pos - 1].dA), number)))
        if layer.activation:
            rows.append((f"dZ{i} = dA g'(Z{i})", best_ms(lambda: layer.activation.backward(
                buf.dA, buf.Z, buf.A[:layer.n_out], buf.work), number)))
    logits = bufs[-1].Z.copy()

    def loss() -> None:
        bufs[-1].Z[...] = logits
        net.output.forward_backward(bufs[-1].Z, t, bufs[-1].work)
    rows.append(("loss and dZ[L] (incl. a copy)", best_ms(loss, number)))
    rows.append(("Adam", best_ms(lambda: opt.step(net.theta, net.grad, 1e-3), number)))
    rows.append(("whole train_step (no Adam)", best_ms(lambda: net.train_step(X1, t), number)))
    parts = sum(ms for label, ms in rows[:-1])
    for label, ms in rows:
        print(f"{label:32} {ms:9.3f} ms")
    print(f"{'sum of the parts':32} {parts:9.3f} ms  -> {B / parts * 1e3:,.0f} samples/s")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "large")
