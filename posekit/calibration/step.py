"""The ``calibrate`` pipeline step: one calibration folder → calibration.toml + report."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from posekit.calibration.board import Board
from posekit.calibration.calibrate import calibrate
from posekit.calibration.detect import CameraDetections, detect_all, sample_frames
from posekit.calibration.report import write_report
from posekit.camera.toml_io import save_calibration
from posekit.errors import CalibrationError, ProjectError
from posekit.project.steps import CalibrationSet

log = logging.getLogger(__name__)
DIAGNOSIS_FRAMES = 15


def check_boards(detections: dict[str, CameraDetections], board: Board, min_corners: int,
                 min_boards: int) -> None:
    """Raise a :class:`CalibrationError` that diagnoses every camera with too few views."""
    from posekit.calibration.diagnose import diagnose

    messages = []
    for name, det in detections.items():
        n = len(det.boards(min_corners))
        if n >= min_boards:
            continue
        log.info("%s: only %d views of the board; diagnosing on %d frames", name, n,
                 DIAGNOSIS_FRAMES)
        result = diagnose(board, sample_frames(det.source, DIAGNOSIS_FRAMES))
        messages.append(f"{name} ({det.source.name}): board found in {n} of {det.n_frames} "
                        f"frames (need {min_boards}). {result.message}")
    if messages:
        raise CalibrationError(f"board not found often enough with {board.describe()}:\n  "
                               + "\n  ".join(messages))


def run(cs: CalibrationSet, overwrite: bool = False) -> Path:
    """Calibrate the cameras of one calibration folder; returns the calibration.toml path."""
    start = time.perf_counter()
    cfg = cs.config.calibration
    sources = cs.videos()
    if len(sources) < 2:
        found = ", ".join(f"{k}: {v.name}" for k, v in sources.items()) or "nothing"
        raise ProjectError(
            f"{cs.folder}: found {found}; calibration needs a recording per camera from at "
            f"least two cameras (videos named to match cam_regex "
            f"{cs.config.triangulation.cam_regex!r}, or one sub-folder of images per camera)")
    board = Board.from_config(cfg)
    log.info("%s: %d cameras, %s", cs.key, len(sources), board.describe())
    detections = detect_all(sources, board, jobs=cs.config.compute.jobs)
    check_boards(detections, board, cfg.min_board_corners, cfg.min_boards)
    calib = calibrate(detections, board, cfg)
    save_calibration(calib.group, cs.output)
    write_report(calib, detections, cs.output.parent, time.perf_counter() - start)
    for name, q in calib.quality.items():
        log.info("%s: reprojection median %.3f px (p95 %.3f) over %d views", name,
                 q.median_px, q.p95_px, q.bundle_views)
    return cs.output
