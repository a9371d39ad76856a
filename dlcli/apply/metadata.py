"""model.json: what applying a trained run needs besides params.npz (SPEC section 1, "applying
a run"): the features, what was done to their values before normalisation (a mnist.npz's pixel
scale), the normalisation fitted on the training split, the class labels in output order, the
output kind, the dtype and the architecture.

``describe`` builds it when a run starts (the run writes it beside config.yaml); ``read_model``
reads and checks it. A run directory made before model.json existed, or a file that lacks a
key, is an ``InputError`` that names what is missing: never a guess that could predict wrongly.
The format is documented in docs/run-directory.md. Version 2 added ``transforms``; a version 1
file was written before dlcli recorded them and is read as having none (which is what it
means for every run but one trained on a Keras-style mnist.npz of 8-bit pixels: such a run must
be given pixels already divided by 255, or be trained again).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlcli.config.schema import NORMALIZERS, Config
from dlcli.data.dataset import Dataset
from dlcli.data.prepare import DTYPES
from dlcli.data.transforms import check_transforms
from dlcli.errors import InputError, os_reason
from dlcli.nn.activations import ACTIVATIONS
from dlcli.nn.losses import OUTPUTS
from dlcli.nn.network import Network
from dlcli.run_schema import CONFIG_FILE, METRICS_FILE, MODEL_FILE

FORMAT = "dlcli-model"
VERSION = 2


def describe(config: Config, data: Dataset, network: Network) -> dict[str, Any]:
    """The content of model.json for a run of ``config`` on ``data`` with ``network``."""
    assert data.shift is not None and data.scale is not None
    bn = config.model.batch_norm
    return {
        "format": FORMAT,
        "version": VERSION,
        "features": {"count": data.n_features, "names": list(data.feature_names),
                     "image_shape": list(data.image_shape) if data.image_shape else None},
        # applied in order to the values as the file stores them, in float64, before
        # normalisation: [{"divide": 255.0}] for a mnist.npz of 8-bit pixels (data.transforms)
        "transforms": [dict(t) for t in data.transforms],
        # x_normalised = (x - shift) / scale, computed in float64, then cast to dtype
        "normalization": {"kind": config.data.normalize,
                          "shift": [float(v) for v in data.shift],
                          "scale": [float(v) for v in data.scale]},
        "labels": {"column": data.label_column, "classes": list(data.classes)},
        "output": network.output.name,
        "dtype": network.dtype.name,
        "architecture": {"sizes": list(network.sizes),
                         "activations": list(config.model.activations()),
                         "batch_norm": ({"momentum": bn.momentum, "epsilon": bn.epsilon}
                                        if bn else None)},
    }


@dataclass(frozen=True)
class ModelInfo:
    """A checked model.json."""

    feature_names: list[str]
    image_shape: tuple[int, ...] | None
    transforms: list[dict[str, float]]   # before normalisation, in order (data.transforms)
    normalization: str
    shift: np.ndarray           # (n_features,) float64
    scale: np.ndarray           # (n_features,) float64, never 0
    label_column: str | None
    classes: list[int | str]    # original label of output 0, 1, ...
    output: str                 # sigmoid | softmax
    dtype: str                  # float32 | float64
    sizes: list[int]
    activations: list[str]
    batch_norm: tuple[float, float] | None   # (momentum, epsilon)

    @property
    def n_features(self) -> int:
        return len(self.feature_names)


class _Reader:
    """Looks up keys of model.json, each problem an InputError naming the file and the key."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path, self.data = path, data

    def fail(self, key: str, problem: str) -> InputError:
        return InputError(f"{self.path}: {key} {problem}; the file does not describe a model "
                          "dlcli can apply (retrain the run, or restore the file dlcli wrote)")

    def get(self, key: str, kinds: type | tuple[type, ...], *, nullable: bool = False) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise self.fail(key, "is missing")
            node = node[part]
        if node is None and nullable:
            return None
        if isinstance(node, bool) and bool not in (kinds if isinstance(kinds, tuple)
                                                   else (kinds,)):
            raise self.fail(key, f"is {node!r}, not a {_kind_name(kinds)}")
        if not isinstance(node, kinds):
            raise self.fail(key, f"is {json.dumps(node)[:60]}, not a {_kind_name(kinds)}")
        return node

    def numbers(self, key: str, n: int) -> np.ndarray:
        values = self.get(key, list)
        if len(values) != n or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                       and math.isfinite(v) for v in values):
            raise self.fail(key, f"must be a list of {n} finite numbers")
        return np.asarray(values, dtype=np.float64)

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self.get(key, str)
        if value not in allowed:
            raise self.fail(key, f"is {value!r}, not one of {', '.join(allowed)}")
        return value


