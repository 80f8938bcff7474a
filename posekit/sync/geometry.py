"""Confirm and refine frame offsets with the calibration: at the right offset, a camera's
keypoints and another camera's triangulate to points that reproject onto both.

For a camera ``c`` and candidate offset ``o``, every anchor camera ``a`` (the reference and
cameras already placed with confidence) is paired with ``c`` on the frames both recorded
(same convention as :mod:`posekit.sync.motion`), the keypoints are triangulated from the
two views and reprojected; the score is the median reprojection error over the pairs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from posekit.camera.model import CameraGroup
from posekit.pose2d.table import Pose2D
from posekit.skeletons import limb_joint_indices
from posekit.sync.motion import MIN_LIKELIHOOD
from posekit.triangulation.dlt import triangulate

FloatArray = NDArray[np.float64]
MIN_PAIRS = 50  # keypoint pairs needed for a score
MAX_FRAMES = 150  # frames of the overlap used per score (evenly spread)


def _valid(pose: Pose2D) -> FloatArray:
    joints = limb_joint_indices(pose.keypoints)
    keep = joints if len(joints) >= 6 else list(range(len(pose.keypoints)))
    return np.where((pose.likelihood >= MIN_LIKELIHOOD)[..., None], pose.xy, np.nan)[:, keep]


def pair_error(group: CameraGroup, a: str, c: str, xy_a: FloatArray, xy_c: FloatArray,
               off_a: int, off_c: int) -> float:
    """Median two-view reprojection error (px) of cameras ``a`` and ``c`` aligned by their
    offsets (NaN when the clips overlap by less than half the shorter one, or too few
    keypoints are seen by both)."""
    # reference frame t ↔ frame t - off of each camera
    start = max(off_a, off_c)
    stop = min(off_a + len(xy_a), off_c + len(xy_c))
    if stop - start < max(2, min(len(xy_a), len(xy_c)) // 2):
        return float("nan")
    frames = np.unique(np.linspace(start, stop - 1, min(MAX_FRAMES, stop - start)).astype(int))
    pa = xy_a[frames - off_a]
    pc = xy_c[frames - off_c]
    both = np.isfinite(pa[..., 0]) & np.isfinite(pc[..., 0])
    if both.sum() < MIN_PAIRS:
        return float("nan")
    sub = group.subset([a, c])
    pts2d = np.stack([pa[both], pc[both]])
    pts3d = triangulate(sub, pts2d)
    proj = sub.project(pts3d)
    err = np.hypot(*(proj - pts2d).transpose(2, 0, 1))
    return float(np.nanmedian(err))


def _median(values: Sequence[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.median(finite)) if finite else float("nan")


def anchored_errors(group: CameraGroup, anchors: Sequence[str], offsets: Mapping[str, int],
                    xy: Mapping[str, FloatArray], cam: str, candidates: NDArray[np.int64]
                    ) -> FloatArray:
    """Median reprojection error (px) of ``cam`` for each candidate offset, against points
    triangulated from the ``anchors`` (two or more, placed by ``offsets``) on the
    reference timeline. The 3D points do not depend on the candidate, so every candidate
    costs one comparison."""
    t0 = min(offsets[a] for a in anchors)
    t1 = max(offsets[a] + len(xy[a]) for a in anchors)
    k = xy[cam].shape[1]
    stacked = np.full((len(anchors), t1 - t0, k, 2), np.nan)
    for i, a in enumerate(anchors):
        stacked[i, offsets[a] - t0: offsets[a] - t0 + len(xy[a])] = xy[a]
    proj = group[cam].project(triangulate(group.subset(list(anchors)), stacked))
    own = xy[cam]
    need = max(2, len(own) // 2)
    out = np.full(len(candidates), np.nan)
    for j, o in enumerate(candidates):
        start, stop = max(0, o - t0), min(t1 - t0, o - t0 + len(own))  # on the timeline
        if stop - start < need:
            continue
        diff = proj[start:stop] - own[start - (o - t0): stop - (o - t0)]
        err = np.hypot(diff[..., 0], diff[..., 1])
        err = err[np.isfinite(err)]
        if err.size >= MIN_PAIRS:
            out[j] = float(np.median(err))
    return out


def refine_offsets(poses: Mapping[str, Pose2D], group: CameraGroup, offsets: Mapping[str, int],
                   confidence: Mapping[str, float], reference: str, max_lag: int
                   ) -> tuple[dict[str, int], dict[str, float], dict[str, FloatArray]]:
    """Offsets found by the geometry over the whole lag range, their geometric confidence
    (0..1: how much worse the best error is 3 or more frames away), and per camera the
    error curve (candidate offsets, errors).

    Cameras are placed in order of their motion confidence. The first one is scored
    against the reference by two-view reprojection error; each later one against the
    points triangulated from all cameras placed so far."""
    xy = {n: _valid(p) for n, p in poses.items()}
    result = dict(offsets)
    curves: dict[str, FloatArray] = {}
    sharpness: dict[str, float] = {reference: 1.0}
    order: Sequence[str] = sorted((n for n in poses if n != reference),
                                  key=lambda n: -confidence.get(n, 0.0))
    anchors = [reference]
    candidates = np.arange(-max_lag, max_lag + 1)
    for cam in order:
        if len(anchors) == 1:
            errors = np.array([pair_error(group, reference, cam, xy[reference], xy[cam], 0,
                                          int(o)) for o in candidates])
        else:
            errors = anchored_errors(group, anchors, result, xy, cam, candidates)
        curves[cam] = np.stack([candidates.astype(float), errors])
        sharpness[cam] = 0.0
        if np.isfinite(errors).any():
            best = int(np.nanargmin(errors))
            result[cam] = int(candidates[best])
            far = np.abs(candidates - candidates[best]) >= 3
            if np.isfinite(errors[far]).any() and errors[best] > 0:
                sharpness[cam] = float(np.clip(np.nanmin(errors[far]) / errors[best] - 1,
                                               0, 1))
            anchors.append(cam)
    return result, sharpness, curves
