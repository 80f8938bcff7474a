"""Robust choice of the views of each point, and left/right swap repair.

Detectors make *confident* mistakes: a keypoint jumps to the wrong limb, or a whole body
is mirrored (left and right swapped) in one camera for a few frames. A score threshold
does not catch them; the geometry does: a wrong view disagrees with the others.

:func:`select_views` triangulates every point from all its views, and wherever the worst
view's reprojection error exceeds the threshold (and at least three views remain), it
tries every leave-one-out subset at once (one batched triangulation per camera, not per
point) and drops the view whose removal fits the rest best; it repeats while the rule
still applies. The cost is a handful of batched DLTs, so it runs at DLT speed rather than
RANSAC speed, and a point with no or one valid view is simply NaN, not a crash.

:func:`repair_swaps` compares, per camera, frame and left/right keypoint pair, the
detections against the robust 3D of the pair as detected and as swapped; where the
swapped assignment fits far better, the camera's two detections are exchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from posekit.triangulation.dlt import triangulate_normalized

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
#: The outlier threshold is at least this many times the median view error of the trial.
TYPICAL_FACTOR = 4.0
MIN_THRESHOLD_PX = 3.0


def outlier_threshold(typical: float) -> float:
    """The outlier threshold (px) for a trial whose median view error is ``typical``:
    ``TYPICAL_FACTOR`` times it, at least ``MIN_THRESHOLD_PX``. It follows the detector's
    noise: about 8 px for 2 px noise, about 20-30 px for MediaPipe on 1080p video."""
    return max(MIN_THRESHOLD_PX, TYPICAL_FACTOR * typical)


def project_normalized(extrinsics: FloatArray, points: FloatArray) -> FloatArray:
    """Normalised image coordinates (c, n, 2) of points (n, 3) in every camera (NaN
    behind a camera)."""
    cam = np.tensordot(extrinsics[:, :, :3], points, axes=([2], [1])).transpose(0, 2, 1)
    cam = cam + extrinsics[:, None, :, 3]
    z = cam[..., 2:3]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(z > 1e-9, cam[..., :2] / np.where(z > 1e-9, z, 1.0), np.nan)


def view_errors(extrinsics: FloatArray, focal: FloatArray, xy: FloatArray,
                points: FloatArray) -> FloatArray:
    """Reprojection error (c, n), in pixels (normalised error × focal length), of each
    observation ``xy`` (c, n, 2) against ``points`` (n, 3); NaN where either is NaN."""
    proj = project_normalized(extrinsics, points)
    return np.hypot(*(proj - xy).transpose(2, 0, 1)) * focal[:, None]


def select_views(extrinsics: FloatArray, focal: FloatArray, xy: FloatArray,
                 weights: FloatArray, threshold: float, refine: int = 1
                 ) -> tuple[FloatArray, BoolArray]:
    """Robust points (n, 3) and the views used (c, n) (module docstring).

    ``xy`` (c, n, 2) normalised coordinates (NaN = unseen), ``weights`` (c, n) per-view
    weights (0 = unused), ``threshold`` in pixels.
    """
    used = np.isfinite(xy).all(axis=-1) & (np.nan_to_num(weights) > 0)
    w = np.where(used, weights, 0.0)
    pts = triangulate_normalized(extrinsics, xy, w, refine, focal)
    first = np.where(used, view_errors(extrinsics, focal, xy, pts), np.nan)
    if np.isfinite(first).any():  # noisy detectors: a few times their typical error
        threshold = outlier_threshold(float(np.nanmedian(first)))
    for _ in range(max(0, len(extrinsics) - 2)):
        err = np.where(used, view_errors(extrinsics, focal, xy, pts), 0.0)
        worst = np.nanmax(np.where(used, np.nan_to_num(err, nan=np.inf), -1.0), axis=0)
        todo = np.flatnonzero((worst > threshold) & (used.sum(axis=0) >= 3))
        if todo.size == 0:
            break
        xs, us, ws = xy[:, todo], used[:, todo], w[:, todo]
        best = np.full(todo.size, np.inf)
        best_cam = np.full(todo.size, -1)
        best_pts = np.full((todo.size, 3), np.nan)
        for k in range(len(extrinsics)):
            wk = ws.copy()
            wk[k] = 0.0
            cand = triangulate_normalized(extrinsics, xs, wk, refine, focal)
            keep = us.copy()
            keep[k] = False
            e = view_errors(extrinsics, focal, xs, cand)
            fit = np.nanmax(np.where(keep, np.nan_to_num(e, nan=np.inf), -1.0), axis=0)
            fit = np.where(us[k] & np.isfinite(cand).all(axis=1), fit, np.inf)
            better = fit < best
            best[better], best_cam[better], best_pts[better] = fit[better], k, cand[better]
        accept = (best_cam >= 0) & (best < worst[todo])
        idx = todo[accept]
        used[best_cam[accept], idx] = False
        w[best_cam[accept], idx] = 0.0
        pts[idx] = best_pts[accept]
    return pts, used


def _mirror(name: str) -> str | None:
    """The name of the mirror keypoint: left/right as a prefix or suffix in any case
    (``left_knee``, ``mouth_left``, ``LeftKnee``), or OpenPose's ``L``/``R`` prefix before
    a capital (``LHip``)."""
    low = name.lower()
    for a, b in (("left", "right"), ("right", "left")):
        if low.startswith(a):
            rest = name[len(a):]
            return (b.capitalize() if name[0].isupper() else b) + rest
        if low.endswith(a):
            head = name[: len(name) - len(a)]
            return head + (b.capitalize() if name[-len(a)].isupper() else b)
    if len(name) > 1 and name[0] in "LR" and name[1].isupper():
        return {"L": "R", "R": "L"}[name[0]] + name[1:]
    return None


def symmetric_pairs(keypoints: Sequence[str]) -> list[tuple[int, int]]:
    """Index pairs (left, right) of mirror keypoints (:func:`_mirror`), each pair once."""
    index = {k: i for i, k in enumerate(keypoints)}
    pairs = set()
    for name, i in index.items():
        j = index.get(_mirror(name) or "")
        if j is not None and j != i:
            pairs.add((min(i, j), max(i, j)))
    return sorted(pairs)


def repair_swaps(extrinsics: FloatArray, focal: FloatArray, xy: FloatArray,
                 points: FloatArray, pairs: Sequence[tuple[int, int]], threshold: float,
                 ) -> tuple[FloatArray, BoolArray]:
    """Detections (c, n_frames, n_kp, 2) with left/right swaps undone, and the mask
    (c, n_frames, n_pairs) of swaps made.

    ``points`` (n_frames, n_kp, 3) is a robust reconstruction (:func:`select_views`). A
    camera's detections of a pair are exchanged where they are both off by more than
    ``threshold`` pixels (summed) and the exchanged assignment fits at least three times
    better.
    """
    out = xy.copy()
    if not pairs:
        return out, np.zeros((*xy.shape[:2], 0), dtype=bool)
    left = np.array([p[0] for p in pairs])
    right = np.array([p[1] for p in pairs])
    n_cams, n_frames = xy.shape[:2]
    shape = (n_cams, n_frames, len(pairs))
    proj_l = project_normalized(extrinsics, points[:, left].reshape(-1, 3)).reshape(*shape, 2)
    proj_r = project_normalized(extrinsics, points[:, right].reshape(-1, 3)).reshape(*shape, 2)
    f = focal[:, None, None]
    obs_l, obs_r = xy[:, :, left], xy[:, :, right]
    keep = (np.hypot(*np.moveaxis(obs_l - proj_l, -1, 0))
            + np.hypot(*np.moveaxis(obs_r - proj_r, -1, 0))) * f
    swap = (np.hypot(*np.moveaxis(obs_l - proj_r, -1, 0))
            + np.hypot(*np.moveaxis(obs_r - proj_l, -1, 0))) * f
    with np.errstate(invalid="ignore"):
        swapped = (keep > threshold) & (swap * 3.0 < keep)
    c, n, p = np.nonzero(swapped)
    out[c, n, left[p]], out[c, n, right[p]] = xy[c, n, right[p]], xy[c, n, left[p]]
    return out, swapped
