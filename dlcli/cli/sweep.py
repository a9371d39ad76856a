"""``dlcli sweep`` (SPEC section 12): a grid of config values, each point with N seeds.

Parses the command line, calls ``dlcli.study``, draws progress on stderr through rich and prints the
sweep directory on stdout (the last line), like ``dlcli train`` prints its run directory.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.table import Table

from dlcli import console
from dlcli.cli.options import (NameOption, NoteOption, QuietOption, RunsDirOption, SetOption,
                               TagOption)
from dlcli.cli.study import (MetricOption, refuse_with_resume, BEST_AT_RANK, ExecutorKind, ExecutorOption, SchedulerOption,
                             StudyProgress, WorkersOption, executor_for, run_study, tally)
from dlcli.errors import InputError, RunError
from dlcli.numbers import counted, measure, setting, spread

if TYPE_CHECKING:   # the rest is imported where it is used: building the CLI loads no numpy
    from dlcli.study.runner import Study, StudyResult
    from dlcli.study.tasks import Outcome


def _run(study: Study, outcome: Outcome) -> str:
    from dlcli.study.grid import GridSweep

    planner = study.planner
    assert isinstance(planner, GridSweep)
    return f"{planner.label(outcome.group)}, seed {outcome.seed}"


def _best_point(study: Study) -> list[console.Field]:
    """``best mean dev_loss 0.05038 at name=rmsprop``: the best point so far by the statistic
    the table ranks by (its mean over the seeds finished), named as the table does."""
    from dlcli.study.grid import GridSweep

    planner = study.planner
    assert isinstance(planner, GridSweep)
    best = planner.summary(study, "running")["best_point"]
    if best is None:
        return []
    stats = best[planner.metric]
    fields = [console.Field(f"best mean {planner.metric} {measure(stats['mean'])}", kept=True)]
    if best["values"]:   # a sweep of seeds alone has one point, and nothing to name it by
        fields.append(console.Field(f"at {_point_text(best['values'])}", BEST_AT_RANK))
    return fields


def _point_text(values: dict[str, Any]) -> str:
    """``learning_rate=0.1, name=adam``: a point as the table's columns name it."""
    from dlcli.reports.groups import short_keys

    return ", ".join(f"{key}={setting(value)}"
                     for key, value in zip(short_keys(list(values)), values.values()))


