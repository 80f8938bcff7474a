"""run-all as a task graph on a real Dask cluster and on the local process pool: the same
outputs, failure isolation, resume, and workers that die mid-task."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import dying_task
import logging_task
import numpy as np
import pandas as pd
import pytest
import toml
from click.testing import CliRunner, Result

from posekit.cli.main import cli
from posekit.compute import graph
from posekit.compute.executors import DaskCluster
from posekit.compute.graph import Task
from posekit.io.video import probe_video
from posekit.pose2d.table import read_pose2d
from posekit.project import Project
from posekit.project.pipeline import run_all
from posekit.project.steps import pose_2d_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as local:
        yield local.scheduler_address


def run_all_cli(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["-q", "run-all", "-p", str(root), *args])


def outputs(root: Path) -> dict[str, Path]:
    """Every file the pipeline wrote, by path relative to the project."""
    inputs = ("videos-raw", "ground-truth")
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*"))
            if p.is_file() and not set(inputs) & set(p.relative_to(root).parts)
            and p.suffix != ".mp4" and p.name != "config.toml"}


def assert_same_data(a: Path, b: Path) -> None:
    """The numbers in two output files are identical (not close: identical)."""
    if a.suffix == ".h5":
        pa, pb = read_pose2d(a), read_pose2d(b)
        assert pa.keypoints == pb.keypoints
        np.testing.assert_array_equal(pa.xy, pb.xy)
        np.testing.assert_array_equal(pa.likelihood, pb.likelihood)
    elif a.suffix == ".csv":
        pd.testing.assert_frame_equal(pd.read_csv(a), pd.read_csv(b), check_exact=True)
    elif a.suffix == ".toml":
        assert toml.load(a) == toml.load(b), a.name


def partials(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".partial" in p.name or p.suffix == ".tmp"]


def test_dask_cluster_run_matches_local_run_and_resumes(study: Path, tmp_path: Path,
                                                       cluster: str) -> None:
    local = study
    on_dask = Path(shutil.copytree(study, tmp_path / "on-dask"))
    result = run_all_cli(local, "--jobs", "2")
    assert result.exit_code == 0, result.output
    result = run_all_cli(on_dask, "--scheduler", cluster)
    assert result.exit_code == 0, result.output
    for step, n in (("calibrate", 1), ("detect", 4), ("sync", 4), ("triangulate", 4),
                    ("angles", 4)):
        assert f"{step}: {n} done, 0 skipped, 0 failed" in result.output, result.output

    files, dask_files = outputs(local), outputs(on_dask)
    assert files.keys() == dask_files.keys()
    data = [name for name in files if name.endswith((".h5", ".csv", ".toml"))]
    assert len(data) == 1 + 4 * (3 + 1 + 1 + 1), data  # calibration; per trial 2D, sync, 3D, angles
    for name in data:
        assert_same_data(files[name], dask_files[name])
    assert not partials(on_dask)

    again = run_all_cli(on_dask, "--scheduler", cluster)  # resume: nothing left to do
    assert again.exit_code == 0, again.output
    assert "detect: 0 done, 4 skipped, 0 failed" in again.output
    assert "angles: 0 done, 4 skipped, 0 failed" in again.output


def test_a_task_s_warnings_come_back_from_the_cluster(cluster: str) -> None:
    """What a task logs on a Dask worker comes back with its result, for the command line
    to print (tests/project/test_executors.py has the local pool and the printing)."""
    dask = DaskCluster(cluster)
    try:
        task = Task("sync", logging_task.Unit(), None, "logging_task:log_levels", (), (), 0)
        result = dask.result(dask.submit(task, False))
    finally:
        dask.close()
    assert result.ok
    assert (logging.WARNING, "posekit.sync.step", "s1/t: a warning record") in result.records
    assert all(level > logging.DEBUG for level, _, _ in result.records)  # a worker's level


@pytest.fixture
def dying_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Detection tasks run tests/project/dying_task.py, whose first attempt at trial a,
    cam2 kills its worker process."""
    split = graph.CAMERA_STEPS["detect"]
    monkeypatch.setitem(graph.CAMERA_STEPS, "detect", graph.CameraSplit(
        "dying_task:detect_or_die", split.inputs, split.outputs, split.keep))


