"""Rendered ChArUco frames: geometry, ground truth against OpenCV's detector, videos."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from posekit.camera.model import Camera, CameraGroup
from posekit.io.video import iter_frames, probe_video
from posekit.synthetic.charuco import (
    BoardSpec,
    CalibrationTruth,
    board_texture,
    board_to_world,
    board_trajectory,
    project_corners,
    render_calibration_videos,
    render_frame,
    view_cosines,
)
from posekit.synthetic.rig import look_at, make_rig

log = logging.getLogger(__name__)
SUBPIX_CRITERIA = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 100, 1e-4)


@pytest.fixture(scope="module")
def rig() -> CameraGroup:
    return make_rig(3, seed=0)


@pytest.fixture(scope="module")
def motion() -> tuple[np.ndarray, np.ndarray]:
    return board_trajectory(120, seed=0)


def detect(image: np.ndarray, board: BoardSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grey image, ChArUco corners (n, 2) and ids (n,) from OpenCV's CharucoDetector."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    corners, ids, _, _ = cv2.aruco.CharucoDetector(board.make_board()).detectBoard(gray)
    if ids is None:
        return gray, np.zeros((0, 2)), np.zeros(0, dtype=int)
    return gray, corners.reshape(-1, 2).astype(np.float64), ids.ravel()


def refine(gray: np.ndarray, corners: np.ndarray) -> np.ndarray:
    pts = corners.astype(np.float32).reshape(-1, 1, 2)
    cv2.cornerSubPix(gray, pts, (3, 3), (-1, -1), SUBPIX_CRITERIA)
    return pts.reshape(-1, 2).astype(np.float64)


def frontal_pose(camera: Camera, board: BoardSpec, distance: float) -> tuple[np.ndarray, ...]:
    """Board pose (rvec, tvec) square to ``camera``'s axis, centred ``distance`` m ahead."""
    rot = camera.rotation.T  # board axes = camera axes
    centre = camera.center + distance * rot[:, 2]
    tvec = centre - rot @ np.array([board.size[0] / 2, board.size[1] / 2, 0.0])
    return cv2.Rodrigues(rot)[0].ravel(), tvec


# -- board -------------------------------------------------------------------------------
@pytest.mark.parametrize("legacy", [False, True])
def test_corner_points_match_opencv(legacy: bool) -> None:
    board = BoardSpec(squares_x=6, squares_y=8, legacy=legacy)
    ours = board.corner_points_3d()
    theirs = board.make_board().getChessboardCorners()
    assert ours.shape == (board.n_corners, 3) == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert board.dictionary_id() == cv2.aruco.DICT_4X4_50
    assert BoardSpec(marker_bits=5, dict_size=100).dictionary_id() == cv2.aruco.DICT_5X5_100


def test_board_spec_validation() -> None:
    with pytest.raises(ValueError):
        BoardSpec(marker_bits=3)
    with pytest.raises(ValueError):
        BoardSpec(marker_length=0.2, square_length=0.1)
    with pytest.raises(ValueError):
        BoardSpec(squares_x=12, squares_y=12, dict_size=50)


def test_texture_geometry() -> None:
    board = BoardSpec()
    tex = board_texture(board)
    ppm = tex.texels_per_m
    # (u, v) in squares: black squares, the margin, the white gap above marker 0
    probes = ((0.5, 0.5, 0.0, 5), (1.5, 1.5, 0.0, 5), (2.5, -0.1, 1.0, 3), (1.5, 0.08, 1.0, 2))
    for level, img in enumerate(tex.levels):
        scale = ppm / 2**level
        for u, v, expected, max_level in probes:
            col = (u * board.square_length + tex.margin) * scale - 0.5
            row = (v * board.square_length + tex.margin) * scale - 0.5
            if level <= max_level:
                assert img[round(row), round(col), 0] == pytest.approx(expected)
        assert np.all(img[..., 1] == 1.0)
    # square edges fall on texel boundaries at level 0
    edge = round((board.square_length + tex.margin) * ppm)
    row = round((0.5 * board.square_length + tex.margin) * ppm)
    assert tex.levels[0][row, edge - 1, 0] == 0.0 and tex.levels[0][row, edge, 0] == 1.0


