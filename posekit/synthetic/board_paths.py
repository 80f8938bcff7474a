"""Board motions of a careful calibration recording, with known poses.

:func:`posekit.synthetic.charuco.board_pose_at` moves the board around the middle of the
capture volume, where several cameras see it at once but each sees it small and near the
image centre. Lens calibration also needs the board close to each camera, sweeping the
whole image at varied tilts, which is what calibration guides ask people to record.
:func:`camera_sweep` makes that part; :func:`calibration_session` chains a sweep per camera
and a pass through the volume.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from posekit.camera.model import Camera, CameraGroup
from posekit.synthetic.charuco import BoardSpec, board_trajectory

FloatArray = NDArray[np.float64]


def camera_sweep(camera: Camera, board: BoardSpec, n_frames: int, seed: int = 0,
                 fill: tuple[float, float] = (0.25, 0.5), max_tilt_deg: float = 45.0
                 ) -> tuple[FloatArray, FloatArray]:
    """Board → world poses (rvecs, tvecs, each (n_frames, 3)) of the board held in front
    of ``camera``: its centre sweeps the image (a Lissajous path over 10-90 % of the width
    and height), its width fills ``fill`` of the image width, and it tilts up to
    ``max_tilt_deg`` about both of its axes and rolls up to ±30°, all smoothly."""
    rng = np.random.default_rng(seed)
    tau = np.arange(n_frames) / max(n_frames, 1)
    ph = rng.uniform(0, 2 * np.pi, 6)
    u = 0.5 + 0.4 * np.sin(2 * np.pi * 2.0 * tau + ph[0])
    v = 0.5 + 0.4 * np.sin(2 * np.pi * 3.0 * tau + ph[1])
    width, height = camera.size
    pixels = np.stack([u * width, v * height], axis=1)
    rays = camera.pixel_rays(pixels)
    frac = fill[0] + (fill[1] - fill[0]) * (0.5 + 0.5 * np.sin(2 * np.pi * 1.3 * tau + ph[2]))
    distance = camera.matrix[0, 0] * board.size[0] / (frac * width)
    centre = camera.center + distance[:, None] * rays
    # board axes facing the camera along the ray, then tilted and rolled
    cam_rot = camera.rotation.T  # camera axes in the world (columns)
    z_axis = rays
    x_axis = np.cross(cam_rot[:, 1], z_axis)
    x_axis /= np.linalg.norm(x_axis, axis=1, keepdims=True)
    y_axis = np.cross(z_axis, x_axis)
    base = np.stack([x_axis, y_axis, z_axis], axis=-1)
    tilt = np.deg2rad(max_tilt_deg)
    angles = np.stack([tilt * np.sin(2 * np.pi * 2.7 * tau + ph[3]),
                       tilt * np.sin(2 * np.pi * 1.9 * tau + ph[4]),
                       np.deg2rad(30.0) * np.sin(2 * np.pi * 1.1 * tau + ph[5])], axis=1)
    rot = base @ Rotation.from_euler("xyz", angles).as_matrix()
    half = np.array([board.size[0] / 2, board.size[1] / 2, 0.0])
    tvecs = centre - rot @ half
    return Rotation.from_matrix(rot).as_rotvec(), tvecs


def calibration_session(group: CameraGroup, board: BoardSpec, n_frames: int, seed: int = 0,
                        sweep_share: float = 0.6) -> tuple[FloatArray, FloatArray]:
    """A whole recording: ``sweep_share`` of the frames split into one
    :func:`camera_sweep` per camera, the rest :func:`board_trajectory` through the volume
    (seen by subsets of the cameras at once)."""
    per_cam = int(n_frames * sweep_share) // len(group)
    parts = [camera_sweep(cam, board, per_cam, seed + 1 + i) for i, cam in enumerate(group)]
    rest = n_frames - per_cam * len(group)
    parts.append(board_trajectory(rest, seed, board=board))
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
