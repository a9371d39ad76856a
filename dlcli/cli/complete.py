"""Shell completion of run directories (``dlcli --install-completion``).

``show`` and ``resume`` complete run directories; ``compare`` and ``ls`` also directories that
hold runs (a runs directory, a study, a search). Completing walks one directory, never a tree:
it must answer before the user's next key.
"""
from __future__ import annotations

import os
from pathlib import Path



def _candidates(incomplete: str) -> list[tuple[Path, str]]:
    """Subdirectories of the directory ``incomplete`` is in whose name starts like its last
    part, as (path, text to offer)."""
    head, _, prefix = incomplete.rpartition(os.sep)
    folder = Path(head or ("/" if incomplete.startswith(os.sep) else "."))
    try:
        children = sorted(p for p in folder.iterdir()
                          if p.is_dir() and p.name.startswith(prefix)
                          and not p.name.startswith("."))
    except OSError:
        return []
    rooted = bool(head) or incomplete.startswith(os.sep)
    return [(child, f"{head}{os.sep}{child.name}" if rooted else child.name)
            for child in children]


def _subdirs(path: Path) -> list[Path]:
    try:
        return [child for child in path.iterdir() if child.is_dir()]
    except OSError:
        return []


def _holds_runs(path: Path) -> bool:
    """Whether runs are in ``path`` or one level further down (a runs directory with studies)."""
    from dlcli.runs.reader import is_run_dir

    return any(is_run_dir(child) or any(is_run_dir(g) for g in _subdirs(child))
               for child in _subdirs(path))


def run_dirs(incomplete: str) -> list[str]:
    """Run directories (and folders on the way to them) for ``show`` and ``resume``."""
    from dlcli.runs.reader import is_run_dir

    found = []
    for path, text in _candidates(incomplete):
        if is_run_dir(path):
            found.append(text)
        elif _holds_runs(path):
            found.append(text + os.sep)
    return found


def run_collections(incomplete: str) -> list[str]:
    """Run directories and directories of runs, for ``compare`` and ``ls``."""
    from dlcli.runs.reader import is_run_dir

    return [text for path, text in _candidates(incomplete)
            if is_run_dir(path) or _holds_runs(path)]
