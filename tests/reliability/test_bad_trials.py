"""Trials whose cameras disagree (frame counts, frame rates, calibration), whose 2D holds no
person, or that have a single camera: sync, triangulate, angles and run-all either work and
say what they did, or fail for that trial with a message naming the trial, the cameras and
the files and saying what to do, leaving no output (and no temporary file) behind."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import toml
from trials_util import (
    Project,
    build,
    cut_pose,
    empty_pose,
    one_line,
    partials,
    posekit,
    posekit_subprocess,
    synthetic_trial,
    write_videos,
)

from posekit.camera.model import Camera, CameraGroup
from posekit.errors import PosekitError
from posekit.pose2d.table import Pose2D, write_pose2d
from posekit.skeletons import MEDIAPIPE_33
from posekit.sync.step import read_sync
from posekit.synthetic.sync_data import SyncTrial
from posekit.triangulation.export import read_anipose_csv, write_anipose_csv

OFFSETS = {"cam2": 3, "cam3": -2}


@pytest.fixture(scope="module")
def truth() -> SyncTrial:
    return synthetic_trial(n_frames=60, offsets=OFFSETS)


def failed(result_output: str, step: str) -> str:
    """The one-line output of a step that failed for the trial (asserts the summary)."""
    message = one_line(result_output)
    assert f"{step}: 0 done, 0 skipped, 1 failed" in message, message
    assert "FAILED s1/t: " in message
    assert "Traceback" not in result_output and "unexpected" not in message, message
    return message


def assert_nothing_written(project: Project, *steps: str) -> None:
    for step in steps:
        assert project.written(step) == [], (step, project.written(step))
    assert partials(project.root) == []


# --------------------------------------------------------------------------------------------
# 1. frame counts and frame rates


def test_different_lengths_use_the_overlap_and_say_so(tmp_path: Path, truth: SyncTrial,
                                                      caplog: pytest.LogCaptureFixture
                                                      ) -> None:
    """Cameras started and stopped by hand record different numbers of frames: sync
    estimates from the frames they share, triangulate uses the frames all recorded."""
    poses = dict(truth.poses)
    poses["cam2"] = cut_pose(poses["cam2"], 40)
    project = build(tmp_path / "p", poses, truth.group)
    caplog.set_level(logging.INFO)
    result = posekit("sync", "-p", project.root)
    assert result.exit_code == 0, result.output
    assert ("s1/t: the cameras recorded different numbers of frames (cam1 60, cam2 40, cam3 "
            "60 frames)") in caplog.text
    record = toml.loads(project.sync.read_text())
    assert record["frames"] == {"cam1": 60, "cam2": 40, "cam3": 60}
    assert read_sync(project.sync) == {"cam1": 0, **OFFSETS}
    caplog.clear()
    result = posekit("triangulate", "-p", project.root)
    assert result.exit_code == 0, result.output
    assert "triangulating the 40 frames all of them recorded (reference frames 3 to 42" \
        in caplog.text
    data = read_anipose_csv(project.pose_3d)
    np.testing.assert_array_equal(data.fnum, np.arange(3, 43))
    assert np.isfinite(data.points).all()
    quality = json.loads(project.quality.read_text())
    assert quality["frames_per_camera"] == {"cam1": 60, "cam2": 40, "cam3": 60}
    assert quality["warnings"] == []


def test_different_lengths_message_reaches_the_terminal(tmp_path: Path, truth: SyncTrial
                                                        ) -> None:
    """The real command line (its own logging set-up) prints the note on stderr."""
    poses = dict(truth.poses)
    poses["cam3"] = cut_pose(poses["cam3"], 50)
    project = build(tmp_path / "p", poses, truth.group)
    project.write_sync({"cam1": 0, **OFFSETS})
    proc = posekit_subprocess("triangulate", "-p", project.root)
    assert proc.returncode == 0, proc.stderr
    assert ("INFO: s1/t: the cameras recorded different numbers of frames (cam1 60, cam2 60, "
            "cam3 50 frames); triangulating the 45 frames all of them recorded (reference "
            "frames 3 to 47") in proc.stderr


@pytest.mark.parametrize("step", ["sync", "triangulate"])
def test_different_frame_rates_in_2d_files(tmp_path: Path, truth: SyncTrial, step: str
                                           ) -> None:
    """2D files without frame times (imported) at different rates: posekit cannot place
    them on one clock."""
    untimed = {c: Pose2D(p.keypoints, p.xy, p.likelihood, p.scorer, None, dict(p.metadata))
               for c, p in truth.poses.items()}
    project = build(tmp_path / "p", untimed, truth.group,
                    fps={"cam1": 30.0, "cam2": 25.0, "cam3": 30.0})
    result = posekit(step, "-p", project.root)
    assert result.exit_code == 1
    message = failed(result.output, step)
    assert ("FAILED s1/t: its cameras recorded at different frame rates (cam1 30 fps (2D file), "
            "cam2 25 fps (2D file), cam3 30 fps (2D file))") in message
    assert "run `posekit detect --overwrite`" in message
    assert_nothing_written(project, step)


def test_different_frame_rates_of_videos(tmp_path: Path, truth: SyncTrial) -> None:
    """2D files without a frame rate (imported): the videos' rates are compared."""
    project = build(tmp_path / "p", truth.poses, truth.group, fps=None)
    write_videos(project, {"cam1": 30.0, "cam2": 15.0, "cam3": 30.0}, group=truth.group)
    result = posekit("triangulate", "-p", project.root)
    assert result.exit_code == 1
    message = failed(result.output, "triangulate")
    assert ("its cameras recorded at different frame rates (cam1 30 fps (video), cam2 15 fps "
            "(video), cam3 30 fps (video))") in message
    assert_nothing_written(project, "triangulate")


