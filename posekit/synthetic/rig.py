"""Synthetic camera rigs with known, different intrinsics around a capture volume.

World frame: metres, z up, the floor is z = 0 and the capture volume is centred on the
origin. Cameras stand on a ring around the volume and look at a point about 1 m above
the floor.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from posekit.camera.model import Camera, CameraGroup, matrix_to_rodrigues

#: (width, height) of the two sensor sizes the rigs alternate between.
SENSOR_SIZES: tuple[tuple[int, int], ...] = ((1920, 1080), (1280, 720))


def look_at(center: ArrayLike, target: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Rodrigues rotation and translation of a camera at ``center`` looking at ``target``.

    The image x axis stays horizontal (no roll) and the image y axis points down.
    """
    center = np.asarray(center, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - center
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-9:  # looking straight down or up
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rot = np.stack([right, down, forward])
    return matrix_to_rodrigues(rot), -rot @ center


def make_rig(
    n_cams: int = 4,
    seed: int = 0,
    radius: float = 5.0,
    target_height: float = 1.0,
    sizes: tuple[tuple[int, int], ...] = SENSOR_SIZES,
    distortion: bool = True,
    start_azimuth_deg: float = -90.0,
) -> CameraGroup:
    """A ring of ``n_cams`` cameras (2-8) surrounding the capture volume.

    Camera ``i`` sits at azimuth ``start_azimuth_deg + 360 i / n_cams`` (plus a few degrees
    of jitter), so with the defaults camera 1 views the person from the front (-y side),
    and a 4-camera rig covers front, side, back, side. Each camera gets its own focal
    length (horizontal field of view about 55-70°), an off-centre principal point, k1/k2
    radial distortion (when ``distortion``), a height between 1.0 and 2.2 m and a radius
    within ±15 % of ``radius``. Camera names are ``cam1``, ``cam2``, ...
    """
    if not 1 <= n_cams <= 16:
        raise ValueError(f"n_cams must be between 1 and 16, got {n_cams}")
    rng = np.random.default_rng(seed)
    cams = []
    for i in range(n_cams):
        width, height = sizes[i % len(sizes)]
        hfov = np.deg2rad(rng.uniform(55.0, 70.0))
        fx = width / 2 / np.tan(hfov / 2)
        fy = fx * rng.uniform(0.995, 1.005)
        cx = width / 2 + rng.uniform(-0.03, 0.03) * width
        cy = height / 2 + rng.uniform(-0.03, 0.03) * height
        matrix = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        dist = np.zeros(5)
        if distortion:
            dist[0] = rng.uniform(-0.25, -0.05)
            dist[1] = rng.uniform(0.0, 0.08)
        azimuth = np.deg2rad(start_azimuth_deg + 360.0 * i / n_cams + rng.uniform(-8, 8))
        r = radius * rng.uniform(0.85, 1.15)
        center = np.array([r * np.cos(azimuth), r * np.sin(azimuth), rng.uniform(1.0, 2.2)])
        target = np.array([rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2), target_height])
        rvec, tvec = look_at(center, target)
        cams.append(Camera(f"cam{i + 1}", (width, height), matrix, dist, rvec, tvec))
    return CameraGroup(cams, {"units": "m", "synthetic_seed": seed})
