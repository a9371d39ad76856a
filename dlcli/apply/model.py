"""A trained run, loaded for use: ``load_run(run_dir)`` -> ``Model`` (SPEC section 1, "applying
a run"; inference mode as SPEC sections 2 and 8 say: no dropout, batch norm's running
statistics).

The run directory is the only input: model.json says how to rebuild the network and prepare
raw features, params.npz holds its arrays. ``predict`` and ``predict_proba`` take features as the
training file has them (not normalised) and answer in the run's original class labels.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from dlcli.apply.metadata import ModelInfo, read_model
from dlcli.blas import blas_limit, threads_for
from dlcli.config.load import read_yaml
from dlcli.data.prepare import normalize
from dlcli.data.transforms import apply_transforms
from dlcli.errors import DataError, DlcliError, InputError
from dlcli.nn.losses import OUTPUTS
from dlcli.nn.network import EVAL_CHUNK, Network
from dlcli.npzfile import read_npz_arrays
from dlcli.run_schema import CONFIG_FILE, PARAMS_FILE


class Model:
    """A trained network with what it needs to take raw features and name its classes."""

    def __init__(self, info: ModelInfo, network: Network, path: Path,
                 batch_size: int | None = None) -> None:
        """``batch_size``: the run's training batch size (config.yaml), for ``blas_threads``."""
        self.info = info
        self.network = network
        self.path = path
        self.batch_size = batch_size

    def blas_threads(self, rows: int) -> int | None:
        """BLAS threads for applying the network to ``rows`` rows at a time: the rule training
        uses (``dlcli.blas.threads_for``) over the run's own training shapes, so the network is
        applied with the threads its evaluation passes ran with while it trained: one for a
        network whose training products are small, the library's default otherwise. Without a
        known batch size, the rule over the inference pass itself. Measured and argued in
        docs/decisions.md (benchmarks/predict_threads.py)."""
        batch = self.batch_size or min(max(rows, 1), EVAL_CHUNK)
        return threads_for(self.network.sizes, batch)

    def threads(self, rows: int) -> contextlib.AbstractContextManager[None]:
        """``blas_limit`` with ``blas_threads(rows)``, for a pass over many chunks."""
        return blas_limit(self.blas_threads(rows))

    # ------------------------------------------------------------------ what it is

    @property
    def classes(self) -> np.ndarray:
        """The original class labels in output order (ints or strings), as scikit-learn's
        ``classes_``: column k of ``predict_proba`` is ``classes[k]``."""
        return np.asarray(self.info.classes)

    @property
    def feature_names(self) -> list[str]:
        return list(self.info.feature_names)

    @property
    def n_features(self) -> int:
        return self.info.n_features

    def __repr__(self) -> str:
        return (f"Model({str(self.path)!r}: {self.n_features} features -> "
                f"{len(self.info.classes)} classes, network {self.network.sizes}, "
                f"{self.info.output} output, {self.info.dtype})")

    # ------------------------------------------------------------------ applying it

    def prepare(self, X: Any, *, source: str | None = None, first_row: int = 0) -> np.ndarray:
        """Raw features (m, n_features), as the training file stores them -> the run's input
        transforms (model.json's ``transforms``: a mnist.npz's pixels / 255), normalisation, and
        the network's dtype.

        ``X`` may be a pandas DataFrame (its columns are matched by name) or an array; images
        (m, height, width) are flattened. A wrong shape or a value that is not a finite
        number is a DataError naming the row (counted from 1, offset by ``first_row``) and the
        column; ``source`` names the file in the message."""
        columns = getattr(X, "columns", None)
        if columns is not None:
            X = _by_name(X, [str(c) for c in columns], self.info.feature_names, source)
        try:
            raw = np.array(X, dtype=np.float64)   # a copy: normalize works in place
        except (TypeError, ValueError) as exc:
            raise DataError(f"the features are not numbers ({exc})", file=source) from None
        if raw.ndim > 2 and self.info.image_shape is not None:
            raw = raw.reshape(raw.shape[0], -1)
        n = self.n_features
        if raw.ndim != 2 or raw.shape[1] != n:
            what = (f"{raw.shape[1]} features" if raw.ndim == 2
                    else f"shape {raw.shape}")
            raise DataError(f"the input has {what}; the run was trained on {n} "
                            f"({_names(self.info.feature_names)})", file=source)
        check_finite(raw, self.info.feature_names, source, first_row)
        with np.errstate(over="ignore"):   # an overflow is reported below, with its place
            # As training did: the file's transforms (a mnist.npz's / 255), then normalisation.
            apply_transforms(raw, self.info.transforms)
            rows = normalize(raw, self.info.shift, self.info.scale, self.info.dtype)
        if not np.isfinite(rows).all():
            row, j = np.argwhere(~np.isfinite(rows))[0]
            raise DataError(f"the value does not fit in {self.info.dtype} after normalisation "
                            f"(the run trained on values near {self.info.shift[j]:g}, spread "
                            f"{self.info.scale[j]:g})", file=source,
                            row=first_row + int(row) + 1, column=self.info.feature_names[j])
        return rows

    def logits(self, X: Any) -> np.ndarray:
        """Z[L] (units, m) for raw features ``X``."""
        rows = self.prepare(X)
        with self.threads(rows.shape[0]):
            return self.network.logits(rows)

    def predict_proba(self, X: Any) -> np.ndarray:
        """(m, K) probabilities in float64, column k for ``classes[k]`` (a sigmoid output
        gives two columns, 1 - p and p)."""
        return self.network.output.probabilities(self.logits(X))

    def predict(self, X: Any) -> np.ndarray:
        """(m,) predicted labels, in the run's original class labels."""
        return self.classes[self.class_of(self.logits(X))]

    def class_of(self, Z: np.ndarray) -> np.ndarray:
        """(m,) predicted class numbers 0..K-1 from logits Z (units, m), decided as the run's
        evaluation decides them: a sigmoid unit says class 1 where z > 0, softmax the largest
        logit (the first on a tie)."""
        if Z.shape[0] == 1:
            return (Z[0] > 0).astype(np.int64)
        return Z.argmax(axis=0)

    def apply(self, rows: Any) -> tuple[np.ndarray, np.ndarray]:
        """(class numbers (m,), probabilities (m, K)) of rows already prepared (``prepare``)."""
        Z = self.network.logits(rows)
        return self.class_of(Z), self.network.output.probabilities(Z)


