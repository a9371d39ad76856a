"""Draw a run's figures off its critical path: in a helper process that loads matplotlib while the
run trains.

Importing matplotlib takes 0.3-0.9 s, most of a short run's wall time. A ``Painter`` made with
``background=True`` starts ``python -m dlcli.reports.background`` when the run begins; the helper
imports matplotlib and dlcli's drawing code on the other core while the run trains, then reads the
jobs from its stdin: pickled calls of module-level functions, e.g.
``plots.plot_cost(rows, path, title=...)``. The run queues them when training ends (``submit``),
and ``finish`` hands them over and waits for the helper, so the figures are on disk when the run
is over.

- ``finish`` returns, per figure that was not drawn, the exception's type name and its one-line
  message; the caller decides (a full disk fails a run, a figure matplotlib could not draw is a
  warning).
- Jobs are pickled one by one: one that does not pickle is drawn in this process, the others
  in the helper, which draws them all at once (one forked copy of itself per job after the
  first: the run's core is idle while it waits).
- ``start_early`` starts the helper before its ``Painter`` exists, so that its imports also
  overlap the command's own (``dlcli train`` calls it first thing).
- When the helper cannot be started, or dies without drawing (it could not import matplotlib, it
  was killed), the calls run in this process, as they do with ``background=False``.
- The helper runs in its own session, so Ctrl-C in the terminal stops the run but not the drawing
  of the interrupted run's curve, and with one BLAS thread, so it does not spin against the run's
  matrix products. If the run's process dies, the helper reads end-of-file and exits.
"""
from __future__ import annotations

import atexit
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the directory that holds dlcli/
_FAILED = "dlcli-drawing-failed"
FINISH_TIMEOUT = 300.0  # seconds to wait for the drawings before giving up on them

Job = tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class NotDrawn(NamedTuple):
    """A figure that was not drawn: its label, the exception's type name and message (one line)."""

    label: str
    kind: str
    reason: str


def _last_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[-1] if lines else ""


