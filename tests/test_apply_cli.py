"""dlcli predict and dlcli evaluate through the command line, with real files."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from dlcli.apply import load_run
from dlcli.cli.app import app
from tests.apply_helpers import blob_data, csv_config, train, write_csv
from tests.helpers import metrics

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def rows_of(text):
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def named_run(tmp_path_factory):
    """A softmax run on a CSV with string labels first and a dev split carved from it."""
    folder = tmp_path_factory.mktemp("named")
    X, y = blob_data(m=150)
    names = np.array(["cat", "dog", "emu"])[y]
    csv_path = write_csv(folder / "train.csv", X, names, target="animal", label_first=True)
    raw = csv_config(csv_path)
    raw["data"].update(target="animal", dev_fraction=0.2, test_fraction=0.2)
    return train(folder / "runs", raw), folder, X, names


def test_predict_gives_original_labels_and_probabilities(named_run):
    run_dir, folder, X, names = named_run
    result = invoke("predict", run_dir, folder / "train.csv", "--proba")
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert list(rows[0]) == ["prediction", "proba_cat", "proba_dog", "proba_emu"]
    assert len(rows) == len(X)
    proba = np.array([[float(r[f"proba_{c}"]) for c in ("cat", "dog", "emu")] for r in rows])
    np.testing.assert_array_equal(proba, load_run(run_dir).predict_proba(X))
    assert [r["prediction"] for r in rows] == load_run(run_dir).predict(X).tolist()
    assert set(r["prediction"] for r in rows) <= {"cat", "dog", "emu"}


def test_shuffled_columns_are_matched_by_name_and_labels_ignored(named_run, tmp_path):
    run_dir, folder, X, names = named_run
    shuffled = tmp_path / "shuffled.csv"
    order = [2, 0, 1]
    write_csv(shuffled, X[:, order], names, names=[f"x{j}" for j in order], target="animal")
    without_labels = tmp_path / "features.csv"
    lines = (folder / "train.csv").read_text().splitlines()
    without_labels.write_text("\n".join(",".join(line.split(",")[1:]) for line in lines))
    reference = invoke("predict", run_dir, folder / "train.csv", "--proba").stdout
    assert invoke("predict", run_dir, shuffled, "--proba").stdout == reference
    assert invoke("predict", run_dir, without_labels, "--proba").stdout == reference


def test_predictions_on_the_training_csv_reproduce_train_accuracy(tmp_path):
    X, y = blob_data(m=100, k=2)
    csv_path = write_csv(tmp_path / "train.csv", X, y + 3)   # classes 3 and 4
    run_dir = train(tmp_path / "runs", csv_config(csv_path))
    result = invoke("predict", run_dir, csv_path)
    predicted = np.array([int(r["prediction"]) for r in rows_of(result.stdout)])
    assert set(predicted) <= {3, 4}
    assert np.mean(predicted == y + 3) == metrics(run_dir)["final"]["train_accuracy"]


def test_json_format_and_output_file(named_run, tmp_path):
    run_dir, folder, X, _ = named_run
    out = tmp_path / "predictions.json"
    out.write_text("old")
    result = invoke("predict", run_dir, folder / "train.csv", "--proba", "--format", "json",
                    "--output", out)
    assert result.exit_code == 0 and result.stdout == ""
    items = json.loads(out.read_text())
    assert len(items) == len(X)
    assert set(items[0]) == {"prediction", "probabilities"}
    assert list(items[0]["probabilities"]) == ["cat", "dog", "emu"]
    assert sum(items[0]["probabilities"].values()) == pytest.approx(1.0)
    plain = json.loads(invoke("predict", run_dir, "dev", "--format", "json").stdout)
    assert set(plain[0]) == {"prediction"}


def test_a_failed_prediction_leaves_the_output_file_as_it_was(named_run, tmp_path):
    run_dir, folder, X, names = named_run
    bad = tmp_path / "bad.csv"
    write_csv(bad, X, names, target="animal")
    lines = bad.read_text().splitlines()
    lines[-1] = lines[-1].replace(lines[-1].split(",")[1], "oops", 1)
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "predictions.csv"
    out.write_text("keep me")
    result = invoke("predict", run_dir, bad, "--output", out)
    assert result.exit_code == 2
    assert out.read_text() == "keep me"
    assert list(tmp_path.glob(".predictions.csv.*")) == []


@pytest.mark.parametrize("edit,message", [
    (lambda h, r: (h, [row[:-1] + ["nan"] for row in r]),
     r"row 1, column 'x2'.*nan"),
    (lambda h, r: (h, r[:5] + [r[5][:3] + ["inf"]] + r[6:]),
     r"row 6, column 'x2'"),
    (lambda h, r: (h, r[:3] + [r[3][:2] + ["abc"] + r[3][3:]] + r[4:]),
     r"row 4, column 'x1'.*'abc' is not a number"),
    (lambda h, r: (h, r[:2] + [r[2][:2] + [""] + r[2][3:]] + r[3:]),
     r"row 3, column 'x1'.*empty"),
    (lambda h, r: (h, r[:7] + [r[7][:-1]] + r[8:]),
     r"row 8: has 3 fields but the header has 4"),
    (lambda h, r: ([c if c != "x1" else "x9" for c in h], r),
     r"column 'x1'.*missing 'x1'; not a feature of the run: 'x9'"),
    (lambda h, r: ([c for c in h if c != "x2"], [row[:-1] for row in r]),
     r"column 'x2'.*missing 'x2'"),
    (lambda h, r: ([*h, "extra"], [row + ["1"] for row in r]),
     r"column 'extra'.*not a feature of the run: 'extra'"),
])
def test_bad_input_is_refused_naming_file_row_and_column(named_run, tmp_path, edit, message):
    run_dir, folder, X, names = named_run
    header = ["animal", "x0", "x1", "x2"]
    rows = [[str(n), *map(repr, x.tolist())] for n, x in zip(names[:10], X[:10])]
    header, rows = edit(header, rows)
    path = tmp_path / "input.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    result = invoke("predict", run_dir, path)
    assert result.exit_code == 2, result.output
    assert str(path) in result.stderr
    assert __import__("re").search(message, result.stderr.replace("\n", " ")), result.stderr
    assert "Traceback" not in result.output


def test_npz_input_and_wrong_feature_count(named_run, tmp_path):
    run_dir, folder, X, names = named_run
    np.savez(tmp_path / "X.npz", X=X[:7])
    result = invoke("predict", run_dir, tmp_path / "X.npz")
    assert [r["prediction"] for r in rows_of(result.stdout)] == \
        load_run(run_dir).predict(X[:7]).tolist()
    np.savez(tmp_path / "wide.npz", X=np.ones((3, 5)))
    result = invoke("predict", run_dir, tmp_path / "wide.npz")
    assert result.exit_code == 2
    assert "has 5 features; the run was trained on 3 (x0, x1, x2)" in result.stderr
    bad = X[:4].copy()
    bad[2, 1] = np.inf
    np.savez(tmp_path / "inf.npz", X=bad)
    result = invoke("predict", run_dir, tmp_path / "inf.npz")
    assert result.exit_code == 2 and "row 3, column 'x1'" in result.stderr
    result = invoke("predict", run_dir, tmp_path / "missing.csv")
    assert result.exit_code == 2 and "does not exist" in result.stderr
    assert result.stdout == ""   # no header printed ahead of the error


def test_evaluate_on_the_runs_own_splits_equals_metrics_json(named_run):
    run_dir, _, _, _ = named_run
    final = metrics(run_dir)["final"]
    for split in ("train", "dev", "test"):
        result = invoke("evaluate", run_dir, split, "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["loss"] == final[f"{split}_loss"]
        assert report["accuracy"] == final[f"{split}_accuracy"]
        assert [c["label"] for c in report["classes"]] == ["cat", "dog", "emu"]
        matrix = np.array(report["confusion"]["matrix"])
        assert matrix.sum() == report["examples"] == sum(c["support"] for c in report["classes"])
        assert np.trace(matrix) / matrix.sum() == report["accuracy"]


def test_evaluate_after_early_stopping_matches_the_restored_epoch(tmp_path):
    """params.npz holds the best epoch's parameters when early stopping restores them:
    evaluation matches metrics.json's best block then, not its final one."""
    X, _ = blob_data(m=120, k=2, seed=4)
    noise = np.random.default_rng(0).integers(0, 2, len(X))   # nothing to learn: overfits
    csv_path = write_csv(tmp_path / "train.csv", X, noise)
    raw = csv_config(csv_path, hidden=[32, 32])
    raw["data"]["dev_fraction"] = 0.3
    raw["optimizer"]["learning_rate"] = 0.05
    raw["training"].update(epochs=200, early_stopping={"monitor": "dev_loss", "patience": 3})
    run_dir = train(tmp_path / "runs", raw)
    record = metrics(run_dir)
    assert record["status"] == "early_stopped" and record["best_epoch"] < record["epochs_run"]
    report = json.loads(invoke("evaluate", run_dir, "dev", "--json").stdout)
    assert report["loss"] == record["best"]["dev_loss"]
    assert report["loss"] != record["final"]["dev_loss"]


