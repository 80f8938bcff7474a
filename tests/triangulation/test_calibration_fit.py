"""The calibration must fit the trial's videos: phone videos stored turned with a rotation
flag go through the whole pipeline (every step reads them the way up a player shows them),
and a calibration made at another frame size or orientation is a clear error, not 3D
built from intrinsics that do not apply."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import toml
from click.testing import CliRunner

from posekit.camera.toml_io import load_calibration
from posekit.cli.main import cli
from posekit.pose2d.table import Pose2D, read_pose2d, write_pose2d
from posekit.skeletons import limb_joint_indices
from posekit.sync.step import read_sync

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"


def _example(dest: Path) -> Path:
    shutil.copytree(EXAMPLE, dest)
    return dest


@pytest.mark.parametrize(("size", "says"), [
    ([720, 1280], "one of the two is turned by 90 degrees"),
    ([640, 360], "another resolution"),
    ([1280, 960], "another frame shape"),
])
def test_a_calibration_made_at_another_size_is_a_clear_error(
    tmp_path: Path, size: list[int], says: str
) -> None:
    root = _example(tmp_path / "p")
    calib = toml.load(EXAMPLE / "ground-truth" / "calibration.toml")
    calib["cam_1"]["size"] = size  # cam2, 1280 x 720 in the videos
    (root / "calibration" / "calibration.toml").write_text(toml.dumps(calib))
    result = CliRunner().invoke(cli, ["triangulate", "-p", str(root)])
    assert result.exit_code == 1
    calibration = root / "calibration" / "calibration.toml"
    assert (f"cam2: squat-cam2.mp4 is 1280x720 but {calibration} was made on "
            f"{size[0]}x{size[1]} frames: {says}") in result.output, result.output
    assert not list((root / "session1").glob("pose-3d/*"))


def test_sync_with_a_calibration_that_does_not_fit_uses_the_motion_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _example(tmp_path / "p")
    calib = toml.load(EXAMPLE / "ground-truth" / "calibration.toml")
    calib["cam_1"]["size"] = [720, 1280]
    (root / "calibration" / "calibration.toml").write_text(toml.dumps(calib))
    with np.load(root / "ground-truth" / "session1" / "squat.npz") as gt:
        truth2d, fps = gt["points2d"], gt["fps"]
        names, keypoints = list(gt["camera_names"]), tuple(gt["keypoints"])
    for ci, cam in enumerate(names):
        pose = Pose2D(keypoints, truth2d[ci], np.ones(truth2d.shape[1:3]),
                      metadata={"fps": float(fps[ci])})
        write_pose2d(pose, root / "session1" / "pose-2d" / f"squat-{cam}.h5")
    result = CliRunner().invoke(cli, ["sync", "-p", str(root)])
    assert result.exit_code == 0, result.output
    assert ("the calibration does not fit the videos or their 2D, so the offsets are from "
            "the motion only, not checked by the geometry: cam2: squat-cam2.mp4 is 1280x720") in \
        caplog.text, caplog.text
    record = toml.load(root / "session1" / "sync" / "squat.toml")
    assert record["method"] == "motion" and record["offsets"] == {
        "cam1": 0, "cam2": 0, "cam3": 0}


def test_a_calibration_within_codec_padding_fits(tmp_path: Path) -> None:
    """1088 rows against 1080 (codecs pad to 16) is the same camera set-up."""
    from posekit.project.layout import Project
    from posekit.project.steps import calibration_size_problems

    trial = Project.open(_example(tmp_path / "p")).trials()[0]
    sizes = {"cam1": (1920, 1088), "cam2": (1280, 720), "cam3": (1920, 1080)}
    assert calibration_size_problems(trial, sizes, Path("calibration.toml")) == []


def test_phone_videos_stored_turned_go_through_the_pipeline(
    tmp_path: Path, store_turned: Callable[[Path, Path, int], Path]
) -> None:
    root = _example(tmp_path / "p")
    for video in (root / "calibration" / "calib-cam2.mp4",
                  root / "session1" / "videos-raw" / "squat-cam2.mp4"):
        store_turned(EXAMPLE / video.relative_to(root), video, 90)
    result = CliRunner().invoke(cli, ["-q", "run-all", "-p", str(root), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert load_calibration(root / "calibration" / "calibration.toml")["cam2"].size == (
        1280, 720)
    with np.load(root / "ground-truth" / "session1" / "squat.npz") as gt:
        truth2d = gt["points2d"][1]
    pose = read_pose2d(root / "session1" / "pose-2d" / "squat-cam2.h5")
    limbs = limb_joint_indices(pose.keypoints)
    err = np.hypot(*(pose.xy[:, limbs] - truth2d[:, limbs]).transpose(2, 0, 1))
    assert (err[np.isfinite(err)] < 0.05 * 720).mean() >= 0.8, np.nanmedian(err)
    assert read_sync(root / "session1" / "sync" / "squat.toml") == {
        "cam1": 0, "cam2": 0, "cam3": 0}
    quality = json.loads((root / "session1" / "pose-3d" / "squat.quality.json").read_text())
    errors = {c: v["median_error_px"] for c, v in quality["cameras"].items()}
    assert max(errors.values()) < 10.0, errors


def test_2d_in_a_phone_videos_stored_orientation_is_a_clear_error(
    tmp_path: Path, store_turned: Callable[[Path, Path, int], Path],
    caplog: pytest.LogCaptureFixture
) -> None:
    """cam2's video is stored turned with a 90-degree flag, and its imported 2D was made by
    a tool that ignored the flag (OpenCV's default): the points lie in the stored
    720x1280 frame. Triangulate stops, naming the camera, the file and what to do; sync
    uses the motion only. The same 2D turned upright goes through.

    The check sees such 2D only where it falls outside the upright frame, as a person
    standing in a portrait video does; here the person is moved to the left of cam2's
    upright frame for that (their stored-frame points are then below it)."""
    root = _example(tmp_path / "p")
    video = root / "session1" / "videos-raw" / "squat-cam2.mp4"
    store_turned(EXAMPLE / "session1" / "videos-raw" / "squat-cam2.mp4", video, 90)
    (root / "calibration" / "calibration.toml").write_bytes(
        (EXAMPLE / "ground-truth" / "calibration.toml").read_bytes())
    with np.load(root / "ground-truth" / "session1" / "squat.npz") as gt:
        truth2d, fps = gt["points2d"], gt["fps"]
        names, keypoints = list(gt["camera_names"]), tuple(gt["keypoints"])

    def write_2d(stored: bool) -> None:
        for ci, cam in enumerate(names):
            xy = truth2d[ci].copy()
            if cam == "cam2" and stored:  # upright (x, y) in 1280 x 720 → stored frame
                xy = np.stack([xy[..., 1], 1280 - (xy[..., 0] - 300)], axis=-1)
            pose = Pose2D(keypoints, xy, np.ones(xy.shape[:2]), scorer="openpose",
                          metadata={"fps": float(fps[ci])})
            write_pose2d(pose, root / "session1" / "pose-2d" / f"squat-{cam}.h5")

    write_2d(stored=True)
    result = CliRunner().invoke(cli, ["triangulate", "-p", str(root)])
    assert result.exit_code == 1
    says = ("cam2: squat-cam2.mp4 is a phone video stored turned (its rotation flag turns "
            "it by 90 degrees to 1280x720), but ")
    does = ("inside the 720x1280 frame as stored: the 2D comes from a tool that read the "
            "video without applying the flag; delete that file and run `posekit detect`")
    assert says in result.output and does in result.output, result.output
    assert not list((root / "session1").glob("pose-3d/*"))
    result = CliRunner().invoke(cli, ["sync", "-p", str(root)])
    assert result.exit_code == 0, result.output
    assert "from the motion only, not checked by the geometry: " + says in caplog.text
    assert toml.load(root / "session1" / "sync" / "squat.toml")["method"] == "motion"

    write_2d(stored=False)
    caplog.clear()
    for step in ("sync", "triangulate"):
        result = CliRunner().invoke(cli, [step, "-p", str(root), "--overwrite"])
        assert result.exit_code == 0, result.output
    assert "stored turned" not in caplog.text
