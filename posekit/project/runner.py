"""Run a step over many units: skip what is up to date, isolate failures, summarise.

Every unit is tried; one failing unit does not stop the others. A unit is up to date when
all its outputs exist, are newer than its inputs and its config files, and its step
finished writing them; ``overwrite`` redoes it anyway. This runs one step in this process
(the single-step commands); ``run-all`` runs a task graph of every step instead
(:mod:`posekit.compute`).

Crash safety: every output is written atomically (:mod:`posekit.io.atomic`), and while a
unit runs its declared outputs carry an ``.<name>.incomplete`` marker that is removed only
when the step function returns. A run killed at any point, or a unit that failed half-way
(say the disk filled up between two of its files), therefore leaves the unit "missing",
and the next run redoes it. The temporary files that killed writes leave behind are
removed when the step ends. A declared HDF5 output that is truncated by other means (an
interrupted copy: shorter than its header says) counts as missing too
(:func:`looks_complete`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tqdm import tqdm

from posekit.errors import PosekitError
from posekit.io.atomic import (
    WRITE_ERRNOS,
    FileStates,
    mark_complete,
    mark_for_writing,
    marked_incomplete,
    remove_partials,
    unmark_untouched,
    write_error_message,
    writing_outputs,
)
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

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf")


def _hdf5_truncated(path: Path, size: int) -> bool:
    """Whether an HDF5 file is shorter than the end-of-file address its superblock
    records, or cut inside the superblock. A file without the HDF5 signature is left to
    the reader (an empty placeholder, another format)."""
    with path.open("rb") as fh:
        for start in (0, 512, 1024, 2048, 4096):  # after a user block of 2^n bytes
            fh.seek(start)
            head = fh.read(64)
            if head[:8] == _HDF5_SIGNATURE:
                break
        else:
            return False
    if len(head) < 16:
        return True
    version = head[8]
    if version in (0, 1):  # base, free-space, end-of-file addresses after 24 (v1: 28) bytes
        width, at = head[13], 24 + 4 * version
    elif version in (2, 3):
        width, at = head[9], 12
    else:
        return False  # a newer layout: leave it to the reader
    if width not in (2, 4, 8) or len(head) < at + 3 * width:
        return True
    end = int.from_bytes(head[at + 2 * width:at + 3 * width], "little")
    return size < end  # the end-of-file address counts from the start of the file


def looks_complete(path: Path) -> bool:
    """Whether an existing output file is not plainly truncated: an HDF5 file must be as
    long as its superblock says. Other damage is left to the readers, whose errors name
    the file."""
    if path.suffix.lower() not in _HDF5_SUFFIXES:
        return True
    try:
        return not _hdf5_truncated(path, path.stat().st_size)
    except OSError:
        return False


def _finished(path: Path) -> bool:
    """Whether ``path`` exists, its step finished it and it is not plainly truncated."""
    return path.is_file() and not marked_incomplete(path) and looks_complete(path)


def paths_freshness(outputs: Sequence[Path], sources: Sequence[Path]) -> Freshness:
    """Whether every one of ``outputs`` exists, was finished by its step (no
    ``.incomplete`` marker, not plainly truncated) and is newer than every existing
    source."""
    if not outputs or not all(_finished(p) for p in outputs):
        return "missing"
    oldest_output = min(p.stat().st_mtime for p in outputs)
    times = [p.stat().st_mtime for p in sources if p.is_file()]
    if times and max(times) > oldest_output:
        return "outdated"
    return "done"


def freshness(step: Step, unit: Unit) -> Freshness:
    """Whether ``unit``'s outputs for ``step`` exist and are newer than every input, and
    were made from the trial's cameras as they are now (``step.made_from``)."""
    outputs = step.outputs(unit)
    if not outputs or not all(_finished(p) for p in outputs):
        return "missing"  # without listing the inputs, which may raise
    return outputs_freshness(step, unit, outputs, step.inputs(unit))


def outputs_freshness(step: Step, unit: Unit, outputs: Sequence[Path],
                      inputs: Sequence[Path]) -> Freshness:
    """:func:`freshness` of ``outputs`` (some or all of ``unit``'s for ``step``) made from
    ``inputs``: against them and the unit's config files, and the cameras recorded. A
    calibration without recordings (imported) is done once written: nothing can remake it,
    so a config file edited after the import must not make it, and every step after it,
    look out of date on every run."""
    state = paths_freshness(outputs, [*inputs, *unit.config_files])
    if state == "outdated" and isinstance(unit, CalibrationSet) and not inputs:
        return "done"
    return "outdated" if state == "done" and not same_cameras(step, unit) else state


def same_cameras(step: Step, unit: Unit) -> bool:
    """False when ``step``'s outputs of trial ``unit`` record that they were made from
    other cameras than the trial has now (a camera's video removed or renamed), which
    no file time shows; True otherwise (nothing recorded, or not a trial step)."""
    if step.made_from is None or not isinstance(unit, Trial):
        return True
    recorded = step.made_from(unit)
    return recorded is None or set(recorded) == set(unit.cameras)


