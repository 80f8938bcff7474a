"""Bones, ground-truth reading and fitting, colours and gaps (no project needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.transform import Rotation

from posekit.config import load_config
from posekit.pose2d.table import read_pose2d, write_pose2d
from posekit.project.layout import Project, Trial
from posekit.project.steps import pose_2d_path
from posekit.report.data import (
    bones_for,
    detections,
    read_truth_points,
    rigid_fit,
    trial_warnings,
)
from posekit.report.figures import longest_gaps
from posekit.report.labels import quality_colours
from posekit.skeletons import COCO_17, MEDIAPIPE_33


def test_bones_of_a_builtin_skeleton() -> None:
    bones = bones_for(MEDIAPIPE_33.keypoints)
    assert len(bones) == len(MEDIAPIPE_33.bones)
    kp = MEDIAPIPE_33.keypoints
    assert (kp.index("left_hip"), kp.index("left_knee")) in bones


def test_bones_of_a_subset_use_the_best_skeleton() -> None:
    kps = ["left_hip", "left_knee", "left_ankle", "elsewhere"]
    assert bones_for(kps) == [(0, 1), (1, 2)]
    assert bones_for(["a", "b"]) == []
    assert len(bones_for(COCO_17.keypoints)) == len(COCO_17.bones)


def test_labeling_scheme_wins(tmp_path: Path) -> None:
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text('[labeling]\nscheme = [["a", "b", "c"], ["c", "zz"]]\n')
    assert bones_for(["a", "b", "c"], load_config([cfg_file])) == [(0, 1), (1, 2)]


def test_rigid_fit_recovers_a_rotation_and_shift() -> None:
    rng = np.random.default_rng(1)
    target = rng.normal(size=(20, 5, 3))
    rot = Rotation.from_rotvec([0.3, -0.2, 1.0]).as_matrix()
    source = target @ rot.T + [1.0, 2.0, 3.0]
    source[3, 2] = np.nan
    fitted = rigid_fit(source, target)
    ok = np.isfinite(fitted).all(axis=-1)
    np.testing.assert_allclose(fitted[ok], target[ok], atol=1e-9)
    assert not ok[3, 2]


def test_truth_points_by_frame_and_units(tmp_path: Path) -> None:
    path = tmp_path / "t-points3d.csv"
    pd.DataFrame({"fnum": [0, 1, 2], "time": [0, 0.1, 0.2], "a_x": [1.0, 2, 3],
                  "a_y": [0.0, 0, 0], "a_z": [0.5, 0.5, 0.5]}).to_csv(path, index=False)
    out = read_truth_points(path, ["a", "b"], np.array([1, 2, 5]), "mm")
    assert out is not None and out.shape == (3, 2, 3)
    np.testing.assert_allclose(out[:2, 0], [[2000, 0, 500], [3000, 0, 500]])
    assert np.isnan(out[2]).all() and np.isnan(out[:, 1]).all()
    assert read_truth_points(path, ["b"], np.array([0]), "m") is None


def test_longest_gaps() -> None:
    pts = np.zeros((6, 2, 3))
    pts[[1, 2, 4], 0] = np.nan
    pts[:, 1, 0] = np.nan
    assert longest_gaps(pts).tolist() == [2, 6]


@pytest.mark.parametrize(("q", "bgr"), [(1.0, (0, 255, 0)), (0.0, (0, 0, 255)),
                                        (0.5, (0, 255, 255)), (np.nan, (160, 160, 160))])
def test_quality_colours(q: float, bgr: tuple[int, int, int]) -> None:
    assert tuple(quality_colours(np.array([q]))[0]) == bgr


def test_detections_of_posekit_files_come_from_their_headers(
        example_trial: Trial, tmp_path: Path) -> None:
    """posekit's own 2D files count their frames with the person in their metadata, so the
    report and ``posekit summarize`` take frames, frames with the person and the model
    from the file's header instead of reading every row; the figures are those of the rows."""
    root = example_trial.session.project.root
    shutil.copytree(root, tmp_path / "p")
    trial = Project.open(tmp_path / "p").trials()[0]
    read_whole = detections(trial)  # the fixture's 2D has no such metadata
    for cam in trial.cameras:
        pose = read_pose2d(pose_2d_path(trial, cam))
        pose.metadata.update(model="mediapipe (test)",
                             frames_with_person=int(pose.detected().sum()))
        write_pose2d(pose, pose_2d_path(trial, cam))
    from_headers = detections(trial)
    assert [(d.camera, d.frames, d.with_person) for d in from_headers] == [
        (d.camera, d.frames, d.with_person) for d in read_whole]
    assert {d.source for d in from_headers} == {"mediapipe (test)"}


