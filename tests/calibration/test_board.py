"""Board geometry, validation, and corner accuracy pinned to rendered ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.calibration.board import Board
from posekit.config.schema import CalibrationConfig
from posekit.errors import ConfigError
from posekit.synthetic.charuco import (
    BoardSpec,
    board_trajectory,
    project_corners,
    render_frame,
    view_cosines,
)
from posekit.synthetic.rig import make_rig


def test_object_points_match_opencv_board() -> None:
    board = Board(size=(5, 7), square_length=0.12, marker_length=0.08, units="m")
    np.testing.assert_allclose(board.object_points(), BoardSpec().corner_points_3d())
    cv_corners = board.cv_board.getChessboardCorners()
    np.testing.assert_allclose(board.object_points(), cv_corners, atol=1e-6)
    assert len(board.neighbour_pairs()) == 4 * 5 + 3 * 6


def test_from_config_uses_anipose_keys() -> None:
    cfg = CalibrationConfig(board_size=(8, 11), board_square_side_length=24,
                            board_marker_length=18.75, board_marker_dict_number=1000)
    board = Board.from_config(cfg)
    assert board.size == (8, 11) and board.n_corners == 70
    assert board.dictionary_name == "DICT_4X4_1000"
    assert "8 x 11 squares" in board.describe()
    checker = Board(kind="checkerboard", size=(4, 7), square_length=60)
    assert checker.n_corners == 28 and checker.object_points()[1, 0] == 60


@pytest.mark.parametrize(("changes", "key"), [
    ({"marker_length": 30.0}, "board_marker_length"),
    ({"dict_size": 60}, "board_marker_dict_number"),
    ({"size": (20, 20)}, "markers, more than"),
    ({"size": (1, 5)}, "board_size"),
    ({"units": "feet"}, "units"),
])
def test_invalid_boards_name_the_key(changes: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        Board().replace(**changes)


def test_corners_are_pinned_to_ground_truth() -> None:
    """posekit's corners on sharp rendered frames: no bias (< 0.05 px), median < 0.1 px,
    whatever OpenCV's CharucoDetector does (4.7-4.11 shift corners by +0.5 px)."""
    spec = BoardSpec()
    board = Board(size=(5, 7), square_length=0.12, marker_length=0.08, units="m")
    detector = board.detector()
    rvecs, tvecs = board_trajectory(120, seed=3, board=spec)
    errors = []
    for cam in make_rig(3, seed=1):
        truth = project_corners(cam, spec, rvecs, tvecs)
        good = np.flatnonzero(view_cosines(cam, spec, rvecs, tvecs) > 0.6)
        for f in good[:: max(1, len(good) // 5)][:5]:
            found = detector.detect(render_frame(cam, spec, (rvecs[f], tvecs[f])))
            assert len(found) > 0
            errors.append(found.corners - truth[f, found.ids])
    err = np.concatenate(errors)
    dist = np.hypot(*err.T)
    assert len(dist) > 150
    assert np.all(np.abs(err.mean(axis=0)) < 0.05), err.mean(axis=0)
    assert np.median(dist) < 0.1 and dist.max() < 0.5


def test_inverted_board_is_found_only_when_configured() -> None:
    board = Board(size=(5, 7), square_length=0.12, marker_length=0.08, units="m")
    image = board.draw(60, margin_px=40)
    assert len(board.detector().detect(image)) == board.n_corners
    inverted = 255 - image
    assert len(board.detector().detect(inverted)) < board.n_corners
    assert len(board.replace(inverted=True).detector().detect(inverted)) == board.n_corners
