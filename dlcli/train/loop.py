"""The training loop (SPEC sections 3, 5, 7, 10): epochs of shuffled mini-batches.

The loop owns the hot path: gather a batch's rows into a reused buffer, one forward/backward
pass, one optimiser step. Evaluation and everything callbacks do (logging, progress, files) happen
between epochs and are kept out of the timed steps.

The trainer takes plain values (a learning-rate function, a batch size, penalties, epochs), not a
config: numpy and the standard library are all it needs. ``dlcli.build`` makes one from a config.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dlcli.nn.network import EvalRows, Network
from dlcli.optim.optimizers import Optimizer
from dlcli.run_schema import (COST, EPOCH, EVALUATED_SPLITS, FINAL_SPLITS, LEARNING_RATE, STEP,
                              grad_norm_column, history_columns, metric_name)
from dlcli.train.callbacks import Callback
from dlcli.train.streams import Streams

if TYPE_CHECKING:   # only for annotations: the trainer reads .train, .splits() of any data
    from dlcli.data.dataset import Dataset

Augment = Callable[[np.ndarray, np.random.Generator], None]


@dataclass
class Progress:
    """Where training is: ``epoch`` completed epochs, ``step`` parameter updates."""

    epoch: int = 0
    step: int = 0
    train_seconds: float = 0.0
    samples: int = 0


class Trainer:
    """Trains ``network`` on ``data`` with ``optimizer``, reporting through callbacks.

    ``learning_rate(e)`` is the rate of the epoch after ``e`` completed epochs (SPEC section 7);
    ``batch_size`` None means the whole training set; ``l2``, ``l1`` are the penalties'
    lambdas (SPEC section 3); a history row is evaluated every ``eval_every`` epochs and at the
    last; ``augment(rows, rng)`` changes a training batch's rows in place; ``divergence_hint``
    ends the message of a run whose cost became non-finite."""

    def __init__(self, network: Network, optimizer: Optimizer, data: Dataset, streams: Streams,
                 *, learning_rate: Callable[[int], float], epochs: int,
                 batch_size: int | None = None, shuffle: bool = True, l2: float = 0.0,
                 l1: float = 0.0, eval_every: int = 1, log_grad_norms: bool = False,
                 augment: Augment | None = None, divergence_hint: str = "try a smaller "
                 "learning rate", callbacks: list[Callback] | None = None) -> None:
        self.network = network
        self.optimizer = optimizer
        self.data = data
        self.streams = streams
        self.learning_rate = learning_rate
        self.epochs = int(epochs)
        self.shuffle = bool(shuffle)
        self.l2, self.l1 = float(l2), float(l1)
        self.eval_every = int(eval_every)
        self.log_grad_norms = bool(log_grad_norms)
        self.augment = augment
        self.divergence_hint = divergence_hint   # what to change when the cost goes non-finite
        self.callbacks = list(callbacks or [])
        self.progress = Progress()
        self.status = "running"
        self.message = ""
        self.history: list[dict[str, Any]] = []
        # The best epoch so far and the network's arrays then (``mark_best``), put back at the
        # end of ``fit``; ``restored_epoch`` says which epoch the network now holds.
        self.best: tuple[int, dict[str, np.ndarray]] | None = None
        self.restored_epoch: int | None = None
        train = data.train
        # The training rows, gathered batch by batch into a buffer that ends in a column of
        # ones (the layout train_step takes); evaluation reads them where they lie.
        # A memory-mapped split is a row source (``take`` and slices read rows from the disk).
        self._X = (train.X if not isinstance(train.X, np.ndarray) else
                   np.ascontiguousarray(train.X, dtype=network.dtype))
        self._eval_splits: list[tuple[str, str, EvalRows]] | None = None
        self._targets = network.output.targets(train.y, network.dtype)
        self._batch_cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.batch_size = train.m if batch_size is None else min(int(batch_size), train.m)

    # ------------------------------------------------------------------ control

    def request_stop(self, status: str, message: str = "") -> None:
        """Ask the loop to stop after this epoch (callbacks call this)."""
        if self.status == "running":
            self.status, self.message = status, message

    def mark_best(self, epoch: int) -> None:
        """Remember the network as it is now, at ``epoch``, as the best so far (early stopping
        with restore_best calls this); ``fit`` puts it back when training ends."""
        self.best = (epoch, self.network.get_params())

    def _restore_best(self) -> None:
        # After every callback's on_train_end, so the order of callbacks does not matter: the
        # final checkpoint holds where training stopped, params.npz the best epoch.
        if self.best is not None and self.status != "diverged":
            epoch, params = self.best
            self.network.set_params(params)
            self.restored_epoch = epoch

    def history_columns(self) -> list[str]:
        """The columns of the rows this trainer emits (history.csv's header)."""
        return history_columns(entry.name for entry in self.network.layout.entries
                               if self.log_grad_norms and entry.weight)

    # ------------------------------------------------------------------ evaluation

    def evaluate(self) -> dict[str, float]:
        """Loss and accuracy of the evaluated splits (train, dev), in inference mode."""
        if self._eval_splits is None:   # prepared once: evaluation runs every epoch
            splits = self.data.splits()
            self._eval_splits = [
                (metric_name(name, "loss"), metric_name(name, "accuracy"), self.network.eval_rows(
                    self._X if name == "train" else splits[name].X, splits[name].y))
                for name in EVALUATED_SPLITS if name in splits]
        out: dict[str, float] = {}
        for loss_key, accuracy_key, rows in self._eval_splits:
            out[loss_key], out[accuracy_key] = self.network.evaluate_rows(rows)
        return out

    def evaluate_test(self) -> dict[str, float]:
        """Loss and accuracy of the splits measured once, at the end (test)."""
        out: dict[str, float] = {}
        for name, split in self.data.splits().items():
            if name in FINAL_SPLITS:
                loss, accuracy = self.network.evaluate(split.X, split.y)
                out[metric_name(name, "loss")] = loss
                out[metric_name(name, "accuracy")] = accuracy
        return out

    # ------------------------------------------------------------------ the loop

    def _batch_buffers(self, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(X1, its rows without the ones column, targets) for a batch of ``m``, made once."""
        bufs = self._batch_cache.get(m)
        if bufs is None:
            X1 = np.empty((m, self._X.shape[1] + 1), dtype=self.network.dtype)
            X1[:, -1] = 1.0
            bufs = self._batch_cache[m] = (X1, X1[:, :-1], np.empty(m, self._targets.dtype))
        return bufs

    def run_epoch(self, lr: float) -> tuple[float, dict[str, float]]:
        """One pass over the training data. Returns (mean cost, mean gradient norms)."""
        net, opt = self.network, self.optimizer
        theta, grad = net.theta, net.grad
        M, B = self._X.shape[0], self.batch_size
        started = time.perf_counter()   # the epoch's shuffle is training work too (SPEC 5)
        order = self.streams.shuffle.permutation(M) if self.shuffle else np.arange(M)
        l2, l1 = self.l2, self.l1
        dropout_rng, augment, aug_rng = self.streams.dropout, self.augment, self.streams.augment
        log_norms = self.log_grad_norms
        norms: dict[str, float] = {}
        total, batches = 0.0, 0
        bad: float | None = None   # a non-finite cost: the run diverged, its update not applied
        for start in range(0, M, B):
            idx = order[start:start + B]
            X1, rows, t = self._batch_buffers(len(idx))
            # The ndarray methods with positional arguments: np.take's keyword handling costs a
            # tiny network as much as the gather itself.
            self._X.take(idx, 0, rows)
            self._targets.take(idx, None, t)
            if augment is not None:
                augment(rows, aug_rng)
            cost = net.train_step(X1, t, l2=l2, l1=l1, rng=dropout_rng)
            if not math.isfinite(cost):
                bad = cost
                break
            opt.step(theta, grad, lr)
            total += cost
            batches += 1
            if log_norms:
                for key, value in net.grad_norms().items():
                    norms[key] = norms.get(key, 0.0) + value
        self.progress.train_seconds += time.perf_counter() - started
        self.progress.step += batches
        self.progress.samples += min(M, batches * B)
        # A diverged epoch keeps the norms of its steps before the non-finite cost: they are the
        # record of the explosion (exploding weights diverge in the first few steps).
        averaged = ({grad_norm_column(k): v / batches for k, v in norms.items()}
                    if batches else {})
        if bad is not None:
            return bad, averaged
        return total / batches, averaged

    def _emit(self, row: dict[str, Any]) -> None:
        self.history.append(row)
        for callback in self.callbacks:
            callback.on_epoch_end(self, row)

    def initial_row(self) -> dict[str, Any]:
        """Row epoch 0: the network before any update (cost on the whole training set)."""
        metrics = self.evaluate()
        cost = metrics[metric_name("train", "loss")] + self.network.penalty(
            self.data.train.m, self.l2, self.l1)
        return {EPOCH: 0, STEP: 0, LEARNING_RATE: self.learning_rate(0), COST: cost, **metrics}

    def fit(self, epochs: int | None = None) -> str:
        """Train up to ``epochs`` (default: the trainer's) completed epochs in all.

        Returns the final status: ``completed``, ``early_stopped`` or ``diverged``. A
        KeyboardInterrupt leaves status ``interrupted`` and propagates after ``on_train_end``.
        When some epoch was marked best (``mark_best``), the network ends holding it."""
        target = self.epochs if epochs is None else epochs
        eval_every = self.eval_every
        self.status, self.message = "running", ""
        for callback in self.callbacks:
            callback.on_train_begin(self)
        try:
            if self.progress.epoch == 0 and not self.history:   # not when resuming at 0
                self._emit(self.initial_row())
            while self.progress.epoch < target and self.status == "running":
                epoch = self.progress.epoch + 1
                lr = self.learning_rate(self.progress.epoch)
                cost, norms = self.run_epoch(lr)
                self.progress.epoch = epoch
                row: dict[str, Any] = {EPOCH: epoch, STEP: self.progress.step,
                                       LEARNING_RATE: lr, COST: cost}
                if not math.isfinite(cost):
                    self.request_stop("diverged", f"the cost became {cost} in epoch {epoch}; "
                                      + self.divergence_hint)
                    row.update(norms)
                    self._emit(row)
                    break
                if epoch % eval_every == 0 or epoch == target:
                    row.update(self.evaluate())
                    row.update(norms)
                    self._emit(row)
            if self.status == "running":
                self.status = "completed"
        except KeyboardInterrupt:
            self.status, self.message = "interrupted", "stopped by the user (Ctrl-C)"
            raise
        except Exception as exc:
            # The callbacks' on_train_end sees the run failed (the caller words the message).
            self.status, self.message = "failed", str(exc)
            raise
        finally:
            for callback in self.callbacks:
                callback.on_train_end(self)
            self._restore_best()
        return self.status

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where training is now: the network, the
        optimiser, the counters, the random streams, the best epoch so far, and the state of
        every callback that has one (``state_dict``/``load_state_dict``), by its ``state_key``."""
        state: dict[str, Any] = {
            "params": self.network.get_params(),      # by name, as params.npz holds them
            "optimizer": self.optimizer.state_dict(),  # each slot by the same names
            "epoch": self.progress.epoch, "step": self.progress.step,
            "train_seconds": self.progress.train_seconds, "samples": self.progress.samples,
            "streams": self.streams.state_dict(),
            "callbacks": {key: callback.state_dict()
                          for key, callback in self._stateful_callbacks().items()},
        }
        if self.best is not None:
            state["best"] = {"epoch": self.best[0], "params": self.best[1]}
        return state

    def _stateful_callbacks(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for callback in self.callbacks:
            if hasattr(callback, "state_dict") and hasattr(callback, "load_state_dict"):
                key = getattr(callback, "state_key", type(callback).__name__)
                assert key not in found, f"two callbacks keep their state under {key!r}"
                found[key] = callback
        return found

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Undo ``state_dict``; a KeyError or ValueError if ``state`` does not fit."""
        legacy = state.get("early_stopping")   # checkpoints written before "callbacks" existed
        if legacy is not None:
            state = {**state, "callbacks": {"EarlyStopping": legacy}}
        if "params" in state:
            self.network.set_params(state["params"])
        else:   # format 1 checkpoints: theta as one flat vector, running averages beside it
            self._load_flat(state["theta"], state["network_state"])
        if legacy is not None and "best_theta" in legacy:
            # The best epoch's flat vector: read it through the network to name its arrays.
            now = self.network.get_params()
            self._load_flat(legacy["best_theta"], {k[len("best_"):]: v for k, v in legacy.items()
                                                   if k.startswith("best_running_")})
            self.best = (int(legacy["best_epoch"]), self.network.get_params())
            self.network.set_params(now)
        elif "best" in state:
            self.best = (int(state["best"]["epoch"]), dict(state["best"]["params"]))
        self.optimizer.load_state_dict(state["optimizer"])
        self.progress = Progress(int(state["epoch"]), int(state["step"]),
                                 float(state["train_seconds"]), int(state["samples"]))
        self.streams.load_state_dict(state["streams"])
        saved = state.get("callbacks", {})
        for key, callback in self._stateful_callbacks().items():
            if key in saved:
                callback.load_state_dict(saved[key])

    def _load_flat(self, theta: np.ndarray, running: dict[str, np.ndarray]) -> None:
        if np.shape(theta) != self.network.theta.shape:
            raise ValueError(f"theta has shape {np.shape(theta)}, the architecture needs "
                             f"{self.network.theta.shape}")
        self.network.theta[...] = theta
        arrays = self.network.state_arrays()
        for key, value in running.items():
            arrays[key][...] = value
