"""The training loop (SPEC sections 3, 5, 7, 10): epochs of shuffled mini-batches.

The loop owns the hot path: gather a batch's rows into a reused buffer, one forward/backward
pass, one optimiser step. Evaluation and everything callbacks do (logging, progress, files) happen
between epochs and are kept out of the timed steps.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from dlcli.config.schema import Config
from dlcli.data.dataset import Dataset
from dlcli.nn.network import EvalRows, Network
from dlcli.optim.optimizers import Optimizer
from dlcli.optim.schedules import learning_rate
from dlcli.run_schema import (COST, EPOCH, EVALUATED_SPLITS, FINAL_SPLITS, LEARNING_RATE, STEP,
                              grad_norm_column, history_columns, metric_name)
from dlcli.train.callbacks import Callback, EarlyStopping
from dlcli.train.streams import Streams


@dataclass
class Progress:
    """Where training is: ``epoch`` completed epochs, ``step`` parameter updates."""

    epoch: int = 0
    step: int = 0
    train_seconds: float = 0.0
    samples: int = 0


class Trainer:
    """Trains ``network`` on ``data`` as ``config`` says, reporting through callbacks."""

    def __init__(self, config: Config, network: Network, optimizer: Optimizer, data: Dataset,
                 streams: Streams, *, augment: Callable[[np.ndarray, np.random.Generator], None]
                 | None = None, callbacks: list[Callback] | None = None) -> None:
        self.config = config
        self.network = network
        self.optimizer = optimizer
        self.data = data
        self.streams = streams
        self.augment = augment
        self.callbacks = list(callbacks or [])
        self.progress = Progress()
        self.status = "running"
        self.message = ""
        self.restored_epoch: int | None = None
        self.history: list[dict[str, Any]] = []
        self.early_stopping = next((c for c in self.callbacks if isinstance(c, EarlyStopping)),
                                   None)
        train = data.train
        # The training rows, gathered batch by batch into a buffer that ends in a column of
        # ones (the layout train_step takes); evaluation reads them where they lie.
        # A memory-mapped split is a row source (``take`` and slices read rows from the disk).
        self._X = (train.X if not isinstance(train.X, np.ndarray) else
                   np.ascontiguousarray(train.X, dtype=network.dtype))
        self._eval_splits: list[tuple[str, str, EvalRows]] | None = None
        self._targets = network.output.targets(train.y, network.dtype)
        self._batch_cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        size = config.training.batch_size
        self.batch_size = train.m if size == "full" else min(int(size), train.m)

    # ------------------------------------------------------------------ control

    def request_stop(self, status: str, message: str = "") -> None:
        """Ask the loop to stop after this epoch (callbacks call this)."""
        if self.status == "running":
            self.status, self.message = status, message

    def learning_rate(self, epochs_done: int) -> float:
        opt, sch = self.config.optimizer, self.config.schedule
        return learning_rate(sch.name, opt.learning_rate, epochs_done, interval=sch.interval,
                             decay_rate=sch.decay_rate, base=sch.base, k=sch.k)

    def history_columns(self) -> list[str]:
        """The columns of the rows this trainer emits (history.csv's header)."""
        norms = self.config.training.log_grad_norms
        return history_columns(entry.name for entry in self.network.layout.entries
                               if norms and entry.weight)

    # Random initial weights this many times larger through the network than He's (the product
    # over layers of init_scale / sqrt(2 / n[l-1])) blow activations and gradients up on their
    # own: the divergence is the initialisation's, whatever the learning rate.
    EXPLODING_GROWTH = 100.0

    def divergence_hint(self) -> str:
        """What to change when the cost became non-finite: the initial scale when random
        weights are far larger than He's, else the learning rate."""
        model = self.config.model
        if model.init == "random" and model.init_scale > 0:
            growth = math.prod(model.init_scale / math.sqrt(2.0 / layer.n_in)
                               for layer in self.network.layers)
            if growth > self.EXPLODING_GROWTH:
                return (f"model.init_scale {model.init_scale:g} makes the initial weights so "
                        f"large that activations and gradients grow about {growth:,.0f}-fold "
                        f"through the {len(self.network.layers)} layers (exploding gradients); "
                        "use model.init=he or a smaller model.init_scale")
        return "try a smaller optimizer.learning_rate"

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

    def _penalty_weights(self) -> tuple[float, float]:
        reg = self.config.regularization
        return float(reg.l2), float(reg.l1)

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
        training = self.config.training
        started = time.perf_counter()   # the epoch's shuffle is training work too (SPEC 5)
        order = (self.streams.shuffle.permutation(M) if training.shuffle
                 else np.arange(M))
        l2, l1 = self._penalty_weights()
        dropout_rng, augment, aug_rng = self.streams.dropout, self.augment, self.streams.augment
        log_norms = training.log_grad_norms
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
        l2, l1 = self._penalty_weights()
        cost = metrics[metric_name("train", "loss")] + self.network.penalty(
            self.data.train.m, l2, l1)
        return {EPOCH: 0, STEP: 0, LEARNING_RATE: self.learning_rate(0), COST: cost, **metrics}

    def fit(self, epochs: int | None = None) -> str:
        """Train up to ``epochs`` (default ``training.epochs``) completed epochs in all.

        Returns the final status: ``completed``, ``early_stopped`` or ``diverged``. A
        KeyboardInterrupt leaves status ``interrupted`` and propagates after ``on_train_end``."""
        target = self.config.training.epochs if epochs is None else epochs
        eval_every = self.config.training.eval_every
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
                                      + self.divergence_hint())
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
        return self.status

    # ------------------------------------------------------------------ checkpoints

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where training is now."""
        state: dict[str, Any] = {
            "params": self.network.get_params(),      # by name, as params.npz holds them
            "optimizer": self.optimizer.state_dict(),  # each slot by the same names
            "epoch": self.progress.epoch, "step": self.progress.step,
            "train_seconds": self.progress.train_seconds, "samples": self.progress.samples,
            "streams": self.streams.state_dict(),
        }
        if self.early_stopping is not None:
            state["early_stopping"] = self.early_stopping.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Undo ``state_dict``; a KeyError or ValueError if ``state`` does not fit."""
        if "params" in state:
            self.network.set_params(state["params"])
        else:   # format 1 checkpoints: theta as one flat vector, running averages beside it
            if np.shape(state["theta"]) != self.network.theta.shape:
                raise ValueError(f"theta has shape {np.shape(state['theta'])}, the "
                                 f"architecture needs {self.network.theta.shape}")
            self.network.theta[...] = state["theta"]
            arrays = self.network.state_arrays()
            for key, value in state["network_state"].items():
                arrays[key][...] = value
        self.optimizer.load_state_dict(state["optimizer"])
        self.progress = Progress(int(state["epoch"]), int(state["step"]),
                                 float(state["train_seconds"]), int(state["samples"]))
        self.streams.load_state_dict(state["streams"])
        if self.early_stopping is not None and "early_stopping" in state:
            self.early_stopping.load_state_dict(state["early_stopping"])
