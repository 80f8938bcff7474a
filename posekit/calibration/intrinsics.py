"""Per-camera intrinsics from board detections.

Frames are chosen to cover the image and the range of board tilts (a greedy set cover
over image cells x tilt bins), steep views are left out (corner localisation degrades
there), and the fit runs twice: once on a coverage sample to get the lens, then on frames
re-chosen with known board poses, dropping corners that do not fit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from posekit.calibration.board import Board
from posekit.calibration.detect import CameraDetections
from posekit.camera.model import Camera
from posekit.errors import CalibrationError

log = logging.getLogger(__name__)
FloatArray = NDArray[np.float64]

#: distortion models: name → OpenCV flags (pinhole)
DISTORTION_FLAGS: dict[str, int] = {
    "full": 0,  # k1 k2 p1 p2 k3
    "k1k2p1p2": cv2.CALIB_FIX_K3,
    "k1k2": cv2.CALIB_FIX_K3 | cv2.CALIB_ZERO_TANGENT_DIST,
    "k1": cv2.CALIB_FIX_K2 | cv2.CALIB_FIX_K3 | cv2.CALIB_ZERO_TANGENT_DIST,
    "none": cv2.CALIB_FIX_K1 | cv2.CALIB_FIX_K2 | cv2.CALIB_FIX_K3
    | cv2.CALIB_ZERO_TANGENT_DIST,
}
#: which of (k1, k2, p1, p2, k3) each model estimates
DISTORTION_FREE: dict[str, tuple[bool, ...]] = {
    "full": (True,) * 5,
    "k1k2p1p2": (True, True, True, True, False),
    "k1k2": (True, True, False, False, False),
    "k1": (True, False, False, False, False),
    "none": (False,) * 5,
}
_CRITERIA = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 100, 1e-12)
#: image cells (columns, rows) for coverage
GRID = (8, 6)
_TILT_BINS = 4


@dataclass
class BoardPoses:
    """Board → camera poses of one camera's frames (NaN where not estimated)."""

    rvecs: FloatArray  # (n_frames, 3)
    tvecs: FloatArray  # (n_frames, 3)
    view_cos: FloatArray  # (n_frames,) cosine between board normal and viewing ray
    error: FloatArray  # (n_frames,) median reprojection error, px


@dataclass
class Intrinsics:
    camera: Camera  # intrinsics only (extrinsics zero)
    frames: NDArray[np.int64]  # frames used
    rms: float  # px


def _points(board: Board, det: CameraDetections, frames: NDArray[np.int64]
            ) -> tuple[list[NDArray[np.float32]], list[NDArray[np.float32]]]:
    obj = board.object_points()
    objects, images = [], []
    for f in frames:
        ok = np.isfinite(det.corners[f, :, 0])
        objects.append(obj[ok].astype(np.float32))
        images.append(det.corners[f, ok].astype(np.float32).reshape(-1, 1, 2))
    return objects, images


def cell_index(xy: FloatArray, size: tuple[int, int]) -> NDArray[np.int64]:
    """The cell of the image's :data:`GRID` (row by row from the top left) that each pixel
    position of ``xy`` (..., 2) in an image of ``size`` (width, height) falls in; positions
    outside the image count in the nearest cell, NaN ones in cell 0 (mask them)."""
    w, h = size
    with np.errstate(invalid="ignore"):
        cx = np.clip(np.nan_to_num(xy[..., 0] / w * GRID[0]).astype(int), 0, GRID[0] - 1)
        cy = np.clip(np.nan_to_num(xy[..., 1] / h * GRID[1]).astype(int), 0, GRID[1] - 1)
    return cy * GRID[0] + cx


def _cells(det: CameraDetections, frames: NDArray[np.int64]) -> list[set[int]]:
    """Image cells each frame's corners fall in."""
    out = []
    for f in frames:
        pts = det.corners[f][np.isfinite(det.corners[f, :, 0])]
        out.append(set(cell_index(pts, det.size).tolist()))
    return out


def covered_cells(det: CameraDetections, frames: NDArray[np.int64]) -> tuple[int, ...]:
    """Cells of the image's 8 x 6 grid (row by row from the top left) that hold a corner of
    one of ``frames``, in order. Beyond them the lens model is extrapolated."""
    return tuple(sorted(set().union(*_cells(det, frames)))) if len(frames) else ()


def outside_cells(cells: tuple[int, ...], size: tuple[int, int], xy: FloatArray
                  ) -> NDArray[np.bool_]:
    """Whether each pixel position of ``xy`` (..., 2) in an image of ``size`` (width,
    height) falls in a cell of its 8 x 6 grid that is not one of ``cells``; False for NaN."""
    return np.isfinite(xy).all(axis=-1) & ~np.isin(cell_index(xy, size), cells)


