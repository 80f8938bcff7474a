"""Run a step over many units: skip what is up to date, isolate failures, summarise.

Every unit is tried; one failing unit does not stop the others. A unit is up to date when
all its outputs exist and are newer than its inputs and its config files; ``overwrite``
redoes it anyway. This runs one step in this process (the single-step commands);
``run-all`` runs a task graph of every step instead (:mod:`posekit.compute`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tqdm import tqdm

from posekit.errors import PosekitError
from posekit.project.layout import Project, Trial
from posekit.project.steps import STEPS, CalibrationSet, Step, Unit, calibration_set

log = logging.getLogger(__name__)

#: "blocked": not run because a task it depends on failed (``run-all`` only)
Status = Literal["done", "skipped", "failed", "blocked", "unavailable"]


@dataclass
class UnitResult:
    unit: str
    status: Status
    message: str = ""
    seconds: float = 0.0


@dataclass
class StepSummary:
    step: str
    results: list[UnitResult] = field(default_factory=list)
    unavailable: bool = False

    @property
    def failed(self) -> list[UnitResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def blocked(self) -> list[UnitResult]:
        return [r for r in self.results if r.status == "blocked"]

    @property
    def ok(self) -> bool:
        return not self.unavailable and not self.failed and not self.blocked

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out


def unit_key(unit: Unit) -> str:
    return str(unit.key)


Freshness = Literal["done", "outdated", "missing"]


def paths_freshness(outputs: Sequence[Path], sources: Sequence[Path]) -> Freshness:
    """Whether every one of ``outputs`` exists and is newer than every existing source."""
    if not outputs or not all(p.is_file() for p in outputs):
        return "missing"
    oldest_output = min(p.stat().st_mtime for p in outputs)
    times = [p.stat().st_mtime for p in sources if p.is_file()]
    if times and max(times) > oldest_output:
        return "outdated"
    return "done"


def freshness(step: Step, unit: Unit) -> Freshness:
    """Whether ``unit``'s outputs for ``step`` exist and are newer than every input."""
    outputs = step.outputs(unit)
    if not outputs or not all(p.is_file() for p in outputs):
        return "missing"  # without listing the inputs, which may raise
    return paths_freshness(outputs, [*step.inputs(unit), *unit.config_files])


def units_for(step: Step, trials: Sequence[Trial]) -> list[Unit]:
    """The units ``step`` runs on for the selected trials (calibration sets deduplicated)."""
    if step.per == "trial":
        return list(trials)
    seen: dict[Path, CalibrationSet] = {}
    for trial in trials:
        cs = calibration_set(trial)
        if cs is not None and cs.owner not in seen:
            seen[cs.owner] = cs
    return list(seen.values())


def run_step(
    step_name: str,
    project: Project,
    trials: Sequence[Trial],
    overwrite: bool = False,
    progress: bool = True,
    jobs: int | None = None,
) -> StepSummary:
    """Run one step over the units of ``trials``; never raises for a unit's failure.

    ``jobs``: parallel workers for steps that run units in parallel (None: ``[compute]
    jobs`` of the project config; 0: one per CPU core)."""
    step = STEPS[step_name]
    summary = StepSummary(step_name)
    units = units_for(step, trials)
    if not step.available:
        summary.unavailable = True
        summary.results = [UnitResult(unit_key(u), "unavailable") for u in units]
        return summary
    todo = []
    for unit in units:
        if not overwrite and freshness(step, unit) == "done":
            summary.results.append(UnitResult(unit_key(unit), "skipped", "up to date"))
        else:
            todo.append(unit)
    if step.batch is not None:
        if todo:
            workers = project.config.compute.jobs if jobs is None else jobs
            for unit, error, seconds in step.load(batch=True)(todo, overwrite, workers,
                                                               progress):
                summary.results.append(UnitResult(unit_key(unit), "failed" if error else "done",
                                                  error or "", seconds))
        return summary
    func = step.load()
    bar = tqdm(todo, desc=step_name, unit=step.per, disable=not progress or len(todo) < 2)
    for unit in bar:
        key = unit_key(unit)
        start = time.perf_counter()
        try:
            func(unit, overwrite=overwrite)
        except PosekitError as exc:
            summary.results.append(UnitResult(key, "failed", str(exc)))
        except Exception as exc:  # a bug: keep going, but say so and keep the traceback
            log.debug("traceback for %s", key, exc_info=True)
            summary.results.append(
                UnitResult(key, "failed", f"unexpected {type(exc).__name__}: {exc} "
                           "(run with -v for the traceback; please report it)")
            )
        else:
            summary.results.append(
                UnitResult(key, "done", seconds=time.perf_counter() - start)
            )
    return summary
