"""predict and evaluate apply the network with the BLAS threads the run trained with
(dlcli.blas.threads_for over the run's training shapes)."""
from __future__ import annotations

import io

import numpy as np
import pytest

from dlcli import load_run
from dlcli.apply.evaluation import evaluate
from dlcli.apply.inputs import batches
from dlcli.apply.predictions import write_predictions
from dlcli.blas import threads_for
from tests.apply_helpers import blob_data, csv_config, train, write_csv

threadpoolctl = pytest.importorskip("threadpoolctl")


def blas_threads_now() -> set[int]:
    return {pool["num_threads"] for pool in threadpoolctl.threadpool_info()
            if pool["user_api"] == "blas"}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("threads")
    X, y = blob_data(m=60)
    raw = csv_config(write_csv(root / "train.csv", X, y))
    raw["training"].update(epochs=1, batch_size=16)
    return train(root / "runs", raw), root / "train.csv"


def test_the_rule_is_trainings_over_the_runs_batch(small_run, tmp_path):
    run_dir, _ = small_run
    model = load_run(run_dir)
    assert model.batch_size == 16
    assert model.blas_threads(32768) == threads_for(model.network.sizes, 16) == 1
    # A large network trained on large batches keeps the library's default, as training did.
    model.network.sizes = [784, 1024, 1024, 10]
    model.batch_size = 512
    assert model.blas_threads(32768) is None
    # Without a config.yaml (or with batch_size: full), the inference pass decides.
    model.batch_size = None
    assert model.blas_threads(8192) is None and model.blas_threads(1) == 1


def test_predict_and_evaluate_run_with_one_thread_for_a_small_network(small_run, monkeypatch):
    if not blas_threads_now():
        pytest.skip("no BLAS thread pool that threadpoolctl can see")
    run_dir, csv_path = small_run
    model = load_run(run_dir)
    before = blas_threads_now()
    seen: list[set[int]] = []
    apply, logits = model.apply, model.network.logits
    monkeypatch.setattr(model, "apply", lambda rows: (seen.append(blas_threads_now()),
                                                      apply(rows))[1])
    monkeypatch.setattr(model.network, "logits", lambda rows: (seen.append(blas_threads_now()),
                                                               logits(rows))[1])
    out = io.StringIO()
    assert write_predictions(model, batches(model, str(csv_path)), out) == 60
    evaluate(model, batches(model, str(csv_path), labels=True), "train.csv")
    proba = model.predict_proba(np.ones((3, 3)))
    # write_predictions (model.apply, and the network inside it), evaluate, predict_proba
    assert len(seen) == 4 and all(threads == {1} for threads in seen), seen
    assert proba.shape == (3, 3)
    assert blas_threads_now() == before   # the limit ends with the pass
