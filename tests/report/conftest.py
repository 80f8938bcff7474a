"""A copy of the synthetic example project with every output the report reads.

Detection is replaced by the ground truth's own 2D points (with 0.5 px noise) and the
calibration by the ground-truth one, so the fixture needs no detector and no calibration
run; sync, triangulation and angles run for real (a few seconds).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from posekit.camera.model import CameraGroup
from posekit.camera.toml_io import load_calibration, save_calibration
from posekit.pose2d.table import Pose2D, write_pose2d
from posekit.project.layout import Project, Trial
from posekit.project.steps import pose_2d_path

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"


def _build(root: Path) -> Trial:
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("calib-*"))
    truth = np.load(root / "ground-truth" / "session1" / "squat.npz")
    names = [str(n) for n in truth["camera_names"]]
    gt = load_calibration(root / "ground-truth" / "calibration.toml")
    group = CameraGroup([dataclasses.replace(cam, name=name)
                         for cam, name in zip(gt, names, strict=True)])
    save_calibration(group, root / "calibration" / "calibration.toml")
    trial = Project.open(root).trials()[0]
    rng = np.random.default_rng(0)
    keypoints = tuple(str(k) for k in truth["keypoints"])
    for c, cam in enumerate(names):
        xy = truth["points2d"][c] + rng.normal(0, 0.5, truth["points2d"][c].shape)
        pose = Pose2D(keypoints, xy, np.full(xy.shape[:2], 0.9), metadata={"fps": 30.0})
        write_pose2d(pose, pose_2d_path(trial, cam))
    from posekit.angles.step import run as angles
    from posekit.sync.step import run as sync
    from posekit.triangulation.step import run as triangulate

    for step in (sync, triangulate, angles):
        step(trial)
    return Project.open(root).trials()[0]


@pytest.fixture(scope="session")
def example_trial(tmp_path_factory: pytest.TempPathFactory) -> Trial:
    """The example project's one trial (``session1/squat``) with 2D, sync, 3D and angles."""
    return _build(tmp_path_factory.mktemp("report") / "example")


@pytest.fixture(scope="session")
def calibrated_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project's config and calibration recordings only (no trial yet),
    calibrated by ``posekit calibrate`` (about 10 s): a calibration with its report."""
    from click.testing import CliRunner

    from posekit.cli.main import cli

    root = tmp_path_factory.mktemp("calibrated") / "study"
    root.mkdir()
    shutil.copy(EXAMPLE / "config.toml", root / "config.toml")
    shutil.copytree(EXAMPLE / "calibration", root / "calibration")
    res = CliRunner().invoke(cli, ["-q", "calibrate", "-p", str(root)])
    assert res.exit_code == 0, res.output
    return root