def test_evaluate_a_labelled_file_reports_per_class_metrics(named_run, tmp_path):
    run_dir, folder, X, names = named_run
    model = load_run(run_dir)
    predicted = model.predict(X)
    result = invoke("evaluate", run_dir, folder / "train.csv", "--json")
    report = json.loads(result.stdout)
    for entry in report["classes"]:
        label = entry["label"]
        tp = np.sum((predicted == label) & (names == label))
        assert entry["support"] == np.sum(names == label)
        assert entry["precision"] == pytest.approx(tp / np.sum(predicted == label))
        assert entry["recall"] == pytest.approx(tp / np.sum(names == label))
        p, r = entry["precision"], entry["recall"]
        assert entry["f1"] == pytest.approx(2 * p * r / (p + r))
    assert report["accuracy"] == np.mean(predicted == names)
    table = invoke("evaluate", run_dir, folder / "train.csv")
    assert table.exit_code == 0
    assert "macro avg" in table.stdout and "confusion matrix" in table.stdout


def test_evaluate_refuses_unknown_labels_and_missing_label_column(named_run, tmp_path):
    run_dir, folder, X, names = named_run
    odd = names.copy()
    odd[4] = "gnu"
    path = write_csv(tmp_path / "odd.csv", X, odd, target="animal")
    result = invoke("evaluate", run_dir, path)
    assert result.exit_code == 2
    assert "row 5, column 'animal': label 'gnu' is not one of the run's classes (cat, dog, " \
           "emu)" in result.stderr.replace("\n", " ")
    np.savez(tmp_path / "X.npz", X=X)
    result = invoke("evaluate", run_dir, tmp_path / "X.npz")
    assert result.exit_code == 2 and "no array 'y'" in result.stderr
    path = write_csv(tmp_path / "renamed.csv", X, names, target="kind")
    result = invoke("evaluate", run_dir, path)
    assert result.exit_code == 2 and "--target" in result.stderr
    result = invoke("evaluate", run_dir, path, "--target", "kind", "--json")
    assert result.exit_code == 0, result.output