def units_for(step: Step, trials: Sequence[Trial],
              calibrations: Sequence[CalibrationSet] = ()) -> list[Unit]:
    """The units ``step`` runs on for the selected trials (calibration sets deduplicated),
    plus, for a calibration step, the ``calibrations`` no trial uses yet."""
    if step.per == "trial":
        return list(trials)
    seen: dict[Path, CalibrationSet] = {}
    for trial in trials:
        cs = calibration_set(trial)
        if cs is not None and cs.owner not in seen:
            seen[cs.owner] = cs
    for cs in calibrations:
        seen.setdefault(cs.owner, cs)
    return list(seen.values())


def unit_partials(step: Step, unit: Unit) -> list[Path]:
    """Delete the temporary files that interrupted writes of ``unit``'s outputs of
    ``step`` left (a trial's: files named after the trial or an output; a calibration
    folder's: any)."""
    outputs = step.outputs(unit)
    stems = None if isinstance(unit, CalibrationSet) else {unit.name, *(p.stem for p in outputs)}
    removed = [path for folder in {p.parent for p in outputs}
               for path in remove_partials(folder, stems)]
    for path in removed:
        log.info("removed %s, left by an interrupted run", path)
    return removed


def failure_message(exc: Exception, output: Path | None = None) -> str:
    """A unit's failure as the summary shows it: a domain error's message; a failed write
    (full disk, read-only folder) named and explained (the file of the error, else
    ``output``); anything else is a bug."""
    if isinstance(exc, PosekitError):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
        path = exc.filename or output
        if path is not None:
            return write_error_message(path, exc)
    return (f"unexpected {type(exc).__name__}: {exc} (run with -v for the traceback; "
            "please report it)")


def _run_batch(step: Step, todo: Sequence[Unit], overwrite: bool, workers: int,
               progress: bool) -> list[UnitResult]:
    """Run a batch step over ``todo``; a unit is marked complete when it succeeded."""
    results: list[UnitResult] = []

    def failed(unit: Unit) -> None:  # its outputs left as they were keep no marker
        unmark_untouched({p: ours[p] for p in step.outputs(unit) if p in ours})

    ours: FileStates = {}
    try:
        ours = mark_for_writing(p for unit in todo for p in step.outputs(unit))
        for unit, error, seconds in step.load(batch=True)(todo, overwrite, workers, progress):
            if not error:
                mark_complete(step.outputs(unit))
            else:
                failed(unit)
            results.append(UnitResult(unit_key(unit), "failed" if error else "done",
                                      error or "", seconds))
    except Exception as exc:  # the batch stopped: the units it did not report failed
        if not isinstance(exc, PosekitError):
            log.debug("traceback of %s", step.name, exc_info=True)
        reported = {r.unit for r in results}
        for u in todo:
            if unit_key(u) not in reported:
                failed(u)
                results.append(UnitResult(unit_key(u), "failed",
                                          failure_message(exc, _first(step.outputs(u)))))
    return results


def run_step(
    step_name: str,
    project: Project,
    trials: Sequence[Trial],
    overwrite: bool = False,
    progress: bool = True,
    jobs: int | None = None,
    calibrations: Sequence[CalibrationSet] = (),
) -> StepSummary:
    """Run one step over the units of ``trials`` (and ``calibrations``, see
    :func:`units_for`); never raises for a unit's failure.

    ``jobs``: parallel workers for steps that run units in parallel (None: ``[compute]
    jobs`` of the project config; 0: one per CPU core)."""
    step = STEPS[step_name]
    summary = StepSummary(step_name)
    units = units_for(step, trials, calibrations)
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
    try:
        if step.batch is not None:
            if todo:
                workers = project.config.compute.jobs if jobs is None else jobs
                summary.results += _run_batch(step, todo, overwrite, workers, progress)
            return summary
        func = step.load()
        bar = tqdm(todo, desc=step_name, unit=step.per, disable=not progress or len(todo) < 2)
        for unit in bar:
            key = unit_key(unit)
            start = time.perf_counter()
            outputs: list[Path] = []
            try:
                outputs = step.outputs(unit)
                with writing_outputs(outputs):
                    func(unit, overwrite=overwrite)
            except Exception as exc:  # a bug, or a failed write: keep going, say which
                if not isinstance(exc, PosekitError):
                    log.debug("traceback for %s", key, exc_info=True)
                summary.results.append(
                    UnitResult(key, "failed", failure_message(exc, _first(outputs))))
            else:
                summary.results.append(
                    UnitResult(key, "done", seconds=time.perf_counter() - start)
                )
        return summary
    finally:
        for unit in units:
            with contextlib.suppress(PosekitError, OSError):
                unit_partials(step, unit)


def _first(paths: Sequence[Path]) -> Path | None:
    return paths[0] if paths else None