def check_finite(X: np.ndarray, names: list[str], source: str | None, first_row: int = 0
                 ) -> None:
    """A DataError at the first NaN or infinite value (row from 1, offset by ``first_row``)."""
    bad = ~np.isfinite(X)
    if bad.any():
        row, j = np.argwhere(bad)[0]
        raise DataError(f"the value is {X[row, j]} (missing or infinite values are not "
                        "allowed)", file=source, row=first_row + int(row) + 1, column=names[j])


def _names(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _by_name(frame: Any, columns: list[str], wanted: list[str], source: str | None) -> Any:
    """The DataFrame's columns in the training order, matched by name."""
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise DataError(f"missing feature column{'s' if len(missing) > 1 else ''} "
                        f"{_names(missing)}; the run was trained on {_names(wanted)}",
                        file=source, column=missing[0])
    return frame[wanted]


def load_run(run_dir: str | Path) -> Model:
    """The trained network of a run directory, ready to predict (``Model``).

    Needs model.json (written by every run since it existed) and params.npz (written when a run
    ends; a run still training, or killed, has none yet)."""
    path = Path(run_dir)
    info = read_model(path)
    params_path = path / PARAMS_FILE
    if not params_path.exists():
        raise InputError(f"{path} has no {PARAMS_FILE}: the run has not ended (it is still "
                         "training, or was killed: dlcli resume RUN_DIR finishes it)")
    params = read_npz_arrays(params_path, lambda reason: InputError(f"{params_path} {reason}"))
    network = Network(info.sizes, info.activations, OUTPUTS.get(info.output),
                      dtype=info.dtype, batch_norm=info.batch_norm)
    try:
        network.set_params(params)
    except ValueError as exc:
        raise InputError(f"{params_path} does not fit the network model.json describes "
                         f"({info.sizes}): {exc}") from None
    for key, value in params.items():
        if not np.isfinite(value).all():
            raise InputError(f"{params_path}: {key} holds NaN or infinite values (the run "
                             "diverged); there is no trained network to apply")
    return Model(info, network, path, _training_batch(path))


def _training_batch(path: Path) -> int | None:
    """``training.batch_size`` of the run's config.yaml, when it is a number (not ``full``) and
    the file is there and readable; None otherwise (it only tunes ``blas_threads``)."""
    try:
        value = read_yaml(path / CONFIG_FILE).get("training", {}).get("batch_size")
    except (DlcliError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else None
