"""What runs in a worker process, local or on a Dask cluster.

Importing this module is cheap (no NumPy). Every task calls the same step function the
single-step commands call, in the same single-threaded setting on every kind of worker
(:data:`THREAD_VARIABLES` in its environment from the start, OpenCV told to use one thread),
so that a run's outputs do not depend on where it ran.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import importlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from posekit.errors import PosekitError
from posekit.io.atomic import WRITE_ERRNOS, write_error_message, writing_outputs

#: One thread per worker for BLAS and OpenMP, as Dask's nanny sets them for its workers.
#: They must be set when the worker process starts: BLAS reads them once, when NumPy loads.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: glibc's allocator in the local workers (unless already set): keep freed memory up to
#: 128 MB for reuse and serve blocks below 64 MB from the heap. With its defaults every
#: video frame and large array is a fresh mmap, zeroed page by page by the kernel, and two
#: workers doing that at once slow each other down (see docs/compute.md, "Tuning").
MALLOC_VARIABLES = {"MALLOC_TRIM_THRESHOLD_": "134217728",
                    "MALLOC_MMAP_THRESHOLD_": "67108864"}


class _NotATerminal:
    """A stream that says it is not a terminal, so that tqdm bars in step functions stay
    hidden in workers (the parent process shows one bar for the whole run)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


#: how the command line prints log records (posekit.cli.common.setup_logging), its own and
#: those its tasks logged in worker processes (TaskResult.records)
LOG_FORMAT = "%(levelname)s: %(message)s"


class BarAwareHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Prints log records as :data:`LOG_FORMAT` lines through ``tqdm.write``, which lifts
    a progress bar on the same stream out of the way and draws it again below, so that a
    warning never ends up glued to the bar's line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self.setFormatter(logging.Formatter(LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # logging must never raise (logging.Handler's own rule)
            self.handleError(record)


class _Collector(logging.Handler):
    """Keeps the records a task logs, as (level, logger name, message)."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[tuple[int, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelno, record.name, record.getMessage()))


@contextlib.contextmanager
def _collected() -> Iterator[_Collector]:
    """Collect what is logged at the root logger's level or above while the block runs
    (a task's records go back with its result, and the command line prints them)."""
    root = logging.getLogger()
    collector = _Collector(root.getEffectiveLevel())
    root.addHandler(collector)
    try:
        yield collector
    finally:
        root.removeHandler(collector)


#: How often, at most, a detection task tells the command line how many frames it has
#: done (the first frame is told at once), for the run's live progress.
PROGRESS_EVERY_S = 0.5
#: The Dask event topic those counts go to ([run id:task key, frames]).
PROGRESS_TOPIC = "posekit-progress"
#: The local pool's queue for them (a multiprocessing manager's, set by init_worker).
_progress_queue: Any = None


def init_worker(level: int = logging.WARNING, progress: Any = None) -> None:
    """Initializer of the local process pool's workers: bars hidden, and log records of
    ``level`` and above kept for the command line, which prints them as its own
    (``WARNING: ...``) when the task's result comes back (:func:`run_task`); ``progress``:
    the queue that takes the detection tasks' frame counts (:class:`FrameReporter`)."""
    global _progress_queue
    sys.stderr = _NotATerminal(sys.stderr)  # type: ignore[assignment]
    logging.getLogger().setLevel(level)
    _progress_queue = progress


def _progress_sink() -> Callable[[str, int], None] | None:
    """Where this worker sends frame counts: the local pool's queue, or, on a Dask
    worker, the scheduler's event log; None elsewhere."""
    queue = _progress_queue
    if queue is not None:
        return lambda key, frames: queue.put_nowait((key, frames))
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not in a Dask worker
        return None
    return lambda key, frames: worker.log_event(PROGRESS_TOPIC, [key, frames])


class FrameReporter:
    """Called with the number of frames a detection task has done: sends it under
    ``key`` to the command line, on the first frame and then at most every
    :data:`PROGRESS_EVERY_S` seconds. Never raises: progress must not fail the task."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.sink = _progress_sink() if key is not None else None
        self.last = -float("inf")

    def __call__(self, frames: int) -> None:
        now = time.monotonic()
        if self.sink is None or self.key is None or now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        try:
            self.sink(self.key, frames)
        except Exception:  # a manager or scheduler gone: the run's result still counts
            logging.getLogger(__name__).debug("frame count not sent", exc_info=True)
            self.sink = None


_reporter: contextvars.ContextVar[FrameReporter | None] = contextvars.ContextVar(
    "posekit_frame_reporter", default=None)


def frames_done(frames: int) -> None:
    """For a detection task's loop: ``frames`` frames done so far (a no-op outside a
    task run with a progress key)."""
    reporter = _reporter.get()
    if reporter is not None:
        reporter(frames)


@contextlib.contextmanager
def single_threaded_children() -> Iterator[None]:
    """Processes started inside this block get :data:`THREAD_VARIABLES` = 1 and
    :data:`MALLOC_VARIABLES` (where not set already) in their environment (this process's
    own environment is restored afterwards)."""
    saved = {name: os.environ.get(name) for name in (*THREAD_VARIABLES, *MALLOC_VARIABLES)}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    for name, default in MALLOC_VARIABLES.items():
        os.environ.setdefault(name, default)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass(frozen=True)
class TaskResult:
    """What a task reports back. ``ok`` False: the step raised a domain error (a corrupt
    video, too few board views), which a retry would not fix."""

    ok: bool
    message: str = ""
    seconds: float = 0.0
    frames: int = 0  # frames processed (detection tasks)
    found: int = 0  # frames with a person (detection tasks)
    #: what the task logged (level, logger name, message), for the command line to print
    #: (a Dask worker's own log is seldom where the user looks)
    records: tuple[tuple[int, str, str], ...] = ()

    def replay(self) -> None:
        """Log the task's records again in this process, with their loggers and levels."""
        for level, name, message in self.records:
            logging.getLogger(name).log(level, "%s", message)


