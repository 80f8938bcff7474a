"""Render the synthetic person into per-camera video frames that a pose detector accepts.

The body is rebuilt from its 33 MediaPipe landmarks alone (so any landmark array can be
rendered): tapered capsules for the limbs and neck, lofted surfaces for torso, hands and
shoes, an ellipsoid head with hair, nose, ears and a painted face (eyes, brows, mouth).
Surfaces are tessellated into small polygons, shaded (ambient + a light at the camera +
a key light from above, Lambertian), back-face culled, projected through
:meth:`posekit.camera.model.Camera.project` (full lens model) and drawn far to near
(painter's algorithm). The static background (wall gradient and a checked floor, also
projected through the lens model) is rendered once per camera; a soft blob shadow sits
under the person.

Sizes of body parts are fractions of the person's height, estimated from the distance
between the hip and shoulder midpoints (0.28 of the height, see
:class:`posekit.synthetic.person.BodyModel`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from posekit.camera.model import Camera, CameraGroup
from posekit.io.atomic import atomic_path
from posekit.io.video import write_video
from posekit.skeletons import MEDIAPIPE_33
from posekit.synthetic.person import joint_angles

FloatArray = NDArray[np.float64]
Color = tuple[int, int, int]
log = logging.getLogger(__name__)
_K = MEDIAPIPE_33.index
_SEG = 16  # polygons around each surface of revolution


@dataclass(frozen=True)
class PersonStyle:
    """Colours (BGR) and rendering options. ``noise_sigma`` > 0 adds seeded Gaussian
    sensor noise (grey levels); ``tile`` is the floor checker size in metres."""

    shirt: Color = (165, 95, 40)
    trousers: Color = (70, 55, 50)
    skin: Color = (125, 160, 210)
    hair: Color = (30, 38, 52)
    shoes: Color = (225, 225, 230)
    lips: Color = (80, 80, 170)
    eye_white: Color = (235, 235, 235)
    iris: Color = (40, 35, 30)
    wall_top: Color = (200, 196, 190)
    wall_bottom: Color = (170, 168, 165)
    floor: tuple[Color, Color] = ((150, 160, 170), (115, 125, 135))
    tile: float = 0.5
    floor_extent: float = 10.0
    light: tuple[float, float, float] = (0.35, -0.45, 1.0)
    shadow: bool = True
    noise_sigma: float = 0.0


class _Mesh:
    """Accumulates convex polygons (padded to 8 vertices by repeating the last one) with
    their centroids, outward normals, BGR base colours and depth biases (metres; negative
    = drawn later than its depth says)."""

    def __init__(self) -> None:
        self.parts: list[tuple[FloatArray, ...]] = []

    def add(self, verts: FloatArray, normals: FloatArray, colors: ArrayLike,
            bias: float = 0.0) -> None:
        q, k = verts.shape[:2]
        pad = np.concatenate([verts, np.repeat(verts[:, -1:], 8 - k, axis=1)], axis=1)
        col = np.broadcast_to(np.asarray(colors, dtype=np.float64), (q, 3))
        self.parts.append((pad, verts.mean(axis=1), normals, col, np.full(q, bias)))


def _unit(v: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _frame(x_dir: FloatArray, up: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Right-handed x and y axes: x along ``x_dir``, z = ``up`` made orthogonal, y = z × x."""
    x = _unit(x_dir)
    z = _unit(up - np.sum(up * x, -1, keepdims=True) * x)
    return x, np.cross(z, x)


