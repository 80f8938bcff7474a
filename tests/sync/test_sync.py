"""Frame offsets from synthetic unsynchronised 2D with exact ground truth, and the step."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from posekit.camera.toml_io import save_calibration
from posekit.cli.main import cli
from posekit.pose2d.table import write_pose2d
from posekit.sync.geometry import refine_offsets
from posekit.sync.motion import motion_offsets
from posekit.sync.step import read_sync
from posekit.synthetic.sync_data import make_sync_trial


@pytest.mark.parametrize(("n_cams", "fps", "seed"), [(3, 30.0, 0), (4, 60.0, 1), (6, 30.0, 2)])
def test_offsets_recovered_exactly(n_cams: int, fps: float, seed: int) -> None:
    trial = make_sync_trial(n_cams=n_cams, fps=fps, duration=15.0, seed=seed)
    est = motion_offsets(trial.poses, fps, max_lag_s=10.0)
    for cam, true in trial.offsets.items():
        assert abs(est.offsets[cam] - true) <= 1, (cam, est.offsets[cam], true)
        assert est.confidence[cam] > 0.3
    refined, sharp, _ = refine_offsets(trial.poses, trial.group, est.offsets, est.confidence,
                                       "cam1", int(10 * fps))
    assert refined == trial.offsets
    assert min(sharp.values()) > 0.2


def test_geometry_finds_offsets_the_motion_cannot(tmp_path: Path) -> None:
    """With zero motion confidence the geometry searches the whole lag range."""
    trial = make_sync_trial(n_cams=3, fps=30.0, duration=12.0, seed=5)
    zero = {c: 0 for c in trial.offsets}
    refined, _, _ = refine_offsets(trial.poses, trial.group, zero, dict.fromkeys(zero, 0.0),
                                   "cam1", 300)
    assert refined == trial.offsets


@pytest.mark.parametrize("kind", ["absent", "static"])
def test_camera_without_usable_motion_gets_a_warning(tmp_path: Path, kind: str) -> None:
    trial = make_sync_trial(n_cams=3, fps=30.0, duration=12.0, seed=3,
                            **{f"{kind}_camera": "cam3"})
    root = tmp_path / "p"
    raw, pose2d = root / "s1" / "videos-raw", root / "s1" / "pose-2d"
    raw.mkdir(parents=True)
    (root / "config.toml").write_text('nesting = 1\n[triangulation]\ncam_regex = "-(cam[0-9])$"\n')
    for cam, pose in trial.poses.items():
        (raw / f"t-{cam}.mp4").touch()
        pose.metadata["fps"] = trial.fps
        write_pose2d(pose, pose2d / f"t-{cam}.h5")
    save_calibration(trial.group, root / "calibration" / "calibration.toml")
    result = CliRunner().invoke(cli, ["sync", "-p", str(root)])
    assert result.exit_code == 0, result.output
    sync_file = root / "s1" / "sync" / "t.toml"
    text = sync_file.read_text()
    assert "cam3" in text and "low confidence" in text and "offsets.cam3" in text
    offsets = read_sync(sync_file)
    assert offsets["cam2"] == trial.offsets["cam2"] and offsets["cam1"] == 0
    assert (root / "s1" / "sync" / "t.png").stat().st_size > 0


def test_config_offsets_win(tmp_path: Path) -> None:
    root = tmp_path / "p"
    raw = root / "s1" / "videos-raw"
    raw.mkdir(parents=True)
    (root / "config.toml").write_text(
        'nesting = 1\n[triangulation]\ncam_regex = "-(cam[0-9])$"\n'
        "[sync]\noffsets = { cam1 = 0, cam2 = 7 }\n")
    for cam in ("cam1", "cam2"):
        (raw / f"t-{cam}.mp4").touch()
    result = CliRunner().invoke(cli, ["sync", "-p", str(root)])
    assert result.exit_code == 0, result.output
    assert read_sync(root / "s1" / "sync" / "t.toml") == {"cam1": 0, "cam2": 7}
    assert 'method = "config"' in (root / "s1" / "sync" / "t.toml").read_text()

