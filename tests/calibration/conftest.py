"""Fixtures: the committed example project's calibration videos, calibrated once."""

from __future__ import annotations

from pathlib import Path

import pytest

from posekit.calibration.board import Board
from posekit.calibration.calibrate import Calibration, calibrate
from posekit.calibration.detect import CameraDetections, detect_all
from posekit.config import load_config
from posekit.project.layout import Project
from posekit.project.steps import CalibrationSet

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"


@pytest.fixture(scope="session")
def example_detections() -> tuple[Board, dict[str, CameraDetections]]:
    cfg = load_config([EXAMPLE / "config.toml"]).calibration
    board = Board.from_config(cfg)
    cs = CalibrationSet(Project.open(EXAMPLE), EXAMPLE)
    return board, detect_all(cs.videos(), board, progress=False)


@pytest.fixture(scope="session")
def example_calibration(example_detections: tuple[Board, dict[str, CameraDetections]]
                        ) -> Calibration:
    board, detections = example_detections
    cfg = load_config([EXAMPLE / "config.toml"]).calibration
    return calibrate(detections, board, cfg)