def _run(jobs: list[Job]) -> list[NotDrawn]:
    """Run every job here; what each that raised was."""
    failed = []
    for label, function, args, kwargs in jobs:
        try:
            function(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            failed.append(NotDrawn(label, type(exc).__name__, _last_line(exc)))
    return failed


_early: subprocess.Popen[bytes] | None = None   # a helper started ahead of its Painter


def start_early() -> None:
    """Start a helper now, for this process's next ``Painter(background=True)`` to take. A
    command that will draw (``dlcli train``) calls this first thing, so that the helper's
    imports overlap the command's own (its config, numpy, the data). A helper nobody took is
    stopped when this process exits, or by ``discard_early`` (the config was bad)."""
    global _early
    if _early is None or _early.poll() is not None:
        _early = Painter._start()


def discard_early() -> None:
    """Stop the helper ``start_early`` started, unless a Painter took it."""
    global _early
    proc, _early = _early, None
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()


atexit.register(discard_early)


def _take_early() -> subprocess.Popen[bytes] | None:
    global _early
    proc, _early = _early, None
    return proc if proc is not None and proc.poll() is None else None


class Painter:
    """Draws a run's figures: in a helper process (``background=True``) or in this one."""

    def __init__(self, background: bool = False) -> None:
        self._jobs: list[Job] = []
        self._proc: subprocess.Popen[bytes] | None = (
            (_take_early() or self._start()) if background else None)

    @staticmethod
    def _start() -> subprocess.Popen[bytes] | None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH"))
                                            if p)
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = "1"
        try:
            return subprocess.Popen([sys.executable, "-m", "dlcli.reports.background"],
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, env=env, start_new_session=True)
        except OSError:
            return None

    def submit(self, label: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Queue ``function(*args, **kwargs)``, a module-level function (the helper imports it
        by name); ``label`` (e.g. the file name) names it in ``finish``'s reasons."""
        self._jobs.append((label, function, args, kwargs))

    def finish(self, timeout: float = FINISH_TIMEOUT) -> list[NotDrawn]:
        """Draw what was queued and wait for it; what was not drawn, and why. A job that does
        not pickle (it holds a closure, say) is drawn in this process, the others still in the
        helper."""
        jobs, self._jobs = self._jobs, []
        proc, self._proc = self._proc, None
        if proc is None:
            return _run(jobs)
        sent: list[Job] = []
        pickled: list[bytes] = []
        here: list[Job] = []
        for job in jobs:
            try:
                pickled.append(pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL))
                sent.append(job)
            except Exception:  # noqa: BLE001 - not picklable: drawn here instead
                here.append(job)
        payload = pickle.dumps(pickled, protocol=pickle.HIGHEST_PROTOCOL) if sent else b""
        try:
            _, err = proc.communicate(input=payload, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return [NotDrawn(label, "TimeoutError", f"drawing took more than {timeout:.0f} s")
                    for label, *_ in sent] + _run(here)
        return self._helper_report(sent, proc.returncode, err) + _run(here)

    @staticmethod
    def _helper_report(sent: list[Job], returncode: int, err: bytes) -> list[NotDrawn]:
        """What the helper could not draw of ``sent``; all of it is drawn here when the helper
        died without drawing (it could not import matplotlib, it was killed)."""
        if not sent or returncode == 0:
            return []
        reports = [line.split(" ", 1)[1] for line in err.decode("utf-8", "replace").splitlines()
                   if line.startswith(_FAILED + " ")]
        if returncode == 1 and reports:
            failed = []
            for report in reports:
                index, kind, reason = (report.split(" ", 2) + ["", ""])[:3]
                failed.append(NotDrawn(sent[int(index)][0], kind, reason))
            return failed
        return _run(sent)

    def close(self) -> None:
        """Let the helper go without drawing (it exits at end-of-file)."""
        self._jobs = []
        if self._proc is not None:
            proc, self._proc = self._proc, None
            try:
                proc.communicate(input=b"", timeout=FINISH_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()


def _draw(index: int, job: Job) -> bool:
    """Run one job in the helper; a failure is reported on stderr for the run to read."""
    _, function, args, kwargs = job
    try:
        function(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - reported to the run, which logs it
        print(f"{_FAILED} {index} {type(exc).__name__} {_last_line(exc)}", file=sys.stderr,
              flush=True)
        return False
    return True


def _draw_all(jobs: list[Job]) -> bool:
    """Run every job; whether all succeeded. With several, every job after the first runs in a
    forked copy of the helper, all at once: drawing is single-threaded, and the run, which waits
    for the last figure, leaves its core idle meanwhile. A copy that dies without a word (killed)
    has its job run again here."""
    children: dict[int, int] = {}
    if hasattr(os, "fork"):
        for index in range(1, len(jobs)):
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:   # the copy: draw, report, and leave without the parent's clean-up
                os._exit(0 if _draw(index, jobs[index]) else 1)
            children[pid] = index
    ok = [_draw(index, job) for index, job in enumerate(jobs) if index == 0 or not children]
    for pid, index in children.items():
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        ok.append(code == 0 if code in (0, 1) else _draw(index, jobs[index]))
    return all(ok)


def _main() -> int:
    # Load what drawing needs before the jobs arrive: this is the time the run does not wait for.
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401

    import dlcli.reports.boundary  # noqa: F401  (boundary.png's jobs unpickle a Network)
    import dlcli.reports.plots  # noqa: F401

    payload = sys.stdin.buffer.read()
    if not payload:
        return 0
    # Each job was pickled on its own. One that does not load here ends the helper with a
    # traceback and no report, and the run draws everything itself.
    jobs = [pickle.loads(job) for job in pickle.loads(payload)]
    return 0 if _draw_all(jobs) else 1


if __name__ == "__main__":
    sys.exit(_main())
