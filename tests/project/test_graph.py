"""The run-all task graph, without worker processes: which tasks, in which order, what a
failure blocks, what a re-run redoes, and the clean-up of interrupted writes."""

from __future__ import annotations

import os
import sys
import time
import types
from collections.abc import Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from posekit.compute import graph as graph_module
from posekit.compute.executors import WorkerLost, unexpected
from posekit.compute.graph import CameraSplit, Task, build_graph
from posekit.compute.run import execute, remove_partials, summarize
from posekit.compute.tasks import TaskResult, run_task
from posekit.errors import PosekitError
from posekit.pose2d.table import Pose2D, write_pose2d
from posekit.project import Project, Trial
from posekit.project.pipeline import project_status
from posekit.project.steps import PIPELINE, STEPS, Step, pose_2d_path

CALLS: list[str] = []


def _keys(tasks: Iterable[Task]) -> list[str]:
    return [t.key for t in tasks]


def test_graph_of_a_fresh_project(anipose_project: Path) -> None:
    project = Project.open(anipose_project)
    graph = build_graph(project.trials(), PIPELINE)
    by_step: dict[str, list[Task]] = {}
    for task in graph.tasks:
        by_step.setdefault(task.step, []).append(task)
    assert {k: len(v) for k, v in by_step.items()} == {
        "calibrate": 1, "detect": 9, "sync": 3, "triangulate": 3, "angles": 3}
    deps = {t.key: set(t.deps) for t in graph.tasks}
    assert deps["detect 2024-01-10/run B"] == set()
    assert deps["sync 2024-01-10/run"] == {"calibrate calibration", "detect 2024-01-10/run A",
                                           "detect 2024-01-10/run B", "detect 2024-01-10/run C"}
    assert deps["triangulate 2024-01-10/run"] == deps["sync 2024-01-10/run"] | {
        "sync 2024-01-10/run"}
    assert deps["angles 2024-01-11/jump"] == {"triangulate 2024-01-11/jump"}
    ranks = [t.priority for t in graph.tasks]  # calibration first, then earlier steps first
    assert ranks == sorted(ranks, reverse=True) and ranks[0] > ranks[1]
    seen: set[str] = set()
    for task in graph.tasks:  # dependency order
        assert set(task.deps) <= seen
        seen.add(task.key)


def _make_up_to_date(trial: Trial) -> None:
    """Empty output files, each newer than everything before it."""
    paths = [pose_2d_path(trial, cam) for cam in trial.cameras]
    for name in PIPELINE[2:]:
        paths += STEPS[name].inputs(trial) + STEPS[name].outputs(trial)
    calib = trial.session.project.root / "calibration" / "calibration.toml"
    now = time.time() + 10
    for i, path in enumerate(dict.fromkeys([calib, *paths])):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        os.utime(path, (now + i, now + i))


def test_up_to_date_units_are_not_tasks_and_a_new_input_redoes_what_follows(
        anipose_project: Path) -> None:
    project = Project.open(anipose_project)
    for trial in project.trials():
        _make_up_to_date(trial)
    assert build_graph(project.trials(), PIPELINE).tasks == []
    assert all(set(row.steps.values()) == {"done"} for row in project_status(project.trials()))

    (walk,) = project.trials(trial="walk")
    later = pose_2d_path(walk, "B").stat().st_mtime + 100
    os.utime(walk.videos["B"], (later, later))  # a new recording of camera B
    graph = build_graph(project.trials(), PIPELINE)
    assert _keys(graph.tasks) == ["detect 2024-01-10/walk B", "sync 2024-01-10/walk",
                                  "triangulate 2024-01-10/walk", "angles 2024-01-10/walk"]
    assert len(build_graph(project.trials(), PIPELINE, overwrite=True)) == 19


def test_imported_2d_files_are_kept_unless_overwrite(anipose_project: Path) -> None:
    project = Project.open(anipose_project)
    (walk,) = project.trials(trial="walk")
    pose = Pose2D(("nose",), np.zeros((3, 1, 2)), np.ones((3, 1)), scorer="DLC_resnet50")
    write_pose2d(pose, pose_2d_path(walk, "A"))
    os.utime(pose_2d_path(walk, "A"), (1e9, 1e9))  # older than the video: outdated
    graph = build_graph([walk], ("detect",))
    assert _keys(graph.tasks) == ["detect 2024-01-10/walk B", "detect 2024-01-10/walk C"]
    assert "imported 2D keypoints" in graph.plans[0].kept["2024-01-10/walk"][0]
    assert len(build_graph([walk], ("detect",), overwrite=True)) == 3