def test_evaluate_a_builtin_data_set_and_a_missing_split(runs_dir):
    run_dir = train(runs_dir, {"name": "moons", "seed": 2,
                               "data": {"dataset": "moons", "options": {"n_samples": 100}},
                               "model": {"hidden": [5]}, "training": {"epochs": 5}})
    report = json.loads(invoke("evaluate", run_dir, "moons", "--json").stdout)
    assert report["examples"] == 100
    assert report["accuracy"] == metrics(run_dir)["final"]["train_accuracy"]
    result = invoke("evaluate", run_dir, "dev")
    assert result.exit_code == 2 and "the run has no dev split" in result.stderr


def test_an_old_run_directory_is_refused(named_run, tmp_path):
    run_dir, folder, _, _ = named_run
    old = tmp_path / "old"
    old.mkdir()
    for name in ("config.yaml", "metrics.json", "params.npz"):
        (old / name).write_bytes((run_dir / name).read_bytes())
    for command in ("predict", "evaluate"):
        result = invoke(command, old, folder / "train.csv")
        assert result.exit_code == 2
        assert "has no model.json" in result.stderr


def test_predict_streams_in_chunks_with_the_right_rows(named_run, tmp_path):
    """A file read in blocks gives the same predictions, and errors name the row in the file,
    not in the block."""
    from dlcli.apply.inputs import batches
    run_dir, folder, X, names = named_run
    model = load_run(run_dir)
    parts = list(batches(model, str(folder / "train.csv"), chunk_rows=16))
    assert [b.first for b in parts] == list(range(0, len(X), 16))
    stacked = np.concatenate([model.apply(b.rows)[1] for b in parts])
    np.testing.assert_array_equal(stacked, model.predict_proba(X))
    text = (folder / "train.csv").read_text().splitlines()
    text[40] = text[40].rsplit(",", 1)[0] + ",nan"
    (tmp_path / "late.csv").write_text("\n".join(text))
    with pytest.raises(Exception, match=r"row 40, column 'x2'"):
        list(batches(model, str(tmp_path / "late.csv"), chunk_rows=16))


def test_a_real_dlcli_predict_pipes(named_run):
    run_dir, folder, X, _ = named_run
    proc = subprocess.run([sys.executable, "-m", "dlcli", "predict", str(run_dir),
                           str(folder / "train.csv")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "prediction" and len(lines) == len(X) + 1


def test_a_headerless_file_matches_a_run_trained_without_a_header(tmp_path):
    X, y = blob_data(m=90, k=3)
    body = "\n".join(",".join([*map(repr, x.tolist()), str(label)]) for x, label in zip(X, y))
    (tmp_path / "train.csv").write_text(body + "\n")
    run_dir = train(tmp_path / "runs", csv_config(tmp_path / "train.csv"))
    assert load_run(run_dir).feature_names == ["col1", "col2", "col3"]
    result = invoke("evaluate", run_dir, tmp_path / "train.csv", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accuracy"] == metrics(run_dir)["final"]["train_accuracy"]
    rows = rows_of(invoke("predict", run_dir, tmp_path / "train.csv").stdout)
    assert len(rows) == 90


def test_own_split_follows_the_data_seed(runs_dir):
    """data.seed, not seed, draws the data and the split: evaluation redraws them the same."""
    run_dir = train(runs_dir, {"name": "seeded", "seed": 2,
                               "data": {"dataset": "moons", "seed": 11, "dev_fraction": 0.3,
                                        "options": {"n_samples": 100}},
                               "model": {"hidden": [5]}, "training": {"epochs": 5}})
    report = json.loads(invoke("evaluate", run_dir, "dev", "--json").stdout)
    assert report["loss"] == metrics(run_dir)["final"]["dev_loss"]
    assert report["examples"] == 30