def missed_edges(cells: tuple[int, ...]) -> list[str]:
    """The image edges (top, bottom, left, right) whose cells hold none of ``cells``."""
    cols, rows = GRID
    sides = {"top": range(cols), "bottom": range((rows - 1) * cols, rows * cols),
             "left": range(0, rows * cols, cols), "right": range(cols - 1, rows * cols, cols)}
    return [name for name, edge in sides.items() if not set(edge) & set(cells)]


def select_frames(det: CameraDetections, frames: NDArray[np.int64], limit: int,
                  tilt: FloatArray | None = None) -> NDArray[np.int64]:
    """Greedy cover of (image cell, tilt bin) pairs, then even fill up to ``limit``."""
    if len(frames) <= limit:
        return frames
    cells = _cells(det, frames)
    bins = (np.zeros(len(frames), int) if tilt is None
            else np.clip((tilt * _TILT_BINS).astype(int), 0, _TILT_BINS - 1))
    keys = [{c * _TILT_BINS + int(b) for c in cs} for cs, b in zip(cells, bins, strict=True)]
    chosen: list[int] = []
    covered: set[int] = set()
    gains = np.array([len(k) for k in keys], float)
    while len(chosen) < limit and gains.max() > 0:
        best = int(np.argmax(gains))  # first of equal gains: deterministic
        chosen.append(best)
        covered |= keys[best]
        gains = np.array([len(k - covered) if i not in chosen else -1.0
                          for i, k in enumerate(keys)])
    rest = [i for i in range(len(frames)) if i not in chosen]
    extra = limit - len(chosen)
    if extra > 0 and rest:
        chosen += [rest[i] for i in np.linspace(0, len(rest) - 1, min(extra, len(rest))
                                                ).round().astype(int)]
    return np.sort(frames[np.unique(chosen)])


def board_poses(camera: Camera, board: Board, det: CameraDetections, min_corners: int
                ) -> BoardPoses:
    """Board → camera pose per frame by PnP (IPPE, planar), with view angle and error."""
    n = det.n_frames
    rvecs, tvecs = np.full((n, 3), np.nan), np.full((n, 3), np.nan)
    cosines, errors = np.full(n, np.nan), np.full(n, np.nan)
    obj = board.object_points()
    centre = obj.mean(axis=0)
    for f in det.boards(min_corners):
        ok = np.isfinite(det.corners[f, :, 0])
        img = det.corners[f, ok]
        if camera.fisheye:
            und = cv2.fisheye.undistortPoints(img.reshape(-1, 1, 2), camera.matrix, camera.dist)
            kmat, dist = np.eye(3), np.zeros(5)
            pix = und.reshape(-1, 2)
        else:
            kmat, dist, pix = camera.matrix, camera.dist, img
        good, rvec, tvec = cv2.solvePnP(obj[ok], pix.reshape(-1, 1, 2), kmat, dist,
                                        flags=cv2.SOLVEPNP_IPPE)
        if not good:
            continue
        rvec, tvec = cv2.solvePnPRefineLM(obj[ok], pix.reshape(-1, 1, 2), kmat, dist,
                                          rvec, tvec)
        rot = cv2.Rodrigues(rvec)[0]
        ray = rot @ centre + tvec.ravel()
        cosines[f] = abs(rot[:, 2] @ ray) / np.linalg.norm(ray)
        proj = cv2.projectPoints(obj[ok], rvec, tvec, kmat, dist)[0].reshape(-1, 2)
        errors[f] = np.median(np.hypot(*(proj - pix).T)) * (camera.matrix[0, 0]
                                                             if camera.fisheye else 1.0)
        rvecs[f], tvecs[f] = rvec.ravel(), tvec.ravel()
    return BoardPoses(rvecs, tvecs, cosines, errors)


def _initial_matrix(board: Board, det: CameraDetections, frames: NDArray[np.int64]
                    ) -> FloatArray:
    objects, images = _points(board, det, frames)
    try:
        return np.asarray(cv2.initCameraMatrix2D(objects, images, det.size), np.float64)
    except cv2.error:
        w, h = det.size
        return np.array([[w, 0, (w - 1) / 2], [0, w, (h - 1) / 2], [0, 0, 1]], float)