class InlineExecutor:
    """Runs each task in this process when submitted; the first ``lose[key]`` attempts
    at a task report a dead worker instead."""

    resubmits_lost = True
    capacity = 2

    def __init__(self, lose: dict[str, int] | None = None) -> None:
        self.lose = dict(lose or {})
        self.submitted: list[str] = []

    def submit(self, task: Task, overwrite: bool) -> Future[TaskResult]:
        self.submitted.append(task.key)
        future: Future[TaskResult] = Future()
        if self.lose.get(task.key, 0) > 0:
            self.lose[task.key] -= 1
            future.set_exception(WorkerLost())
            return future
        try:
            future.set_result(run_task(task.target, task.unit, task.camera, overwrite))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def wait(self, pending: Iterable[Any], timeout: float | None = None) -> set[Any]:
        return set(pending)

    def progress(self) -> dict[str, int]:
        return {}

    def result(self, future: Any) -> TaskResult:
        return future.result()  # type: ignore[no-any-return]

    def describe_error(self, exc: BaseException) -> str:
        return f"lost: {type(exc).__name__}" if isinstance(exc, WorkerLost) else unexpected(exc)

    def close(self) -> None:
        pass


def _toy_detect(trial: Trial, camera: str, overwrite: bool = False) -> tuple[int, int]:
    CALLS.append(f"detect {trial.name} {camera}")
    if (trial.name, camera) == ("run", "B"):
        raise PosekitError(f"{trial.videos[camera].name}: OpenCV cannot open this video")
    pose_2d_path(trial, camera).parent.mkdir(parents=True, exist_ok=True)
    pose_2d_path(trial, camera).write_text("2d")
    return 10, 9


def _toy_step(name: str) -> Any:
    def run(trial: Trial, overwrite: bool = False) -> None:
        CALLS.append(f"{name} {trial.name}")
        if name == "triangulate" and trial.name == "jump":
            raise ZeroDivisionError("bug")
        for path in STEPS[name].outputs(trial):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(name)
    return run


