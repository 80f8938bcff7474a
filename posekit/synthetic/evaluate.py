"""Compare pipeline outputs with synthetic ground truth.

Calibrations are compared in a frame-free way: intrinsics camera by camera, extrinsics as
the pose of every camera relative to the first one, so a calibration whose world frame is
camera 1 (Anipose's convention) compares directly with the synthetic rig's world frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posekit.camera.model import CameraGroup, matrix_to_rodrigues


@dataclass(frozen=True)
class CalibrationErrors:
    """Per-camera errors of an estimated calibration against the truth.

    Attributes (one value per camera, in the truth's camera order):
        focal_pct: |f_est - f_true| / f_true in percent (mean of fx and fy).
        principal_px: distance between estimated and true principal points, pixels.
        rotation_deg: angle of R_rel_est^T R_rel_true, relative to camera 1, degrees.
        translation_per_m: |t_rel_est * scale - t_rel_true| in mm per metre of baseline,
            after the best global scale (the scale itself is reported separately).
        scale: ratio of estimated to true baselines (1.0 = exact units).
    """

    cameras: tuple[str, ...]
    focal_pct: np.ndarray
    principal_px: np.ndarray
    rotation_deg: np.ndarray
    translation_per_m: np.ndarray
    scale: float


def _relative(group: CameraGroup) -> tuple[np.ndarray, np.ndarray]:
    """Rotations (n, 3, 3) and translations (n, 3) of each camera relative to camera 0."""
    ext = np.stack([cam.extrinsics for cam in group])
    rel = ext @ np.linalg.inv(ext[0])
    return rel[:, :3, :3], rel[:, :3, 3]


def compare_calibrations(
    estimated: CameraGroup, truth: CameraGroup, truth_units_per_m: float = 1.0,
    estimated_units_per_m: float = 1.0,
) -> CalibrationErrors:
    """Errors of ``estimated`` against ``truth`` (cameras matched by name)."""
    est = estimated.subset(truth.names)
    f_est = np.array([[c.matrix[0, 0], c.matrix[1, 1]] for c in est])
    f_true = np.array([[c.matrix[0, 0], c.matrix[1, 1]] for c in truth])
    focal = np.mean(np.abs(f_est - f_true) / f_true, axis=1) * 100
    pp = np.array([np.hypot(*(a.matrix[:2, 2] - b.matrix[:2, 2])) for a, b in zip(est, truth,
                                                                                   strict=True)])
    r_est, t_est = _relative(est)
    r_true, t_true = _relative(truth)
    rot = np.array([np.rad2deg(np.linalg.norm(matrix_to_rodrigues(a.T @ b)))
                    for a, b in zip(r_est, r_true, strict=True)])
    t_est_m = t_est / estimated_units_per_m
    t_true_m = t_true / truth_units_per_m
    norm_true = np.linalg.norm(t_true_m, axis=1)
    norm_est = np.linalg.norm(t_est_m, axis=1)
    others = norm_true > 1e-9 * max(float(norm_true.max()), 1e-12)
    scale = float(np.sum(norm_est[others] * norm_true[others]) / np.sum(norm_true[others] ** 2)) \
        if np.any(others) else 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        trans = np.where(others, np.linalg.norm(t_est_m / scale - t_true_m, axis=1) * 1000
                         / np.where(others, norm_true, 1.0), 0.0)
    return CalibrationErrors(tuple(truth.names), focal, pp, rot, trans, scale)