def _fit(board: Board, det: CameraDetections, frames: NDArray[np.int64], matrix: FloatArray,
         dist: FloatArray, model: str, fisheye: bool) -> tuple[float, FloatArray, FloatArray]:
    objects, images = _points(board, det, frames)
    if fisheye:
        flags = (cv2.fisheye.CALIB_RECOMPUTE_EXTRINSIC | cv2.fisheye.CALIB_FIX_SKEW
                 | cv2.fisheye.CALIB_USE_INTRINSIC_GUESS)
        rms, mat, dist4, _, _ = cv2.fisheye.calibrate(
            [o.reshape(-1, 1, 3).astype(np.float64) for o in objects],
            [i.astype(np.float64) for i in images], det.size, matrix.copy(),
            np.asarray(dist[:4], np.float64).reshape(4, 1), flags=flags, criteria=_CRITERIA)
        return float(rms), np.asarray(mat, float), np.asarray(dist4, float).ravel()
    flags = DISTORTION_FLAGS[model] | cv2.CALIB_USE_INTRINSIC_GUESS
    rms, mat, dist5, _, _ = cv2.calibrateCamera(objects, images, det.size, matrix.copy(),
                                                dist.copy(), flags=flags, criteria=_CRITERIA)
    return float(rms), np.asarray(mat, float), np.asarray(dist5, float).ravel()[:5]


def _without_outlier_corners(camera: Camera, board: Board, det: CameraDetections,
                             poses: BoardPoses) -> CameraDetections:
    """A copy of ``det`` without corners that the first lens fit reprojects far off
    (more than max(1 px, 5 x the median error)): mis-detected corners."""
    if camera.fisheye:
        return det
    obj = board.object_points()
    errors = np.full(det.corners.shape[:2], np.nan)
    for f in np.flatnonzero(np.isfinite(poses.rvecs[:, 0])):
        proj = cv2.projectPoints(obj, poses.rvecs[f], poses.tvecs[f], camera.matrix,
                                 camera.dist)[0].reshape(-1, 2)
        errors[f] = np.hypot(*(proj - det.corners[f]).T)
    if not np.isfinite(errors).any():
        return det
    # a mis-detected corner stands out within its own frame; a frame that the first,
    # rough lens fits poorly (near the image edges) keeps its corners
    rows = np.isfinite(errors).any(axis=1)
    frame_median = np.full((len(errors), 1), np.nan)
    frame_median[rows, 0] = np.nanmedian(errors[rows], axis=1)
    limit = np.maximum(1.0, 5 * np.maximum(frame_median, float(np.nanmedian(errors))))
    bad = np.isfinite(errors) & (errors > limit)
    if not bad.any():
        return det
    log.info("%s: %d corners far off their frame's fit after the first lens fit are left out",
             det.camera, int(bad.sum()))
    corners = det.corners.copy()
    corners[bad] = np.nan
    return CameraDetections(det.camera, det.source, det.size, corners, det.n_markers)


def calibrate_intrinsics(board: Board, det: CameraDetections, *, model: str = "full",
                         fisheye: bool = False, max_frames: int = 60, min_corners: int = 6,
                         min_view_cos: float = 0.5) -> Intrinsics:
    """Intrinsics of one camera from its detections (errors name the camera)."""
    name = det.camera
    frames = det.boards(max(min_corners, 6))
    if len(frames) < 5:
        raise CalibrationError(
            f"camera {name}: the board was found in only {len(frames)} frame(s) of "
            f"{det.source} (need at least 5 with >= {max(min_corners, 6)} corners)")
    sample = select_frames(det, frames, min(max_frames, 40))
    matrix = _initial_matrix(board, det, sample)
    n_dist = 4 if fisheye else 5
    dist = np.zeros(n_dist)
    # pass 1: a coverage sample, radial model, to learn the lens
    rms1, matrix, dist = _fit(board, det, sample, matrix, dist,
                              "k1k2" if model != "none" else "none", fisheye)
    cam = Camera(name, det.size, matrix, dist, fisheye=fisheye)
    poses = board_poses(cam, board, det, max(min_corners, 6))
    det = _without_outlier_corners(cam, board, det, poses)
    frames = frames[det.counts[frames] >= max(min_corners, 6)]
    rms_px = float(np.nanmedian(poses.error))
    usable = frames[(poses.view_cos[frames] >= min_view_cos)
                    & (poses.error[frames] <= max(3 * rms_px, 1.0))]
    if len(usable) < 5:
        usable = frames
    # pass 2: re-chosen to cover cells x tilts, the full model
    tilt = np.degrees(np.arccos(np.clip(poses.view_cos[usable], 0, 1))) / 60.0
    chosen = select_frames(det, usable, max_frames, tilt)
    rms, matrix2, dist2 = _fit(board, det, chosen, matrix, dist, model, fisheye)
    if rms > 1.05 * rms1 and set(chosen) <= set(sample):
        # more freedom fitted the same views worse: the full model diverged (too few views)
        log.warning("%s: the %s lens model does not converge on %d views; keeping k1 k2 "
                    "(record more views of the board)", name, model, len(chosen))
        rms = rms1
    else:
        matrix, dist = matrix2, dist2
    log.info("%s: intrinsics from %d frames, rms %.3f px, f = %.1f, %.1f, c = %.1f, %.1f",
             name, len(chosen), rms, matrix[0, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2])
    return Intrinsics(Camera(name, det.size, matrix, dist, fisheye=fisheye), chosen, rms)
