"""Where the runs of a study go (SPEC section 12): in this process, in local worker processes,
or on a Dask distributed cluster.

Every executor has the same small interface, so the study runner does not care which one it has:
``submit(fn, arg)`` returns a future, ``as_completed(futures)`` yields them as they finish,
``interrupt(futures)`` stops a search on Ctrl-C (cancels what has not started, stops the trials that
are running at their next epoch end so they record themselves as ``interrupted``) and returns the
futures that finished,
``close()`` lets the workers go.

Worker processes each limit their BLAS to one thread: two workers on two cores that each start a
BLAS thread per core oversubscribe the machine, and OpenBLAS threads spinning against each other
make the small products of these networks many times slower. The environment variables are set in
the worker's initializer, which is early enough for libraries loaded later; numpy may already be
imported by then (spawn and forkserver re-import the parent's ``__main__``), so the limit is also
applied at run time with threadpoolctl around every trial.

This module imports only the standard library at the top: it is what a new worker process imports
first, before any BLAS library is loaded.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from dlcli.blas import blas_limit
from dlcli.errors import InputError, os_reason
from dlcli.numbers import counted

BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
EXECUTORS = ("local", "dask")
# How long an interrupted search waits for running trials to record themselves as interrupted.
INTERRUPT_GRACE_SECONDS = 30.0


def cpu_count() -> int:
    """Cores this process may run on (respects CPU affinity, e.g. under taskset or a container)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)



class Executor(Protocol):
    workers: int
    description: str

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any: ...

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]: ...

    def interrupt(self, futures: Iterable[Any]) -> list[Any]: ...

    def close(self) -> None: ...


# -- in this process -----------------------------------------------------------------------------

class InProcessExecutor:
    """One trial after another in this process (``--workers 1``): no start-up cost, and Ctrl-C
    reaches the running trial directly."""

    workers = 1
    description = "1 worker (this process)"

    def __init__(self) -> None:
        self._calls: dict[cf.Future[Any], tuple[Callable[[Any], Any], Any]] = {}

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        self._calls[future] = (fn, arg)
        return future

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        for future in futures:
            fn, arg = self._calls.pop(future)
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(arg))
            except Exception as exc:  # KeyboardInterrupt passes through to the caller
                future.set_exception(exc)
            yield future

    def interrupt(self, futures: Iterable[Any]) -> list[Any]:
        for future in futures:
            self._calls.pop(future, None)
            future.cancel()
        return []

    def close(self) -> None:
        self._calls.clear()


# -- local worker processes ----------------------------------------------------------------------

# State of a worker process (module globals live once per process).
_IN_WORKER = False
_STOPPED = False   # the search was interrupted: stop the running trial, skip queued ones
_BLAS_THREADS: int | None = None


def _on_sigint(signum: int, frame: Any) -> None:
    # Only a flag: the running trial stops at its next epoch end (``StopWhenAsked``), inside the
    # training loop, so its run directory records "interrupted". A KeyboardInterrupt raised here
    # could land anywhere, e.g. while the run writes its final metrics.json, and leave the run
    # marked "running". (Ctrl-C in a terminal reaches every process of the foreground group and
    # the parent forwards one more SIGINT, so a worker gets it once or twice.)
    global _STOPPED
    _STOPPED = True


class StopWhenAsked:
    """Trainer callback (duck-typed: this module must not import numpy): after an epoch, raise
    KeyboardInterrupt if this worker was told to stop, so the run records ``interrupted``."""

    def on_train_begin(self, trainer: Any) -> None:
        return None

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        if _STOPPED:
            raise KeyboardInterrupt

    def on_train_end(self, trainer: Any) -> None:
        return None


def trial_callbacks() -> list[Any]:
    """Callbacks a trial should train with here: in a local worker, the Ctrl-C stopper."""
    return [StopWhenAsked()] if _IN_WORKER else []


def _init_worker(blas_threads: int) -> None:
    global _IN_WORKER, _BLAS_THREADS
    for name in BLAS_ENV:
        os.environ[name] = str(blas_threads)
    _IN_WORKER, _BLAS_THREADS = True, blas_threads
    signal.signal(signal.SIGINT, _on_sigint)


def _call_in_worker(fn: Callable[[Any], Any], arg: Any) -> Any:
    """Run ``fn(arg)`` in a worker process; None when the search was interrupted first."""
    if _STOPPED:
        return None
    try:
        with blas_limit(_BLAS_THREADS, user_api=None):
            return fn(arg)
    except KeyboardInterrupt:   # not expected (SIGINT only sets a flag), but never crash a worker
        return None


def worker_report(_: Any = None) -> dict[str, Any]:
    """Where a task ran and with how many BLAS threads: submit it to check an executor."""
    report: dict[str, Any] = {"pid": os.getpid(),
                              "env": {name: os.environ.get(name) for name in BLAS_ENV}}
    try:
        from threadpoolctl import threadpool_info

        import numpy  # noqa: F401  (load BLAS, as a trial would)
        report["blas_threads"] = [pool["num_threads"] for pool in threadpool_info()
                                  if pool.get("user_api") == "blas"]
    except ImportError:
        report["blas_threads"] = []
    return report


# Imported by the forkserver before it forks workers (``dlcli.study.worker_preload``).
PRELOAD = "dlcli.study.worker_preload"


