"""Pinhole and fisheye camera models with the OpenCV lens model.

Conventions (the same as OpenCV and aniposelib):

- A world point ``X`` maps to camera coordinates ``R @ X + t`` where ``R`` is the Rodrigues
  rotation ``rvec`` and ``t`` is ``tvec``; the camera looks along +z, x right, y down.
- Pixel coordinates have their origin at the centre of the top-left pixel.
- Distortion is OpenCV's ``(k1, k2, p1, p2, k3)`` for pinhole cameras and ``(k1, k2, k3, k4)``
  for fisheye cameras.
- World units are whatever the calibration used (posekit's synthetic data uses metres).

All projection functions are vectorised over leading dimensions and NaN-aware: a NaN in an
input point gives NaN in the output, never an exception.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from posekit.errors import CalibrationError

FloatArray = NDArray[np.float64]


def _as_float(value: ArrayLike, shape: tuple[int, ...], what: str, cam: str) -> FloatArray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CalibrationError(f"camera {cam!r}: {what} is not numeric ({exc})") from None
    if arr.shape != shape:
        raise CalibrationError(
            f"camera {cam!r}: {what} must have shape {shape}, got {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise CalibrationError(f"camera {cam!r}: {what} contains NaN or infinite values")
    return arr


def rodrigues_to_matrix(rvec: ArrayLike) -> FloatArray:
    """Rotation matrix (3, 3) from a Rodrigues vector (3,)."""
    mat, _ = cv2.Rodrigues(np.asarray(rvec, dtype=np.float64).reshape(3, 1))
    return np.asarray(mat, dtype=np.float64)


def matrix_to_rodrigues(mat: ArrayLike) -> FloatArray:
    """Rodrigues vector (3,) from a rotation matrix (3, 3), of length in [0, π].

    As OpenCV does, the matrix is first replaced by the nearest rotation (SVD). Unlike
    ``cv2.Rodrigues``, the result is accurate to machine precision at every angle: OpenCV's
    special case within 1e-5 rad of π loses about 1e-5 rad and may flip the axis. At π
    exactly, ``v`` and ``-v`` are the same rotation and either may be returned.

    Raises ValueError for a matrix that is not (3, 3), not finite, or a reflection.
    """
    m = np.asarray(mat, dtype=np.float64)
    if m.shape != (3, 3) or not np.all(np.isfinite(m)):
        raise ValueError(f"a rotation matrix must be a finite (3, 3) array, got {m!r}")
    u, _, vt = np.linalg.svd(m)
    rot = u @ vt
    if np.linalg.det(rot) < 0:
        raise ValueError("the matrix is a reflection (determinant < 0), not a rotation")
    w = 0.5 * np.array([rot[2, 1] - rot[1, 2], rot[0, 2] - rot[2, 0], rot[1, 0] - rot[0, 1]])
    sin = float(np.linalg.norm(w))  # sin(angle) times the unit axis: w
    cos = (float(np.trace(rot)) - 1.0) / 2.0
    angle = float(np.arctan2(sin, cos))
    if cos > 0.0:  # angle < π/2: the axis is well defined by w
        out: FloatArray = w * (angle / sin) if sin > 0.0 else np.zeros(3)
        return out
    # angle >= π/2: the axis from the symmetric part (1 - cos) a a^T, signed by w
    sym = (rot + rot.T) / 2.0 - cos * np.eye(3)
    col = sym[:, int(np.argmax(np.diag(sym)))]
    axis = col / np.linalg.norm(col)
    if float(w @ axis) < 0.0:
        axis = -axis
    out = angle * axis
    return out


@dataclass(frozen=True)
class Camera:
    """One calibrated camera. Arrays are validated and converted on construction.

    Attributes:
        name: camera name as it appears in video file names (e.g. ``"A"`` or ``"cam1"``).
        size: image ``(width, height)`` in pixels.
        matrix: intrinsic matrix (3, 3).
        dist: distortion coefficients, (5,) pinhole or (4,) fisheye; shorter inputs are
            zero-padded.
        rvec: Rodrigues rotation world → camera (3,).
        tvec: translation world → camera (3,), in world units.
        fisheye: use OpenCV's fisheye model instead of the pinhole + radial/tangential one.
    """

    name: str
    size: tuple[int, int]
    matrix: FloatArray
    dist: FloatArray = field(default_factory=lambda: np.zeros(5))
    rvec: FloatArray = field(default_factory=lambda: np.zeros(3))
    tvec: FloatArray = field(default_factory=lambda: np.zeros(3))
    fisheye: bool = False

    def __post_init__(self) -> None:
        name = str(self.name)
        object.__setattr__(self, "name", name)
        try:
            width, height = (int(v) for v in self.size)
        except (TypeError, ValueError):
            raise CalibrationError(
                f"camera {name!r}: size must be [width, height], got {self.size!r}"
            ) from None
        if width <= 0 or height <= 0:
            raise CalibrationError(f"camera {name!r}: size must be positive, got {self.size!r}")
        object.__setattr__(self, "size", (width, height))
        matrix = _as_float(self.matrix, (3, 3), "matrix", name)
        if matrix[0, 0] <= 0 or matrix[1, 1] <= 0 or abs(np.linalg.det(matrix)) < 1e-12:
            raise CalibrationError(
                f"camera {name!r}: matrix is not a valid intrinsic matrix "
                "(focal lengths must be positive and the matrix invertible)"
            )
        object.__setattr__(self, "matrix", matrix)
        n_dist = 4 if self.fisheye else 5
        dist = np.asarray(self.dist, dtype=np.float64).ravel()
        if dist.size > n_dist and not np.allclose(dist[n_dist:], 0):
            raise CalibrationError(
                f"camera {name!r}: expected at most {n_dist} distortion coefficients, "
                f"got {dist.size}"
            )
        dist = np.concatenate([dist[:n_dist], np.zeros(max(0, n_dist - dist.size))])
        object.__setattr__(self, "dist", _as_float(dist, (n_dist,), "distortions", name))
        object.__setattr__(self, "rvec", _as_float(np.ravel(self.rvec), (3,), "rotation", name))
        object.__setattr__(
            self, "tvec", _as_float(np.ravel(self.tvec), (3,), "translation", name)
        )
        object.__setattr__(self, "fisheye", bool(self.fisheye))

    # -- derived geometry -------------------------------------------------------------
    @property
    def rotation(self) -> FloatArray:
        """World → camera rotation matrix (3, 3)."""
        return rodrigues_to_matrix(self.rvec)

    @property
    def center(self) -> FloatArray:
        """Camera centre in world coordinates (3,)."""
        return -self.rotation.T @ self.tvec

    @property
    def extrinsics(self) -> FloatArray:
        """World → camera rigid transform as a (4, 4) matrix."""
        out = np.eye(4)
        out[:3, :3] = self.rotation
        out[:3, 3] = self.tvec
        return out

    @property
    def projection_matrix(self) -> FloatArray:
        """Undistorted projection matrix ``K [R | t]`` (3, 4)."""
        return self.matrix @ self.extrinsics[:3]

    # -- projection ---------------------------------------------------------------------
    def world_to_camera(self, points: ArrayLike) -> FloatArray:
        """Camera-frame coordinates (..., 3) of world points (..., 3)."""
        pts = np.asarray(points, dtype=np.float64)
        return pts @ self.rotation.T + self.tvec

    def distort_normalized(self, xy: ArrayLike) -> FloatArray:
        """Apply the lens model to ideal normalised coordinates (..., 2) → pixels (..., 2)."""
        xy = np.asarray(xy, dtype=np.float64)
        x, y = xy[..., 0], xy[..., 1]
        if self.fisheye:
            k1, k2, k3, k4 = self.dist
            r = np.hypot(x, y)
            theta = np.arctan(r)
            t2 = theta * theta
            theta_d = theta * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
            with np.errstate(invalid="ignore", divide="ignore"):
                scale = np.where(r > 1e-12, theta_d / r, 1.0)
            xd, yd = x * scale, y * scale
        else:
            k1, k2, p1, p2, k3 = self.dist
            r2 = x * x + y * y
            radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
            xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
            yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        k = self.matrix
        u = k[0, 0] * xd + k[0, 1] * yd + k[0, 2]
        v = k[1, 1] * yd + k[1, 2]
        return np.stack([u, v], axis=-1)

    def project(self, points: ArrayLike) -> FloatArray:
        """Pixel coordinates (..., 2) of world points (..., 3).

        Points at or behind the camera plane (z <= 0) project to NaN; NaN stays NaN.
        """
        cam = self.world_to_camera(points)
        z = cam[..., 2]
        with np.errstate(invalid="ignore", divide="ignore"):
            valid = z > 1e-9
            xy = cam[..., :2] / np.where(valid, z, np.nan)[..., None]
        return self.distort_normalized(xy)

    def undistort_points(self, pixels: ArrayLike) -> FloatArray:
        """Ideal normalised coordinates (..., 2) of pixel coordinates (..., 2).

        Inverts the lens model with OpenCV's iterative solver; NaN rows stay NaN.
        """
        px = np.asarray(pixels, dtype=np.float64)
        flat = px.reshape(-1, 2)
        out = np.full_like(flat, np.nan)
        ok = np.all(np.isfinite(flat), axis=1)
        if np.any(ok):
            src = flat[ok].reshape(-1, 1, 2)
            if self.fisheye:
                und = cv2.fisheye.undistortPoints(src, self.matrix, self.dist)
            else:
                criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-10)
                und = cv2.undistortPointsIter(
                    src, self.matrix, self.dist, None, None, criteria
                )
            out[ok] = und.reshape(-1, 2)
        return out.reshape(px.shape)

    def pixel_rays(self, pixels: ArrayLike) -> FloatArray:
        """Unit viewing rays in world coordinates (..., 3) through pixels (..., 2)."""
        xy = self.undistort_points(pixels)
        rays_cam = np.concatenate([xy, np.ones((*xy.shape[:-1], 1))], axis=-1)
        rays = rays_cam @ self.rotation  # R^T applied to row vectors
        return rays / np.linalg.norm(rays, axis=-1, keepdims=True)

    # -- serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Anipose ``[cam_N]`` table for this camera."""
        out: dict[str, Any] = {
            "name": self.name,
            "size": [int(self.size[0]), int(self.size[1])],
            "matrix": self.matrix.tolist(),
            "distortions": self.dist.tolist(),
            "rotation": self.rvec.tolist(),
            "translation": self.tvec.tolist(),
        }
        if self.fisheye:
            out["fisheye"] = True
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "") -> Camera:
        """Build a camera from an Anipose ``[cam_N]`` table; ``where`` prefixes errors."""
        missing = [k for k in ("name", "size", "matrix", "distortions", "rotation",
                               "translation") if k not in data]
        if missing:
            raise CalibrationError(f"{where}missing key(s) {', '.join(missing)}")
        try:
            return cls(
                name=data["name"],
                size=tuple(data["size"]),  # type: ignore[arg-type]
                matrix=np.asarray(data["matrix"], dtype=np.float64),
                dist=np.asarray(data["distortions"], dtype=np.float64),
                rvec=np.asarray(data["rotation"], dtype=np.float64),
                tvec=np.asarray(data["translation"], dtype=np.float64),
                fisheye=bool(data.get("fisheye", False)),
            )
        except CalibrationError as exc:
            raise CalibrationError(f"{where}{exc}") from None
        except (TypeError, ValueError) as exc:
            raise CalibrationError(f"{where}malformed camera table ({exc})") from None


