"""Run a task graph: submit each task once what it depends on is done, report per unit.

A failed task does not stop the others; the tasks that depend on it are not run and say
why ("blocked"). One progress bar covers the whole run (tasks done / total, detection
frames and frames/s, counted while the videos are detected). Each task's declared
outputs are marked incomplete while it runs (:func:`posekit.io.atomic.writing_outputs`),
so a task whose worker died, or a run that was killed, is redone by the next run. When
the run ends, temporary files that killed workers or an earlier killed run left beside
the outputs of the selected units are removed, so only complete outputs remain.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tqdm import tqdm

from posekit.compute.executors import RETRIES, Executor, WorkerLost, make_executor
from posekit.compute.graph import Graph, Task, build_graph, output_prefix
from posekit.compute.tasks import TaskResult
from posekit.errors import PosekitError
from posekit.io.atomic import PARTIAL
from posekit.project.layout import Project, Trial
from posekit.project.runner import StepSummary, UnitResult, unit_key, unit_partials
from posekit.project.steps import STEPS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    status: Literal["done", "failed", "blocked"]
    message: str = ""
    seconds: float = 0.0
    frames: int = 0
    causes: tuple[str, ...] = ()  # blocked: the failed tasks upstream


#: How often the progress bar shows the running detection tasks' frames (seconds).
LIVE_EVERY_S = 1.0


class _Meter:
    """The run's progress bar: tasks done / total, detection frames (finished and running
    videos) and frames/s, failures."""

    def __init__(self, total: int, progress: bool) -> None:
        self.bar = tqdm(total=total, desc="run-all", unit="task",
                        disable=not progress or total == 0)
        self.start = time.perf_counter()
        self.frames = 0  # of the finished detection tasks
        self.live: dict[str, int] = {}  # running detection task key -> frames done so far
        self.detected = self.start  # when the frame count last grew
        self.failed = 0

    def _postfix(self) -> None:
        # the rate of the detection: up to the last frame counted, so that it does not
        # fall while the later steps run, and not shown before any frame is counted
        frames = self.frames + sum(self.live.values())
        parts = [f"{frames} frames, {frames / max(self.detected - self.start, 1e-9):.0f} "
                 "frames/s"] if frames else []
        parts += [f"{self.failed} failed"] if self.failed else []
        self.bar.set_postfix_str(", ".join(parts), refresh=False)

    def running(self, counts: dict[str, int]) -> None:
        """Frames done by running detection tasks (key → frames so far)."""
        grew = {k: n for k, n in counts.items() if n > self.live.get(k, 0)}
        if grew:
            self.live.update(grew)
            self.detected = time.perf_counter()
            self._postfix()
            self.bar.refresh()

    def update(self, outcome: Outcome) -> None:
        """A task is decided."""
        self.failed += outcome.status == "failed"
        if outcome.frames:
            self.frames += outcome.frames
            self.detected = time.perf_counter()
        self._postfix()
        self.bar.update()

    def close(self) -> None:
        self.bar.close()


def _finished(task: Task, result: TaskResult) -> Outcome:
    result.replay()  # what the task logged in its worker, printed here
    if not result.ok:
        return Outcome("failed", result.message, result.seconds)
    if task.camera is not None:
        log.info("%s: person found in %d of %d frames (%.1f frames/s)", task.label,
                 result.found, result.frames, result.frames / max(result.seconds, 1e-9))
        if result.found == 0 and isinstance(task.unit, Trial):
            from posekit.pose2d.step import no_person_warning
            from posekit.project.steps import pose_2d_path

            log.warning("%s", no_person_warning(task.label, task.unit.videos[task.camera],
                                                pose_2d_path(task.unit, task.camera),
                                                result.frames))
    else:
        log.debug("%s: done in %.1f s", task.key, result.seconds)
    return Outcome("done", seconds=result.seconds, frames=result.frames)


class _Schedule:
    """Which tasks are ready to run: a task is decided once every task it depends on is
    (run if they all succeeded, blocked otherwise); ready tasks run by priority, then in
    graph order."""

    def __init__(self, graph: Graph) -> None:
        self.tasks = {t.key: t for t in graph.tasks}
        self.order = {t.key: i for i, t in enumerate(graph.tasks)}
        self.missing = {t.key: len(t.deps) for t in graph.tasks}
        self.dependants: dict[str, list[str]] = {}
        for task in graph.tasks:
            for dep in task.deps:
                self.dependants.setdefault(dep, []).append(task.key)
        self.outcomes: dict[str, Outcome] = {}
        self.ready: list[tuple[int, int, str]] = []
        for task in graph.tasks:
            if not task.deps:
                self._push(task)

    def _push(self, task: Task) -> None:
        heapq.heappush(self.ready, (-task.priority, self.order[task.key], task.key))

    def pop(self) -> Task:
        return self.tasks[heapq.heappop(self.ready)[2]]

    def _blocked(self, task: Task) -> Outcome | None:
        bad = [(key, self.outcomes[key]) for key in task.deps
               if self.outcomes[key].status != "done"]
        if not bad:
            return None
        causes = tuple(dict.fromkeys(
            c for key, o in bad for c in (o.causes if o.status == "blocked" else (key,))))
        return Outcome("blocked", f"not run: {', '.join(causes)} failed", causes=causes)

    def finish(self, key: str, outcome: Outcome) -> list[Outcome]:
        """Record a task's outcome; returns it and those of the dependants it blocks."""
        decided, stack = [outcome], [(key, outcome)]
        while stack:
            done_key, done = stack.pop()
            self.outcomes[done_key] = done
            for dep_key in self.dependants.get(done_key, []):
                self.missing[dep_key] -= 1
                if self.missing[dep_key] == 0:
                    blocked = self._blocked(self.tasks[dep_key])
                    if blocked is None:
                        self._push(self.tasks[dep_key])
                    else:
                        stack.append((dep_key, blocked))
                        decided.append(blocked)
        return decided


