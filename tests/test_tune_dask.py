"""dlcli tune --executor dask (SPEC section 12): a small search on a real local Dask cluster."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

distributed = pytest.importorskip("distributed")

from dlcli.cli.app import app  # noqa: E402
from dlcli.errors import InputError  # noqa: E402
from dlcli.study.executors import DaskExecutor, worker_report  # noqa: E402
from dlcli.study.random_search import create_search  # noqa: E402

BASE = {"name": "d", "seed": 1, "data": {"dataset": "moons", "dev_fraction": 0.25},
        "model": {"hidden": [8]}, "training": {"epochs": 20, "batch_size": 64}}
SPACE = {"optimizer.learning_rate": {"log_uniform": [1e-3, 1e-1]},
         "model.activation": {"choice": ["relu", "tanh"]}}


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=":0", silence_logs=40) as local:
        yield local


def test_a_search_runs_on_the_dask_cluster(tmp_path, cluster):
    executor = DaskExecutor(cluster.scheduler_address)
    try:
        assert executor.workers == 2
        reports = [f.result() for f in [executor.submit(worker_report, i) for i in range(4)]]
        result = create_search(BASE, tmp_path / "runs", space=SPACE, trials=4,
                               rounds=2).run(executor)
    finally:
        executor.close()
    assert all(n == 1 for r in reports for n in r["blas_threads"])
    worker_pids = {p.process.pid for p in cluster.workers.values()}
    pids = {int(t.worker.rsplit(":", 1)[1]) for t in result.outcomes}
    assert pids <= worker_pids and os.getpid() not in pids   # ran on the cluster's workers
    assert [t.status for t in result.outcomes] == ["completed"] * 8
    for trial in result.outcomes:
        assert (result.path / trial.run / "metrics.json").is_file()
    with open(result.path / "trials.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 8


def test_cli_executor_dask(tmp_path, cluster):
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump({**BASE, "search": SPACE}))
    result = CliRunner().invoke(app, ["tune", str(config), "--trials", "2", "--executor", "dask",
                                      "--scheduler", cluster.scheduler_address,
                                      "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    assert "Dask cluster" in result.stderr
    path = Path(result.stdout.strip().splitlines()[-1])
    with open(path / "trials.csv", newline="") as handle:
        assert [r["status"] for r in csv.DictReader(handle)] == ["completed"] * 2


def test_an_unreachable_scheduler_is_bad_input():
    with pytest.raises(InputError, match="cannot connect to the Dask scheduler"):
        DaskExecutor("tcp://127.0.0.1:9", timeout=1.0)


def test_a_sweep_runs_on_the_dask_cluster(tmp_path, cluster):
    from dlcli.study.grid import create_sweep

    executor = DaskExecutor(cluster.scheduler_address)
    try:
        result = create_sweep(BASE, tmp_path / "runs", grid=["model.activation=relu,tanh"],
                              seeds=2).run(executor)
    finally:
        executor.close()
    assert [(o.group, o.seed, o.status) for o in result.outcomes] == \
        [(1, 1, "completed"), (1, 2, "completed"), (2, 1, "completed"), (2, 2, "completed")]
    with open(result.path / "study.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 4