def load_target(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def run_task(target: str, unit: Any, camera: str | None, overwrite: bool,
             outputs: Sequence[Path] = (), progress: str | None = None) -> TaskResult:
    """Run one task. ``outputs`` (the task's declared outputs) are marked incomplete until
    it returns (:func:`posekit.io.atomic.writing_outputs`). Domain errors and failed
    writes (full disk, read-only folder) come back as a failed result; any other exception
    is raised, so that Dask retries the task once (a transient error) before reporting
    it. ``progress``: the key a detection task's frame counts go under
    (:func:`frames_done`); None: not sent."""
    import cv2

    cv2.setNumThreads(1)  # one task per core: no oversubscription from OpenCV's threads
    func = load_target(target)
    token = _reporter.set(FrameReporter(progress))
    with _collected() as collector:
        try:
            result = _run(func, unit, camera, overwrite, outputs)
        except BaseException:  # no result to carry them: printed here, not lost
            for level, _, message in collector.records:
                print(f"{logging.getLevelName(level)}: {message}", file=sys.stderr)
            raise
        finally:
            _reporter.reset(token)
    return dataclasses.replace(result, records=tuple(collector.records))


def _run(func: Any, unit: Any, camera: str | None, overwrite: bool,
         outputs: Sequence[Path]) -> TaskResult:
    start = time.perf_counter()
    try:
        with writing_outputs(outputs):
            if camera is None:
                func(unit, overwrite=overwrite)
                return TaskResult(True, seconds=time.perf_counter() - start)
            frames, found = func(unit, camera, overwrite=overwrite)
    except PosekitError as exc:
        return TaskResult(False, str(exc), time.perf_counter() - start)
    except OSError as exc:
        path = exc.filename or (outputs[0] if outputs else None)
        if exc.errno not in WRITE_ERRNOS or path is None:
            raise
        return TaskResult(False, write_error_message(path, exc), time.perf_counter() - start)
    return TaskResult(True, seconds=time.perf_counter() - start, frames=frames, found=found)


def detect_camera(trial: Any, camera: str, overwrite: bool = False) -> tuple[int, int]:
    """Detect the person in one camera video of a trial and write its 2D file
    atomically; returns (frames, frames with a person)."""
    from posekit.pose2d.step import detect_video
    from posekit.pose2d.table import write_pose2d
    from posekit.project.steps import pose_2d_path

    pose = detect_video(trial.videos[camera], trial.config.detection, progress=False,
                        decode_threads=1, on_frame=frames_done)
    write_pose2d(pose, pose_2d_path(trial, camera))
    return pose.n_frames, int(pose.detected().sum())
