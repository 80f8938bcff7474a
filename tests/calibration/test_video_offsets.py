"""Calibration videos started at different times (cameras started by hand): their frame
offsets are found from the board's motion and applied, on rendered ChArUco videos with
exact ground truth; synchronised videos are left as they are."""

from __future__ import annotations

import html
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from posekit.camera.model import CameraGroup
from posekit.camera.toml_io import load_calibration
from posekit.cli.main import cli
from posekit.io.video import iter_frames, write_video
from posekit.synthetic.charuco import render_calibration_videos
from posekit.synthetic.evaluate import compare_calibrations
from posekit.synthetic.project import SyntheticProjectSpec
from posekit.synthetic.rig import make_rig

CAMERAS = ("cam1", "cam2", "cam3")
CONFIG = """nesting = 1
[calibration]
board_size = [5, 7]
board_marker_length = 0.08
board_square_side_length = 0.12
units = "m"
"""


@pytest.fixture(scope="module")
def rig() -> CameraGroup:
    return make_rig(3, seed=0)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, rig: CameraGroup) -> Path:
    """150 frames (5 s) of the board carried through the volume, seen by two or three
    cameras at once in about a tenth of the frames."""
    out = tmp_path_factory.mktemp("calibration-videos")
    render_calibration_videos(rig, SyntheticProjectSpec().board, out, 150, 30.0, seed=0,
                              cam_pattern="calib-{name}.mp4")
    return out


def _project(root: Path, rendered: Path, cut: dict[str, int], extra: str = "") -> Path:
    """A project whose calibration videos are the rendered ones with ``cut[camera]``
    frames cut from the start (that camera started recording that much later)."""
    folder = root / "calibration"
    folder.mkdir(parents=True)
    (root / "config.toml").write_text(CONFIG + extra)
    for cam in CAMERAS:
        source = rendered / f"calib-{cam}.mp4"
        if cut.get(cam):
            write_video(folder / source.name, list(iter_frames(source))[cut[cam]:], 30.0)
        else:
            shutil.copy(source, folder / source.name)
    return root


def _calibrate(root: Path) -> tuple[CameraGroup, dict[str, object]]:
    result = CliRunner().invoke(cli, ["-q", "calibrate", "-p", str(root)])
    assert result.exit_code == 0, result.output
    report = json.loads((root / "calibration" / "calibration_report.json").read_text())
    return load_calibration(root / "calibration" / "calibration.toml"), report


def report_of(root: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(
        (root / "calibration" / "calibration_report.json").read_text())
    return data


def test_videos_started_at_different_times_are_aligned(
    tmp_path: Path, rendered: Path, rig: CameraGroup, caplog: pytest.LogCaptureFixture
) -> None:
    cut = {"cam2": 20, "cam3": 3}
    group, report = _calibrate(_project(tmp_path / "auto", rendered, cut))
    # frame i of cam2 is frame i + 20 of cam1: cam2 started 20 frames later
    assert report["video_offsets"] == {"cam1": 0, "cam2": 20, "cam3": 3}
    errors = compare_calibrations(group, rig)
    assert errors.rotation_deg.max() < 1.0 and errors.focal_pct.max() < 0.5, errors
    assert "frame offsets cam2 +20, cam3 +3" in (
        tmp_path / "auto" / "calibration" / "calibration_report.md").read_text()
    # and on the calibration's page of `posekit report`
    from posekit.project.layout import Project
    from posekit.report.html import calibration_pages

    page_path, _ = calibration_pages(Project.open(tmp_path / "auto")).made["calibration"]
    assert ("frame offsets found from the board's motion (frame i of a camera is frame i + "
            "offset of the first): cam1 +0, cam2 +20, cam3 +3") in html.unescape(
                page_path.read_text())
    # the same videos taken as synchronised: a wrong calibration, and a warning saying so
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        group, report = _calibrate(_project(tmp_path / "off", rendered, cut,
                                            "sync = false\n"))
    assert report["video_offsets"] == {"cam1": 0, "cam2": 0, "cam3": 0}
    assert compare_calibrations(group, rig).rotation_deg.max() > 10.0
    assert "the calibration looks wrong: triangulated with it, the board's" in caplog.text
    assert "Check that the calibration videos are synchronised" in caplog.text
    # kept in the report too (the trial reports list it): JSON and Markdown
    # the board keeps to the middle of these rendered videos, so every camera is also warned
    # that it did not reach the image's edges (test_calibrate.py tests that warning)
    (warning,) = [w for w in report["warnings"] if "reached only" not in w]  # type: ignore[attr-defined]
    assert str(warning).startswith("the calibration looks wrong") and warning in caplog.text
    markdown = (tmp_path / "off" / "calibration" / "calibration_report.md").read_text()
    assert f"**Warning:** {warning}" in markdown
    assert all("reached only" in w for w in report_of(tmp_path / "auto")["warnings"])


def test_synchronised_videos_are_left_as_they_are(tmp_path: Path, rendered: Path) -> None:
    searched, report = _calibrate(_project(tmp_path / "auto", rendered, {}))
    assert report["video_offsets"] == {"cam1": 0, "cam2": 0, "cam3": 0}
    taken, _ = _calibrate(_project(tmp_path / "off", rendered, {}, "sync = false\n"))
    for a, b in zip(searched, taken, strict=True):
        assert np.array_equal(a.matrix, b.matrix) and np.array_equal(a.rvec, b.rvec)


def _board_motion(n: int, seed: int = 0) -> np.ndarray:
    """Board → camera transforms (n, 4, 4) of a board moving smoothly 2 m away."""
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(seed)
    t = np.arange(n) / 30.0
    out = np.tile(np.eye(4), (n, 1, 1))
    angles = 0.4 * np.sin(2 * np.pi * np.outer(t, rng.uniform(0.3, 0.8, 3)) + rng.uniform(0, 6, 3))
    out[:, :3, :3] = Rotation.from_rotvec(angles).as_matrix()
    out[:, :3, 3] = [0.3, 0.2, 2.0] + 0.4 * np.sin(
        2 * np.pi * np.outer(t, rng.uniform(0.3, 0.8, 3)) + rng.uniform(0, 6, 3))
    return out


def test_lag_zero_is_kept_when_a_neighbouring_lag_shares_more_frames() -> None:
    """Synchronised videos in which the two cameras saw the board together in 4 frames,
    and, one frame apart, in 6: the 4 frames keep lag 0 (the board moves little in a frame,
    so the neighbouring lag fits well too); the same videos 9 frames apart are found."""
    from posekit.calibration.sync import pair_lag

    first = _board_motion(90)
    between = np.eye(4)
    between[:3, 3] = [1.0, 0.0, 0.5]  # camera b's pose relative to camera a
    second = np.linalg.inv(between) @ first  # b sees, at the same instants, the same board
    seen_a = np.zeros(90, bool)
    seen_b = np.zeros(90, bool)
    seen_a[[10, 20, 30, 40, 51, 53, 55, 57, 59, 61]] = True
    seen_b[[10, 20, 30, 40, 50, 52, 54, 56, 58, 60]] = True  # 4 at lag 0, 6 at lag +1
    a = np.where(seen_a[:, None, None], first, np.nan)
    b = np.where(seen_b[:, None, None], second, np.nan)
    found = pair_lag(a, b, 30)
    assert found.counts[0] == 4 and found.counts[1] == 6 and found.lag == 0
    late = pair_lag(a, np.concatenate([b[9:], np.full((9, 4, 4), np.nan)]), 30)
    assert late.lag == 9
