"""Run the whole pipeline, and report which step is done for which trial."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from posekit.project.layout import Project, Trial
from posekit.project.lock import lock_units
from posekit.project.runner import StepSummary, freshness, run_step, unit_key, units_for
from posekit.project.steps import PIPELINE, STEPS, CalibrationSet, calibration_set


def unit_keys(trials: Sequence[Trial], steps: Sequence[str],
              calibrations: Sequence[CalibrationSet] = ()) -> set[str]:
    """The keys of the units (trials, calibration folders) ``steps`` work on."""
    return {unit_key(unit) for name in steps if name in STEPS
            for unit in units_for(STEPS[name], trials, calibrations)}


def run_all(
    project: Project,
    trials: Sequence[Trial],
    overwrite: bool = False,
    progress: bool = True,
    steps: Sequence[str] = PIPELINE,
    jobs: int | None = None,
    scheduler: str | None = None,
) -> list[StepSummary]:
    """Bring ``steps`` up to date over ``trials`` as one task graph: per (trial, camera)
    detection, per-trial sync, triangulation and angles after them, calibration per
    calibration folder. Runs on a local process pool of ``jobs`` workers, or on the Dask
    cluster whose scheduler address is ``scheduler`` (None: ``[compute]`` of the project
    config). Unavailable steps are reported, not run; later steps still run on whatever
    outputs exist. A failed task does not stop the others; its dependants are reported as
    blocked (see :mod:`posekit.compute`). Another command already working on any of
    these trials is an error (:mod:`posekit.project.lock`)."""
    from posekit.compute.run import run_tasks

    with lock_units(project.root, unit_keys(trials, steps)):
        return run_tasks(project, trials, steps, overwrite, progress, jobs, scheduler)


def run_steps(
    project: Project,
    trials: Sequence[Trial],
    overwrite: bool = False,
    progress: bool = True,
    steps: Sequence[str] = PIPELINE,
    jobs: int | None = None,
    calibrations: Sequence[CalibrationSet] = (),
) -> list[StepSummary]:
    """Run ``steps`` one after the other in this process, each over every trial (what
    the single-step commands do), holding the trials' locks as :func:`run_all` does.
    ``calibrations``: calibration folders to calibrate that no trial uses yet."""
    with lock_units(project.root, unit_keys(trials, steps, calibrations)):
        return [run_step(name, project, trials, overwrite, progress, jobs, calibrations)
                for name in steps]


@dataclass(frozen=True)
class StatusRow:
    session: str
    trial: str
    cameras: tuple[str, ...]
    steps: dict[str, str]  # step -> "done" | "outdated" | "missing" | "no calibration"


def project_status(trials: Sequence[Trial]) -> list[StatusRow]:
    """One row per trial with the state of every pipeline step."""
    rows = []
    for trial in trials:
        states: dict[str, str] = {}
        cs = calibration_set(trial)
        for name in PIPELINE:
            step = STEPS[name]
            if step.per == "calibration":
                states[name] = "no calibration" if cs is None else freshness(step, cs)
            else:
                states[name] = freshness(step, trial)
        rows.append(StatusRow(trial.session.key, trial.name, tuple(trial.cameras), states))
    return rows
