"""What a new user's wrong input gets: one line in plain words, the exact message, exit code 2,
and no run directory. The same typo reads alike wherever it was written (a YAML file, --set,
--grid, a sweep grid, a search space); no errno, no doubled prefix, no Python words."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dlcli.cli.app import app
from helpers import SMALL, write_config

runner = CliRunner()
TOP_KEYS = "name, seed, data, model, regularization, optimizer, schedule, training"
OPTIMIZER_KEYS = "name, learning_rate, beta, beta1, beta2, epsilon"


def refused(args: list[str], runs_dir: Path) -> str:
    """The one line a refused command prints (``error: ...``), checked to be all it did."""
    result = runner.invoke(app, [*args, "--runs-dir", str(runs_dir)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not runs_dir.exists() or list(runs_dir.iterdir()) == []
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


# -- an unknown key reads alike wherever it was written ------------------------------------------

@pytest.mark.parametrize("setting,message", [
    ("optimiser.name=adam",
     "config error at --set optimiser.name: unknown key 'optimiser' (did you mean "
     f"'optimizer'?); allowed keys here: {TOP_KEYS}"),
    ("optimizer.learning_rat=0.1",
     "config error at --set optimizer.learning_rat: unknown key 'learning_rat' (did you mean "
     f"'learning_rate'?); allowed keys here: {OPTIMIZER_KEYS}"),
    ("training.early_stopping.patiance=3",
     "config error at --set training.early_stopping.patiance: unknown key 'patiance' (did you "
     "mean 'patience'?); allowed keys here: monitor, patience, min_delta, restore_best"),
    ("optimizer.name.first=3",
     "config error at --set optimizer.name.first: optimizer.name is a single value; it has no "
     "keys"),
    ("data.options.n_sample=50",
     "config error at data.options.n_sample: unknown key 'n_sample' (did you mean "
     "'n_samples'?); allowed keys here: n_samples, noise"),
    ("optimizer", "config error at --set optimizer: no '=VALUE' after the key; write overrides "
                  "as KEY.PATH=VALUE, e.g. --set optimizer.learning_rate=0.01"),
    ("=3", "config error at --set =3: no key before '='; write overrides as KEY.PATH=VALUE, "
           "e.g. --set optimizer.learning_rate=0.01"),
])
def test_an_unknown_set_key_is_named_not_its_value(tmp_path, setting, message):
    config = write_config(tmp_path)
    assert refused(["train", str(config), "--set", setting], tmp_path / "runs") == \
        f"error: {message}"


def test_the_same_typo_in_the_file_reads_as_it_does_on_the_command_line(tmp_path):
    config = write_config(tmp_path, {**SMALL, "optimizer": {"learning_rat": 0.1}})
    in_file = refused(["train", str(config)], tmp_path / "runs")
    on_line = refused(["train", str(write_config(tmp_path, name="ok.yaml")), "--set",
                       "optimizer.learning_rat=0.1"], tmp_path / "runs")
    assert in_file.replace("at optimizer", "at --set optimizer") == on_line


def test_an_unknown_grid_key_from_the_command_line_or_the_config(tmp_path):
    config = write_config(tmp_path)
    assert refused(["sweep", str(config), "--grid", "optimiser.name=adam,gd"],
                   tmp_path / "runs") == (
        "error: config error at --grid optimiser.name: unknown key 'optimiser' (did you mean "
        f"'optimizer'?); allowed keys here: {TOP_KEYS}")
    config = write_config(tmp_path, {**SMALL, "sweep": {"grid": {"optimizer.nam": ["gd"]}}})
    assert refused(["sweep", str(config)], tmp_path / "runs") == (
        "error: config error at sweep.grid optimizer.nam: unknown key 'nam' (did you mean "
        f"'name'?); allowed keys here: {OPTIMIZER_KEYS}")


def test_a_misspelt_space_file(tmp_path):
    config = write_config(tmp_path)
    (tmp_path / "space.yaml").write_text("optimizer.learning_rate: {log_uniform: [1e-4, 1e-1]}\n")
    assert refused(["tune", str(config), "--space", str(tmp_path / "spaec.yaml"), "--trials",
                    "2"], tmp_path / "runs") == (
        f"error: space file '{tmp_path / 'spaec.yaml'}' does not exist (did you mean "
        f"{tmp_path / 'space.yaml'}?)")


def test_a_reserved_grid_key_is_named_where_it_was_written(tmp_path):
    config = write_config(tmp_path, {**SMALL, "sweep": {"grid": {"seed": [1, 2]}}})
    assert refused(["sweep", str(config)], tmp_path / "runs") == (
        "error: config error at sweep.grid seed: the sweep sets each run's seed itself; use "
        "--seeds N (or sweep.seeds) for seeds")


def test_an_unknown_search_space_key(tmp_path):
    config = write_config(tmp_path)
    space = tmp_path / "space.yaml"
    space.write_text("optimizer.learning_rate: {log_uniform: [1e-4, 1e-1]}\n"
                     "optimizer.bta1: {uniform: [0.8, 0.9]}\n")
    assert refused(["tune", str(config), "--space", str(space), "--trials", "2"],
                   tmp_path / "runs") == (
        "error: config error at search space optimizer.bta1: unknown key 'bta1' (did you mean "
        f"'beta1'?); allowed keys here: {OPTIMIZER_KEYS}")


# -- values --------------------------------------------------------------------------------------

@pytest.mark.parametrize("setting,message", [
    ("training.batch_size=0",
     "config error at training.batch_size: 0 is not allowed; must be at least 1, or 'full'"),
    ("model.hidden=16,8",
     "config error at model.hidden: '16,8' is not allowed; must be a list (write a list as "
     "--set model.hidden=[16,8])"),
    ("model.activation=relu,tanh",
     "config error at model.activation: 'relu,tanh' is not allowed; must be one of relu, "
     "leaky_relu, tanh, sigmoid, linear, or a list (write a list as --set "
     "model.activation=[relu,tanh])"),
    ("model.hidden=",
     "config error at --set model.hidden: no value after '='; write --set model.hidden=VALUE "
     "(null for none)"),
    ("model.hidden=null", "config error at model.hidden: null is not allowed; must be a list"),
    # one value gets no list hint where one value is allowed too: [1.5] would be as wrong as
    # 1.5; where only a list goes, a number gets it written as a list
    ("model.keep_prob=1.5",
     "config error at model.keep_prob: 1.5 is not allowed; must be at most 1.0, or a list"),
    ("model.hidden=4", "config error at model.hidden: 4 is not allowed; must be a list (write "
                       "a list as --set model.hidden=[4])"),
    ("model.hidden=abc", "config error at model.hidden: 'abc' is not allowed; must be a list"),
    # a switch takes true or false, not a number pydantic would read as one
    ("training.shuffle=1", "config error at training.shuffle: 1 is not allowed; must be true or "
                           "false"),
    ("data.augment.flip=2", "config error at data.augment.flip: 2 is not allowed; must be true "
                            "or false"),
    ("optimizer.name=ADAM", "config error at optimizer.name: 'ADAM' is not allowed; must be one "
                            "of gd, momentum, rmsprop, adam (did you mean 'adam'?)"),
    ("model.activation=[relu,tanh,relu]",
     "model.activation has 3 values for 2 hidden layers; give one value, or one per hidden "
     "layer"),
    ("model.hidden=[3]",
     "model.activation has 2 values for 1 hidden layer; give one value, or one per hidden "
     "layer"),
])
def test_value_messages(tmp_path, setting, message):
    config = write_config(tmp_path, {**SMALL, "model": {"hidden": [6, 3],
                                                        "activation": ["relu", "tanh"]}})
    assert refused(["train", str(config), "--set", setting], tmp_path / "runs") == \
        f"error: {message}"


def test_a_list_written_without_brackets_in_a_file_gets_the_list_as_a_hint(tmp_path):
    config = tmp_path / "exp.yaml"
    config.write_text("data: {dataset: moons}\nmodel:\n  hidden: 16,8\n")
    assert refused(["train", str(config)], tmp_path / "runs") == (
        "error: config error at model.hidden: '16,8' is not allowed; must be a list (did you "
        "mean [16,8]?)")


# -- files and directories -----------------------------------------------------------------------

def test_a_directory_given_as_the_config(tmp_path):
    folder = tmp_path / "configs"
    folder.mkdir()
    write_config(folder, name="quickstart.yaml")
    assert refused(["train", str(folder)], tmp_path / "runs") == (
        f"error: '{folder}' is a directory, not a config file; give a YAML file in it, "
        f"e.g. {folder / 'quickstart.yaml'}")


def test_a_misspelt_config_file_gets_the_nearest_name(tmp_path):
    folder = tmp_path / "configs"
    folder.mkdir()
    write_config(folder, name="quickstart.yaml")
    write_config(folder, name="batch-norm.yaml")
    assert refused(["train", str(folder / "quikstart.yaml")], tmp_path / "runs") == (
        f"error: config file '{folder / 'quikstart.yaml'}' does not exist (did you mean "
        f"{folder / 'quickstart.yaml'}?)")
    assert refused(["train", str(folder / "zzz.yaml")], tmp_path / "runs") == (
        f"error: config file '{folder / 'zzz.yaml'}' does not exist")
    assert refused(["train", str(tmp_path / "confgs" / "quickstart.yaml")],
                   tmp_path / "runs") == (
        f"error: config file '{tmp_path / 'confgs' / 'quickstart.yaml'}' does not exist (there "
        f"is no directory '{tmp_path / 'confgs'}')")


def test_a_misspelt_config_file_is_not_pointed_at_a_search_space(tmp_path):
    write_config(tmp_path, name="exp.yaml")
    (tmp_path / "space.yaml").write_text("optimizer.learning_rate: {log_uniform: [1e-4, 1e-1]}\n")
    assert refused(["train", str(tmp_path / "nope.yaml")], tmp_path / "runs") == (
        f"error: config file '{tmp_path / 'nope.yaml'}' does not exist")
    assert refused(["train", str(tmp_path / "spaec.yaml")], tmp_path / "runs") == (
        f"error: config file '{tmp_path / 'spaec.yaml'}' does not exist")
    assert refused(["train", str(tmp_path / "exp.yml")], tmp_path / "runs") == (
        f"error: config file '{tmp_path / 'exp.yml'}' does not exist (did you mean "
        f"{tmp_path / 'exp.yaml'}?)")


@pytest.mark.parametrize("text,message", [
    ("", "{path} is empty; a config is a YAML mapping with at least data: and model: sections"),
    ("- a\n- b\n", "{path} holds a YAML list, not a mapping of config keys (key: value lines)"),
    ("just words\n", "{path} holds a YAML string, not a mapping of config keys (key: value "
                     "lines)"),
])
def test_a_config_that_is_not_a_mapping(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert refused(["train", str(path)], tmp_path / "runs") == \
        "error: " + message.format(path=path)


def test_a_config_that_is_not_text(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"data: \xff\n")
    assert refused(["train", str(path)], tmp_path / "runs") == (
        f"error: config file '{path}' is not UTF-8 text (byte 0xff at position 6)")


def test_runs_dir_below_a_file(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    result = runner.invoke(app, ["train", str(write_config(tmp_path)), "--runs-dir",
                                 str(blocker / "runs")])
    assert result.exit_code == 2
    assert result.output.strip() == (f"error: cannot create runs directory "
                                     f"'{blocker / 'runs'}': '{blocker}' is a file, not a "
                                     "directory")
    assert blocker.read_text() == "x"


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_an_empty_runs_dir_is_refused_not_read_as_here(tmp_path, command, monkeypatch):
    # ``--runs-dir "$RUNS"`` with RUNS unset: the run must not land in the current directory
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path)
    result = runner.invoke(app, [command, str(config), "--runs-dir", ""])
    assert result.exit_code == 2
    assert result.output.strip() == ("error: invalid value for '--runs-dir': is empty; give a "
                                     f"directory, e.g. --runs-dir runs; dlcli {command} -h "
                                     "for help")
    assert sorted(p.name for p in tmp_path.iterdir()) == [config.name]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_runs_dir(tmp_path):
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    runs_dir.chmod(0o500)
    try:
        result = runner.invoke(app, ["train", str(write_config(tmp_path)), "--runs-dir",
                                     str(runs_dir)])
    finally:
        runs_dir.chmod(0o700)
    assert result.exit_code == 2
    assert result.output.strip() == (f"error: cannot create a run directory in '{runs_dir}': "
                                     "permission denied")


def test_messages_from_a_real_dlcli(tmp_path):
    """The installed command, as a user runs it: stderr holds the one line, stdout nothing."""
    folder = tmp_path / "configs"
    folder.mkdir()
    write_config(folder, name="quickstart.yaml")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for args, message in [
        (["train", "configs/quickstart.yaml", "--set", "optimiser.name=adam"],
         "error: config error at --set optimiser.name: unknown key 'optimiser' (did you mean "
         f"'optimizer'?); allowed keys here: {TOP_KEYS}"),
        (["train", "configs"],
         "error: 'configs' is a directory, not a config file; give a YAML file in it, e.g. "
         "configs/quickstart.yaml"),
        (["train", "configs/quikstart.yaml"],
         "error: config file 'configs/quikstart.yaml' does not exist (did you mean "
         "configs/quickstart.yaml?)"),
    ]:
        done = subprocess.run([sys.executable, "-m", "dlcli", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert (done.returncode, done.stdout, done.stderr.strip()) == (2, "", message)
    assert not (tmp_path / "runs").exists()


# -- the command line wins over a study's plan ---------------------------------------------------

def sweep_config(tmp_path: Path) -> Path:
    return write_config(tmp_path, {**SMALL, "training": {"epochs": 2, "batch_size": 32},
                                   "sweep": {"grid": {"model.batch_norm": [False, True],
                                                      "optimizer.name": ["gd", "adam"]},
                                             "seeds": 1}})


def test_set_fixes_a_key_the_config_sweeps(tmp_path):
    result = runner.invoke(app, ["sweep", str(sweep_config(tmp_path)), "--set",
                                 "model.batch_norm=true", "--runs-dir", str(tmp_path / "runs"),
                                 "-q"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == "model.batch_norm is fixed by --set; not swept"
    study = Path(result.stdout.strip())
    configs = [yaml.safe_load((run / "config.yaml").read_text())
               for run in sorted(study.iterdir()) if run.is_dir()]
    assert [c["optimizer"]["name"] for c in configs] == ["gd", "adam"]
    assert all(c["model"]["batch_norm"] for c in configs)


def test_set_and_grid_of_one_key_is_refused(tmp_path):
    assert refused(["sweep", str(sweep_config(tmp_path)), "--set", "optimizer.name=adam",
                    "--grid", "optimizer.name=gd,rmsprop"], tmp_path / "runs") == (
        "error: config error at --grid optimizer.name: --set optimizer.name fixes it to one "
        "value; give either --set (one value for every run) or --grid (values to sweep)")


def test_set_inside_a_swept_section_is_refused(tmp_path):
    assert refused(["sweep", str(sweep_config(tmp_path)), "--set",
                    "model.batch_norm.momentum=0.5"], tmp_path / "runs") == (
        "error: config error at --set model.batch_norm.momentum: model.batch_norm is swept as "
        "a whole, and each run's value of it would replace what --set puts inside it; write "
        "the setting into the grid's values of model.batch_norm, or fix model.batch_norm with "
        "--set")


def test_set_fixes_a_key_of_the_search_space(tmp_path):
    config = write_config(tmp_path, {**SMALL, "training": {"epochs": 2, "batch_size": 32},
                                     "search": {"optimizer.learning_rate":
                                                {"log_uniform": [1e-3, 1e-1]},
                                                "training.batch_size": {"choice": [16, 32]}}})
    result = runner.invoke(app, ["tune", str(config), "--trials", "2", "--set",
                                 "optimizer.learning_rate=0.02", "--runs-dir",
                                 str(tmp_path / "runs"), "-q"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == \
        "optimizer.learning_rate is fixed by --set; not searched"
    search = Path(result.stdout.strip())
    assert yaml.safe_load((search / "space.yaml").read_text()) == \
        {"training.batch_size": {"choice": [16, 32]}}
    rates = {yaml.safe_load((run / "config.yaml").read_text())["optimizer"]["learning_rate"]
             for run in search.iterdir() if run.is_dir()}
    assert rates == {0.02}
    assert refused(["tune", str(config), "--trials", "2", "--set",
                    "optimizer.learning_rate=0.02", "--set", "training.batch_size=8"],
                   tmp_path / "runs2") == (
        "error: config error at search: --set fixes every key of it (optimizer.learning_rate, "
        "training.batch_size); nothing is left to search")


# -- command-line mistakes ---------------------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["trian"], "no such command 'trian' (did you mean 'train'?); dlcli -h for help"),
    (["--versoin"], "no such option: --versoin (did you mean --version?); dlcli -h for help"),
    (["train"], "missing argument 'CONFIG'; usage: dlcli train [OPTIONS] CONFIG (dlcli train "
                "-h for more)"),
    (["compare"], "missing argument 'RUN_DIR'; usage: dlcli compare [OPTIONS] RUN_DIR... "
                  "(dlcli compare -h for more)"),
    (["train", "x.yaml", "--nmae", "x"], "no such option: --nmae (did you mean --name or "
                                         "--note?); dlcli train -h for help"),
    (["train", "x.yaml", "--epochs", "0"], "--epochs 0 is not allowed; must be at least 1; "
                                           "dlcli train -h for help"),
    (["train", "x.yaml", "--epochs", "many"], "--epochs many is not allowed; must be a whole "
                                              "number; dlcli train -h for help"),
    (["compare", "x", "--format", "xml"], "--format xml is not allowed; must be one of table, "
                                          "markdown, csv, json; dlcli compare -h for help"),
])
def test_command_line_mistakes_are_one_line(tmp_path, args, message):
    result = runner.invoke(app, args)
    assert (result.exit_code, result.output) == (2, f"error: {message}\n")


@pytest.mark.parametrize("setting,message", [
    ("training.epochs=true", "training.epochs: true is not allowed; must be a whole number"),
    ("training.batch_size=true", "training.batch_size: true is not allowed; must be a whole "
                                 "number, or 'full'"),
    ("optimizer.learning_rate=false", "optimizer.learning_rate: false is not allowed; must be "
                                      "a number"),
    ("model.hidden=[4,true]", "model.hidden[1]: true is not allowed; must be a whole number"),
])
def test_true_is_not_one(tmp_path, setting, message):
    """pydantic reads true as 1 where a number goes: 'epochs: true' trained one epoch."""
    config = write_config(tmp_path)
    assert refused(["train", str(config), "--set", setting], tmp_path / "runs") == \
        f"error: config error at {message}"


@pytest.mark.parametrize("error,reason", [
    (IsADirectoryError(21, "Is a directory", "configs"), "is a directory"),
    (PermissionError(13, "Permission denied", "/x", None, "/y"), "permission denied"),
    (OSError(28, "No space left on device"), "no space left on device"),
    (OSError("the scheduler went away"), "the scheduler went away"),
    (OSError(), "OSError"),
])
def test_os_reason_is_plain_words_without_errno_or_path(error, reason):
    from dlcli.errors import os_reason
    assert os_reason(error) == reason


def test_a_run_file_that_cannot_be_read_is_named_in_plain_words(tmp_path):
    from dlcli.runs.reader import read_run

    run = tmp_path / "20261126-120000-x"
    (run / "metrics.json").mkdir(parents=True)
    (run / "config.yaml").write_text("name: x\n")
    assert read_run(run).unreadable == "metrics.json cannot be read: is a directory"


@pytest.mark.parametrize("file,text,problem", [
    ("metrics.json", "[1, 2]", "metrics.json holds a JSON array, not an object"),
    ("config.yaml", "just words\n", "config.yaml holds a YAML string, not a mapping"),
    ("overrides.yaml", "a: 1\n", "overrides.yaml holds a YAML mapping, not a list"),
])
def test_a_run_file_of_the_wrong_kind_is_named_in_its_own_words(tmp_path, file, text, problem):
    from dlcli.runs.reader import read_run

    run = tmp_path / "20261126-120000-x"
    run.mkdir()
    (run / "metrics.json").write_text('{"status": "completed"}')
    (run / file).write_text(text)
    assert read_run(run).unreadable == problem


@pytest.mark.parametrize("value,yaml_word,json_word", [
    (None, "null", "null"), (True, "boolean", "boolean"), (3, "number", "number"),
    ("x", "string", "string"), ([1], "list", "array"), ({"a": 1}, "mapping", "object")])
def test_kind_of_uses_the_file_formats_words(value, yaml_word, json_word):
    from dlcli.errors import kind_of
    assert (kind_of(value), kind_of(value, "JSON")) == (yaml_word, json_word)


# -- a choice among one --------------------------------------------------------------------------

def test_an_option_with_one_choice_says_must_be_it_not_one_of_it(tmp_path):
    one = runner.invoke(app, ["export", str(tmp_path / "run"), "--format", "tflite"])
    assert one.exit_code == 2
    assert one.output.strip() == ("error: --format tflite is not allowed; must be onnx; "
                                  "dlcli export -h for help")
    many = runner.invoke(app, ["ls", str(tmp_path), "--format", "xml"])
    assert many.exit_code == 2
    assert many.output.strip() == ("error: --format xml is not allowed; must be one of table, "
                                   "csv, json; dlcli ls -h for help")


# -- Ctrl-C: what was kept, then "Continue with:" and the command on a line of its own ----------

def stop_studies_after(monkeypatch, count: int) -> None:
    """Ctrl-C once ``count`` runs of a sweep or search have finished."""
    from dlcli.study.runner import Study
    from helpers import StopAfter

    real = Study.run
    monkeypatch.setattr(Study, "run", lambda self, executor, callbacks=(), log=None: real(
        self, executor, [*callbacks, StopAfter(count)], log))


@pytest.mark.parametrize("command,table", [
    (["sweep", "--grid", "optimizer.learning_rate=0.1,0.2"], "study.csv"),
    (["tune", "--trials", "3", "--space", "space.yaml"], "trials.csv"),
])
def test_ctrl_c_in_a_sweep_or_tune_names_the_command_on_its_own_line(tmp_path, monkeypatch,
                                                                      command, table):
    config = write_config(tmp_path)
    (tmp_path / "space.yaml").write_text("optimizer.learning_rate: {log_uniform: [1e-3, 1e-1]}\n")
    stop_studies_after(monkeypatch, 1)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [command[0], str(config), *command[1:], "-w", "1", "-q",
                                 "--runs-dir", "runs"])
    assert result.exit_code == 130, result.output
    study = Path(result.stdout.strip())
    assert study.parent == Path("runs")
    assert result.stderr.strip().splitlines() == [
        f"error: interrupted; 1 finished run is kept in {study / table}",
        f"Continue with: dlcli {command[0]} --resume {study}"]


def test_ctrl_c_in_train_names_the_command_on_its_own_line(tmp_path, monkeypatch):
    from dlcli import experiment
    from dlcli.runs.checkpoint import checkpoint_epoch
    from dlcli.train.callbacks import Callback

    class CtrlC(Callback):
        def on_epoch_end(self, trainer, row):
            if row["epoch"] == 3:
                raise KeyboardInterrupt

    real = experiment.run
    monkeypatch.setattr(experiment, "run", lambda *args, callbacks=None, **kwargs: real(
        *args, callbacks=[*(callbacks or []), CtrlC()], **kwargs))
    config = write_config(tmp_path, {**SMALL, "training": {"epochs": 50, "batch_size": 32,
                                                           "checkpoint_every": 1}})
    result = runner.invoke(app, ["train", str(config), "--runs-dir", str(tmp_path / "runs"),
                                 "-q"])
    assert result.exit_code == 130, result.output
    run = Path(result.stdout.strip())
    start = checkpoint_epoch(run / "checkpoint.npz")
    assert result.stderr.strip().splitlines() == [
        f"error: interrupted; what was logged is kept in {run} (a resume starts from its "
        f"checkpoint at epoch {start:,})",
        f"Continue with: dlcli resume {run} --epochs 50"]
