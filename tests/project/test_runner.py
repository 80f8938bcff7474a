"""The runner with a real step function written for the test (writes its outputs)."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest

from posekit.errors import PosekitError
from posekit.project import Project, Trial
from posekit.project.runner import freshness, run_step
from posekit.project.steps import STEPS, Step

CALLS: list[str] = []


def _write_outputs(trial: Trial, overwrite: bool = False) -> None:
    CALLS.append(trial.name)
    if trial.name == "run":
        raise PosekitError(f"{trial.key}: camera 'B' video is corrupt at frame 12")
    if trial.name == "jump":
        raise ZeroDivisionError("bug")
    out = trial.output_dir("out") / f"{trial.name}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("ok")


@pytest.fixture
def toy_step(monkeypatch: pytest.MonkeyPatch) -> Step:
    module = types.ModuleType("posekit_test_toy_step")
    module.run = _write_outputs  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    step = Step(
        "toy", "toy step", "trial",
        inputs=lambda t: list(t.videos.values()),
        outputs=lambda t: [t.output_dir("out") / f"{t.name}.txt"],
        func=f"{module.__name__}:run",
    )
    monkeypatch.setitem(STEPS, "toy", step)
    CALLS.clear()
    return step


def test_failures_are_isolated_and_reported(anipose_project: Path, toy_step: Step) -> None:
    project = Project.open(anipose_project)
    summary = run_step("toy", project, project.trials(), progress=False)
    assert CALLS == ["run", "walk", "jump"]
    status = {r.unit: r.status for r in summary.results}
    assert status == {"2024-01-10/run": "failed", "2024-01-10/walk": "done",
                      "2024-01-11/jump": "failed"}
    messages = {r.unit: r.message for r in summary.failed}
    assert "camera 'B' video is corrupt at frame 12" in messages["2024-01-10/run"]
    assert "unexpected ZeroDivisionError" in messages["2024-01-11/jump"]
    assert not summary.ok


def test_up_to_date_outputs_are_skipped_and_overwrite_redoes(
    anipose_project: Path, toy_step: Step
) -> None:
    project = Project.open(anipose_project)
    walk = project.trials(trial="walk")
    assert freshness(toy_step, walk[0]) == "missing"
    run_step("toy", project, walk, progress=False)
    assert freshness(toy_step, walk[0]) == "done"
    CALLS.clear()
    summary = run_step("toy", project, walk, progress=False)
    assert [r.status for r in summary.results] == ["skipped"] and CALLS == []
    summary = run_step("toy", project, walk, overwrite=True, progress=False)
    assert [r.status for r in summary.results] == ["done"] and CALLS == ["walk"]


def test_newer_input_or_config_makes_output_outdated(
    anipose_project: Path, toy_step: Step
) -> None:
    project = Project.open(anipose_project)
    (walk,) = project.trials(trial="walk")
    run_step("toy", project, [walk], progress=False)
    out = toy_step.outputs(walk)[0]
    past = out.stat().st_mtime - 100
    os.utime(out, (past, past))
    assert freshness(toy_step, walk) == "outdated"
    run_step("toy", project, [walk], progress=False)
    assert freshness(toy_step, walk) == "done"


def test_unavailable_step_is_reported_not_run(anipose_project: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    later = Step("later", "a step without code yet", "trial",
                 inputs=lambda t: [], outputs=lambda t: [t.output_dir("out") / "x.txt"])
    monkeypatch.setitem(STEPS, "later", later)
    project = Project.open(anipose_project)
    summary = run_step("later", project, project.trials(), progress=False)
    assert summary.unavailable and not summary.ok
    assert {r.status for r in summary.results} == {"unavailable"}


def test_outputs_made_from_other_cameras_are_outdated(anipose_project: Path) -> None:
    """A sync file or 3D made while the trial had another camera (its video since removed
    or renamed) is out of date, though no input is newer; run-all's graph redoes it."""
    import json

    from posekit.compute.graph import build_graph
    from posekit.project.steps import pose_3d_path, pose_3d_quality_path, sync_path

    project = Project.open(anipose_project)
    (walk,) = project.trials(trial="walk")
    for cams, state in (("ABC", "done"), ("ABCD", "outdated"), ("AB", "outdated")):
        sync_path(walk).parent.mkdir(parents=True, exist_ok=True)
        sync_path(walk).write_text("[offsets]\n" + "".join(f"{c} = 0\n" for c in cams))
        assert freshness(STEPS["sync"], walk) == state, cams
        tasks = build_graph([walk], ["sync"]).tasks
        assert len(tasks) == (state == "outdated"), cams
    pose_3d_path(walk).parent.mkdir(parents=True, exist_ok=True)
    pose_3d_path(walk).write_text("x\n1\n")
    for cams, state in (("ABC", "done"), ("ABD", "outdated")):
        pose_3d_quality_path(walk).write_text(json.dumps({"cameras": {c: {} for c in cams}}))
        assert freshness(STEPS["triangulate"], walk) == state, cams
    pose_3d_quality_path(walk).write_text("not json")  # unreadable record: times only
    assert freshness(STEPS["triangulate"], walk) == "done"
