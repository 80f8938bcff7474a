"""The task graph of one ``run-all``: what needs running, and after what.

Built from :data:`~posekit.project.steps.STEPS` and their freshness checks. Every
(step, unit) whose outputs are not up to date becomes a task: one per calibration set for
``calibrate``, one per (trial, camera) for ``detect`` (see :data:`CAMERA_STEPS`), one per
trial for the others. A task depends on the tasks of this run that write one of its inputs,
so detection of a trial's cameras comes before its sync, sync before triangulation, and
triangulation before angles; calibration before the sync and triangulation of the trials
that use it. A task that depends on another task runs even when its old outputs look up to
date, since its inputs are about to change (make's rule). Up-to-date units are not tasks: a
re-run does only what is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from posekit.errors import PosekitError
from posekit.io.atomic import mark_complete
from posekit.project.layout import Trial
from posekit.project.runner import outputs_freshness, unit_key, units_for
from posekit.project.steps import STEPS, CalibrationSet, Unit, pose_2d_path

log = logging.getLogger(__name__)


def _imported_2d(trial: Trial, camera: str) -> str | None:
    """Why an existing 2D file is kept as is: it came from another detector."""
    from posekit.pose2d.step import is_imported

    path = pose_2d_path(trial, camera)
    try:
        imported = path.is_file() and is_imported(path)
    except Exception:  # unreadable (e.g. a truncated HDF5 file): nothing to keep
        imported = False
    if imported:
        return f"{path.name} holds imported 2D keypoints; used as is (--overwrite redoes it)"
    return None


@dataclass(frozen=True)
class CameraSplit:
    """How a per-trial step runs as one task per camera."""

    #: "module:function(trial, camera, overwrite)" returning (frames, frames with a person)
    target: str
    inputs: Callable[[Trial, str], list[Path]]
    outputs: Callable[[Trial, str], list[Path]]
    #: a reason to leave an existing output untouched (unless overwrite), or None
    keep: Callable[[Trial, str], str | None] | None = None


#: Steps that run one task per (trial, camera) instead of one per trial.
CAMERA_STEPS: dict[str, CameraSplit] = {
    "detect": CameraSplit(
        "posekit.compute.tasks:detect_camera",
        inputs=lambda trial, cam: [trial.videos[cam]],
        outputs=lambda trial, cam: [pose_2d_path(trial, cam)],
        keep=_imported_2d,
    ),
}


@dataclass(frozen=True)
class Task:
    """One call of a step function on one unit (and camera)."""

    step: str
    unit: Unit
    camera: str | None
    target: str  # "module:function" run in a worker
    outputs: tuple[Path, ...]
    deps: tuple[str, ...]  # keys of the tasks it waits for
    #: higher first among ready tasks: calibration (its trials wait for it), then earlier
    #: steps before later ones, so that the long per-trial chains start early and every
    #: worker stays busy to the end
    priority: int

    @property
    def label(self) -> str:
        """``session/trial camera`` (or the unit alone), as messages name it."""
        unit = unit_key(self.unit)
        return f"{unit} {self.camera}" if self.camera is not None else unit

    @property
    def key(self) -> str:
        return f"{self.step} {self.label}"


@dataclass
class StepPlan:
    """What one step does in this run, unit by unit."""

    step: str
    units: list[Unit]
    available: bool
    tasks: dict[str, list[Task]] = field(default_factory=dict)  # unit key -> its tasks
    kept: dict[str, list[str]] = field(default_factory=dict)  # unit key -> why not redone


@dataclass
class Graph:
    plans: list[StepPlan]
    tasks: list[Task]  # in dependency order: a task comes after every task it depends on

    def __len__(self) -> int:
        return len(self.tasks)


def _pieces(step_name: str, unit: Unit
            ) -> list[tuple[str | None, Callable[[], list[Path]], list[Path], str]]:
    """(camera, inputs, outputs, target) of each task a unit may need."""
    step = STEPS[step_name]
    split = CAMERA_STEPS.get(step_name)
    if split is not None and isinstance(unit, Trial):
        return [(cam, partial(split.inputs, unit, cam), split.outputs(unit, cam), split.target)
                for cam in unit.cameras]
    if step.func is None:
        raise RuntimeError(f"step {step_name} runs as a batch only; add it to CAMERA_STEPS")
    return [(None, lambda: step.inputs(unit), step.outputs(unit), step.func)]


def _inputs(listing: Callable[[], list[Path]]) -> list[Path] | None:
    """A unit's inputs, or None when listing them fails (the task reports why)."""
    try:
        return listing()
    except PosekitError:
        return None


def build_graph(trials: Sequence[Trial], steps: Sequence[str], overwrite: bool = False
                ) -> Graph:
    """The tasks that bring ``steps`` up to date for ``trials`` (all of them with
    ``overwrite``). Unavailable steps have no tasks; their plans say so."""
    producers: dict[Path, str] = {}  # output path -> key of the task that writes it
    graph = Graph([], [])
    for depth, name in enumerate(steps):
        step = STEPS[name]
        plan = StepPlan(name, units_for(step, trials), step.available)
        graph.plans.append(plan)
        if not step.available:
            continue
        split = CAMERA_STEPS.get(name)
        for unit in plan.units:
            ukey = unit_key(unit)
            for camera, listing, outputs, target in _pieces(name, unit):
                inputs = _inputs(listing)
                deps = sorted({producers[p] for p in inputs or () if p in producers})
                label = f"{camera}: " if camera is not None else ""
                if not overwrite and not deps and inputs is not None:
                    if outputs_freshness(step, unit, outputs, inputs) == "done":
                        plan.kept.setdefault(ukey, []).append(f"{label}up to date")
                        continue
                    reason = (split.keep(unit, camera) if split and split.keep and camera
                              else None)
                    if reason is not None:  # a complete file from elsewhere: no marker
                        mark_complete(outputs)
                        log.info("%s %s: %s", ukey, camera, reason)
                        plan.kept.setdefault(ukey, []).append(f"{label}{reason}")
                        continue
                priority = len(steps) - (0 if step.per == "calibration" else 1 + depth)
                task = Task(name, unit, camera, target, tuple(outputs), tuple(deps), priority)
                plan.tasks.setdefault(ukey, []).append(task)
                graph.tasks.append(task)
                for path in outputs:
                    producers[path] = task.key
    return graph


def output_prefix(task: Task) -> str:
    """The start of the names of every file ``task`` writes (``""``: any name)."""
    if task.camera is not None:
        return task.outputs[0].stem if task.outputs else ""
    if isinstance(task.unit, CalibrationSet):
        return ""
    return str(task.unit.name)
