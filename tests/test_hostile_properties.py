"""Property-based tests (Hypothesis): whatever a config or a data file holds, ``dlcli train``
exits 0, 1 or 2 with no traceback, and leaves no run directory when it refuses the input (2).

The examples are bounded (small numbers, short lists, two epochs) so each test takes seconds;
the cases that need big values (alias bombs, 5,000-digit integers, 3,000 levels) are explicit
regression tests in test_safe_yaml.py, test_memory_estimate.py and test_npz_files.py.
"""
from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from typer.testing import CliRunner

from dlcli.cli.app import app

runner = CliRunner()
# Derandomized: the same examples on every run, so a CI run cannot fail on a draw that no
# one can reproduce; run with more examples locally to search wider.
SETTINGS = settings(max_examples=15, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

BASE: dict[str, Any] = {"data": {"dataset": "moons", "options": {"n_samples": 60}},
                        "model": {"hidden": [3]},
                        "training": {"epochs": 2, "batch_size": 16}}
KEY_PATHS = [
    "name", "seed", "data", "data.dataset", "data.options", "data.options.n_samples",
    "data.options.noise", "data.train", "data.dev_fraction", "data.test_fraction",
    "data.normalize", "data.augment", "data.augment.shift", "data.target", "model",
    "model.hidden", "model.activation", "model.output", "model.init", "model.init_scale",
    "model.init_from", "model.batch_norm", "model.keep_prob", "regularization",
    "regularization.l2", "optimizer", "optimizer.name", "optimizer.learning_rate",
    "optimizer.beta1", "schedule", "schedule.name", "schedule.decay_rate", "training",
    "training.batch_size", "training.dtype", "training.eval_every",
    "training.checkpoint_every", "training.early_stopping",
    "training.early_stopping.patience", "training.early_stopping.monitor",
]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 300),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.text(max_size=12),
    st.sampled_from(["adam", "relu", "full", "moons", "he", "softmax", "1e-3", "", "~", "nan",
                     "float32", "dev_loss", "standardize", "/nonexistent.npz"]),
)
junk = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=10)
edits = st.lists(st.tuples(st.one_of(st.sampled_from(KEY_PATHS), st.text(max_size=10)), junk),
                 min_size=1, max_size=4)


def with_edits(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    config = yaml.safe_load(yaml.safe_dump(BASE))
    for path, value in pairs:
        node = config
        *parents, last = path.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[last] = value
    return config


def check_train(folder: Path, config_text: str, *extra: str) -> int:
    path = folder / "exp.yaml"
    path.write_text(config_text, encoding="utf-8")
    runs = folder / "runs"
    # Two epochs at most, whatever the junk says, so an example takes a fraction of a second.
    result = runner.invoke(app, ["train", str(path), "--runs-dir", str(runs), "-q",
                                 "--set", "training.epochs=2", *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        (result.exception, result.output)
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output and "Aborted" not in result.output
    if result.exit_code == 2:
        assert not runs.exists() or list(runs.iterdir()) == [], result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
    return result.exit_code


@SETTINGS
@given(edits)
def test_any_junk_in_a_config_is_run_or_refused_in_one_line(pairs):
    with tempfile.TemporaryDirectory() as folder:
        text = yaml.safe_dump(with_edits(pairs), allow_unicode=True)
        check_train(Path(folder), text)


@SETTINGS
@given(st.text(max_size=200))
def test_any_text_as_a_config_file_is_refused_in_one_line(text):
    with tempfile.TemporaryDirectory() as folder:
        check_train(Path(folder), text)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(KEY_PATHS), junk), min_size=1, max_size=3))
def test_any_junk_through_set_is_run_or_refused_in_one_line(pairs):
    sets = []
    for path, value in pairs:
        sets += ["--set", f"{path}={yaml.safe_dump(value, default_flow_style=True).strip()}"
                 .removesuffix("\n...").removesuffix("...")]
    with tempfile.TemporaryDirectory() as folder:
        check_train(Path(folder), yaml.safe_dump(BASE), *sets)


cells = st.one_of(st.integers(-5, 5).map(str), st.floats(width=32).map(repr),
                  st.sampled_from(["", "a", "nan", "inf", "1e3", '"', "x,y", " ", "\t"]),
                  st.text(max_size=5))
rows = st.lists(st.lists(cells, min_size=1, max_size=4), min_size=0, max_size=12)


@SETTINGS
@given(rows, st.booleans())
def test_any_csv_is_trained_on_or_refused_in_one_line(table, header):
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "train.csv"
        lines = ([",".join(f"c{j}" for j in range(len(table[0])))] if header and table else []) \
            + [",".join(row) for row in table]
        data.write_text("\n".join(lines) + "\n", encoding="utf-8")
        check_train(Path(folder), yaml.safe_dump({"data": {"train": str(data)},
                                                  "model": {"hidden": [3]}}))


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_as_a_data_file_are_refused_in_one_line(content):
    with tempfile.TemporaryDirectory() as folder:
        for suffix in (".npz", ".csv"):
            data = Path(folder) / f"train{suffix}"
            data.write_bytes(content)
            check_train(Path(folder), yaml.safe_dump({"data": {"train": str(data)},
                                                      "model": {"hidden": [3]}}))


array_dtypes = st.sampled_from([np.float32, np.float64, np.int8, np.int64, np.bool_, np.uint8,
                                np.dtype("U3"), np.complex64])
arrays = array_dtypes.flatmap(lambda dtype: hnp.arrays(
    dtype, hnp.array_shapes(min_dims=0, max_dims=3, max_side=6)))


@SETTINGS
@given(st.dictionaries(st.sampled_from(["X", "y", "x_train", "y_train", "x_test", "Y"]),
                       arrays, max_size=4))
def test_any_npz_arrays_are_trained_on_or_refused_in_one_line(named):
    with tempfile.TemporaryDirectory() as folder:
        buffer = io.BytesIO()
        np.savez(buffer, **named)
        data = Path(folder) / "train.npz"
        data.write_bytes(buffer.getvalue())
        check_train(Path(folder), yaml.safe_dump({"data": {"train": str(data)},
                                                  "model": {"hidden": [3]}}))