def _kind_name(kinds: type | tuple[type, ...]) -> str:
    names = {list: "list", dict: "mapping", str: "text", int: "integer", float: "number"}
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def read_model(run_dir: str | Path) -> ModelInfo:
    """The checked model.json of ``run_dir``; an InputError saying what is missing."""
    run = Path(run_dir)
    if not run.is_dir():
        what = "does not exist" if not run.exists() else "is a file, not a run directory"
        raise InputError(f"{run} {what}")
    path = run / MODEL_FILE
    if not path.exists():
        has_run = (run / CONFIG_FILE).exists() or (run / METRICS_FILE).exists()
        if has_run:
            raise InputError(
                f"{run} has no {MODEL_FILE}: it was trained by a dlcli that did not record what "
                "applying the network needs (feature names, normalisation statistics, class "
                "labels, output kind); train it again (dlcli train "
                f"{run / CONFIG_FILE}) to apply it")
        raise InputError(f"{run} is not a run directory (it has no {MODEL_FILE}, {CONFIG_FILE} or "
                         f"{METRICS_FILE})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path} cannot be read: {os_reason(exc)}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} cannot be read as JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a JSON object")
    reader = _Reader(path, data)
    if reader.get("format", str) != FORMAT:
        raise reader.fail("format", f"is not {FORMAT!r}")
    version = reader.get("version", int)
    if version > VERSION:
        raise InputError(f"{path} has format version {version}; this dlcli reads version "
                         f"{VERSION} and older (upgrade dlcli)")

    names = reader.get("features.names", list)
    n = reader.get("features.count", int)
    if len(names) != n or not all(isinstance(v, str) for v in names) or n < 1:
        raise reader.fail("features.names", f"must be {n} column names (features.count)")
    image = reader.get("features.image_shape", list, nullable=True)
    if image is not None and (len(image) not in (2, 3) or math.prod(image) != n
                              or not all(isinstance(v, int) for v in image)):
        raise reader.fail("features.image_shape", f"must be [height, width] (or [height, "
                          f"width, channels]) with {n} values")
    if version >= 2:
        transforms = reader.get("transforms", list)
        problem = check_transforms(transforms)
        if problem:
            raise reader.fail("transforms", problem)
    else:
        transforms = []   # version 1 did not record them: read as none (module docstring)
    kind = reader.choice("normalization.kind", NORMALIZERS)
    shift = reader.numbers("normalization.shift", n)
    scale = reader.numbers("normalization.scale", n)
    if (scale == 0).any():
        raise reader.fail("normalization.scale", "holds a 0")

    column = reader.get("labels.column", str, nullable=True)
    classes = reader.get("labels.classes", list)
    if len(classes) < 2 or not (all(isinstance(c, str) for c in classes) or all(
            isinstance(c, int) and not isinstance(c, bool) for c in classes)):
        raise reader.fail("labels.classes", "must list two or more class labels, all "
                          "integers or all text")
    if len(set(classes)) != len(classes):
        raise reader.fail("labels.classes", "repeats a class")
    output = reader.choice("output", tuple(OUTPUTS))
    dtype = reader.choice("dtype", DTYPES)

    sizes = reader.get("architecture.sizes", list)
    if len(sizes) < 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                                 for v in sizes):
        raise reader.fail("architecture.sizes", "must list the layer sizes [n_x, n1, ..., nL]")
    units = 1 if output == "sigmoid" else len(classes)
    if sizes[0] != n or sizes[-1] != units:
        raise reader.fail("architecture.sizes", f"{sizes} does not fit {n} features and "
                          f"{len(classes)} classes with a {output} output")
    activations = reader.get("architecture.activations", list)
    if len(activations) != len(sizes) - 2 or any(a not in ACTIVATIONS for a in activations):
        raise reader.fail("architecture.activations",
                          f"must name one of {', '.join(ACTIVATIONS.names())} per hidden "
                          "layer")
    bn = reader.get("architecture.batch_norm", dict, nullable=True)
    batch_norm = None
    if bn is not None:
        momentum = reader.get("architecture.batch_norm.momentum", (int, float))
        epsilon = reader.get("architecture.batch_norm.epsilon", (int, float))
        if not epsilon > 0:
            raise reader.fail("architecture.batch_norm.epsilon", "must be > 0")
        batch_norm = (float(momentum), float(epsilon))
    return ModelInfo(feature_names=list(names),
                     image_shape=tuple(image) if image else None,
                     transforms=[{op: float(v) for op, v in t.items()} for t in transforms],
                     normalization=kind, shift=shift, scale=scale, label_column=column,
                     classes=list(classes), output=output, dtype=dtype, sizes=list(sizes),
                     activations=list(activations), batch_norm=batch_norm)