def _loft(centres: FloatArray, ex: ArrayLike, ey: ArrayLike, a: ArrayLike, b: ArrayLike
          ) -> tuple[FloatArray, FloatArray]:
    """Quads (P*(R-1)*S, 4, 3) and outward normals of P surfaces made of R elliptic rings:
    ring centres (P, R, 3), half axes ``a``/``b`` (P, R) along ``ex``/``ey`` (broadcast to
    the shape of ``centres``)."""
    ex, ey = np.broadcast_to(ex, centres.shape), np.broadcast_to(ey, centres.shape)
    phi = np.linspace(0, 2 * np.pi, _SEG, endpoint=False)
    a_cos = np.asarray(a)[..., None] * np.cos(phi)
    b_sin = np.asarray(b)[..., None] * np.sin(phi)
    ring = (centres[..., None, :] + a_cos[..., None] * ex[..., None, :]
            + b_sin[..., None] * ey[..., None, :])
    nxt = np.roll(ring, -1, axis=-2)
    quads = np.stack([ring[:, :-1], nxt[:, :-1], nxt[:, 1:], ring[:, 1:]], axis=-2)
    quads = quads.reshape(-1, 4, 3)
    normal = _unit(np.cross(quads[:, 2] - quads[:, 0], quads[:, 3] - quads[:, 1]))
    inner = np.repeat((centres[:, :-1] + centres[:, 1:]) / 2, _SEG, axis=1).reshape(-1, 3)
    normal[np.sum(normal * (quads.mean(1) - inner), -1) < 0] *= -1
    return quads, normal


