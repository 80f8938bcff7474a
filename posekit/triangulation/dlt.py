"""Linear (DLT) triangulation, weighted, vectorised over points and NaN-aware.

Each camera that sees a point adds two rows to a linear system built from its
*undistorted, normalised* image coordinates ``(u, v)`` and its ``[R | t]``:
``(u P3 - P1) X = 0`` and ``(v P3 - P2) X = 0`` with ``X = (x, y, z, 1)``. The rows of a
view are multiplied by its weight (e.g. the detector's confidence), and the system is
solved for ``(x, y, z)`` in the least-squares sense through its 3×3 normal equations, in
closed form for all points at once (no per-point loop, no exception on a degenerate
point: it is NaN).

The algebraic error of a row is the image error times the point's depth in that camera,
so far cameras would count more than near ones. ``refine`` re-solves with each view's rows
divided by its depth and multiplied by its focal length (``focal``), which turns the
minimised quantity into the (squared, weighted) reprojection error in pixels, up to lens
distortion; one or two passes converge for practical purposes.

A point seen by fewer than two cameras (weight > 0 and finite coordinates) is NaN.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from posekit.camera.model import CameraGroup

FloatArray = NDArray[np.float64]
#: Determinant of the normal matrix below which a point is degenerate (relative scale).
_DEGENERATE = 1e-12


def _solve_normal(rows: FloatArray) -> FloatArray:
    """Least-squares ``(x, y, z)`` of homogeneous rows (r, 4, n) (r rows per point, each
    a 4-vector; zero rows are unused) → (n, 3); NaN where the normal matrix is (near)
    singular.

    The normal matrix is summed entry by entry over the rows, each entry a contiguous
    array over the points: numpy is many times slower on stacks of tiny matrices.
    """
    def entry(i: int, j: int) -> FloatArray:
        return np.einsum("rn,rn->n", rows[:, i], rows[:, j])

    m00, m01, m02 = entry(0, 0), entry(0, 1), entry(0, 2)
    m11, m12, m22 = entry(1, 1), entry(1, 2), entry(2, 2)
    b0, b1, b2 = -entry(0, 3), -entry(1, 3), -entry(2, 3)
    # closed-form inverse of the symmetric 3x3 matrices via cofactors
    c00 = m11 * m22 - m12 * m12
    c01 = m12 * m02 - m01 * m22
    c02 = m01 * m12 - m11 * m02
    c11 = m00 * m22 - m02 * m02
    c12 = m01 * m02 - m00 * m12
    c22 = m00 * m11 - m01 * m01
    det = m00 * c00 + m01 * c01 + m02 * c02
    scale = (m00 + m11 + m22) ** 3
    ok = np.abs(det) > _DEGENERATE * np.maximum(scale, 1e-300)
    det = np.where(ok, det, 1.0)
    out = np.empty((rows.shape[2], 3))
    out[:, 0] = (c00 * b0 + c01 * b1 + c02 * b2) / det
    out[:, 1] = (c01 * b0 + c11 * b1 + c12 * b2) / det
    out[:, 2] = (c02 * b0 + c12 * b1 + c22 * b2) / det
    out[~ok] = np.nan
    return out


def _rows(extrinsics: FloatArray, xy: FloatArray, weights: FloatArray) -> FloatArray:
    """Weighted DLT rows (2c, 4, n) of normalised points xy (c, n, 2) with per-view
    weights (c, n) (NaN entries → 0 rows)."""
    p = extrinsics[:, :, :, None]  # (c, 3, 4, 1)
    out = np.empty((2, len(extrinsics), 4, xy.shape[1]))
    for axis in (0, 1):
        coord = np.nan_to_num(xy[..., axis])[:, None, :]  # (c, 1, n)
        out[axis] = (coord * p[:, 2] - p[:, axis]) * weights[:, None, :]
    return out.reshape(-1, 4, xy.shape[1])


def triangulate_normalized(extrinsics: FloatArray, xy: FloatArray,
                           weights: FloatArray | None = None, refine: int = 0,
                           focal: FloatArray | None = None) -> FloatArray:
    """Points (n, 3) from normalised coordinates ``xy`` (n_cams, n, 2) and world → camera
    ``extrinsics`` (n_cams, 3, 4).

    ``weights`` (n_cams, n): per-view weights (default 1; 0 or NaN = not used); NaN
    coordinates are not used. ``refine`` passes of depth reweighting (module docstring),
    with per-camera ``focal`` lengths (n_cams,) in pixels (default 1).
    """
    xy = np.asarray(xy, dtype=np.float64)
    ext = np.asarray(extrinsics, dtype=np.float64)
    seen = np.isfinite(xy).all(axis=-1)
    w = np.ones(seen.shape) if weights is None else np.nan_to_num(
        np.asarray(weights, dtype=np.float64), nan=0.0)
    w = np.where(seen & (w > 0), w, 0.0)
    enough = (w > 0).sum(axis=0) >= 2
    out = np.full((xy.shape[1], 3), np.nan)
    if not enough.any():
        return out
    xk = xy[:, enough]
    wk = w[:, enough]
    pts = _solve_normal(_rows(ext, xk, wk))
    f = np.ones(len(ext)) if focal is None else np.asarray(focal, dtype=np.float64)
    for _ in range(refine):
        depth = np.einsum("cj,nj->cn", ext[:, 2, :3], np.nan_to_num(pts)) + ext[:, 2, 3:4]
        good = depth > 1e-9
        scale = np.where(good, f[:, None] / np.where(good, depth, 1.0), 0.0)
        new = _solve_normal(_rows(ext, xk, wk * scale))
        pts = np.where(np.isfinite(new), new, pts)
    out[enough] = pts
    return out


def normalize_points(group: CameraGroup, points: FloatArray) -> FloatArray:
    """Undistorted normalised coordinates (n_cams, n, 2) of pixels (n_cams, n, 2)."""
    return np.stack([cam.undistort_points(points[i]) for i, cam in enumerate(group)])


def focal_lengths(group: CameraGroup) -> FloatArray:
    """Mean focal length in pixels of each camera (n_cams,)."""
    return np.array([(cam.matrix[0, 0] + cam.matrix[1, 1]) / 2 for cam in group])


def triangulate(group: CameraGroup, points: ArrayLike, weights: ArrayLike | None = None,
                refine: int = 0) -> FloatArray:
    """3D points (..., 3) from pixels (n_cams, ..., 2) of every camera (NaN = not seen).

    ``weights`` (n_cams, ...): per-view weights such as detection scores (0 = unused);
    ``refine``: depth-reweighting passes (see the module docstring).
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.shape[0] != len(group) or pts.shape[-1] != 2:
        raise ValueError(f"points must be (n_cams={len(group)}, ..., 2), got {pts.shape}")
    rays = normalize_points(group, pts.reshape(len(group), -1, 2)).reshape(pts.shape)
    return triangulate_undistorted(group, rays, weights, refine)


def triangulate_undistorted(group: CameraGroup, rays: ArrayLike,
                            weights: ArrayLike | None = None, refine: int = 0) -> FloatArray:
    """:func:`triangulate` from points already undistorted into normalised coordinates
    (n_cams, ..., 2) (:func:`normalize_points`), e.g. for many pairings of the same
    clips."""
    xy = np.asarray(rays, dtype=np.float64)
    flat = xy.reshape(len(group), -1, 2)
    w = None if weights is None else np.asarray(weights, dtype=np.float64).reshape(
        len(group), -1)
    ext = np.stack([cam.extrinsics[:3] for cam in group])
    out = triangulate_normalized(ext, flat, w, refine, focal_lengths(group))
    return out.reshape(*xy.shape[1:-1], 3)