def test_slightly_different_frame_rates_warn(tmp_path: Path, truth: SyncTrial,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """29.97 against 30 fps: with frame times (posekit's own 2D), cam2's frames go on cam1's
    clock, with a warning that says so; without (imported 2D), a warning with the drift.
    Either way the first camera's rate."""
    project = build(tmp_path / "p", truth.poses, truth.group,
                    fps={"cam1": 30.0, "cam2": 29.97, "cam3": 30.0})
    project.write_sync({"cam1": 0, **OFFSETS})
    result = posekit("triangulate", "-p", project.root)
    assert result.exit_code == 0, result.output
    assert ("s1/t: cam2: recorded at 29.97 fps, the reference camera cam1 at 30 fps, which "
            "would drift 1.8 frames out of step per minute: its frames are placed on that "
            "camera's clock by their times") in caplog.text, caplog.text
    assert json.loads(project.quality.read_text())["fps"] == 30.0

    caplog.clear()
    untimed = {c: Pose2D(p.keypoints, p.xy, p.likelihood, p.scorer, None, dict(p.metadata))
               for c, p in truth.poses.items()}
    project = build(tmp_path / "q", untimed, truth.group,
                    fps={"cam1": 30.0, "cam2": 29.97, "cam3": 30.0})
    project.write_sync({"cam1": 0, **OFFSETS})
    result = posekit("triangulate", "-p", project.root)
    assert result.exit_code == 0, result.output
    assert ("s1/t: its cameras' frame rates differ slightly (cam1 30 fps (2D file), cam2 29.97 "
            "fps (2D file), cam3 30 fps (2D file)): about 1.8 frames of drift per minute; "
            "30 fps is used") in caplog.text
    assert json.loads(project.quality.read_text())["fps"] == 30.0


def test_recordings_that_do_not_overlap(tmp_path: Path, truth: SyncTrial) -> None:
    """cam3 stopped after 3 frames, and the offsets put them before cam2's first frame."""
    poses = dict(truth.poses)
    poses["cam3"] = cut_pose(poses["cam3"], 3)
    project = build(tmp_path / "p", poses, truth.group)
    project.write_sync({"cam1": 0, "cam2": 3, "cam3": 0})
    message = failed(posekit("triangulate", "-p", project.root).output, "triangulate")
    assert (f"FAILED s1/t: with the offsets from {project.sync.resolve()}, no frame was recorded "
            "by every camera (reference frames each recorded: cam1 0 to 59, cam2 3 to 62, "
            "cam3 0 to 2); check the offsets (`posekit sync --overwrite`, or [sync] offsets) "
            "and the shortest videos") in message
    assert_nothing_written(project, "triangulate")


def test_2d_of_no_frame_is_refused(tmp_path: Path, truth: SyncTrial) -> None:
    """A video that decoded to no frame gives no 2D file, but an error naming it."""
    empty = cut_pose(truth.poses["cam1"], 0)
    empty.metadata["video"] = "t-cam1.mp4"
    path = tmp_path / "pose-2d" / "t-cam1.h5"
    with pytest.raises(PosekitError) as info:
        write_pose2d(empty, path)
    assert str(info.value) == (f"{path}: no frame to write: t-cam1.mp4 decoded to no frame; "
                               "check that it plays, and re-export or re-copy it")
    assert not path.parent.exists() or list(path.parent.iterdir()) == []


def test_2d_files_of_different_detectors(tmp_path: Path, truth: SyncTrial) -> None:
    poses = dict(truth.poses)
    other = poses["cam2"]
    poses["cam2"] = Pose2D(tuple(f"kp{i}" for i in range(33)), other.xy, other.likelihood,
                           metadata=other.metadata)
    project = build(tmp_path / "p", poses, truth.group)
    for step in ("sync", "triangulate"):
        message = failed(posekit(step, "-p", project.root).output, step)
        assert (f"FAILED s1/t: camera cam2's 2D file ({project.pose_2d('cam2').resolve()}) has "
                "keypoints ['kp0', 'kp1', 'kp2', 'kp3', 'kp4']... but cam1's has ['nose', "
                "'left_eye_inner', 'left_eye', 'left_eye_outer', 'right_eye_inner']...; all "
                "cameras need the same detector / skeleton") in message
        assert_nothing_written(project, step)


@pytest.mark.parametrize("step", ["sync", "triangulate"])
@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_damaged_2d_file(tmp_path: Path, truth: SyncTrial, step: str, damage: str) -> None:
    project = build(tmp_path / "p", truth.poses, truth.group)
    project.write_sync({"cam1": 0, **OFFSETS}) if step == "triangulate" else None
    path = project.pose_2d("cam2")
    data = path.read_bytes()
    path.write_bytes({"garbage": b"\x00not hdf5" * 50, "truncated": data[:len(data) // 2],
                      "empty": b""}[damage])
    message = failed(posekit(step, "-p", project.root).output, step)
    assert (f"FAILED s1/t: {path.resolve()}: cannot read this 2D keypoint file "
            "(HDF5ExtError: ") in message
    assert ("it is damaged or not a DeepLabCut table: run `posekit detect --overwrite` for "
            "its video (or import it again)") in message
    assert project.written("sync" if step == "sync" else "triangulate") == []
    assert partials(project.root) == []


# --------------------------------------------------------------------------------------------
# 2. cameras of the trial against cameras of the calibration


def test_camera_missing_from_calibration(tmp_path: Path, truth: SyncTrial,
                                         caplog: pytest.LogCaptureFixture) -> None:
    project = build(tmp_path / "p", truth.poses, truth.group.subset(["cam1", "cam2"]))
    result = posekit("sync", "-p", project.root)  # sync works without the geometry
    assert result.exit_code == 0, result.output
    assert "s1/t: cameras ['cam3'] are not in the calibration" in caplog.text
    assert "offsets from the motion only" in toml.loads(project.sync.read_text())["warnings"][0]
    result = posekit("triangulate", "-p", project.root)
    assert result.exit_code == 1
    message = failed(result.output, "triangulate")
    assert (f"FAILED s1/t: cameras ['cam3'] have videos (t-cam3.mp4) but are not in "
            f"{project.calibration.resolve()} (it has ['cam1', 'cam2']); recalibrate with every "
            "camera of the trial") in message
    assert_nothing_written(project, "triangulate")


def test_calibration_names_match_no_camera(tmp_path: Path, truth: SyncTrial) -> None:
    """Calibration cameras named A, B, C; videos named cam1..cam3."""
    renamed = CameraGroup([Camera(name, c.size, c.matrix, c.dist, c.rvec, c.tvec)
                           for name, c in zip("ABC", truth.group, strict=True)])
    project = build(tmp_path / "p", truth.poses, renamed)
    project.write_sync({"cam1": 0, **OFFSETS})
    message = failed(posekit("triangulate", "-p", project.root).output, "triangulate")
    assert "none of the names match: the calibration's camera names must be the names " \
        "[triangulation] cam_regex finds in the video file names" in message
    assert_nothing_written(project, "triangulate")


def test_calibration_camera_without_video(tmp_path: Path, truth: SyncTrial,
                                          caplog: pytest.LogCaptureFixture) -> None:
    """A calibration of cam1..cam3 and a trial filmed by cam1 and cam3 only: fine."""
    poses = {c: truth.poses[c] for c in ("cam1", "cam3")}
    project = build(tmp_path / "p", poses, truth.group)
    caplog.set_level(logging.INFO)
    for step in ("sync", "triangulate", "angles"):
        result = posekit(step, "-p", project.root)
        assert result.exit_code == 0, (step, result.output)
    assert read_sync(project.sync) == {"cam1": 0, "cam3": OFFSETS["cam3"]}
    assert "s1/t: the calibration has cameras without a video in this trial (cam2); " \
        "triangulating with cam1, cam3" in caplog.text
    quality = json.loads(project.quality.read_text())
    assert set(quality["cameras"]) == {"cam1", "cam3"} and quality["valid_share"] > 0.95


def test_run_all_with_mismatched_cameras(tmp_path: Path, truth: SyncTrial) -> None:
    """run-all: a trial camera missing from the calibration fails triangulate (angles not
    run, saying why); a calibration camera without video in another session is fine."""
    project = build(tmp_path / "p", truth.poses, truth.group.subset(["cam1", "cam2"]))
    # a second session, s2, filmed by cam1 and cam2 only: fully calibrated
    for cam in ("cam1", "cam2"):
        video = project.root / "s2" / "videos-raw" / f"t-{cam}.mp4"
        video.parent.mkdir(parents=True, exist_ok=True)
        video.touch()
        pose2d = project.root / "s2" / "pose-2d" / f"t-{cam}.h5"
        pose2d.parent.mkdir(parents=True, exist_ok=True)
        pose2d.write_bytes(project.pose_2d(cam).read_bytes())
    project.calibration.touch()  # newer than every 2D file: nothing to redo upstream
    result = posekit("run-all", "-p", project.root, "-j", "1")
    message = one_line(result.output)
    assert result.exit_code == 1, result.output
    assert "sync: 2 done" in message
    assert "triangulate: 1 done, 0 skipped, 1 failed" in message
    assert "FAILED s1/t: cameras ['cam3'] have videos (t-cam3.mp4) but are not " \
        "in" in message
    assert "angles: 1 done, 0 skipped, 0 failed, 1 not run" in message
    assert "s1/t: not run: triangulate s1/t failed" in message
    assert project.written("triangulate") == [] and project.written("angles") == []
    assert (project.root / "s2" / "angles" / "t.csv").is_file()
    assert partials(project.root) == []


# --------------------------------------------------------------------------------------------
# 4. 2D without a person, and single cameras


def test_one_camera_without_person(tmp_path: Path, truth: SyncTrial,
                                   caplog: pytest.LogCaptureFixture) -> None:
    """One camera's 2D file is all NaN: the others are used; the log, the sync file and
    the quality file say so."""
    poses = dict(truth.poses)
    poses["cam3"] = empty_pose(poses["cam3"])
    project = build(tmp_path / "p", poses, truth.group)
    result = posekit("sync", "-p", project.root)
    assert result.exit_code == 0, result.output
    warning = ("cam3: no person detected in any frame of t-cam3.h5: offset 0 has low "
               "confidence (0.00); check that camera's video, or set [sync] offsets.cam3")
    assert f"s1/t: {warning}" in caplog.text
    assert toml.loads(project.sync.read_text())["warnings"] == [warning]
    assert read_sync(project.sync)["cam2"] == OFFSETS["cam2"]
    caplog.clear()
    result = posekit("triangulate", "-p", project.root)
    assert result.exit_code == 0, result.output
    warning = ("camera cam3: no person detected in its 2D file (t-cam3.h5), so it is not "
               "used; check its video")
    assert f"s1/t: {warning}" in caplog.text
    quality = json.loads(project.quality.read_text())
    assert quality["warnings"] == [warning]
    assert quality["cameras"]["cam3"]["used_share"] == 0
    assert np.isfinite(read_anipose_csv(project.pose_3d).points).all()


def test_reference_camera_without_person(tmp_path: Path, truth: SyncTrial) -> None:
    """cam1 (the reference) saw no one: offsets are estimated between cam2 and cam3, and
    cam2 becomes the reference of the sync file."""
    poses = dict(truth.poses)
    poses["cam1"] = empty_pose(poses["cam1"])
    project = build(tmp_path / "p", poses, truth.group)
    result = posekit("sync", "-p", project.root)
    assert result.exit_code == 0, result.output
    record = toml.loads(project.sync.read_text())
    assert record["reference"] == "cam2"
    assert record["offsets"]["cam3"] - record["offsets"]["cam2"] == \
        OFFSETS["cam3"] - OFFSETS["cam2"]
    result = posekit("triangulate", "-p", project.root)
    assert result.exit_code == 0, result.output
    assert json.loads(project.quality.read_text())["warnings"][0].startswith("camera cam1: ")


@pytest.mark.parametrize("step", ["sync", "triangulate"])
def test_only_one_camera_sees_the_person(tmp_path: Path, truth: SyncTrial, step: str) -> None:
    poses = {c: empty_pose(p) if c != "cam2" else p for c, p in truth.poses.items()}
    project = build(tmp_path / "p", poses, truth.group)
    project.write_sync({"cam1": 0, **OFFSETS}) if step == "triangulate" else None
    result = posekit(step, "-p", project.root)
    assert result.exit_code == 1
    message = failed(result.output, step)
    if step == "sync":
        assert ("FAILED s1/t: only camera cam2 detected the person (cameras cam1, cam3 have no "
                "keypoint in any frame), so no offset can be estimated") in message
        assert project.written("sync") == []
    else:
        assert ("FAILED s1/t: only camera cam2 detected the person in the 55 frames all "
                "cameras recorded (reference frames 3 to 57, offsets from") in message
        assert "check the other cameras' videos and 2D files (cam1, cam3)" in message
        assert project.written("triangulate") == []
    assert partials(project.root) == []


def test_cameras_that_never_see_the_person_at_the_same_time(tmp_path: Path, truth: SyncTrial
                                                            ) -> None:
    """cam1 sees the first half, cam2 and cam3 only the second: no frame with two views
    (within the overlap)."""
    poses = {}
    for cam, pose in truth.poses.items():
        xy, like = pose.xy.copy(), pose.likelihood.copy()
        half = slice(30, None) if cam == "cam1" else slice(None, 30)
        if cam == "cam3":
            half = slice(None)
        xy[half], like[half] = np.nan, 0.0
        poses[cam] = Pose2D(pose.keypoints, xy, like, metadata=pose.metadata)
    project = build(tmp_path / "p", poses, truth.group)
    project.write_sync({"cam1": 0, "cam2": 0, "cam3": 0})
    result = posekit("triangulate", "-p", project.root)
    message = failed(result.output, "triangulate")
    assert ("FAILED s1/t: no two cameras saw a keypoint at the same time in the 60 frames all "
            "cameras recorded (reference frames 0 to 59); check the offsets (from "
            f"{project.sync.resolve()}): wrong ones shift the cameras' views of the person "
            "apart") in message
    assert_nothing_written(project, "triangulate")


def test_trial_with_a_single_camera(tmp_path: Path, truth: SyncTrial) -> None:
    project = build(tmp_path / "p", {"cam1": truth.poses["cam1"]}, truth.group)
    for step in ("sync", "triangulate"):
        result = posekit(step, "-p", project.root)
        assert result.exit_code == 1
        message = failed(result.output, step)
        assert ("trial s1/t has a video of one camera only (t-cam1.mp4, camera 'cam1'): "
                "synchronisation and triangulation need two or more cameras") in message
        assert "cam_regex" in message
        assert_nothing_written(project, step)


def test_trial_with_one_cameras_2d(tmp_path: Path, truth: SyncTrial) -> None:
    """Three videos, one 2D file: every missing file is named, with the command to run."""
    poses: dict[str, Pose2D | None] = {"cam1": truth.poses["cam1"], "cam2": None, "cam3": None}
    project = build(tmp_path / "p", poses, truth.group)
    for step in ("sync", "triangulate"):
        message = failed(posekit(step, "-p", project.root).output, step)
        for cam in ("cam2", "cam3"):
            assert f"{project.pose_2d(cam).resolve()} is missing" in message
        assert "run `posekit detect` (or `posekit import-2d`) first" in message
        assert_nothing_written(project, step)


def test_keypoints_never_reconstructed_are_reported(tmp_path: Path, truth: SyncTrial,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """The feet are seen by one camera only: the CSV has them empty, the log and the
    quality file say which, and angles name the angles left empty."""
    feet = [i for i, k in enumerate(MEDIAPIPE_33.keypoints)
            if k.endswith(("heel", "foot_index", "ankle"))]
    poses = {}
    for cam, pose in truth.poses.items():
        xy, like = pose.xy.copy(), pose.likelihood.copy()
        if cam != "cam1":
            xy[:, feet], like[:, feet] = np.nan, 0.0
        poses[cam] = Pose2D(pose.keypoints, xy, like, metadata=pose.metadata)
    project = build(tmp_path / "p", poses, truth.group)
    project.write_sync({"cam1": 0, **OFFSETS})
    result = posekit("triangulate", "-p", project.root)
    assert result.exit_code == 0, result.output
    quality = json.loads(project.quality.read_text())
    never = ("keypoints never reconstructed (empty in every frame of the outputs): "
             "left_ankle, right_ankle, left_heel, right_heel, left_foot_index, "
             "right_foot_index; they were seen by fewer than two cameras at a time")
    assert quality["warnings"] == [never]
    assert f"s1/t: {never}" in caplog.text
    caplog.clear()
    result = posekit("angles", "-p", project.root)
    assert result.exit_code == 0, result.output
    assert ("s1/t: angles left_knee, left_ankle, right_knee, right_ankle are empty in every "
            "frame") in caplog.text
    record = json.loads((project.session / "angles" / "t.angles.json").read_text())
    assert record["empty_angles"] == ["left_knee", "left_ankle", "right_knee", "right_ankle"]


def test_angles_of_an_all_nan_3d_file(tmp_path: Path, truth: SyncTrial) -> None:
    """A pose-3d CSV without a single point (from another tool, or an older posekit):
    an error, no angle files."""
    project = build(tmp_path / "p", truth.poses, truth.group)
    n, k = 20, len(MEDIAPIPE_33.keypoints)
    write_anipose_csv(project.pose_3d, np.full((n, k, 3), np.nan), np.full((n, k), np.nan),
                      np.zeros((n, k), np.int64), np.full((n, k), np.nan),
                      list(MEDIAPIPE_33.keypoints), np.arange(n))
    project.quality.write_text(json.dumps({"fps": 30.0}))
    result = posekit("angles", "-p", project.root)
    message = failed(result.output, "angles")
    assert (f"{project.pose_3d.resolve()}: no 3D point in any frame (every x, y, z is empty), "
            "so there are no angles to compute; rerun `posekit triangulate --overwrite`") \
        in message
    assert_nothing_written(project, "angles")


# --------------------------------------------------------------------------------------------
# 5. the person is never visible


NO_PERSON = ("no person detected in trial s1/t (cameras cam1, cam2, cam3): every frame of "
             "their 2D files (t-cam1.h5, t-cam2.h5, t-cam3.h5 in ")
NO_PERSON_HINT = ("check that the videos show the whole person, then lower [detection] "
                  "min_detection_confidence and run `posekit detect --overwrite`, or move "
                  "this trial's videos out of the raw-videos folder")


def test_person_never_visible(tmp_path: Path, truth: SyncTrial) -> None:
    """The detect step found no one in any video: each step says so for the trial."""
    poses = {c: empty_pose(p) for c, p in truth.poses.items()}
    project = build(tmp_path / "p", poses, truth.group)
    for step in ("sync", "triangulate"):
        message = failed(posekit(step, "-p", project.root).output, step)
        assert f"FAILED s1/t: {NO_PERSON}" in message
        assert NO_PERSON_HINT in message
        assert_nothing_written(project, step)
    project.write_sync({"cam1": 0, "cam2": 0, "cam3": 0})  # e.g. [sync] offsets given
    message = failed(posekit("triangulate", "-p", project.root).output, "triangulate")
    assert NO_PERSON in message
    message = failed(posekit("angles", "-p", project.root).output, "angles")
    assert f"{project.pose_3d.resolve()} is missing because {NO_PERSON}" in message
    assert_nothing_written(project, "triangulate", "angles")


def test_person_never_visible_run_all(tmp_path: Path, truth: SyncTrial) -> None:
    poses = {c: empty_pose(p) for c, p in truth.poses.items()}
    project = build(tmp_path / "p", poses, truth.group)
    project.calibration.touch()
    result = posekit("run-all", "-p", project.root, "-j", "1")
    message = one_line(result.output)
    assert result.exit_code == 1
    assert f"sync: 0 done, 0 skipped, 1 failed FAILED s1/t: {NO_PERSON}" in message
    assert "triangulate: 0 done, 0 skipped, 0 failed, 1 not run" in message
    assert_nothing_written(project, "sync", "triangulate", "angles")
