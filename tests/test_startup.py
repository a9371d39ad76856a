"""Start-up and the end of a run: the command line loads only what a command uses, and a run's
figures are drawn in a helper process that loads matplotlib while the run trains, never failing
the run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dlcli.config import load_config
from dlcli.errors import RunError
from dlcli.experiment import run
from dlcli.reports import plots
from dlcli.reports.background import Painter
from helpers import SMALL, write_config

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[1]
# What no command needs before it runs: building the command line (for --help, --version and
# every command's options) must not load them. (typer itself loads pydantic to convert a
# command's options, so only --help and --version go without it.)
HEAVY = ["numpy", "yaml", "matplotlib", "multiprocessing", "dlcli.config", "dlcli.data",
         "dlcli.experiment", "dlcli.study.runner", "dlcli.gradcheck", "pydantic"]
ROWS = [{"epoch": 0, "cost": 0.9, "dev_loss": 1.0}, {"epoch": 1, "cost": 0.5, "dev_loss": 0.6},
        {"epoch": 2, "cost": 0.3, "dev_loss": 0.45}]


def loaded_after(args: list[str]) -> list[str]:
    """The HEAVY modules loaded after ``dlcli ARGS`` ran in a fresh interpreter (in process)."""
    code = ("import sys, json\n"
            "from typer.testing import CliRunner\n"
            "from dlcli.cli.app import app\n"
            f"result = CliRunner().invoke(app, {args!r})\n"
            "assert result.exit_code == 0, result.output\n"
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["train", "--help"],
                                  ["tune", "--help"], ["sweep", "--help"],
                                  ["gradcheck", "--help"], ["compare", "--help"]])
def test_the_command_line_loads_no_heavy_library_until_a_command_runs(args):
    allowed = {"pydantic"} if args[0] not in ("--version", "--help") else set()
    assert [m for m in loaded_after(args) if m not in allowed] == []


def test_gradcheck_options_show_the_library_defaults():
    from dlcli.cli import gradcheck as cli
    from dlcli.gradcheck import DEFAULT_BATCH, DEFAULT_EPSILON

    assert (cli.DEFAULT_EPSILON, cli.DEFAULT_BATCH) == (DEFAULT_EPSILON, DEFAULT_BATCH)


@pytest.mark.parametrize("background", [True, False])
def test_painter_draws_and_reports_what_it_could_not_draw(tmp_path, background):
    painter = Painter(background=background)
    painter.submit("cost.png", plots.plot_cost, ROWS, tmp_path / "cost.png", title="a")
    painter.submit("other.png", plots.plot_cost, ROWS, tmp_path / "missing" / "other.png",
                   title="b")
    failed = painter.finish()
    assert (tmp_path / "cost.png").read_bytes()[:8] == PNG_MAGIC
    assert [(f.label, f.kind) for f in failed] == [("other.png", "WriteError")]
    assert failed[0].reason.endswith("while writing " + str(tmp_path / "missing" / "other.png"))


def test_painter_draws_here_when_the_helper_is_gone(tmp_path):
    painter = Painter(background=True)
    painter._proc.kill()   # the helper died before it got the job (killed, or no matplotlib)
    painter.submit("cost.png", plots.plot_cost, ROWS, tmp_path / "cost.png", title="a")
    assert painter.finish() == []
    assert (tmp_path / "cost.png").read_bytes()[:8] == PNG_MAGIC


def test_painter_with_nothing_to_draw_lets_the_helper_go():
    painter = Painter(background=True)
    proc = painter._proc
    assert painter.finish() == []
    assert proc.returncode == 0


@pytest.mark.parametrize("background", [True, False])
def test_a_figure_that_cannot_be_drawn_is_a_warning_not_a_failed_run(tmp_path, monkeypatch,
                                                                      background):
    # json.loads stands for a drawing function that raises: it is importable in the helper
    # process too, and takes none of plot_cost's arguments.
    monkeypatch.setattr("dlcli.experiment.plot_cost", json.loads)
    config = load_config(write_config(tmp_path))
    result = run(config, tmp_path / "runs", draw_in_background=background)
    assert result.status == "completed"
    assert json.loads((result.path / "metrics.json").read_text())["status"] == "completed"
    assert "warning: cost.png not drawn: TypeError: " in (result.path / "train.log").read_text()
    assert (result.path / "boundary.png").read_bytes()[:8] == PNG_MAGIC


def test_a_figure_the_disk_cannot_hold_fails_the_run_from_the_helper_too(tmp_path):
    config = load_config(write_config(tmp_path))

    def cost_png_is_a_directory(path, prepared):
        (path / "cost.png").mkdir()

    with pytest.raises(RunError, match="while writing .*cost.png"):
        run(config, tmp_path / "runs", on_start=cost_png_is_a_directory, draw_in_background=True)
    run_dir = next((tmp_path / "runs").iterdir())
    status = json.loads((run_dir / "metrics.json").read_text())
    assert status["status"] == "failed" and status["message"].endswith("cost.png")


def test_dlcli_train_writes_its_figures_before_it_exits(tmp_path):
    config = write_config(tmp_path, dict(SMALL, name="pictures"))
    proc = subprocess.run([sys.executable, "-m", "dlcli", "train", str(config), "--runs-dir",
                           str(tmp_path / "runs"), "--quiet"], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    for name in ("cost.png", "boundary.png"):
        assert (run_dir / name).read_bytes()[:8] == PNG_MAGIC
    assert "not drawn" not in (run_dir / "train.log").read_text()


@pytest.mark.parametrize("given,expected", [(None, "4"), ("12", "12")])
def test_the_entry_point_sets_openblas_thread_timeout_before_numpy_loads(given, expected):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if given is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = given
    code = ("import os, sys\n"
            "import dlcli.__main__\n"
            "print(os.environ['OPENBLAS_THREAD_TIMEOUT'], 'numpy' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [expected, "False"]


def run_python(code: str) -> dict:
    """Run ``code`` in a fresh interpreter and return the JSON object of its last line."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_run_drawing_in_the_background_never_loads_matplotlib_itself(tmp_path):
    # Both figures of a 2-feature run (cost.png, and boundary.png, which carries the network)
    # go to the helper, which ``start_early`` started before the run and the run's Painter took.
    config = write_config(tmp_path, dict(SMALL, name="helper"))
    found = run_python(
        "import json, sys\n"
        "from dlcli.reports import background\n"
        "background.start_early()\n"
        "helper = background._early\n"
        "from dlcli.config import load_config\n"
        "from dlcli.experiment import run\n"
        f"result = run(load_config({str(config)!r}), {str(tmp_path / 'runs')!r}, "
        "draw_in_background=True)\n"
        "print(json.dumps({'status': result.status, 'path': str(result.path),\n"
        "                  'matplotlib': 'matplotlib' in sys.modules,\n"
        "                  'helper_taken': background._early is None,\n"
        "                  'helper_exit': helper.poll()}))\n")
    assert found["status"] == "completed"
    assert found["matplotlib"] is False
    assert found["helper_taken"] and found["helper_exit"] == 0
    run_dir = Path(found["path"])
    for name in ("cost.png", "boundary.png"):
        assert (run_dir / name).read_bytes()[:8] == PNG_MAGIC
    assert "not drawn" not in (run_dir / "train.log").read_text()


