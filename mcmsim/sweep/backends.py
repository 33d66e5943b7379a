"""Execution backends: where sweep points run.

``local`` runs points in a :class:`~concurrent.futures.ProcessPoolExecutor` of ``jobs``
worker processes on this machine. ``dask`` runs them on a Dask distributed cluster:
the one whose scheduler listens at ``scheduler_address`` (``tcp://host:port``; its
workers need mcmsim installed, and files a scenario names at the same paths; start them
with ``--preload mcmsim.sweep.evaluate`` so the import is paid once, not by the first
point), or, with no address, a ``LocalCluster`` of ``jobs`` single-threaded worker
processes started for the sweep. Dask comes with the ``dask`` extra: ``pip install "mcmsim[dask]"``.

Both hand :func:`~mcmsim.sweep.evaluate.run_point` one point at a time and yield the
results as they finish, in the main process, where the store commits them. A point
whose worker dies (the process is killed, the pool breaks) is not a failed point: it is
reported in :class:`WorkerLost` after the other results, is not stored, and runs again
on ``--resume``. Dask first retries such a point on another worker by itself.
Local workers ignore Ctrl-C, so an interrupt reaches the main process alone, which
stops handing out points, lets running ones finish and stores what came back. They
also watch their parent: forked, they hold copies of the pool's pipes, so a main process
killed outright (``kill -9``) would leave them blocked for ever on a pipe that never
closes; a worker whose parent is gone exits within :data:`PARENT_POLL_S`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any, Protocol

from mcmsim.scenario import Diagnostic
from mcmsim.sweep.evaluate import PointResult, run_point
from mcmsim.sweep.points import Point
from mcmsim.sweep.spec import SweepError

__all__ = [
    "BACKENDS",
    "Backend",
    "DaskBackend",
    "LocalBackend",
    "WorkerLost",
    "check_backend",
    "open_backend",
]

BACKENDS = ("local", "dask")
_DASK_MISSING = 'needs the dask extra: pip install "mcmsim[dask]"'


class WorkerLost(RuntimeError):
    """Points that did not finish because their worker died; they are not stored."""

    def __init__(self, points: list[Point], cause: BaseException) -> None:
        self.points = points
        self.cause = cause
        super().__init__(
            f"{len(points)} point(s) not run: a worker died ({type(cause).__name__}: {cause})"
        )


class Backend(Protocol):
    """What the runner needs of a backend."""

    name: str
    workers: int

    def submit(self, points: Sequence[Point]) -> Iterator[PointResult]:
        """Hand out every point now; the iterator yields results as they finish.

        Closing the iterator early cancels the points not yet started. After the last
        result it raises :class:`WorkerLost` if some points' worker died.
        """
        ...

    def close(self) -> None: ...


PARENT_POLL_S = 0.2  # how often a local worker checks that its parent is alive


def _exit_with_parent(parent_pid: int) -> None:
    # Orphans are re-parented (to init or a subreaper), so the parent pid changes.
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _init_worker(parent_pid: int) -> None:
    """Ignore Ctrl-C and exit when the process ``parent_pid`` is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_exit_with_parent, args=(parent_pid,), name="parent-watch", daemon=True
    ).start()


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore Ctrl-C while child processes start (only the main thread may do so)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class LocalBackend:
    """A process pool of ``jobs`` workers on this machine."""

    name = "local"

    def __init__(self, jobs: int) -> None:
        self.workers = jobs
        self._pool = ProcessPoolExecutor(
            max_workers=jobs, initializer=_init_worker, initargs=(os.getpid(),)
        )

    def submit(self, points: Sequence[Point]) -> Iterator[PointResult]:
        # Submitting forks the workers (start method "fork"): do it eagerly, before the
        # runner starts its progress bar's thread, as forking a threaded process is unsafe.
        futures = {self._pool.submit(run_point, p): p for p in points}
        return self._results(futures)

    def _results(self, futures: dict[Future[PointResult], Point]) -> Iterator[PointResult]:
        lost: list[Point] = []
        cause: BaseException | None = None
        try:
            for future in as_completed(futures):
                error = future.exception()
                if error is None:
                    yield future.result()
                else:
                    lost.append(futures[future])
                    cause = cause or error
        finally:
            for future in futures:
                future.cancel()
        if lost:
            assert cause is not None
            raise WorkerLost(lost, cause)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskBackend:
    """A Dask distributed cluster: a running one at ``address``, else a LocalCluster.

    Raises
    ------
    SweepError
        If dask is not installed (the message names the extra) or the scheduler at
        ``address`` cannot be reached.
    """

    name = "dask"

    def __init__(self, jobs: int, address: str | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise SweepError([Diagnostic("--backend dask", None, "", _DASK_MISSING)]) from None
        self._cluster: Any = None
        if address is None:
            with _sigint_ignored():  # workers inherit it, so Ctrl-C reaches this process only
                self._cluster = LocalCluster(
                    n_workers=jobs,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    # Its HTTP server still starts: on a free port, not on 8787 that another
                    # cluster may hold (which would print a warning).
                    scheduler_kwargs={"dashboard_address": ":0"},
                    # Failed points are results, and lost workers are reported as such; what
                    # Dask logs (heartbeats failing as the cluster closes) is noise here.
                    silence_logs=logging.CRITICAL,
                    preload=["mcmsim.sweep.evaluate"],  # import mcmsim at start-up, not per task
                )
            self._client = Client(self._cluster)
        else:
            try:
                self._client = Client(address, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise SweepError(
                    [
                        Diagnostic(
                            "--scheduler-address", None, "", f"cannot connect to {address}: {exc}"
                        )
                    ]
                ) from None
        self.workers = len(self._client.scheduler_info()["workers"])

    def submit(self, points: Sequence[Point]) -> Iterator[PointResult]:
        futures = {
            self._client.submit(run_point, p, key=f"mcmsim-point-{p.id}", pure=False): p
            for p in points
        }
        return self._results(futures)

    def _results(self, futures: dict[Any, Point]) -> Iterator[PointResult]:
        from distributed import as_completed as dask_completed

        lost: list[Point] = []
        cause: BaseException | None = None
        try:
            for future in dask_completed(list(futures)):
                if future.status == "finished":
                    yield future.result()
                else:
                    lost.append(futures[future])
                    cause = cause or future.exception()
        finally:
            self._client.cancel([f for f in futures if not f.done()])
        if lost:
            assert cause is not None
            raise WorkerLost(lost, cause)

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def check_backend(kind: str, jobs: int, scheduler_address: str | None = None) -> None:
    """Check backend options before anything starts.

    Raises
    ------
    SweepError
        For an unknown kind, ``jobs`` < 1, an address given to the local backend, or
        the dask backend without dask installed (the message names the extra).
    """
    problems = []
    if kind not in BACKENDS:
        problems.append(
            ("--backend", f"unknown backend {kind!r}; expected one of {', '.join(BACKENDS)}")
        )
    if jobs < 1:
        problems.append(("--jobs", f"expected a positive number of workers, got {jobs}"))
    if scheduler_address is not None and kind != "dask":
        problems.append(("--scheduler-address", "needs --backend dask"))
    if kind == "dask" and importlib.util.find_spec("distributed") is None:
        problems.append(("--backend dask", _DASK_MISSING))
    if problems:
        raise SweepError([Diagnostic(option, None, "", message) for option, message in problems])


def open_backend(kind: str, jobs: int, scheduler_address: str | None = None) -> Backend:
    """Start the backend ``kind`` (``local`` or ``dask``); close it when done.

    Raises
    ------
    SweepError
        For bad options (see :func:`check_backend`) or a Dask scheduler that cannot be
        reached.
    """
    check_backend(kind, jobs, scheduler_address)
    if kind == "dask":
        return DaskBackend(jobs, scheduler_address)
    return LocalBackend(jobs)