def _check_recovered(root: Path, scheduler: str) -> None:
    project = Project.open(root)
    trials = project.trials("s1", "a")
    summaries = run_all(project, trials, steps=("detect",), jobs=2, scheduler=scheduler,
                        progress=False)
    assert (root.parent / dying_task.MARKER).is_file()  # the worker did die
    assert [r.status for r in summaries[0].results] == ["done"], summaries
    for trial in trials:
        for cam in trial.cameras:
            frames = probe_video(trial.videos[cam]).n_frames
            assert read_pose2d(pose_2d_path(trial, cam)).n_frames == frames > 0
    assert not partials(root)


@pytest.mark.usefixtures("dying_detection")
def test_a_killed_dask_worker_is_replaced_and_leaves_no_partial_file(
        study: Path, cluster: str) -> None:
    _check_recovered(study, cluster)


@pytest.mark.usefixtures("dying_detection")
def test_a_killed_local_worker_is_replaced_and_leaves_no_partial_file(study: Path) -> None:
    _check_recovered(study, "local")


def test_a_corrupt_video_fails_its_tasks_and_the_rest_finish(calibrated_study: Path
                                                             ) -> None:
    root = calibrated_study
    (root / "s1" / "videos-raw" / "b-cam2.mp4").write_bytes(b"not a video" * 100)
    result = run_all_cli(root, "--session", "s1", "--jobs", "2")
    assert result.exit_code == 1
    out = result.output
    assert "FAILED s1/b cam2: " in out and "cannot open this video" in out, out
    assert "detect: 1 done, 0 skipped, 1 failed" in out, out
    for step in ("sync", "triangulate", "angles"):
        assert f"{step}: 1 done, 0 skipped, 0 failed, 1 not run" in out, out
    assert "s1/b: not run: detect s1/b cam2 failed" in out
    assert (root / "s1" / "angles" / "a.csv").is_file()
    assert (root / "s1" / "pose-2d" / "b-cam1.h5").is_file()
    assert not (root / "s1" / "sync" / "b.toml").exists()

    finished = {p: p.stat().st_mtime_ns for p in (root / "s1").rglob("a*.*")}
    again = run_all_cli(root, "--session", "s1", "--jobs", "2")  # resume: only b's tasks
    assert again.exit_code == 1
    assert "detect: 0 done, 1 skipped, 1 failed" in again.output, again.output
    assert "sync: 0 done, 1 skipped, 0 failed, 1 not run" in again.output
    assert {p: p.stat().st_mtime_ns for p in (root / "s1").rglob("a*.*")} == finished


@pytest.mark.parametrize("where", ["local", "dask"])
def test_the_progress_bar_counts_frames_while_the_videos_are_detected(
        study: Path, where: str, request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each detection task tells the command line how far it got while it runs (from its
    first frame on), on the local pool and on a Dask cluster: the bar's frame count does
    not wait for whole videos. No count goes beyond the video's frames or to a task that
    is no longer running, and once the run is done the bar counts every frame once."""
    from posekit.compute import run

    scheduler = request.getfixturevalue("cluster") if where == "dask" else "local"
    seen: dict[str, list[int]] = {}
    finals: list[int] = []
    running, close = run._Meter.running, run._Meter.close

    def spy_running(meter: run._Meter, counts: dict[str, int]) -> None:
        for key, frames in counts.items():
            seen.setdefault(key, []).append(frames)
        running(meter, counts)

    def spy_close(meter: run._Meter) -> None:
        finals.append(meter.frames + sum(meter.live.values()))
        close(meter)

    monkeypatch.setattr(run._Meter, "running", spy_running)
    monkeypatch.setattr(run._Meter, "close", spy_close)
    project = Project.open(study)
    trials = project.trials("s1", "a")
    summaries = run_all(project, trials, steps=("detect",), jobs=2, scheduler=scheduler,
                        progress=True)
    assert [r.status for r in summaries[0].results] == ["done"], summaries
    frames = {f"detect {t.key} {cam}": probe_video(t.videos[cam]).n_frames
              for t in trials for cam in t.cameras}
    assert set(seen) == set(frames), seen
    for key, counts in seen.items():
        assert all(1 <= n <= frames[key] for n in counts), (key, counts)
    assert finals == [sum(frames.values())]