@pytest.fixture
def toy_pipeline(monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    """detect, sync, triangulate and angles replaced by functions of this module."""
    module = types.ModuleType("posekit_test_toy_graph")
    module.detect = _toy_detect  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    split = graph_module.CAMERA_STEPS["detect"]
    monkeypatch.setitem(graph_module.CAMERA_STEPS, "detect", CameraSplit(
        f"{module.__name__}:detect", split.inputs, split.outputs))
    for name in ("sync", "triangulate", "angles"):
        setattr(module, name, _toy_step(name))
        step = STEPS[name]
        monkeypatch.setitem(STEPS, name, Step(name, step.help, step.per, step.inputs,
                                              step.outputs, f"{module.__name__}:{name}"))
    CALLS.clear()
    return ("detect", "sync", "triangulate", "angles")


def test_a_failed_task_blocks_only_its_dependants(anipose_project: Path,
                                                  toy_pipeline: tuple[str, ...]) -> None:
    project = Project.open(anipose_project)
    graph = build_graph(project.trials(), toy_pipeline)
    outcomes = execute(graph, InlineExecutor(), progress=False)
    summaries = {s.step: s for s in summarize(graph, outcomes)}
    detect = summaries["detect"]
    assert [(r.unit, r.status) for r in detect.results] == [
        ("2024-01-10/run B", "failed"), ("2024-01-10/walk", "done"),
        ("2024-01-11/jump", "done")]
    assert "run-camB.mp4: OpenCV cannot open this video" in detect.results[0].message
    sync = {r.unit: r for r in summaries["sync"].results}
    assert sync["2024-01-10/run"].status == "blocked"
    assert sync["2024-01-10/run"].message == "not run: detect 2024-01-10/run B failed"
    triangulate = {r.unit: r for r in summaries["triangulate"].results}
    assert triangulate["2024-01-10/run"].message == "not run: detect 2024-01-10/run B failed"
    assert triangulate["2024-01-11/jump"].status == "failed"
    assert "unexpected ZeroDivisionError: bug" in triangulate["2024-01-11/jump"].message
    angles = {r.unit: r.status for r in summaries["angles"].results}
    assert angles == {"2024-01-10/run": "blocked", "2024-01-10/walk": "done",
                      "2024-01-11/jump": "blocked"}
    assert "sync run" not in CALLS and "angles walk" in CALLS
    assert not summaries["angles"].ok and summaries["angles"].blocked

    CALLS.clear()  # resume: only what failed or was not run (which fails again here)
    graph = build_graph(project.trials(), toy_pipeline)
    assert len(graph) == 1 + 3 + 2  # detect run B; run's other steps; jump's last two
    execute(graph, InlineExecutor(), progress=False)
    assert sorted(CALLS) == ["detect run B", "triangulate jump"]


def test_a_task_whose_worker_died_is_tried_once_more(anipose_project: Path,
                                                     toy_pipeline: tuple[str, ...]) -> None:
    project = Project.open(anipose_project)
    graph = build_graph(project.trials(trial="walk"), toy_pipeline)
    victim = "detect 2024-01-10/walk A"
    executor = InlineExecutor(lose={victim: 1})
    outcomes = execute(graph, executor, progress=False)
    assert executor.submitted.count(victim) == 2
    assert {o.status for o in outcomes.values()} == {"done"}

    executor = InlineExecutor(lose={victim: 2})  # dies again: reported, dependants blocked
    outcomes = execute(build_graph(project.trials(trial="walk"), toy_pipeline,
                                   overwrite=True), executor, progress=False)
    assert executor.submitted.count(victim) == 2
    assert outcomes[victim].message == "lost: WorkerLost"
    assert outcomes["sync 2024-01-10/walk"].causes == (victim,)
    assert outcomes["detect 2024-01-10/walk B"].status == "done"


def test_unavailable_steps_are_reported_and_skipped(anipose_project: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    later = Step("later", "no code yet", "trial", inputs=lambda t: [],
                 outputs=lambda t: [t.output_dir("out") / "x.txt"])
    monkeypatch.setitem(STEPS, "later", later)
    project = Project.open(anipose_project)
    graph = build_graph(project.trials(), ("later",))
    (summary,) = summarize(graph, {})
    assert graph.tasks == [] and summary.unavailable
    assert {r.status for r in summary.results} == {"unavailable"}


def test_partial_files_of_the_run_are_removed(anipose_project: Path) -> None:
    project = Project.open(anipose_project)
    graph = build_graph(project.trials(trial="walk"), PIPELINE)
    folder = project.root / "2024-01-10" / "pose-2d"
    folder.mkdir()
    stale = folder / ".walk-camB.k2j4h_9x.partial.h5"
    other = folder / ".run-camB.k2j4h_9x.partial.h5"  # not this run's
    kept = folder / "walk-camB.h5"
    sync_dir = project.root / "2024-01-10" / "sync"
    sync_dir.mkdir()
    plot = sync_dir / ".walk.abcd1234.partial.png"
    for path in (stale, other, kept, plot):
        path.write_text("x")
    assert sorted(remove_partials(graph.tasks)) == sorted([stale, plot])
    assert other.exists() and kept.exists()


def test_the_progress_bar_shows_the_detection_rate_only_once_a_video_is_done() -> None:
    from posekit.compute.run import Outcome, _Meter

    meter = _Meter(total=3, progress=True)
    try:
        meter.update(Outcome("done"))  # a calibration: no video frames
        assert "frames/s" not in str(meter.bar.postfix or "")
        meter.update(Outcome("done", frames=120))
        assert "frames/s" in str(meter.bar.postfix)
        detected = meter.detected
        time.sleep(0.05)
        meter.update(Outcome("failed", "boom"))  # a later step: the rate stays
        assert meter.detected == detected
        assert str(meter.bar.postfix).endswith("1 failed")
    finally:
        meter.close()


def test_the_progress_bar_counts_the_frames_of_running_videos() -> None:
    from posekit.compute.run import Outcome, _Meter

    meter = _Meter(total=2, progress=True)
    try:
        meter.running({"detect s1/a cam1": 30})
        assert str(meter.bar.postfix).startswith("30 frames, ")
        meter.running({"detect s1/a cam1": 20, "detect s1/a cam2": 5})  # never backwards
        assert meter.live == {"detect s1/a cam1": 30, "detect s1/a cam2": 5}
        meter.live.pop("detect s1/a cam1")  # decided: its result's frames replace it
        meter.update(Outcome("done", frames=121))
        assert str(meter.bar.postfix).startswith("126 frames, ")
    finally:
        meter.close()