# -- trajectory and truth ------------------------------------------------------------------
def test_trajectory_is_smooth_bounded_and_varied(rig: CameraGroup) -> None:
    board = BoardSpec()
    rvecs, tvecs = board_trajectory(300, seed=3)
    again = board_trajectory(300, seed=3)
    np.testing.assert_array_equal(rvecs, again[0])
    np.testing.assert_array_equal(tvecs, again[1])
    centre = board_to_world(board, rvecs, tvecs).mean(axis=1)
    assert np.abs(centre[:, :2]).max() <= 1.5
    assert centre[:, 2].min() >= 0.4 and centre[:, 2].max() <= 2.0
    assert board_to_world(board, rvecs, tvecs)[..., 2].min() > 0.0  # above the floor
    assert np.linalg.norm(np.diff(centre, axis=0), axis=1).max() < 0.1
    cosines = np.stack([view_cosines(cam, board, rvecs, tvecs) for cam in rig])
    assert np.all((cosines > 0.8).any(axis=1))  # every camera gets frontal views
    assert np.all((cosines < 0).any(axis=1))  # and sees the back at times
    assert np.all(((cosines > 0) & (cosines < 0.4)).any(axis=1))  # and steep views
    facing = (cosines > 0.5).sum(axis=0)
    assert facing.min() < facing.max()  # the set of cameras facing the board changes


def test_truth_is_nan_where_not_visible(rig: CameraGroup, motion: tuple) -> None:
    board, cam = BoardSpec(), rig[0]
    rvecs, tvecs = motion
    truth = project_corners(cam, board, rvecs, tvecs)
    assert truth.shape == (len(rvecs), board.n_corners, 2)
    cosines = view_cosines(cam, board, rvecs, tvecs)
    assert np.all(np.isnan(truth[cosines < 0]))
    shown = np.isfinite(truth[..., 0])
    expected = cam.project(board_to_world(board, rvecs, tvecs))
    np.testing.assert_allclose(truth[shown], expected[shown])
    width, height = cam.size
    assert np.all((truth[shown] >= -0.5) & (truth[shown] <= [width - 0.5, height - 0.5]))
    # a board behind the camera is invisible, and the frame is the bare background
    rvec, tvec = frontal_pose(cam, board, -2.0)
    assert np.all(np.isnan(project_corners(cam, board, rvec[None], tvec[None])))
    empty = render_frame(cam, board, (rvec, tvec))
    far = render_frame(cam, board, (rvec, tvec + 1000.0))
    np.testing.assert_array_equal(empty, far)


# -- rendering -----------------------------------------------------------------------------
def test_pixel_rays_invert_the_lens_model(rig: CameraGroup) -> None:
    from posekit.synthetic.charuco import _camera_data

    for cam in rig:
        rays = _camera_data(cam).rays.astype(np.float64)
        width, height = cam.size
        grid = np.stack(np.meshgrid(np.arange(-1.0, width + 1), np.arange(-1.0, height + 1)),
                        axis=-1)
        assert np.abs(cam.distort_normalized(rays) - grid).max() < 1e-3


