"""Initial camera poses from the graph of cameras that saw the board together.

Each camera's board poses (PnP per frame) give, for every frame two cameras share, one
estimate of their relative pose; a robust average over those frames gives one edge per
camera pair. The cameras are chained from camera 1 along the maximum spanning tree of
shared frames, so the board need not be seen by all cameras at once. The bundle
adjustment then refines everything together.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from posekit.calibration.intrinsics import BoardPoses
from posekit.camera.model import Camera, matrix_to_rodrigues, rodrigues_to_matrix
from posekit.errors import CalibrationError

log = logging.getLogger(__name__)
FloatArray = NDArray[np.float64]


def to_matrix(rvec: FloatArray, tvec: FloatArray) -> FloatArray:
    out = np.eye(4)
    out[:3, :3] = rodrigues_to_matrix(rvec)
    out[:3, 3] = tvec
    return out


def average_transforms(mats: FloatArray) -> FloatArray:
    """Robust mean of rigid transforms (k, 4, 4): rotations by the chordal mean of the
    half closest to the element-wise median, translations by their median."""
    rots = mats[:, :3, :3]
    med = np.median(rots, axis=0)
    dist = np.linalg.norm((rots - med).reshape(len(rots), -1), axis=1)
    keep = dist <= np.median(dist) if len(rots) > 2 else np.ones(len(rots), bool)
    u, _, vt = np.linalg.svd(rots[keep].sum(axis=0))
    rot = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt
    out = np.eye(4)
    out[:3, :3] = rot
    out[:3, 3] = np.median(mats[keep, :3, 3], axis=0)
    return out


def usable_views(poses: Sequence[BoardPoses], min_view_cos: float, max_error: float
                 ) -> NDArray[np.bool_]:
    """(n_cams, n_frames): board pose known, not too steep, and fits its corners."""
    return np.stack([np.isfinite(p.rvecs[:, 0]) & (p.view_cos >= min_view_cos)
                     & (p.error <= max_error) for p in poses])


def initial_extrinsics(names: Sequence[str], poses: Sequence[BoardPoses],
                       usable: NDArray[np.bool_]) -> list[FloatArray]:
    """World → camera transforms (4, 4), camera 0 = identity, from board poses."""
    n = len(names)
    shared = (usable[:, None, :] & usable[None, :, :]).sum(axis=2)
    in_tree = {0}
    world_to_cam: dict[int, FloatArray] = {0: np.eye(4)}
    while len(in_tree) < n:
        best = max(((shared[a, b], a, b) for a in sorted(in_tree) for b in range(n)
                    if b not in in_tree), default=(0, -1, -1))
        count, a, b = best
        if count < 1:
            missing = [names[i] for i in range(n) if i not in in_tree]
            raise CalibrationError(
                f"cameras {', '.join(missing)} never saw the board at the same time as "
                f"{', '.join(names[i] for i in sorted(in_tree))}: record the board so that "
                "each camera shares views of it with at least one other camera (check that "
                "the calibration videos are synchronised)")
        frames = np.flatnonzero(usable[a] & usable[b])
        # cam b → cam a = (board → cam a) (board → cam b)^-1
        rel = np.stack([to_matrix(poses[a].rvecs[f], poses[a].tvecs[f])
                        @ np.linalg.inv(to_matrix(poses[b].rvecs[f], poses[b].tvecs[f]))
                        for f in frames])
        b_to_a = average_transforms(rel)
        world_to_cam[b] = np.linalg.inv(b_to_a) @ world_to_cam[a]
        log.debug("camera %s placed from %s over %d shared frames", names[b], names[a], count)
        in_tree.add(b)
    return [world_to_cam[i] for i in range(n)]


def initial_board_poses(world_to_cam: Sequence[FloatArray], poses: Sequence[BoardPoses],
                        usable: NDArray[np.bool_], counts: NDArray[np.int64]
                        ) -> tuple[FloatArray, FloatArray]:
    """Board → world pose per frame from the camera that saw most corners (NaN if none)."""
    n_frames = usable.shape[1]
    rvecs, tvecs = np.full((n_frames, 3), np.nan), np.full((n_frames, 3), np.nan)
    score = np.where(usable, counts, -1)
    for f in np.flatnonzero(usable.any(axis=0)):
        c = int(np.argmax(score[:, f]))
        board_to_world = np.linalg.inv(world_to_cam[c]) @ to_matrix(poses[c].rvecs[f],
                                                                    poses[c].tvecs[f])
        rvecs[f] = matrix_to_rodrigues(board_to_world[:3, :3])
        tvecs[f] = board_to_world[:3, 3]
    return rvecs, tvecs


def with_extrinsics(camera: Camera, world_to_cam: FloatArray) -> Camera:
    return Camera(camera.name, camera.size, camera.matrix, camera.dist,
                  matrix_to_rodrigues(world_to_cam[:3, :3]), world_to_cam[:3, 3], camera.fisheye)