def execute(graph: Graph, executor: Executor, overwrite: bool = False,
            progress: bool = True) -> dict[str, Outcome]:
    """Run every task of ``graph`` on ``executor``, each after the tasks it depends on;
    returns the outcome of every task by key."""
    schedule = _Schedule(graph)
    running: dict[Any, Task] = {}
    tries: dict[str, int] = {}
    meter = _Meter(len(graph), progress)

    def fill() -> None:
        while schedule.ready and (executor.capacity is None
                                  or len(running) < executor.capacity):
            task = schedule.pop()
            running[executor.submit(task, overwrite)] = task

    try:
        fill()
        while running:
            done = executor.wait(running, timeout=LIVE_EVERY_S)
            keys = {task.key for task in running.values()}  # not a count sent too late
            meter.running({k: n for k, n in executor.progress().items() if k in keys})
            for future in done:
                task = running.pop(future)
                meter.live.pop(task.key, None)  # its frames count once it is decided
                try:
                    outcome = _finished(task, executor.result(future))
                except WorkerLost as exc:
                    tries[task.key] = tries.get(task.key, 0) + 1
                    if executor.resubmits_lost and tries[task.key] <= RETRIES:
                        log.warning("%s: its worker process died; trying it again", task.key)
                        running[executor.submit(task, overwrite)] = task
                        continue
                    outcome = Outcome("failed", executor.describe_error(exc))
                except Exception as exc:
                    log.debug("traceback for %s", task.key, exc_info=exc)
                    outcome = Outcome("failed", executor.describe_error(exc))
                for decided in schedule.finish(task.key, outcome):
                    meter.update(decided)
            fill()
    finally:
        meter.close()
    return schedule.outcomes


def remove_partials(tasks: Sequence[Task]) -> list[Path]:
    """Delete the temporary files that interrupted writes of ``tasks`` left behind."""
    removed = []
    for task in tasks:
        prefix = output_prefix(task)
        for folder in {p.parent for p in task.outputs}:
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                match = PARTIAL.match(path.name)
                if match is None:
                    continue
                stem = match["stem"]
                if prefix and stem != prefix and not stem.startswith(prefix + "."):
                    continue
                path.unlink(missing_ok=True)
                removed.append(path)
    for path in removed:
        log.info("removed %s, left by an interrupted task", path)
    return removed


def remove_unit_partials(graph: Graph) -> list[Path]:
    """Delete the temporary files left beside the outputs of every unit of ``graph``'s
    available steps, those it ran and those it found up to date (by an earlier run that
    was killed)."""
    removed = []
    for plan in graph.plans:
        if plan.available:
            for unit in plan.units:
                with contextlib.suppress(PosekitError, OSError):
                    removed += unit_partials(STEPS[plan.step], unit)
    return removed


def summarize(graph: Graph, outcomes: dict[str, Outcome]) -> list[StepSummary]:
    """One summary per step, one result per unit: a unit whose tasks all succeeded is
    "done"; otherwise each failed or blocked task is reported under its own label
    (``session/trial camera`` for detection)."""
    summaries = []
    for plan in graph.plans:
        summary = StepSummary(plan.step)
        summaries.append(summary)
        if not plan.available:
            summary.unavailable = True
            summary.results = [UnitResult(unit_key(u), "unavailable") for u in plan.units]
            continue
        for unit in plan.units:
            key = unit_key(unit)
            tasks = plan.tasks.get(key, [])
            if not tasks:
                summary.results.append(
                    UnitResult(key, "skipped", "; ".join(plan.kept.get(key, []))))
                continue
            got = [(t, outcomes.get(t.key, Outcome("blocked", "not run: interrupted")))
                   for t in tasks]
            bad = [(t, o) for t, o in got if o.status != "done"]
            if not bad:
                summary.results.append(
                    UnitResult(key, "done", seconds=sum(o.seconds for _, o in got)))
            for t, o in bad:
                summary.results.append(UnitResult(t.label, o.status, o.message, o.seconds))
    return summaries


def run_tasks(project: Project, trials: Sequence[Trial], steps: Sequence[str],
              overwrite: bool = False, progress: bool = True, jobs: int | None = None,
              scheduler: str | None = None) -> list[StepSummary]:
    """Bring ``steps`` up to date for ``trials`` as one task graph, on a local process
    pool of ``jobs`` workers (None: ``[compute] jobs``; 0: one per core) or, when
    ``scheduler`` (None: ``[compute] scheduler``; ``"local"``: none) is a Dask scheduler's
    address, on that cluster."""
    cfg = project.config.compute
    address = cfg.scheduler if scheduler is None else scheduler.strip()
    if address is not None and address.lower() in ("", "local"):
        address = None
    graph = build_graph(trials, steps, overwrite)
    outcomes: dict[str, Outcome] = {}
    try:
        if graph.tasks:
            executor = make_executor(len(graph), cfg.jobs if jobs is None else jobs, address)
            try:
                outcomes = execute(graph, executor, overwrite, progress)
            finally:
                executor.close()
                remove_partials(graph.tasks)
    finally:
        remove_unit_partials(graph)
    return summarize(graph, outcomes)
