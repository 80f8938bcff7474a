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
    """Least-squares ``(x, y, z)`` of homogeneous rows (c, n, 2, 4) → (n, 3); NaN where
    the normal matrix is (near) singular."""
    n = rows.shape[1]
    stacked = np.moveaxis(rows, 0, 1).reshape(n, -1, 4)  # (n, 2c, 4)
    full = np.matmul(np.swapaxes(stacked, 1, 2), stacked)  # (n, 4, 4)
    m = full[:, :3, :3]
    rhs = -full[:, :3, 3]
    # closed-form inverse of the symmetric 3x3 matrices via cofactors
    c00 = m[:, 1, 1] * m[:, 2, 2] - m[:, 1, 2] * m[:, 2, 1]
    c01 = m[:, 1, 2] * m[:, 2, 0] - m[:, 1, 0] * m[:, 2, 2]
    c02 = m[:, 1, 0] * m[:, 2, 1] - m[:, 1, 1] * m[:, 2, 0]
    c11 = m[:, 0, 0] * m[:, 2, 2] - m[:, 0, 2] * m[:, 2, 0]
    c12 = m[:, 0, 1] * m[:, 2, 0] - m[:, 0, 0] * m[:, 2, 1]
    c22 = m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]
    det = m[:, 0, 0] * c00 + m[:, 0, 1] * c01 + m[:, 0, 2] * c02
    scale = np.einsum("nii->n", m) ** 3
    ok = np.abs(det) > _DEGENERATE * np.maximum(scale, 1e-300)
    det = np.where(ok, det, 1.0)
    x = (c00 * rhs[:, 0] + c01 * rhs[:, 1] + c02 * rhs[:, 2]) / det
    y = (c01 * rhs[:, 0] + c11 * rhs[:, 1] + c12 * rhs[:, 2]) / det
    z = (c02 * rhs[:, 0] + c12 * rhs[:, 1] + c22 * rhs[:, 2]) / det
    out = np.stack([x, y, z], axis=-1)
    out[~ok] = np.nan
    return out


def _rows(extrinsics: FloatArray, xy: FloatArray) -> FloatArray:
    """DLT rows (c, n, 2, 4) of normalised points xy (c, n, 2) (NaN entries → 0 rows)."""
    x = np.nan_to_num(xy[..., 0])[..., None]
    y = np.nan_to_num(xy[..., 1])[..., None]
    p = extrinsics[:, None]  # (c, 1, 3, 4)
    return np.stack([x * p[..., 2, :] - p[..., 0, :], y * p[..., 2, :] - p[..., 1, :]],
                    axis=-2)


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
    rows = _rows(ext, xy[:, enough])
    wk = w[:, enough]
    pts = _solve_normal(rows * wk[..., None, None])
    f = np.ones(len(ext)) if focal is None else np.asarray(focal, dtype=np.float64)
    for _ in range(refine):
        depth = np.einsum("cj,nj->cn", ext[:, 2, :3], np.nan_to_num(pts)) + ext[:, 2, 3:4]
        good = depth > 1e-9
        scale = np.where(good, f[:, None] / np.where(good, depth, 1.0), 0.0)
        new = _solve_normal(rows * (wk * scale)[..., None, None])
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
    flat = pts.reshape(len(group), -1, 2)
    w = None if weights is None else np.asarray(weights, dtype=np.float64).reshape(
        len(group), -1)
    xy = normalize_points(group, flat)
    ext = np.stack([cam.extrinsics[:3] for cam in group])
    out = triangulate_normalized(ext, xy, w, refine, focal_lengths(group))
    return out.reshape(*pts.shape[1:-1], 3)