def test_a_job_that_does_not_pickle_is_drawn_here_and_the_others_in_the_helper(tmp_path):
    found = run_python(
        "import json, sys\n"
        "from pathlib import Path\n"
        "from dlcli.reports import plots\n"
        "from dlcli.reports.background import Painter\n"
        f"ROWS = {ROWS!r}\n"
        "painter = Painter(background=True)\n"
        f"painter.submit('cost.png', plots.plot_cost, ROWS, Path({str(tmp_path)!r}) / 'cost.png',\n"
        "               title='a')\n"
        "def closure():\n"
        "    def here(path):   # a local function: it does not pickle\n"
        "        Path(path).write_text(str('matplotlib' in sys.modules))\n"
        "    return here\n"
        "here = closure()\n"
        f"painter.submit('here.txt', here, Path({str(tmp_path)!r}) / 'here.txt')\n"
        "print(json.dumps({'failed': painter.finish(),\n"
        "                  'matplotlib': 'matplotlib' in sys.modules}))\n")
    assert found == {"failed": [], "matplotlib": False}
    assert (tmp_path / "cost.png").read_bytes()[:8] == PNG_MAGIC
    assert (tmp_path / "here.txt").read_text() == "False"


def test_a_bad_config_stops_the_helper_train_started_for_its_figures(tmp_path):
    bad = write_config(tmp_path, dict(SMALL, optimizer={"name": "adam", "learning_rate": -1}))
    found = run_python(
        "import json\n"
        "from typer.testing import CliRunner\n"
        "from dlcli.cli.app import app\n"
        "from dlcli.reports import background\n"
        "started = []\n"
        "start = background.Painter._start\n"
        "background.Painter._start = staticmethod(lambda: started.append(start()) or started[-1])\n"
        f"result = CliRunner().invoke(app, ['train', {str(bad)!r}, '--runs-dir', "
        f"{str(tmp_path / 'runs')!r}])\n"
        "print(json.dumps({'code': result.exit_code, 'started': len(started),\n"
        "                  'stopped': [p.poll() is not None for p in started],\n"
        "                  'parked': background._early is not None}))\n")
    assert found == {"code": 2, "started": 1, "stopped": [True], "parked": False}
    assert not (tmp_path / "runs").exists()


def test_the_entry_point_starts_the_figures_helper_only_for_train(tmp_path):
    good = write_config(tmp_path, dict(SMALL, name="good"))
    bad = write_config(tmp_path, dict(SMALL, optimizer={"name": "adam", "learning_rate": -1}),
                       name="bad.yaml")
    runs = str(tmp_path / "runs")
    found = run_python(
        "import json, sys\n"
        "from dlcli.cli.app import main\n"
        "from dlcli.reports import background\n"
        "started = []\n"
        "start = background.Painter._start\n"
        "background.Painter._start = staticmethod(lambda: started.append(start()) or started[-1])\n"
        "out = {}\n"
        f"for name, args in [('train', ['train', {str(good)!r}, '--runs-dir', {runs!r}, '-q']),\n"
        f"                   ('bad', ['train', {str(bad)!r}, '--runs-dir', {runs!r}]),\n"
        "                   ('help', ['train', '--help']), ('version', ['--version'])]:\n"
        "    sys.argv = ['dlcli', *args]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as exc:\n"
        "        code = exc.code\n"
        "    out[name] = [code, len(started), [p.poll() is not None for p in started]]\n"
        "    started.clear()\n"
        "print(json.dumps(out))\n")
    # train: one helper, taken by the run and done when it returns; a bad config: started by
    # the entry point and stopped by train; --help and --version: none
    assert found == {"train": [0, 1, [True]], "bad": [2, 1, [True]], "help": [0, 0, []],
                     "version": [0, 0, []]}
