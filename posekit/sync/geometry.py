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
from posekit.sync.motion import MIN_LIKELIHOOD
from posekit.triangulation.dlt import triangulate

FloatArray = NDArray[np.float64]
MIN_PAIRS = 50  # keypoint pairs needed for a score
MAX_FRAMES = 150  # frames of the overlap used per score (evenly spread)
#: limb joints: large, well detected, and they move (MediaPipe names)
JOINTS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")


def _valid(pose: Pose2D) -> FloatArray:
    joints = [i for i, k in enumerate(pose.keypoints) if k.split("_", 1)[-1] in JOINTS]
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


def refine_offsets(poses: Mapping[str, Pose2D], group: CameraGroup, offsets: Mapping[str, int],
                   confidence: Mapping[str, float], reference: str, max_lag: int,
                   window: int = 3, min_confidence: float = 0.3
                   ) -> tuple[dict[str, int], dict[str, float], dict[str, FloatArray]]:
    """Offsets refined by the geometry, their geometric confidence (0..1: how much worse
    the error is 3 or more frames away from the best offset), and per camera the error
    curve over the candidate offsets tried (candidates ±``window`` around the motion
    estimate, the whole lag range when its confidence is below ``min_confidence``)."""
    xy = {n: _valid(p) for n, p in poses.items()}
    result = dict(offsets)
    curves: dict[str, FloatArray] = {}
    sharpness: dict[str, float] = {reference: 1.0}
    order: Sequence[str] = sorted((n for n in poses if n != reference),
                                  key=lambda n: -confidence.get(n, 0.0))
    anchors = [reference]
    for cam in order:
        if confidence.get(cam, 0.0) >= min_confidence:
            candidates = np.arange(offsets[cam] - window, offsets[cam] + window + 1)
        else:
            candidates = np.arange(-max_lag, max_lag + 1)
        errors = np.array([_median([pair_error(group, a, cam, xy[a], xy[cam], result[a],
                                               int(o)) for a in anchors])
                           for o in candidates])
        curves[cam] = np.stack([candidates.astype(float), errors])
        sharpness[cam] = 0.0
        if np.isfinite(errors).any():
            best = int(np.nanargmin(errors))
            result[cam] = int(candidates[best])
            far = np.abs(candidates - candidates[best]) >= min(3, window)
            if np.isfinite(errors[far]).any() and errors[best] > 0:
                sharpness[cam] = float(np.clip(np.nanmin(errors[far]) / errors[best] - 1,
                                               0, 1))
            anchors.append(cam)
    return result, sharpness, curves