@dataclass(frozen=True)
class CameraGroup:
    """An ordered set of cameras with unique names; order is the calibration's order."""

    cameras: tuple[Camera, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __init__(self, cameras: Sequence[Camera], metadata: dict[str, Any] | None = None):
        cams = tuple(cameras)
        names = [c.name for c in cams]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise CalibrationError(f"duplicate camera name(s) in calibration: {dupes}")
        object.__setattr__(self, "cameras", cams)
        object.__setattr__(self, "metadata", dict(metadata or {}))

    def __len__(self) -> int:
        return len(self.cameras)

    def __iter__(self) -> Iterator[Camera]:
        return iter(self.cameras)

    def __getitem__(self, key: int | str) -> Camera:
        if isinstance(key, str):
            for cam in self.cameras:
                if cam.name == key:
                    return cam
            raise CalibrationError(
                f"camera {key!r} is not in the calibration (it has {self.names})"
            )
        return self.cameras[key]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.cameras]

    def subset(self, names: Sequence[str]) -> CameraGroup:
        """The cameras named, in the order given."""
        return CameraGroup([self[n] for n in names], self.metadata)

    def project(self, points: ArrayLike) -> FloatArray:
        """Pixel coordinates (n_cams, ..., 2) of world points (..., 3)."""
        return np.stack([cam.project(points) for cam in self.cameras])
