"""``dlcli prune RUNS_DIR --status ...``: delete the run directories a user no longer wants."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer

from dlcli.cli import complete

from dlcli import console
from dlcli.errors import InputError
from dlcli.numbers import counted


def _size(path: Path) -> int:
    total = 0
    for item in path.rglob("*"):
        try:
            total += item.stat().st_size if item.is_file() else 0
        except OSError:
            pass
    return total


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def prune(
    runs_dir: Annotated[Path, typer.Argument(
        help="The directory of runs to tidy.", metavar="RUNS_DIR", show_default=False,
        autocompletion=complete.run_collections)],
    status: Annotated[list[str], typer.Option(
        "--status", metavar="STATUS[,STATUS]",
        help="Remove the runs with these statuses, e.g. failed,interrupted,killed "
             "(repeatable, or comma-separated). A running run is never removed.",
        show_default=False)],
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", "-n", help="List what would be removed; remove nothing.")] = False,
) -> None:
    """Remove the run directories of RUNS_DIR whose status is one of --status, listing each.

    Only runs directly in RUNS_DIR are removed; a study's or search's runs stay with it (its
    own files list them). A run still training is never removed, and a run is read again just
    before it goes, so one that was resumed or finished meanwhile is left alone.
    """
    from dlcli.reports import listing
    from dlcli.runs.reader import read_run

    statuses = listing.check_statuses(status)
    if "running" in statuses:
        raise InputError("--status running: prune never removes a run that is still training "
                         "(a run whose process is gone is 'killed')")
    entries = [e for e in listing.read_entries(runs_dir)
               if e.kind == "run" and e.status in statuses]
    verb = "would remove" if dry_run else "removed"
    total = 0
    count = 0
    for entry in sorted(entries, key=lambda e: e.started):
        record = read_run(entry.path)   # again: it may have changed since it was listed
        if record.status not in statuses:
            continue
        size = _size(entry.path)
        if not dry_run:
            shutil.rmtree(entry.path)
        total += size
        count += 1
        epochs = record.metrics.get("epochs_run")
        typer.echo(f"{verb} {entry.path}  ({record.status}"
                   + (f", {counted(epochs, 'epoch')}" if isinstance(epochs, int) else "") + ")")
    if count:
        them = "it" if count == 1 else "them"
        console.info(f"{verb} {counted(count, 'run')}, {_megabytes(total)}"
                     + (f"; run again without --dry-run to remove {them}" if dry_run else ""))
    else:
        console.info(f"no run in {runs_dir} has status {', '.join(statuses)}")
