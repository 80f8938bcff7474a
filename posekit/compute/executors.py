"""Where tasks run: a local process pool, or a Dask cluster through its scheduler.

Both take a :class:`~posekit.compute.graph.Task`, run
:func:`posekit.compute.tasks.run_task` on it in another process and hand back futures; the
loop in :mod:`posekit.compute.run` decides what to submit when.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import queue
import threading
import uuid
from collections.abc import Iterable
from concurrent import futures as cf
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from posekit.compute.graph import Task
from posekit.compute.tasks import (
    PROGRESS_TOPIC,
    TaskResult,
    init_worker,
    run_task,
    single_threaded_children,
)
from posekit.errors import PosekitError

log = logging.getLogger(__name__)

#: How often a task is tried again after its worker died or it raised a non-domain error.
RETRIES = 1
#: How long to try to reach a Dask scheduler.
CONNECT_TIMEOUT = "20s"


class WorkerLost(Exception):
    """The worker process running a task died (killed, out of memory, crashed)."""


class Executor(Protocol):
    #: whether :class:`WorkerLost` tasks should be submitted again by the caller (Dask
    #: resubmits them itself)
    resubmits_lost: bool
    #: tasks in flight at most (None: submit every ready task; the scheduler orders them)
    capacity: int | None

    def submit(self, task: Task, overwrite: bool) -> Any: ...

    def wait(self, pending: Iterable[Any], timeout: float | None = None) -> set[Any]:
        """The futures of ``pending`` that are done, once one is or ``timeout`` seconds
        have passed (then perhaps none)."""

    def progress(self) -> dict[str, int]:
        """Frames done by running detection tasks (task key → frames), as sent since the
        last call."""

    def result(self, future: Any) -> TaskResult: ...

    def describe_error(self, exc: BaseException) -> str: ...

    def close(self) -> None: ...


def unexpected(exc: BaseException) -> str:
    return (f"unexpected {type(exc).__name__}: {exc} (run with -v for the traceback; "
            "please report it)")


class LocalPool:
    """A pool of ``workers`` spawned processes (fork is unsafe with threaded libraries).

    When a worker dies the pool breaks and fails every task it held; a new pool takes
    over (at the first of those results, or at a submission that finds the pool broken)
    and the caller submits those tasks again (:data:`RETRIES` times each).
    """

    resubmits_lost = True

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.capacity: int | None = workers  # the caller picks the next task by priority
        self._generation = 0
        self._born: dict[Any, int] = {}  # future -> generation of the pool that ran it
        # the detection tasks' frame counts: a manager's queue, which a worker killed
        # while it sends cannot leave locked for the others (a plain queue's lock can)
        self._manager = multiprocessing.get_context("spawn").Manager()
        self._progress = self._manager.Queue()
        self._pool = self._start()

    def _start(self) -> cf.ProcessPoolExecutor:
        # workers print warnings and errors; everything once the command line was asked
        # for debug output (-v); the run's INFO lines come from this process
        level = logging.getLogger().getEffectiveLevel()
        level = level if level < logging.INFO else logging.WARNING
        return cf.ProcessPoolExecutor(max_workers=self.workers,
                                      mp_context=multiprocessing.get_context("spawn"),
                                      initializer=init_worker,
                                      initargs=(level, self._progress))

    def _restart(self) -> None:
        log.warning("a worker process died; restarting the pool")
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._generation += 1
        self._pool = self._start()

    def submit(self, task: Task, overwrite: bool) -> Any:
        def send() -> cf.Future[TaskResult]:
            return self._pool.submit(run_task, task.target, task.unit, task.camera,
                                     overwrite, task.outputs, task.key)

        with single_threaded_children():  # the pool starts its processes in submit
            try:
                future = send()
            except BrokenProcessPool:  # a worker died before its tasks were failed
                self._restart()
                future = send()
        self._born[future] = self._generation
        return future

    def wait(self, pending: Iterable[Any], timeout: float | None = None) -> set[Any]:
        done, _ = cf.wait(list(pending), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return done

    def progress(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        try:
            while True:
                key, frames = self._progress.get_nowait()
                counts[key] = frames
        except queue.Empty:
            pass
        return counts

    def result(self, future: Any) -> TaskResult:
        generation = self._born.pop(future, self._generation)
        try:
            return future.result()  # type: ignore[no-any-return]
        except BrokenProcessPool:
            if generation == self._generation:  # the first of its failed tasks: restart
                self._restart()
            raise WorkerLost() from None

    def describe_error(self, exc: BaseException) -> str:
        if isinstance(exc, WorkerLost):
            return (f"lost: the worker process running it died {RETRIES + 1} times (killed, "
                    "out of memory or crashed); re-run to try again")
        return unexpected(exc)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._manager.shutdown()


class DaskCluster:
    """Tasks submitted to a Dask scheduler. Dask itself runs a task again on another
    worker when its worker dies (up to ``distributed.scheduler.allowed-failures`` times),
    and once more after an unexpected exception (``retries``)."""

    resubmits_lost = False
    capacity: int | None = None

    def __init__(self, address: str) -> None:
        from distributed import Client

        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise PosekitError(
                f"cannot reach the Dask scheduler at {address} ({exc}); start one with "
                "`dask scheduler` and workers with `dask worker ADDRESS` (docs/compute.md), "
                "or leave out --scheduler to run here"
            ) from None
        self._run = uuid.uuid4().hex[:8]  # keys unique to this run on a shared cluster
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self.client.subscribe_topic(PROGRESS_TOPIC, self._on_progress)
        workers = len(self.client.scheduler_info().get("workers", {}))
        log.info("Dask scheduler %s: %d worker(s); dashboard %s", address, workers,
                 self.client.dashboard_link)
        if workers == 0:
            log.warning("the Dask scheduler at %s has no workers yet; the tasks wait until "
                        "workers join (`dask worker %s`)", address, address)

    def _on_progress(self, event: tuple[float, Any]) -> None:
        """A worker's frame count (in the client's event loop thread): kept when it is
        one of this run's tasks (other clients may share the cluster)."""
        try:
            run, _, key = str(event[1][0]).partition(":")
            frames = int(event[1][1])
        except (TypeError, ValueError, IndexError):
            return
        if run == self._run:
            with self._lock:
                self._counts[key] = frames

    def submit(self, task: Task, overwrite: bool) -> Any:
        return self.client.submit(
            run_task, task.target, task.unit, task.camera, overwrite, task.outputs,
            f"{self._run}:{task.key}",
            key=f"posekit-{task.step}-{self._run}-{task.label}", retries=RETRIES,
            pure=False, priority=task.priority,
        )

    def wait(self, pending: Iterable[Any], timeout: float | None = None) -> set[Any]:
        from distributed import wait

        try:
            return set(wait(list(pending), timeout=timeout,
                            return_when="FIRST_COMPLETED").done)
        except (OSError, TimeoutError, asyncio.TimeoutError) as exc:
            # (asyncio's TimeoutError is the built-in one only from Python 3.11 on)
            timed_out = isinstance(exc, (TimeoutError, asyncio.TimeoutError))
            if timed_out and timeout is not None and self.client.status == "running":
                return set()  # none finished yet
            raise PosekitError(f"lost the connection to the Dask scheduler ({exc}); what "
                               "finished is kept: run the command again to resume") from None

    def progress(self) -> dict[str, int]:
        with self._lock:
            counts, self._counts = self._counts, {}
        return counts

    def result(self, future: Any) -> TaskResult:
        try:
            return future.result()  # type: ignore[no-any-return]
        finally:
            future.release()

    def describe_error(self, exc: BaseException) -> str:
        from distributed import KilledWorker

        if isinstance(exc, KilledWorker):
            return ("lost: every worker that ran it died (killed, out of memory or crashed; "
                    "see the worker logs); re-run to try again")
        if isinstance(exc, cf.CancelledError):
            return "lost: cancelled by the Dask scheduler (restarted or shut down?)"
        return unexpected(exc)

    def close(self) -> None:
        self.client.close()


def make_executor(n_tasks: int, jobs: int, scheduler: str | None) -> Executor:
    """A Dask executor when ``scheduler`` is an address, else a local pool of ``jobs``
    processes (0: one per CPU core), never more than there are tasks."""
    if scheduler:
        return DaskCluster(scheduler)
    workers = max(1, min(n_tasks, jobs or os.cpu_count() or 1))
    log.info("running %d task(s) on %d local worker process(es)", n_tasks, workers)
    return LocalPool(workers)
