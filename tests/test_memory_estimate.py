"""The memory a run needs is estimated before anything is allocated; what cannot fit in this
machine's memory is a config error giving the estimate (exit 2, no run directory)."""
from __future__ import annotations

import tracemalloc

import pytest
from typer.testing import CliRunner

from dlcli.cli.app import app
from dlcli.config import load_config
from dlcli.experiment import prepare
from dlcli import resources
from dlcli.train import memory
from helpers import SMALL, only_run, write_config

runner = CliRunner()


def test_the_estimate_matches_what_training_allocates():
    # NumPy reports its allocations to tracemalloc: the peak of preparing and training a
    # 2-512-512-1 network (adam, batch 256, 1500 + 500 examples) against the estimate.
    config = load_config(raw={
        "data": {"dataset": "moons", "options": {"n_samples": 2000}, "dev_fraction": 0.25},
        "model": {"hidden": [512, 512]}, "training": {"epochs": 2, "batch_size": 256}})
    tracemalloc.start()
    try:
        prepared = prepare(config)
        prepared.trainer.fit()
        prepared.trainer.state_dict()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    data = prepared.data
    estimate = memory.estimate_bytes(
        [2, 512, 512, 1], batch=256, eval_rows=[data.train.m, data.dev.m], itemsize=4,
        optimizer="adam", dropout=False, batch_norm=False, keep_best=False,
        data_bytes=sum(s.X.nbytes + s.y.nbytes for s in (data.train, data.dev)))
    assert 0.8 * peak < estimate < 1.5 * peak, (estimate, peak)


def test_the_estimate_counts_parameters_slots_and_buffers_by_hand():
    # 2-3-1: P = (2+1)*3 + (3+1)*1 = 13; gd has no slots: 3 + 2*1 = 5 vectors of P.
    # Batch 4: 3 arrays per unit (4 units) * 4 + 2 inputs * 4 = 56; evaluation of 10 rows:
    # 4 arrays * 4 units * 10 = 160. float64: 8 bytes each.
    assert memory.estimate_bytes([2, 3, 1], batch=4, eval_rows=[10], itemsize=8,
                                 optimizer="gd", dropout=False, batch_norm=False,
                                 keep_best=False) == (5 * 13 + 56 + 160) * 8
    # adam (2 slots) with restore-best: 3 + 2 + 1 + 2*3 = 12 vectors
    assert memory.estimate_bytes([2, 3, 1], batch=4, eval_rows=[10], itemsize=8,
                                 optimizer="adam", dropout=False, batch_norm=False,
                                 keep_best=True) == (12 * 13 + 56 + 160) * 8


def test_an_absurd_network_is_refused_with_the_estimate(tmp_path, runs_dir):
    config = write_config(tmp_path)
    result = runner.invoke(app, ["train", str(config), "--runs-dir", str(runs_dir), "-q",
                                 "--set", "model.hidden=[100000000000]"])
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert line.startswith("error: config error at model.hidden: a network of layer sizes "
                           "[2, 100000000000, 1] needs about ")
    assert " TiB of memory to train" in line and "this machine has" in line
    assert len(line.splitlines()) == 1 and list(runs_dir.iterdir()) == []


def test_the_bound_is_the_machines_memory(tmp_path, runs_dir, monkeypatch):
    monkeypatch.setattr(resources, "physical_memory", lambda: 4 * 1024)
    config = write_config(tmp_path)
    result = runner.invoke(app, ["train", str(config), "--runs-dir", str(runs_dir), "-q"])
    assert result.exit_code == 2 and "this machine has 4 KiB" in result.output
    monkeypatch.setattr(resources, "physical_memory", lambda: None)   # cannot tell: no refusal
    monkeypatch.setattr(resources, "available_memory", lambda: 4 * 1024)
    result = runner.invoke(app, ["train", str(config), "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0, result.output
    assert "4 KiB is free now" in (only_run(runs_dir) / "train.log").read_text()


def test_the_machines_memory_is_read():
    total = resources.physical_memory()
    assert total is None or total > 2**20


@pytest.mark.parametrize("n,text", [(5, "5 bytes"), (1536, "1.5 KiB"),
                                    (int(1.46 * 2**40), "1.46 TiB"), (2**80, "1 YiB"),
                                    (10**40, "about 10^15 YiB")])
def test_human_bytes(n, text):
    assert memory.human_bytes(n) == text
