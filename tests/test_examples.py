"""Every shipped example config is valid and trains (briefly) end to end."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dlcli.cli.app import app
from dlcli.config import load_config
from helpers import metrics, only_run

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
runner = CliRunner()


def test_there_is_an_example_per_technique():
    names = {p.stem for p in CONFIGS}
    assert {"quickstart", "initializers", "l2-vs-dropout", "optimizers", "lr-decay",
            "batch-norm", "minibatch-size", "early-stopping", "augmentation",
            "gradient-norms"} <= names


@pytest.mark.parametrize("path", [p for p in CONFIGS if p.stem != "quickstart"],
                         ids=lambda p: p.stem)
def test_every_lesson_is_a_study_of_three_seeds_its_comment_names(path):
    raw = yaml.safe_load(path.read_text())
    assert raw["sweep"]["grid"] and raw["sweep"]["seeds"] >= 3
    comment = "\n".join(line for line in path.read_text().splitlines() if line.startswith("#"))
    assert f"dlcli sweep configs/{path.name}" in comment
    assert "study.png" in comment        # says what the picture shows


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_example_trains(path, tmp_path):
    config = load_config(path)
    assert config.name == path.stem
    result = runner.invoke(app, ["train", str(path), "--runs-dir", str(tmp_path), "-q",
                                 "--set", "training.epochs=2"])
    assert result.exit_code == 0, result.output
    assert metrics(only_run(tmp_path))["status"] == "completed"