def test_detected_corners_match_truth(rig: CameraGroup, motion: tuple) -> None:
    """Sharp, well-lit frames: detections after cornerSubPix lie within 0.5 px of truth."""
    board = BoardSpec()
    rvecs, tvecs = motion
    raw, refined, frames = [], [], 0
    for cam in rig:
        truth = project_corners(cam, board, rvecs, tvecs)
        cosines = view_cosines(cam, board, rvecs, tvecs)
        good = np.flatnonzero((cosines > 0.7) & np.isfinite(truth[..., 0]).all(axis=1))
        assert len(good) >= 8, cam.name
        for f in good[:: len(good) // 4][:4]:
            gray, corners, ids = detect(render_frame(cam, board, (rvecs[f], tvecs[f])), board)
            assert len(ids) >= 0.9 * board.n_corners, (cam.name, f)
            raw.append(corners - truth[f, ids])
            refined.append(refine(gray, corners) - truth[f, ids])
            frames += 1
    raw_err, err = np.concatenate(raw), np.concatenate(refined)
    dist = np.hypot(*err.T)
    log.info("%d frames, %d corners; CharucoDetector bias %s; after cornerSubPix: median "
             "%.3f px, max %.3f px, bias %s", frames, len(dist), raw_err.mean(0),
             np.median(dist), dist.max(), err.mean(0))
    assert dist.max() < 0.5
    assert np.median(dist) < 0.1
    assert np.all(np.abs(err.mean(0)) < 0.05)
    # OpenCV 4.7-4.12 shift CharucoDetector corners by +0.5 px (opencv/opencv#25539)
    bias = raw_err.mean(0)
    assert np.all(np.abs(bias - 0.5) < 0.1) or np.all(np.abs(bias) < 0.1)
    assert np.hypot(*(raw_err - bias).T).max() < 0.5


def test_blurred_noisy_frames_still_detect(rig: CameraGroup, motion: tuple) -> None:
    board, cam = BoardSpec(), rig[1]
    rvecs, tvecs = motion
    truth = project_corners(cam, board, rvecs, tvecs)
    f = int(np.argmax(view_cosines(cam, board, rvecs, tvecs)))
    image = render_frame(cam, board, (rvecs[f], tvecs[f]), blur_sigma=0.8, noise_sigma=2.0,
                         seed=1)
    gray, corners, ids = detect(image, board)
    assert len(ids) >= 0.9 * np.isfinite(truth[f, :, 0]).sum()
    assert np.hypot(*(refine(gray, corners) - truth[f, ids]).T).max() < 0.5


@pytest.mark.parametrize("legacy", [False, True])
def test_legacy_layout_needs_legacy_detector(rig: CameraGroup, legacy: bool) -> None:
    board = BoardSpec(squares_x=6, squares_y=8, square_length=0.08, marker_length=0.06,
                      legacy=legacy)
    other = BoardSpec(squares_x=6, squares_y=8, square_length=0.08, marker_length=0.06,
                      legacy=not legacy)
    cam = rig[0]
    rvec, tvec = frontal_pose(cam, board, 3.0)
    image = render_frame(cam, board, (rvec, tvec))
    gray, corners, ids = detect(image, board)
    assert len(ids) == board.n_corners
    truth = project_corners(cam, board, rvec[None], tvec[None])[0]
    assert np.hypot(*(refine(gray, corners) - truth[ids]).T).max() < 0.2
    assert len(detect(image, other)[2]) == 0


def test_board_cut_by_the_image_edge(rig: CameraGroup) -> None:
    board, cam = BoardSpec(), rig[1]
    rvec, tvec = frontal_pose(cam, board, 2.5)
    width = cam.size[0]
    shift = 2.5 * (width - 1 - cam.matrix[0, 2]) / cam.matrix[0, 0]  # centre onto the edge
    tvec = tvec + shift * cam.rotation[0]
    truth = project_corners(cam, board, rvec[None], tvec[None])[0]
    shown = np.isfinite(truth[:, 0])
    assert 0 < shown.sum() < board.n_corners
    gray, corners, ids = detect(render_frame(cam, board, (rvec, tvec)), board)
    assert len(ids) >= shown.sum() // 2 and np.all(shown[ids])
    assert np.hypot(*(refine(gray, corners) - truth[ids]).T).max() < 0.5


def test_back_of_board_is_blank(rig: CameraGroup) -> None:
    board, cam = BoardSpec(), rig[0]
    rvec, tvec = frontal_pose(cam, board, 3.0)
    flip = cv2.Rodrigues(rvec)[0] @ np.diag([-1.0, 1.0, -1.0])  # turn about the y axis
    tvec = tvec + cv2.Rodrigues(rvec)[0] @ np.array([board.size[0], 0.0, 0.0])
    rvec = cv2.Rodrigues(flip)[0].ravel()
    assert view_cosines(cam, board, rvec[None], tvec[None])[0] < -0.9
    image = render_frame(cam, board, (rvec, tvec))
    assert len(detect(image, board)[2]) == 0
    centre = np.round(cam.project(board_to_world(board, rvec[None], tvec[None])[0].mean(0)))
    col, row = centre.astype(int)
    patch = image[row - 40:row + 40, col - 40:col + 40].astype(float)
    assert patch.std() < 1.0 and 60 < patch.mean() < 200


def test_rendering_is_deterministic(rig: CameraGroup, motion: tuple) -> None:
    cam, board = rig[1], BoardSpec()
    rvecs, tvecs = motion
    f = int(np.argmax(view_cosines(cam, board, rvecs, tvecs)))
    kwargs = {"blur_sigma": 0.6, "noise_sigma": 1.5}
    first = render_frame(cam, board, (rvecs[f], tvecs[f]), seed=[7, 1, f], **kwargs)
    second = render_frame(cam, board, (rvecs[f], tvecs[f]), seed=[7, 1, f], **kwargs)
    other = render_frame(cam, board, (rvecs[f], tvecs[f]), seed=[8, 1, f], **kwargs)
    assert first.dtype == np.uint8 and first.shape == (cam.size[1], cam.size[0], 3)
    np.testing.assert_array_equal(first, second)
    assert np.any(first != other)
    noise = first.astype(float) - render_frame(cam, board, (rvecs[f], tvecs[f]),
                                               blur_sigma=0.6).astype(float)
    assert abs(noise.mean()) < 0.05 and 1.3 < noise.std() < 1.7


def test_motion_blur_smears_the_board(rig: CameraGroup, motion: tuple) -> None:
    cam, board = rig[1], BoardSpec()
    rvecs, tvecs = motion
    f = int(np.argmax(view_cosines(cam, board, rvecs, tvecs)))
    sharp = render_frame(cam, board, (rvecs[f], tvecs[f]))
    steps = np.linspace(-0.5, 0.5, 5)[:, None]
    drift = tvecs[f] + steps * np.array([0.03, 0.0, 0.0])  # 3 cm during the exposure
    blurred = render_frame(cam, board, (np.repeat(rvecs[f][None], 5, 0), drift))
    corners = project_corners(cam, board, rvecs[f:f + 1], tvecs[f:f + 1])[0]
    (c0, r0), (c1, r1) = np.nanmin(corners, 0).astype(int), np.nanmax(corners, 0).astype(int)
    energy = [np.square(np.diff(img[r0:r1, c0:c1].astype(float), axis=1)).sum()
              for img in (sharp, blurred)]  # horizontal gradient energy drops when smeared
    assert energy[1] < 0.5 * energy[0]


# -- videos --------------------------------------------------------------------------------
def test_render_calibration_videos(tmp_path) -> None:
    group = make_rig(2, seed=1, sizes=((320, 240), (480, 270)))
    board = BoardSpec()
    paths, truth = render_calibration_videos(group, board, tmp_path, n_frames=6, fps=25.0,
                                             seed=2, shutter=0.5, motion_samples=3,
                                             trajectory={"turns": 2.0})
    assert [p.name for p in paths] == ["cam1.mp4", "cam2.mp4"]
    for path, cam in zip(paths, group, strict=True):
        info = probe_video(path)
        assert (info.width, info.height) == cam.size
        assert info.n_frames == 6 and info.fps == pytest.approx(25.0)
        assert sum(1 for _ in iter_frames(path)) == 6
    assert not list(tmp_path.glob(".*partial*"))
    assert truth.corners_2d.shape == (2, 6, board.n_corners, 2)
    assert truth.corners_3d.shape == (6, board.n_corners, 3)
    loaded = CalibrationTruth.load(tmp_path / "charuco_truth.npz")
    assert loaded.board == board and loaded.camera_names == ("cam1", "cam2")
    assert loaded.fps == 25.0
    for name in ("corners_2d", "corners_3d", "rvecs", "tvecs", "view_cos"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(truth, name))
    rvecs, tvecs = board_trajectory(6, seed=2, board=board, turns=2.0)
    np.testing.assert_array_equal(truth.rvecs, rvecs)
    np.testing.assert_allclose(truth.corners_2d[1], project_corners(group[1], board,
                                                                    rvecs, tvecs))


def test_frontal_pose_helper_faces_the_camera() -> None:
    """The helper pose used above faces the camera squarely."""
    rvec, tvec = look_at([0.0, -4.0, 1.5], [0.0, 0.0, 1.0])
    cam = Camera("c", (640, 480), np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]]),
                 rvec=rvec, tvec=tvec)
    board = BoardSpec()
    b_rvec, b_tvec = frontal_pose(cam, board, 2.0)
    assert view_cosines(cam, board, b_rvec[None], b_tvec[None])[0] > 0.99