def sweep(
    config: Annotated[Optional[Path], typer.Argument(
        help="YAML config every run starts from; may hold the grid under sweep:.",
        metavar="CONFIG", show_default=False)] = None,
    grid: Annotated[Optional[list[str]], typer.Option(
        "--grid", "-g", metavar="KEY.PATH=V1,V2,...",
        help="Values of one config key (repeatable; the grid is every combination). Values "
             "are YAML scalars split on commas outside brackets and quotes: "
             "model.hidden=[16,8],[32] is two points. Replaces the config's sweep: values of "
             "that key; a key --set fixes is not swept.", show_default=False)] = None,
    seeds: Annotated[Optional[int], typer.Option(
        "--seeds", "-n", min=1, help="Seeds per point: seed, seed+1, ... (all on one data "
                                     "split). Default: the config's sweep.seeds, else 3.",
        show_default=False)] = None,
    metric: MetricOption = None,
    workers: WorkersOption = None,
    executor: ExecutorOption = ExecutorKind.local,
    scheduler: SchedulerOption = None,
    set_: SetOption = None,
    runs_dir: RunsDirOption = Path("runs"),
    name: NameOption = None,
    resume: Annotated[Optional[Path], typer.Option(
        "--resume", metavar="SWEEP_DIR",
        help="Finish an interrupted sweep (finished runs are not run again).",
        show_default=False)] = None,
    tag: TagOption = None,
    note: NoteOption = None,
    quiet: QuietOption = False,
) -> None:
    """Run every combination of a grid of config values, each with several seeds, in parallel.

    Every run is an ordinary run directory inside RUNS_DIR/<time>-<name>-sweep/, which also
    holds study.csv (one row per run), summary.json (per point: n, mean, std, min and max of
    the final and best metrics) and study.png (mean curves with min-max bands over the seeds).
    Every run uses the same data split (data.seed, default the config's seed). The command line
    wins over the config's sweep: section: --grid KEY replaces its values of KEY, and --set KEY
    fixes KEY for every run (it is not swept). Prints the sweep
    directory (the last line of standard output). Exit code 0 when at least one run succeeded,
    1 when none did, 2 for bad input, 130 on Ctrl-C (finished runs are kept; dlcli sweep
    --resume SWEEP_DIR finishes the rest).
    """
    from dlcli.study.grid import GridSweep, create_sweep, open_sweep
    from dlcli.study.random_search import load_study_config

    from dlcli.runs.tags import check_note, check_tags, write_meta

    tags, note = check_tags(tag), check_note(note)
    if resume is not None:
        refuse_with_resume({"CONFIG": config, "--grid": grid or None, "--seeds": seeds,
                            "--metric": metric, "--set": set_ or None, "--name": name},
                           "finishes a sweep", "--workers, --executor and --scheduler")
        study = open_sweep(resume)
    else:
        if config is None:
            raise InputError("give a CONFIG file (or --resume SWEEP_DIR)")
        study = create_sweep(load_study_config(config), runs_dir, grid=list(grid or []),
                             seeds=seeds, metric=metric, overrides=list(set_ or []),
                             name=name, log=console.warn)
    planner = study.planner
    assert isinstance(planner, GridSweep)
    pool = executor_for(executor, workers, scheduler, planner.total())
    if tags or note:   # every run carries the sweep's tags (dlcli ls --tag finds them)
        write_meta(study.path, tags, note)

    s = planner.settings
    progress = None if quiet else StudyProgress("runs", _run, _best_point)
    if not quiet:
        console.info(f"sweep directory: {study.path}")
        seed_text = ", ".join(map(str, s.seeds)) if len(s.seeds) <= 4 else \
            f"{s.seeds[0]}..{s.seeds[-1]}"
        console.info(f"{counted(planner.total(), 'run')}: "
                     f"{counted(len(planner.points), 'point')} x "
                     f"{counted(len(s.seeds), 'seed')} ({seed_text}), all on data seed "
                     f"{s.data_seed}")
        console.info(f"on {pool.description}")
    result = run_study(study, pool, progress, [])
    if not quiet:
        _summary(study, result)
    typer.echo(str(result.path))
    if result.best is None:
        raise RunError("no run succeeded (see the status and message columns of "
                       f"{result.path / planner.table_file})")


def _summary(study: Study, result: StudyResult) -> None:
    """The points ranked as summary.json ranks them (mean over seeds), one column per grid key
    (named by its last part where that is unique), n, and mean ± std of the metric."""
    import json

    from dlcli.reports.groups import short_keys
    from dlcli.study.grid import PLOT_FILE
    from dlcli.study.runner import SUMMARY_FILE

    console.info(tally(result.outcomes))
    summary = json.loads((result.path / SUMMARY_FILE).read_text(encoding="utf-8"))
    metric = summary["metric"]
    sign = 1.0 if summary["mode"] == "min" else -1.0
    points = sorted(summary["points"], key=lambda p: (
        p["metric"]["n"] == 0, sign * (p["metric"]["mean"] or 0.0), p["point"]))
    keys = list(summary["grid"])
    table = Table(title=f"{counted(len(points), 'point')} by mean {metric} over seeds",
                  title_justify="left")
    for header in short_keys(keys) or ["point"]:
        table.add_column(header, justify="left")
    table.add_column("n", justify="right")
    table.add_column(f"{metric}\nmean ± std", justify="right")
    for point in points:
        stats = point["metric"]
        table.add_row(*([setting(point["values"][k]) for k in keys] or [point["label"]]),
                      str(point["n"]),
                      spread(stats["mean"], stats["std"]) if stats.get("n") else "-")
    console.err.print(table)
    if (result.path / PLOT_FILE).exists():
        console.info(f"plot: {result.path / PLOT_FILE}")