def _capsules(p0: FloatArray, p1: FloatArray, radii: FloatArray, n_cap: int = 3
              ) -> tuple[FloatArray, FloatArray]:
    """Tapered capsules (P,) from ``p0`` to ``p1`` (P, 3) with a radius profile ``radii``
    (P, m) sampled evenly along the axis, closed by hemispherical caps."""
    axis = p1 - p0
    ax = _unit(axis)
    ref = np.where(np.abs(ax[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
    ex = _unit(np.cross(ax, ref))
    th = np.linspace(0, np.pi / 2, n_cap + 1)[:-1]
    r0, r1 = radii[:, :1], radii[:, -1:]
    off = np.concatenate([-r0 * np.cos(th), 0 * radii, r1 * np.cos(th[::-1])], 1)
    rad = np.concatenate([r0 * np.sin(th), radii, r1 * np.sin(th[::-1])], 1)
    u = np.concatenate([np.zeros(n_cap), np.linspace(0, 1, radii.shape[1]), np.ones(n_cap)])
    centres = p0[:, None] + u[None, :, None] * axis[:, None] + off[..., None] * ax[:, None]
    return _loft(centres, ex[:, None], np.cross(ax, ex)[:, None], rad, rad)


def _limbs(mesh: _Mesh, p: FloatArray, h: float, st: PersonStyle) -> None:
    """Arms, legs and neck as tapered capsules; sleeves and trousers by colour bands."""
    skin, shirt, trousers = st.skin, st.shirt, st.trousers
    segs = [  # (from, to, radius profile × h, colour of each of the 10 bands along it)
        ("{s}_shoulder", "{s}_elbow", (0.034, 0.031, 0.028, 0.025, 0.023),
         (shirt,) * 5 + (skin,) * 5),
        ("{s}_elbow", "{s}_wrist", (0.023, 0.023, 0.021, 0.018, 0.016), (skin,) * 10),
        ("{s}_hip", "{s}_knee", (0.060, 0.055, 0.050, 0.044, 0.037), (trousers,) * 10),
        ("{s}_knee", "{s}_ankle", (0.036, 0.039, 0.035, 0.029, 0.024), (trousers,) * 10),
    ]
    ends = np.array([[p[_K(a.format(s=s))], p[_K(b.format(s=s))]]
                     for a, b, _, _ in segs for s in ("left", "right")])
    radii = np.repeat([r for _, _, r, _ in segs], 2, axis=0) * h
    quads, normals = _capsules(ends[:, 0], ends[:, 1], radii)
    colors = np.repeat(np.repeat([c for _, _, _, c in segs], 2, axis=0), _SEG, axis=1)
    mesh.add(quads, normals, colors.reshape(-1, 3))
    sh_mid = (p[_K("left_shoulder")] + p[_K("right_shoulder")]) / 2
    ear_mid = (p[_K("left_ear")] + p[_K("right_ear")]) / 2
    neck_top = ear_mid + 0.35 * (sh_mid - ear_mid)
    quads, normals = _capsules(sh_mid[None], neck_top[None], np.full((1, 3), 0.030 * h))
    mesh.add(quads, normals, st.skin)


def _torso(mesh: _Mesh, p: FloatArray, h: float, st: PersonStyle) -> None:
    """Lofted torso from below the hips to the base of the neck, following both the pelvis
    (hip landmarks) and the chest (shoulder landmarks)."""
    lh, rh, ls, rs = (p[_K(k)] for k in ("left_hip", "right_hip", "left_shoulder",
                                         "right_shoulder"))
    hip_mid, sh_mid = (lh + rh) / 2, (ls + rs) / 2
    prof = np.array([  # u along hip→shoulder, half width, half depth, forward offset (× h)
        (-0.19, 0.0, 0.0, -0.005), (-0.18, 0.035, 0.030, -0.005), (-0.13, 0.078, 0.055, -0.005),
        (-0.04, 0.100, 0.066, -0.008), (0.10, 0.100, 0.064, -0.006), (0.30, 0.088, 0.056, 0.0),
        (0.55, 0.092, 0.060, 0.006), (0.75, 0.099, 0.066, 0.010), (0.92, 0.106, 0.060, 0.004),
        (1.02, 0.095, 0.050, 0.0), (1.08, 0.062, 0.040, 0.0), (1.11, 0.035, 0.030, 0.0),
        (1.12, 0.0, 0.0, 0.0)])
    u = prof[:, 0]
    w = np.clip(u, 0, 1)[:, None]
    trunk = sh_mid - hip_mid
    xp, yp = _frame(rh - lh, trunk)
    xs, ys = _frame(rs - ls, trunk)
    ex, ey = _unit((1 - w) * xp + w * xs), _unit((1 - w) * yp + w * ys)
    centres = hip_mid + u[:, None] * trunk + prof[:, 3:4] * h * ey
    quads, normals = _loft(centres[None], ex[None], ey[None], prof[None, :, 1] * h,
                           prof[None, :, 2] * h)
    band = np.repeat((u[:-1] + u[1:]) / 2 > 0.2, _SEG)
    mesh.add(quads, normals, np.where(band[:, None], st.shirt, st.trousers))


def _ellipsoid(centre: FloatArray, axes: Sequence[FloatArray], radii: FloatArray,
               n_rings: int = 11) -> tuple[FloatArray, FloatArray]:
    th = np.linspace(-np.pi / 2, np.pi / 2, n_rings)
    x, y, z = axes
    centres = centre + (radii[2] * np.sin(th))[:, None] * z
    return _loft(centres[None], x, y, (radii[0] * np.cos(th))[None],
                 (radii[1] * np.cos(th))[None])


def _head(mesh: _Mesh, p: FloatArray, h: float, st: PersonStyle) -> None:
    """Head with hair, ears, nose and a painted face oriented by the face landmarks."""
    le, re, nose = p[_K("left_ear")], p[_K("right_ear")], p[_K("nose")]
    centre = (le + re) / 2
    x = _unit(re - le)
    y = _unit(nose - centre - np.dot(nose - centre, x) * x)
    z = np.cross(x, y)
    radii = np.array([0.047, 0.058, 0.067]) * h
    hc = centre + 0.004 * h * z
    quads, normals = _ellipsoid(hc, (x, y, z), radii, 13)
    rel = (quads.mean(1) - hc) @ np.stack([x, y, z]).T / radii
    hair = ((rel[:, 1] < 0.1) & (rel[:, 2] > -0.8)) | (rel[:, 2] > 0.6 - 0.25 * rel[:, 1])
    mesh.add(quads, normals, np.where(hair[:, None], st.hair, st.skin))
    for ear in (le, re):
        mesh.add(*_ellipsoid(ear, (x, y, z), np.array([0.009, 0.016, 0.022]) * h, 7), st.skin)
    root = hc + (0.052 * y + 0.012 * z) * h
    mesh.add(*_capsules(root[None], nose[None], np.array([[0.008, 0.010, 0.011]]) * h),
             st.skin)
    eyes = [p[_K(f"{s}_eye")] for s in ("left", "right")]
    mouth = (p[_K("mouth_left")] + p[_K("mouth_right")]) / 2
    half_mouth = 0.5 * float(np.linalg.norm(p[_K("mouth_left")] - p[_K("mouth_right")]))
    decals = [(e, 0.0095 * h, 0.0045 * h, st.eye_white, -0.01) for e in eyes]
    decals += [(e, 0.004 * h, 0.004 * h, st.iris, -0.02) for e in eyes]
    decals += [(e + 0.013 * h * z, 0.011 * h, 0.0022 * h, st.hair, -0.01) for e in eyes]
    decals.append((mouth, half_mouth, 0.005 * h, st.lips, -0.01))
    for pos, half_w, half_h, color, bias in decals:
        local = (pos - hc) @ np.stack([x, y, z]).T
        xz = local[[0, 2]] / radii[[0, 2]]
        local[1] = radii[1] * np.sqrt(max(1e-3, 1 - np.sum(xz**2))) + 0.002 * h
        at = hc + local @ np.stack([x, y, z])
        n = _unit((local / radii**2) @ np.stack([x, y, z]))
        eu = _unit(x - np.dot(x, n) * n)
        ev = np.cross(n, eu)
        ang = np.linspace(0, 2 * np.pi, 8, endpoint=False)
        poly = at + np.outer(half_w * np.cos(ang), eu) + np.outer(half_h * np.sin(ang), ev)
        mesh.add(poly[None], n[None], color, bias)


def _hands(mesh: _Mesh, p: FloatArray, h: float, st: PersonStyle) -> None:
    """Mitten hands towards the index/pinky knuckles, with a thumb."""
    for s in ("left", "right"):
        wrist, idx, pinky, thumb = (p[_K(f"{s}_{k}")] for k in ("wrist", "index", "pinky",
                                                                "thumb"))
        length = np.linalg.norm((idx + pinky) / 2 - wrist) / 0.44
        fwd, wide = _unit((idx + pinky) / 2 - wrist), idx - pinky
        ew = _unit(wide - np.dot(wide, fwd) * fwd)
        u = np.array([-0.05, 0.0, 0.25, 0.5, 0.75, 0.92, 1.0])
        half_w = np.array([0.0, 0.16, 0.22, 0.24, 0.22, 0.17, 0.0]) * length
        half_t = np.array([0.0, 0.11, 0.11, 0.10, 0.08, 0.06, 0.0]) * length
        centres = wrist + np.outer(u * length, fwd)
        mesh.add(*_loft(centres[None], ew, np.cross(fwd, ew), half_w[None], half_t[None]),
                 st.skin)
        base = wrist + 0.12 * length * (fwd + _unit(thumb - wrist))
        tip = thumb + 0.6 * (thumb - base)
        mesh.add(*_capsules(base[None], tip[None], np.array([[0.011, 0.009]]) * h), st.skin)


def _shoes(mesh: _Mesh, p: FloatArray, h: float, st: PersonStyle) -> None:
    """Shoes along heel → foot_index whose soles lie 0.012 h below those landmarks (on
    the floor when the person stands)."""
    prof = np.array([  # u heel→toe, half width, half height (× h)
        (-0.07, 0.0, 0.0), (-0.06, 0.020, 0.018), (0.0, 0.027, 0.025), (0.25, 0.029, 0.030),
        (0.55, 0.035, 0.024), (0.85, 0.034, 0.018), (1.02, 0.022, 0.011), (1.07, 0.0, 0.0)])
    for s in ("left", "right"):
        ankle, heel, toe = (p[_K(f"{s}_{k}")] for k in ("ankle", "heel", "foot_index"))
        f = _unit(toe - heel)
        up = _unit(ankle - heel - np.dot(ankle - heel, f) * f)
        centres = heel + np.outer(prof[:, 0], toe - heel) + np.outer(prof[:, 2] - 0.012, up) * h
        mesh.add(*_loft(centres[None], np.cross(f, up), up, prof[None, :, 1] * h,
                        prof[None, :, 2] * h), st.shoes)


def person_mesh(landmarks: ArrayLike, style: PersonStyle | None = None
                ) -> tuple[FloatArray, ...]:
    """Polygons of the body surface for landmarks (33, 3) in metres.

    Returns vertices (Q, 8, 3) (convex polygons, padded by repeating the last vertex),
    centroids (Q, 3), outward unit normals (Q, 3), BGR base colours (Q, 3) and depth
    biases (Q,) in metres. Polygons touching a NaN landmark are dropped.
    """
    st = style or PersonStyle()
    p = np.asarray(landmarks, dtype=np.float64).reshape(33, 3)
    trunk = (p[_K("left_shoulder")] + p[_K("right_shoulder")]
             - p[_K("left_hip")] - p[_K("right_hip")]) / 2
    h = float(np.linalg.norm(trunk)) / 0.28
    mesh = _Mesh()
    if np.isfinite(h) and h > 0:
        with np.errstate(invalid="ignore", divide="ignore"):
            for part in (_torso, _limbs, _head, _hands, _shoes):
                part(mesh, p, h, st)
    if not mesh.parts:
        return (np.zeros((0, 8, 3)), *(np.zeros((0, 3)),) * 3, np.zeros(0))
    arrays = [np.concatenate(a) for a in zip(*mesh.parts, strict=True)]
    ok = np.all(np.isfinite(arrays[0]), axis=(1, 2)) & np.all(np.isfinite(arrays[2]), axis=1)
    return tuple(a[ok] for a in arrays)


def _fold_radius(camera: Camera) -> float:
    """Normalised image radius up to which the lens model stays monotonic (and so
    invertible); projected polygons beyond it would fold back into the image."""
    corners = np.array([[0, 0], [1, 1], [0, 1], [1, 0]]) * (np.array(camera.size) - 1.0)
    r_img = float(np.nanmax(np.linalg.norm(camera.undistort_points(corners), axis=1)))
    if camera.fisheye:
        return 1.6 * r_img
    k1, k2, _, _, k3 = camera.dist
    r = np.linspace(1e-3, 4.0, 4000)
    slope = 1 + 3 * k1 * r**2 + 5 * k2 * r**4 + 7 * k3 * r**6
    bad = np.nonzero(slope <= 0.05)[0]
    return float(min(1.6 * r_img, 0.95 * r[bad[0]] if len(bad) else np.inf))


def _project_polys(camera: Camera, verts: FloatArray, r_max: float
                   ) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Pixels (Q, K, 2) of polygons (Q, K, 3) and which polygons lie fully in the part of
    the view where the lens model is valid (in front of the camera, normalised radius
    below ``r_max`` from :func:`_fold_radius`)."""
    cam = camera.world_to_camera(verts)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.linalg.norm(cam[..., :2], axis=-1) / cam[..., 2]
    ok = np.all((cam[..., 2] > 0.05) & (r < r_max), axis=1)
    return camera.project(verts), ok


def render_background(camera: Camera, style: PersonStyle | None = None) -> NDArray[np.uint8]:
    """Static BGR background (H, W, 3) for ``camera``: a wall gradient and a checked floor
    (squares of ``style.tile`` metres up to ``style.floor_extent`` from the origin) that
    fades into the wall with distance."""
    st = style or PersonStyle()
    width, height = camera.size
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    wall = (1 - ramp) * np.array(st.wall_top) + ramp * np.array(st.wall_bottom)
    img = np.ascontiguousarray(np.broadcast_to(wall, (height, width, 3)).astype(np.uint8))
    step = st.tile / 2
    grid = np.arange(-st.floor_extent, st.floor_extent, step) + step / 2
    gx, gy = (a.ravel() for a in np.meshgrid(grid, grid))
    corner = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * step / 2
    verts = np.zeros((len(gx), 4, 3))
    verts[..., :2] = np.stack([gx, gy], -1)[:, None] + corner
    checker = (np.floor(gx / st.tile) + np.floor(gy / st.tile)).astype(int) % 2
    fog = np.clip((np.hypot(gx, gy) - 3.0) / (st.floor_extent - 3.0), 0, 1)[:, None] * 0.7
    colors = (1 - fog) * np.array(st.floor)[checker] + fog * np.array(st.wall_bottom)
    uv, ok = _project_polys(camera, verts, _fold_radius(camera))
    pts = np.round(uv[ok] * 16).astype(np.int32)
    for poly, col in zip(pts, colors[ok].tolist(), strict=True):
        cv2.fillConvexPoly(img, poly, col, cv2.LINE_AA, 4)
    return img


def _shadow(img: NDArray[np.uint8], camera: Camera, p: FloatArray, r_max: float) -> None:
    """Darken a soft ellipse on the floor under the person (fainter when airborne)."""
    feet = p[[_K(f"{s}_{k}") for s in ("left", "right") for k in ("heel", "foot_index")]]
    across = p[_K("right_hip")] - p[_K("left_hip")]
    if not (np.all(np.isfinite(feet)) and np.all(np.isfinite(across))):
        return
    size = float(np.linalg.norm(across)) / 0.12  # ≈ body height
    ex = _unit(np.array([across[0], across[1], 0.0]))
    ang = np.linspace(0, 2 * np.pi, 32, endpoint=False)[:, None]
    ring = (feet.mean(0) * [1, 1, 0] + [0, 0, 0.001] + 0.17 * size * np.cos(ang) * ex
            + 0.22 * size * np.sin(ang) * np.cross([0.0, 0.0, 1.0], ex))
    uv, ok = _project_polys(camera, ring[None], r_max)
    if not ok[0]:
        return
    pad = int(0.3 * np.ptp(uv[0][:, 0])) + 4
    x0, y0 = np.floor(uv[0].min(0)).astype(int) - pad
    x1, y1 = np.ceil(uv[0].max(0)).astype(int) + pad
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, img.shape[1]), min(y1, img.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, np.round((uv[0] - [x0, y0]) * 16).astype(np.int32), 255,
                       cv2.LINE_AA, 4)
    soft = cv2.GaussianBlur(mask, (0, 0), max(2.0, 0.05 * (x1 - x0))).astype(np.float32) / 255
    alpha = 0.45 * np.exp(-max(0.0, float(feet[:, 2].min()) - 0.02) / 0.3)
    roi = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = (roi * (1 - alpha * soft[..., None])).astype(np.uint8)


class PersonRenderer:
    """Renders the person for one camera; the background is rendered once, on creation.

    ``seed`` seeds the sensor noise (only when ``style.noise_sigma`` > 0): each frame adds
    one of four seeded Gaussian noise images, chosen at random.
    """

    def __init__(self, camera: Camera, style: PersonStyle | None = None, seed: int = 0):
        self.camera = camera
        self.style = style or PersonStyle()
        self.background = render_background(camera, self.style)
        self._rng = np.random.default_rng(seed)
        self._light = _unit(np.asarray(self.style.light, dtype=np.float64))
        self._r_max = _fold_radius(camera)
        self._noise: list[tuple[NDArray[np.uint8], NDArray[np.uint8]]] = []

    def render(self, landmarks: ArrayLike) -> NDArray[np.uint8]:
        """BGR uint8 frame (H, W, 3) showing the person with landmarks (33, 3) metres."""
        img = self.background.copy()
        p = np.asarray(landmarks, dtype=np.float64).reshape(33, 3)
        if self.style.shadow:
            _shadow(img, self.camera, p, self._r_max)
        verts, centres, normals, colors, bias = person_mesh(p, self.style)
        view = _unit(self.camera.center - centres)
        front = np.sum(normals * view, axis=1) > 0
        shade = (0.30 + 0.40 * np.clip(np.sum(normals * view, 1), 0, 1)
                 + 0.40 * np.clip(normals @ self._light, 0, 1))
        uv, ok = _project_polys(self.camera, verts, self._r_max)
        keep = front & ok
        depth = self.camera.world_to_camera(centres[keep])[:, 2] + bias[keep]
        order = np.argsort(-depth, kind="stable")
        pts = np.round(uv[keep] * 16).astype(np.int32)[order]
        cols = np.clip(colors[keep] * shade[keep, None], 0, 255)[order].tolist()
        for poly, col in zip(pts, cols, strict=True):
            cv2.fillConvexPoly(img, poly, col, cv2.LINE_AA, 4)
        if self.style.noise_sigma > 0:
            if not self._noise:  # a few seeded noise images, split into +/- parts
                noise = self.style.noise_sigma * self._rng.standard_normal(
                    (4, *img.shape), dtype=np.float32)
                self._noise = [(np.clip(n, 0, 255).astype(np.uint8),
                                np.clip(-n, 0, 255).astype(np.uint8)) for n in noise]
            plus, minus = self._noise[int(self._rng.integers(len(self._noise)))]
            img = cv2.subtract(cv2.add(img, plus), minus)
        return img


def render_person_frame(camera: Camera, landmarks: ArrayLike,
                        style: PersonStyle | None = None) -> NDArray[np.uint8]:
    """One BGR uint8 frame (H, W, 3) of the person with landmarks (33, 3) seen by
    ``camera``. Renders the background each call: use :class:`PersonRenderer` for
    sequences."""
    return PersonRenderer(camera, style).render(landmarks)


def render_person_videos(
    group: CameraGroup,
    landmarks: ArrayLike,
    out_dir: str | os.PathLike[str],
    fps: float | Sequence[float],
    style: PersonStyle | None = None,
    seed: int = 0,
    times: ArrayLike | None = None,
) -> dict[str, Path]:
    """Render one ``<camera name>.mp4`` per camera into ``out_dir`` plus
    ``ground_truth.npz``; files appear atomically. Returns camera name → video path and
    ``"ground_truth"`` → npz path.

    ``landmarks`` is (n_frames, 33, 3) (all cameras see the same instants) or
    (n_cams, n_frames, 33, 3) (per camera, e.g. from
    :func:`posekit.synthetic.motions.sample_cameras` for unsynchronised cameras).
    ``fps`` is one rate or one per camera. The npz holds ``camera_names`` (n_cams,),
    ``keypoints`` (33,), ``fps`` (n_cams,), ``points3d`` (as given), ``points2d``
    (n_cams, n_frames, 33, 2) pixels through the full lens model (NaN behind a camera),
    ``angle_<name>`` (per :func:`posekit.synthetic.person.joint_angles`, shape of
    ``points3d`` without the last two axes) and ``times`` (s, (n_frames,) or
    (n_cams, n_frames)) when given.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    n_cams = len(group)
    if pts.ndim == 3 and pts.shape[1:] == (33, 3):
        per_cam = np.broadcast_to(pts, (n_cams, *pts.shape))
    elif pts.ndim == 4 and pts.shape[0] == n_cams and pts.shape[2:] == (33, 3):
        per_cam = pts
    else:
        raise ValueError(f"landmarks must be (n_frames, 33, 3) or ({n_cams}, n_frames, 33, 3),"
                         f" got {pts.shape}")
    rates = [float(f) for f in fps] if isinstance(fps, Sequence) else [float(fps)] * n_cams
    if len(rates) != n_cams:
        raise ValueError(f"expected {n_cams} frame rates, got {len(rates)}")
    out = Path(out_dir)
    paths: dict[str, Path] = {}
    for c, cam in enumerate(group):
        renderer = PersonRenderer(cam, style, seed + c)
        frames = (renderer.render(frame) for frame in per_cam[c])
        paths[cam.name] = write_video(out / f"{cam.name}.mp4", frames, rates[c])
        log.info("rendered %d frames for %s", len(per_cam[c]), cam.name)
    gt: dict[str, ArrayLike] = {
        "camera_names": np.array(group.names), "keypoints": np.array(MEDIAPIPE_33.keypoints),
        "fps": np.array(rates), "points3d": pts,
        "points2d": np.stack([cam.project(per_cam[c]) for c, cam in enumerate(group)]),
    }
    gt.update({f"angle_{k}": v for k, v in joint_angles(pts).items()})
    if times is not None:
        gt["times"] = np.asarray(times, dtype=np.float64)
    with atomic_path(out / "ground_truth.npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **gt)  # type: ignore[arg-type]
    paths["ground_truth"] = out / "ground_truth.npz"
    return paths
