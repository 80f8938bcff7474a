"""The ``angles`` step through the CLI: outputs, NaN handling, skip/rerun, Anipose
configs, conventions and the angle filter."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from study_data import GAP, KEYPOINTS, Study, write_trial

from posekit.cli.main import cli
from posekit.config.schema import DEFAULT_ANGLES


def angles(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["angles", "-p", str(root), *args])


@pytest.fixture(scope="module")
def computed(study: Study) -> Study:
    result = angles(study.root)
    assert result.exit_code == 0, result.output
    assert "angles: 4 done, 0 skipped, 0 failed" in result.output
    return study


def test_outputs_match_the_truth(computed: Study) -> None:
    for (session, trial), truth in computed.truth.items():
        path = computed.csv(session, trial)
        table = pd.read_csv(path)
        assert list(table.columns) == [*DEFAULT_ANGLES, "fnum", "time"]
        np.testing.assert_array_equal(table["fnum"], truth.fnum)
        np.testing.assert_allclose(table["time"], truth.fnum / truth.fps)
        for name, values in truth.angles.items():
            got = table[name].to_numpy()
            ok = np.isfinite(values)
            np.testing.assert_array_equal(np.isfinite(got), ok, err_msg=name)
            rmse = np.sqrt(np.mean((got[ok] - values[ok]) ** 2))
            assert rmse < 0.5, (session, trial, name, rmse)  # in fact ~1e-12
        # NaN in → NaN out: the left knee gap, and only the angles that use it
        assert table["left_knee"].iloc[GAP].isna().all()
        assert table["left_hip"].iloc[GAP].isna().all()
        assert table["right_knee"].notna().all()
        assert path.with_suffix(".png").stat().st_size > 1000
        record = json.loads(path.with_name(f"{trial}.angles.json").read_text())
        assert record["fps"] == truth.fps and record["fps_source"].endswith("quality.json")
        assert record["angles"]["left_knee"]["convention"] == "inner"
    assert not [p for p in computed.root.rglob("*") if ".partial" in p.name]


def test_rerun_skips_then_redoes_what_changed(computed: Study) -> None:
    result = angles(computed.root)
    assert result.exit_code == 0 and "angles: 0 done, 4 skipped" in result.output
    src = computed.csv("s2", "t1", "pose-3d")
    future = computed.csv("s2", "t1").stat().st_mtime + 5  # newer than its angles
    os.utime(src, (future, future))
    result = angles(computed.root)
    assert "angles: 1 done, 3 skipped" in result.output, result.output
    result = angles(computed.root, "-s", "s1", "--overwrite")
    assert "angles: 2 done, 0 skipped" in result.output, result.output


def write_config(root: Path, text: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text('nesting = 0\n[triangulation]\n'
                                      'cam_regex = "-(cam[0-9])$"\n' + text)


def test_anipose_angles_section_with_a_chain(tmp_path: Path) -> None:
    """An Anipose ``[angles]`` section gives Anipose's column names and the hand-computed
    values (tests/angles/test_angle_compute.py derives them)."""
    root = tmp_path / "ani"
    write_config(root, "[angles]\n"
                       'knee = ["hip", "knee", "ankle"]\n'
                       'tilt = ["axis", "knee", "hip", "ankle"]\n'
                       'plane = ["cross-axis", "hip", "knee", "ankle"]\n'
                       'leg = ["chain", "hip", "knee", "ankle", "toe"]\n'
                       'leg_flipped = ["chain", "a", "b/", "c"]\n')
    kps = ["hip", "knee", "ankle", "toe", "a", "b", "c"]
    frame = np.array([[0, 0, 0], [0, 0, 1], [1, 0, 2], [1, 1, 2],
                      [0, 0, 0], [0, 0, 1], [1, 0, 2]], float)
    points = np.repeat(frame[None], 5, axis=0)
    points[3, 1] = np.nan  # the knee missing in frame 3
    write_trial(root, ".", "walk", points, np.arange(5), 50.0, kps,
                quality={k: {"median_error_px": 1.0, "mean_cameras": 2.0, "valid_share": 1.0}
                         for k in kps})
    result = angles(root)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(root / "angles" / "walk.csv")
    assert list(table.columns) == [
        "knee", "tilt", "plane", "hip_flex", "hip_rot", "hip_abduct", "knee_flex",
        "knee_rot", "ankle_flex", "a_flex", "a_rot", "a_abduct", "b_flex", "fnum", "time"]
    expected = {
        "knee": 135.0,
        # axis z along hip→knee = +z; x = world x; y = z × x = +y;
        # ankle→hip = (-1, 0, -2): atan2(0, -1)
        "tilt": 180.0,
        # normal (hip-knee) × (knee-ankle) = (0,0,-1) × (-1,0,-1) = (0, 1, 0); x = world x,
        # y = z × x = (0, 0, -1); hip→ankle = (1, 0, 2): atan2(-2, 1)
        "plane": np.degrees(np.arctan2(-2.0, 1.0)),
        "hip_flex": 0.0, "hip_rot": 0.0, "hip_abduct": 0.0, "knee_flex": 135.0,
        "knee_rot": -90.0, "ankle_flex": 90.0,
        "a_flex": 0.0, "a_rot": 180.0, "a_abduct": 0.0, "b_flex": -135.0,
    }
    for name, value in expected.items():
        col = table[name].to_numpy()
        np.testing.assert_allclose(col[[0, 1, 2, 4]], value, atol=1e-9, err_msg=name)
        if name not in ("a_flex", "a_rot", "a_abduct", "b_flex"):
            assert np.isnan(col[3]), name  # uses the missing knee
    np.testing.assert_allclose(table["time"], np.arange(5) / 50.0)


def test_flexion_convention_and_angle_filter(tmp_path: Path, study: Study) -> None:
    root = tmp_path / "conv"
    write_config(root, '[angle_conventions]\nleft_knee = "flexion"\n'
                       "[angles_filter]\nenabled = true\ncutoff_hz = 6\n")
    truth = study.truth["s1", "t1"]
    write_trial(root, ".", "sq", truth.points, truth.fnum, truth.fps, KEYPOINTS,
                quality=truth.quality)
    result = angles(root)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(root / "angles" / "sq.csv")
    flex = table["left_knee"].to_numpy()
    ok = np.isfinite(truth.angles["left_knee"])
    np.testing.assert_array_equal(np.isfinite(flex), ok)  # the gap stays a gap
    err = flex[ok] - (180.0 - truth.angles["left_knee"][ok])
    assert np.sqrt(np.mean(err ** 2)) < 0.5  # a smooth motion: the filter changes little
    assert np.abs(err).max() > 1e-6  # but it did run
    record = json.loads((root / "angles" / "sq.angles.json").read_text())
    assert record["angles"]["left_knee"]["convention"] == "flexion"
    assert record["filter"] == {"enabled": True, "cutoff_hz": 6.0, "order": 4}

    (root / "config.toml").write_text((root / "config.toml").read_text()
                                      .replace("cutoff_hz = 6", "cutoff_hz = 20"))
    result = angles(root)
    assert result.exit_code == 1
    assert "[angles_filter] cutoff_hz = 20 Hz must be below half the frame rate" in \
        result.output


def test_errors_are_reported_per_trial(tmp_path: Path, study: Study) -> None:
    root = tmp_path / "err"
    write_config(root, '[angles]\nknee = ["left_hip", "left_kne", "left_ankle"]\n')
    truth = study.truth["s1", "t2"]
    write_trial(root, ".", "ok", truth.points, truth.fnum, truth.fps, KEYPOINTS,
                quality=truth.quality)
    (root / "videos-raw" / "no3d-cam1.mp4").touch()
    result = angles(root)
    assert result.exit_code == 1
    assert "[angles] knee: keypoint 'left_kne' is not in the 3D data; available " \
        "keypoints: nose," in result.output
    assert str(root / "config.toml") in result.output
    assert "pose-3d/no3d.csv is missing; run `posekit triangulate` first" in result.output


def test_default_angles_on_another_skeleton(tmp_path: Path, study: Study) -> None:
    """No foot_index (e.g. COCO-like 3D): the default ankle angles are skipped, the rest
    computed; 3D with none of the default keypoints: an error saying to define [angles]."""
    truth = study.truth["s1", "t1"]
    keep = [i for i, k in enumerate(KEYPOINTS) if "foot_index" not in k]
    root = tmp_path / "coco"
    write_config(root, "")
    write_trial(root, ".", "a", truth.points[:, keep], truth.fnum, truth.fps,
                [KEYPOINTS[i] for i in keep], quality=None)
    write_trial(root, ".", "b", truth.points[:, :3], truth.fnum, truth.fps,
                ["p1", "p2", "p3"], quality=None)
    result = angles(root, "-t", "a")
    assert result.exit_code == 1  # no fps: the quality file is missing and videos are empty
    assert "no frame rate found" in result.output
    quality = {"fps": 30.0}
    (root / "pose-3d" / "a.quality.json").write_text(json.dumps(quality))
    (root / "pose-3d" / "b.quality.json").write_text(json.dumps(quality))
    result = angles(root)
    table = pd.read_csv(root / "angles" / "a.csv")
    assert "left_ankle" not in table.columns and "left_knee" in table.columns
    assert "b: no angle to compute" in result.output and "define [angles] in" in result.output
    assert "angles: 1 done, 0 skipped, 1 failed" in result.output