def _context() -> multiprocessing.context.BaseContext:
    # Not fork: a forked child inherits the parent's threads' locks (rich's progress thread) and
    # its BLAS thread pool in whatever state they were. forkserver starts workers from a clean
    # server process that has imported numpy, dlcli and matplotlib once (PRELOAD), so each
    # worker is a cheap fork of it; spawn where forkserver does not exist.
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Only heeded before the forkserver starts (once per process); afterwards it is a no-op.
    context.set_forkserver_preload([PRELOAD])
    return context


class LocalExecutor:
    """A pool of local worker processes, each limited to ``blas_threads`` BLAS threads."""

    def __init__(self, workers: int, blas_threads: int = 1) -> None:
        self.workers = workers
        self.description = (f"{workers} local worker processes, {blas_threads} BLAS thread"
                            f"{'s' if blas_threads != 1 else ''} each")
        self._pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=_context(),
                                            initializer=_init_worker,
                                            initargs=(blas_threads,))
        # Start the workers now (the pool starts them all at its first task): the forkserver's
        # imports then overlap with what this process does before it submits the first run.
        self._pool.submit(os.getpid)

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> cf.Future[Any]:
        return self._pool.submit(_call_in_worker, fn, arg)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        return cf.as_completed(list(futures))

    def _worker_pids(self) -> list[int]:
        # ProcessPoolExecutor does not expose its processes; _processes is stable since 3.2.
        processes = getattr(self._pool, "_processes", None) or {}
        return [p.pid for p in list(processes.values()) if p.pid is not None and p.is_alive()]

    def interrupt(self, futures: Iterable[Any]) -> list[Any]:
        futures = list(futures)
        for future in futures:
            future.cancel()   # only those not yet handed to a worker
        for pid in self._worker_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
        done, not_done = cf.wait(futures, timeout=INTERRUPT_GRACE_SECONDS)
        if not_done:   # a trial that ignores Ctrl-C for that long is stuck: stop its worker
            for pid in self._worker_pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        return [f for f in done if not f.cancelled()]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# -- Dask distributed ----------------------------------------------------------------------------

def _call_limited(fn: Callable[[Any], Any], arg: Any, blas_threads: int | None) -> Any:
    with blas_limit(blas_threads, user_api=None):
        return fn(arg)


class DaskExecutor:
    """Trials as tasks on an existing Dask distributed cluster.

    Trials write their run directories where the search directory is, so the workers must see the
    same file system (one machine, or a shared mount). A running task cannot be stopped from
    here: on Ctrl-C the trials not yet started are cancelled, the running ones finish on the
    cluster and are not recorded (a resumed search runs them again)."""

    def __init__(self, scheduler: str, blas_threads: int | None = 1,
                 timeout: float = 10.0) -> None:
        try:
            import distributed
        except ImportError:
            raise InputError("--executor dask needs dask.distributed: "
                             "pip install 'dlcli[dask]'") from None
        self._distributed = distributed
        try:
            self._client = distributed.Client(scheduler, timeout=timeout,
                                              set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            reason = os_reason(exc) if isinstance(exc, OSError) else str(exc)
            raise InputError(f"cannot connect to the Dask scheduler at {scheduler!r}: "
                             f"{reason}") from None
        self.blas_threads = blas_threads
        info = self._client.scheduler_info()
        workers = info.get("workers", {})
        self.workers = max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))
        self.description = (f"Dask cluster at {scheduler}: {counted(len(workers), 'worker')}, "
                            f"{counted(self.workers, 'thread')}")

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        # pure=False: two trials with equal arguments are still two trials.
        return self._client.submit(_call_limited, fn, arg, self.blas_threads, pure=False)

    def as_completed(self, futures: Iterable[Any]) -> Iterator[Any]:
        # The client's loop, given explicitly: this client is not the process-wide default.
        return iter(self._distributed.as_completed(list(futures), loop=self._client.loop))

    def interrupt(self, futures: Iterable[Any]) -> list[Any]:
        futures = list(futures)
        done = [f for f in futures if f.done()]
        pending = [f for f in futures if not f.done()]
        if pending:
            self._client.cancel(pending)
        return done

    def close(self) -> None:
        self._client.close()


def make_executor(kind: str = "local", workers: int | None = None, scheduler: str | None = None,
                  blas_threads: int = 1) -> Executor:
    """The executor a command line asks for; ``workers`` defaults to the number of cores."""
    if kind not in EXECUTORS:
        from dlcli.registry import did_you_mean
        raise InputError(f"--executor {kind!r}: choose one of {', '.join(EXECUTORS)}"
                         + (f" ({did_you_mean(kind, EXECUTORS)})"
                            if did_you_mean(kind, EXECUTORS) else ""))
    if kind == "dask":
        if not scheduler:
            raise InputError("--executor dask needs --scheduler ADDRESS "
                             "(e.g. tcp://10.0.0.5:8786)")
        return DaskExecutor(scheduler, blas_threads)
    if scheduler:
        raise InputError("--scheduler goes with --executor dask")
    count = cpu_count() if workers is None else workers
    if count < 1:
        raise InputError(f"--workers {count}: give at least 1")
    if count == 1:
        return InProcessExecutor()
    return LocalExecutor(count, blas_threads)
