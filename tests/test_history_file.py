"""history.csv as training writes it: rows reach the disk within a bounded time, and always
before a checkpoint, so a resumed run never lacks rows its checkpoint covers."""
from __future__ import annotations

import pytest

from dlcli.config import load_config
from dlcli.experiment import prepare
from dlcli.run_schema import HISTORY_COLUMNS
from dlcli.runs.checkpoint import load_checkpoint
from dlcli.runs.reader import read_history
from dlcli.runs.recorder import Recorder
from dlcli.runs.rundir import HistoryFile
from helpers import SMALL

COLUMNS = ["epoch", "step", "cost", "dev_loss"]


def test_rows_wait_in_memory_until_their_flush_is_due(tmp_path):
    path = tmp_path / "history.csv"
    history = HistoryFile(path, COLUMNS, flush_seconds=3600)
    assert path.read_text() == "epoch,step,cost,dev_loss\n"   # the header is there at once
    for epoch in range(3):
        history.append({"epoch": epoch, "step": 5 * epoch, "cost": 0.5 / (epoch + 1)})
    assert read_history(path) == []
    history.flush()
    assert [row["epoch"] for row in read_history(path)] == [0, 1, 2]
    history.append({"epoch": 3, "step": 15, "cost": 0.125, "dev_loss": 0.25})
    history.close()
    assert read_history(path)[-1] == {"epoch": 3, "step": 15, "cost": 0.125, "dev_loss": 0.25}


def test_with_no_delay_every_row_is_on_disk_when_append_returns(tmp_path):
    path = tmp_path / "history.csv"
    history = HistoryFile(path, COLUMNS, flush_seconds=0.0)
    for epoch in range(3):
        history.append({"epoch": epoch, "step": epoch, "cost": 1.0 / 3.0})
        assert len(read_history(path)) == epoch + 1
    history.close()
    assert read_history(path)[0]["cost"] == 1.0 / 3.0          # floats round-trip exactly


def test_append_mode_keeps_the_rows_already_there(tmp_path):
    path = tmp_path / "history.csv"
    first = HistoryFile(path, COLUMNS)
    first.append({"epoch": 0, "step": 0, "cost": 0.7})
    first.close()
    second = HistoryFile(path, COLUMNS, append=True)
    second.append({"epoch": 1, "step": 3, "cost": 0.6})
    second.close()
    assert path.read_text().count("epoch,") == 1
    assert [row["epoch"] for row in read_history(path)] == [0, 1]


def test_every_checkpoint_has_its_history_rows_on_disk(tmp_path):
    config = load_config(raw=dict(SMALL, training={"epochs": 12, "checkpoint_every": 4}))
    trainer = prepare(config).trainer
    recorder = Recorder(tmp_path, checkpoint_every=4, min_seconds=0.0, flush_seconds=3600)
    trainer.callbacks.insert(0, recorder)
    seen = []

    class Watch:   # runs right after the recorder, as any later callback would
        def on_train_begin(self, trainer): pass
        def on_train_end(self, trainer): pass

        def on_epoch_end(self, trainer, row):
            if recorder.last_checkpoint == trainer.progress.epoch and row["epoch"]:
                on_disk = read_history(tmp_path / "history.csv")
                seen.append((load_checkpoint(tmp_path / "checkpoint.npz")["epoch"],
                             on_disk[-1]["epoch"]))

    trainer.callbacks.append(Watch())
    trainer.fit()
    assert seen == [(4, 4), (8, 8), (12, 12)]


def test_a_row_with_a_column_the_file_does_not_have_is_an_error(tmp_path):
    history = HistoryFile(tmp_path / "history.csv", COLUMNS)
    try:
        with pytest.raises(ValueError, match="grad_norm_W1"):
            history.append({"epoch": 0, "step": 0, "cost": 0.7, "grad_norm_W1": 1.0})
    finally:
        history.close()
    assert read_history(tmp_path / "history.csv") == []   # nothing half-written


def test_the_trainer_lists_every_column_its_rows_carry(tmp_path):
    config = load_config(raw=SMALL, overrides=["training.epochs=2", "training.log_grad_norms=true"])
    trainer = prepare(config).trainer
    trainer.fit()
    columns = trainer.history_columns()
    assert columns[:8] == list(HISTORY_COLUMNS)
    assert all(set(row) <= set(columns) for row in trainer.history)
    assert set(trainer.history[-1]) == set(columns)   # an evaluated epoch fills every column