def test_2d_smoothed_by_mediapipe_is_named_while_the_config_has_it_off(
        example_trial: Trial, tmp_path: Path) -> None:
    """2D detected with MediaPipe's landmark smoothing (by a posekit older than
    2026-12-07, whose model strings do not name the setting, or with the setting on)
    stays done after an upgrade or once the setting is off again in a config that is
    older than the 2D; the report's warnings, and so the summary's count, name it."""
    root = example_trial.session.project.root
    shutil.copytree(root, tmp_path / "p")
    trial = Project.open(tmp_path / "p").trials()[0]
    strings = {
        "cam1": "mediapipe 0.10.21 pose_landmark_full.tflite (solutions API, tracking)",
        "cam2": "mediapipe 0.10.21 pose_landmark_heavy.task (Tasks API, video mode, "
                "landmark smoothing on)",
        "cam3": "mediapipe 0.10.21 pose_landmark_full.tflite (solutions API, tracking, "
                "landmark smoothing off)",
    }
    for cam, model in strings.items():
        pose = read_pose2d(pose_2d_path(trial, cam))
        pose.metadata.update(model=model, frames_with_person=int(pose.detected().sum()))
        write_pose2d(pose, pose_2d_path(trial, cam))
    found = detections(trial)
    named = [m for step, m in trial_warnings(trial, {}, found) if step == "detect"]
    assert [m.split(":")[0] for m in named] == ["cam1", "cam2"], named
    assert named[0] == (
        "cam1: squat-cam1.h5 was detected with MediaPipe's landmark smoothing on, which "
        "makes the keypoints trail the joints by about a quarter of a frame, while "
        "[detection] smooth_landmarks is now false (2D from a posekit older than 2026-12-07 "
        "was always smoothed); run `posekit detect --overwrite` for this trial to detect it "
        "again without")
    (trial.session.path / "config.squat.toml").write_text(
        "[detection]\nsmooth_landmarks = true\n", encoding="utf-8")
    trial = Project.open(tmp_path / "p").trials()[0]
    assert not [m for step, m in trial_warnings(trial, {}, found) if step == "detect"]


def test_per_frame_plots_of_a_long_trial_stay_small() -> None:
    """The error heatmap and the angle lines hold every frame, so a long trial's report
    grows with it: their values go into the page as 32-bit floats, half the bytes (a 5-min
    30-fps trial's report went from 17.3 to 13.4 MB). 5 min at 30 fps, 33 keypoints and
    12 angles here; with 64-bit floats the two figures were 3.5 and 2.4 MB."""
    from posekit.report.figures import angle_lines, error_heatmap

    n = 9001
    rng = np.random.default_rng(0)
    errors = rng.gamma(2.0, 3.0, (n, 33))
    errors[100:130, :5] = np.nan  # a gap stays a gap
    heat = error_heatmap(errors, list(MEDIAPIPE_33.keypoints), np.arange(n))
    assert len(heat.to_json()) < 2.2e6  # 1.8 MB
    z = np.asarray(heat.data[0].z)
    assert np.isnan(z[:5, 100:130]).all() and np.allclose(z[5:], errors.T[5:], rtol=1e-6)
    table = pd.DataFrame({"fnum": np.arange(n), "time": np.arange(n) / 30.0,
                          **{f"angle{i}": rng.normal(90, 20, n) for i in range(12)}})
    lines = angle_lines(table)
    assert len(lines.to_json()) < 1.6e6  # 1.2 MB
    assert np.asarray(lines.data[0].x)[-1] == pytest.approx(300.0)
