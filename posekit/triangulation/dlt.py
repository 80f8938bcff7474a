"""Linear (DLT) triangulation, vectorised over points and NaN-aware.

Each camera that sees a point adds two rows to a homogeneous system built from its
*undistorted, normalised* image coordinates and its ``[R | t]``; the 3D point is the
right singular vector of the smallest singular value, all points solved in one batched
SVD. A point seen by fewer than two cameras is NaN.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from posekit.camera.model import CameraGroup

FloatArray = NDArray[np.float64]


def triangulate_normalized(extrinsics: FloatArray, xy: FloatArray) -> FloatArray:
    """Points (n, 3) from normalised coordinates ``xy`` (n_cams, n, 2) (NaN = unseen) and
    world → camera ``extrinsics`` (n_cams, 3, 4)."""
    seen = np.isfinite(xy).all(axis=-1)  # (c, n)
    x = np.where(seen, xy[..., 0], 0.0)[..., None]
    y = np.where(seen, xy[..., 1], 0.0)[..., None]
    p = extrinsics[:, None]  # (c, 1, 3, 4)
    rows = np.concatenate([x * p[..., 2, :] - p[..., 0, :], y * p[..., 2, :] - p[..., 1, :]],
                          axis=-1).reshape(*seen.shape, 2, 4)
    rows = rows * seen[..., None, None]
    a = np.moveaxis(rows, 0, 1).reshape(xy.shape[1], -1, 4)  # (n, 2c, 4)
    out = np.full((xy.shape[1], 3), np.nan)
    ok = seen.sum(axis=0) >= 2
    if ok.any():
        _, _, vt = np.linalg.svd(a[ok])
        hom = vt[:, -1]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[ok] = hom[:, :3] / hom[:, 3:]
    return out


def triangulate(group: CameraGroup, points: ArrayLike) -> FloatArray:
    """3D points (..., 3) from pixels (n_cams, ..., 2) of every camera (NaN = not seen)."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.shape[0] != len(group) or pts.shape[-1] != 2:
        raise ValueError(f"points must be (n_cams={len(group)}, ..., 2), got {pts.shape}")
    flat = pts.reshape(len(group), -1, 2)
    xy = np.stack([cam.undistort_points(flat[i]) for i, cam in enumerate(group)])
    ext = np.stack([cam.extrinsics[:3] for cam in group])
    return triangulate_normalized(ext, xy).reshape(*pts.shape[1:-1], 3)
