"""Rendered ChArUco calibration videos with exact ground truth.

The board is a textured plane; the texture is OpenCV's own board image with a white paper
margin. Every pixel's viewing ray is found once per camera by inverting the lens model
(:meth:`Camera.undistort_points`), so rendering is exact for any distortion: per frame the
rays map to board coordinates through one homography. Pixels are anti-aliased by
supersampling (``S x S`` rays per pixel, box filter) from the texture mip level that matches
the sub-sample footprint.

Board frame (OpenCV >= 4.6): metres, origin at the top-left corner of the squares area of
the printed image, x along the columns, y down the rows, z into the board, so the printed
face looks along -z. The back of the board is blank. Poses are board → world:
``X_world = R(rvec) @ X_board + tvec``.
"""

from __future__ import annotations

import functools
import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial.transform import Rotation
from scipy.special import ndtri

from posekit.camera.model import Camera, CameraGroup
from posekit.io.atomic import atomic_path
from posekit.io.video import video_writer

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
F32 = NDArray[np.float32]
_MIP_LEVELS = 6  # level-0 texture sides are multiples of 2**(_MIP_LEVELS - 1)
_LIGHT = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
_PAPER = (0.05, 0.90)  # reflectance of the black and the white print
_BACK = 0.55  # reflectance of the blank back
_FAR = -1.0e6  # texture coordinate of rays that miss the board plane
_STRIP_ROWS = 64  # image rows sampled at a time
_LOD_PERCENTILE = 10  # mip level from the finest 10 % of the board's footprint, rounded


@dataclass(frozen=True)
class BoardSpec:
    """A printed ChArUco board.

    ``squares_x`` x ``squares_y`` squares as in ``cv2.aruco.CharucoBoard((squares_x,
    squares_y), ...)``; lengths in metres; dictionary ``DICT_{bits}X{bits}_{dict_size}``
    (Anipose's ``board_marker_bits`` / ``board_marker_dict_number``); ``legacy`` selects the
    pre-OpenCV-4.6 layout (it differs only when ``squares_y`` is even); ``margin`` is the
    white paper border around the squares.
    """

    squares_x: int = 5
    squares_y: int = 7
    square_length: float = 0.12
    marker_length: float = 0.08
    marker_bits: int = 4
    dict_size: int = 50
    legacy: bool = False
    margin: float = 0.03

    def __post_init__(self) -> None:
        if self.marker_bits not in (4, 5, 6, 7) or self.dict_size not in (50, 100, 250, 1000):
            raise ValueError(f"no ArUco dictionary DICT_{self.marker_bits}X{self.marker_bits}"
                             f"_{self.dict_size}")
        if not 0 < self.marker_length < self.square_length or self.margin < 0:
            raise ValueError("need 0 < marker_length < square_length and margin >= 0")
        if min(self.squares_x, self.squares_y) < 2:
            raise ValueError("a ChArUco board needs at least 2 x 2 squares")
        if self.squares_x * self.squares_y // 2 > self.dict_size:
            raise ValueError(f"the board's markers do not fit in {self.dict_size} ids")

    def dictionary_id(self) -> int:
        """The ``cv2.aruco.DICT_*`` constant of the board's dictionary."""
        bits = self.marker_bits
        return int(getattr(cv2.aruco, f"DICT_{bits}X{bits}_{self.dict_size}"))

    def make_board(self) -> cv2.aruco.CharucoBoard:
        """The OpenCV board (legacy pattern set when ``legacy``)."""
        dictionary = cv2.aruco.getPredefinedDictionary(self.dictionary_id())
        board = cv2.aruco.CharucoBoard((self.squares_x, self.squares_y), self.square_length,
                                       self.marker_length, dictionary)
        board.setLegacyPattern(self.legacy)
        return board

    @property
    def n_corners(self) -> int:
        return (self.squares_x - 1) * (self.squares_y - 1)

    @property
    def size(self) -> tuple[float, float]:
        """Width and height of the squares area in metres (without the margin)."""
        return self.squares_x * self.square_length, self.squares_y * self.square_length

    def corner_points_3d(self) -> FloatArray:
        """Inner chessboard corners (n_corners, 3) in the board frame, metres, z = 0.

        Row by row from the top-left, numbered as ``board.getChessboardCorners()`` (the
        ChArUco corner ids), in float64 rather than OpenCV's float32.
        """
        ids = np.arange(self.n_corners)
        cols, rows = ids % (self.squares_x - 1), ids // (self.squares_x - 1)
        zeros = np.zeros(ids.size)
        return np.stack([(cols + 1.0) * self.square_length,
                         (rows + 1.0) * self.square_length, zeros], axis=1)


@dataclass(frozen=True)
class BoardTexture:
    """Mip pyramid of the printed face: per level a float32 (h, w, 2) array (value, alpha).

    Values run from 0 (black) to 1 (white), alpha is 1 on the paper. Level 0 has
    ``texels_per_m`` texels per metre with square edges on texel boundaries and each level
    halves the previous one exactly, so board point ``(u, v)`` is at texel coordinate
    ``(u + margin) * texels_per_m / 2**L - 0.5`` of level ``L`` (texel-centre convention).
    """

    levels: tuple[F32, ...]
    texels_per_m: float
    margin: float  # metres of white border as printed (rounded to whole texels)


@functools.lru_cache(maxsize=4)
def board_texture(board: BoardSpec, texels_per_square: int = 256) -> BoardTexture:
    """The board's texture, ``texels_per_square`` rounded up to a multiple of 32 (cached)."""
    step = 2 ** (_MIP_LEVELS - 1)
    pps = int(np.ceil(texels_per_square / step) * step)
    margin_px = int(np.ceil(board.margin / board.square_length * pps / step) * step)
    size = (board.squares_x * pps + 2 * margin_px, board.squares_y * pps + 2 * margin_px)
    img = board.make_board().generateImage(size, marginSize=margin_px, borderBits=1)
    level = np.dstack([img.astype(np.float32) / 255.0, np.ones(img.shape, np.float32)])
    levels = [level]
    for _ in range(_MIP_LEVELS - 1):
        height, width = level.shape[:2]
        level = cv2.resize(level, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
        levels.append(level)
    ppm = pps / board.square_length
    return BoardTexture(tuple(levels), ppm, margin_px / ppm)


# -- trajectory -------------------------------------------------------------------------
def _waves(rng: np.random.Generator, tau: FloatArray, n: int) -> FloatArray:
    """``n`` smooth seeded signals in [-1, 1] over sequence fraction ``tau`` → (n, ...)."""
    freqs = rng.uniform(0.6, 2.6, size=(n, 2))
    phases = rng.uniform(0.0, 2 * np.pi, size=(n, 2))
    weights = np.array([0.65, 0.35])
    arg = 2 * np.pi * freqs[..., None] * tau.ravel() + phases[..., None]
    return np.einsum("k,nkt->nt", weights, np.sin(arg)).reshape((n, *tau.shape))


def board_pose_at(
    times: ArrayLike,
    n_frames: int,
    seed: int = 0,
    board: BoardSpec | None = None,
    center: ArrayLike = (0.0, 0.0, 1.15),
    reach: float = 1.5,
    height_amplitude: float = 0.45,
    turns: float = 1.5,
) -> tuple[FloatArray, FloatArray]:
    """Board → world poses at frame times (fractional allowed) of the calibration motion.

    The centre of the squares circles ``center`` once over ``n_frames`` frames at a
    distance that wanders smoothly between 0 and ``reach`` m, and bobs up and down by
    ``±height_amplitude`` m; the printed face turns ``turns`` times around the vertical (so
    it faces each camera of a ring in turn and shows others its edge or blank back) while
    tilting by about ±26° and rolling by up to ±35°. Everything is a sum of seeded
    sinusoids of the sequence fraction ``t / n_frames``, smooth and deterministic.
    Returns Rodrigues rotations and translations, each (..., 3), shaped like ``times``.
    """
    board = board or BoardSpec()
    t = np.asarray(times, dtype=np.float64)
    tau = t / max(int(n_frames), 1)
    rng = np.random.default_rng(seed)
    w = _waves(rng, tau, 6)
    angle = rng.uniform(0, 2 * np.pi) + 2 * np.pi * tau + 0.6 * w[0]
    sweeps = rng.uniform(2.5, 3.5)  # in-out sweeps between the centre and the rim
    radius = reach * (0.5 - 0.5 * np.cos(2 * np.pi * sweeps * tau + 0.3 * w[1]))
    centre = np.asarray(center, dtype=np.float64) + np.stack(
        [radius * np.cos(angle), radius * np.sin(angle), height_amplitude * w[2]], axis=-1)
    azimuth = rng.uniform(0, 2 * np.pi) - 2 * np.pi * turns * tau + 0.5 * w[3]
    elevation = 0.45 * w[4] - 0.05
    roll = 0.6 * w[5]
    face = np.stack([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
                     np.sin(elevation)], axis=-1)  # outward normal of the printed face
    down = np.array([0.0, 0.0, -1.0]) - np.sin(-elevation)[..., None] * face
    down /= np.linalg.norm(down, axis=-1, keepdims=True)
    side = np.cross(face, down)
    y_axis = np.cos(roll)[..., None] * down + np.sin(roll)[..., None] * side
    z_axis = -face
    x_axis = np.cross(y_axis, z_axis)
    rot = np.stack([x_axis, y_axis, z_axis], axis=-1)  # columns: board axes in the world
    half = np.array([board.size[0] / 2, board.size[1] / 2, 0.0])
    tvecs = centre - rot @ half
    rvecs = Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_rotvec().reshape(tvecs.shape)
    return rvecs, tvecs


def board_trajectory(n_frames: int, seed: int = 0, **kwargs: Any) -> tuple[FloatArray, FloatArray]:
    """Per-frame board → world poses: rvecs (n_frames, 3), tvecs (n_frames, 3) in metres.

    ``kwargs`` go to :func:`board_pose_at`.
    """
    return board_pose_at(np.arange(n_frames), n_frames, seed, **kwargs)


# -- ground truth -----------------------------------------------------------------------
def board_to_world(board: BoardSpec, rvecs: ArrayLike, tvecs: ArrayLike) -> FloatArray:
    """World positions (n_frames, n_corners, 3) of the corners for poses (n_frames, 3)."""
    rot = Rotation.from_rotvec(np.asarray(rvecs, np.float64).reshape(-1, 3)).as_matrix()
    tvecs = np.asarray(tvecs, np.float64).reshape(-1, 3)
    return np.einsum("fij,nj->fni", rot, board.corner_points_3d()) + tvecs[:, None]


def view_cosines(camera: Camera, board: BoardSpec, rvecs: ArrayLike, tvecs: ArrayLike
                 ) -> FloatArray:
    """Cosine (n_frames,) between the printed face's normal and the direction to the camera.

    Measured at the centre of the squares; 1 when seen square on, negative when the camera
    sees the blank back (the board is a plane, so the sign holds for all of it).
    """
    rot = Rotation.from_rotvec(np.asarray(rvecs, np.float64).reshape(-1, 3)).as_matrix()
    centre = rot @ np.array([board.size[0] / 2, board.size[1] / 2, 0.0])
    to_cam = camera.center - np.asarray(tvecs, np.float64).reshape(-1, 3) - centre
    to_cam /= np.linalg.norm(to_cam, axis=-1, keepdims=True)
    return -np.einsum("fi,fi->f", rot[:, :, 2], to_cam)


def project_corners(camera: Camera, board: BoardSpec, rvecs: ArrayLike, tvecs: ArrayLike
                    ) -> FloatArray:
    """Ground-truth pixel positions (n_frames, n_corners, 2) of the corners.

    NaN where a corner is not visible: behind the camera, outside the image (pixel centres
    at integers, so the image spans -0.5 .. size - 0.5), where the board shows its back, or
    where the lens model folds over (the projection does not undistort back to the ray).
    """
    world = board_to_world(board, rvecs, tvecs)
    cam = camera.world_to_camera(world)
    pix = camera.project(world)
    with np.errstate(invalid="ignore", divide="ignore"):
        ideal = cam[..., :2] / cam[..., 2:]
        back = camera.undistort_points(pix)
        ok = ((cam[..., 2] > 1e-6) & _in_image(pix, camera.size)
              & (np.abs(back - ideal).max(axis=-1) < 1e-5)
              & (view_cosines(camera, board, rvecs, tvecs) > 0)[:, None])
    pix[~ok] = np.nan
    return pix


# -- per-camera precomputation ----------------------------------------------------------
@dataclass(frozen=True)
class _CameraData:
    rays: F32  # (H + 2, W + 2, 2) ideal normalised coordinates of pixel centres -1 .. W
    background: NDArray[np.uint8]  # (H, W, 3) BGR


_CACHE: OrderedDict[tuple[Any, ...], _CameraData] = OrderedDict()
_CACHE_SIZE = 8


def _background(camera: Camera, rays: F32) -> NDArray[np.uint8]:
    """A soft, static scene: a wooden-ish floor (z = 0) and a graded wall, BGR uint8."""
    xy = rays[1:-1, 1:-1].astype(np.float64)
    dirs = np.concatenate([xy, np.ones((*xy.shape[:2], 1))], axis=-1) @ camera.rotation
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    centre = camera.center
    dz = np.minimum(dirs[..., 2], -1e-6)
    hit = centre + (-centre[2] / dz)[..., None] * dirs  # floor point (where dz < 0)
    on_floor = (dirs[..., 2] < -0.02) & (np.hypot(hit[..., 0], hit[..., 1]) < 15.0)
    floor_gain = (1.0 + 0.18 * np.sin(1.3 * hit[..., 0] + 0.4) * np.sin(0.9 * hit[..., 1])
                  + 0.08 * np.sin(0.35 * (hit[..., 0] + 2.0 * hit[..., 1])))
    elevation = np.arcsin(np.clip(dirs[..., 2], -1.0, 1.0))
    azimuth = np.arctan2(dirs[..., 1], dirs[..., 0])
    wall_gain = 0.85 + 0.35 * np.clip(elevation + 0.2, 0.0, 1.0) + 0.08 * np.sin(3 * azimuth)
    floor_bgr = np.array([70.0, 100.0, 130.0])
    wall_bgr = np.array([165.0, 155.0, 140.0])
    img = np.where(on_floor[..., None], floor_gain[..., None] * floor_bgr,
                   wall_gain[..., None] * wall_bgr)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _camera_data(camera: Camera) -> _CameraData:
    """Pixel rays and background of ``camera``, computed once and kept in a small LRU."""
    key = (camera.name, camera.size, camera.fisheye, camera.matrix.tobytes(),
           camera.dist.tobytes(), camera.rvec.tobytes(), camera.tvec.tobytes())
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    width, height = camera.size
    grid = np.stack(np.meshgrid(np.arange(-1.0, width + 1), np.arange(-1.0, height + 1)), -1)
    rays = camera.undistort_points(grid).astype(np.float32)
    data = _CameraData(rays, _background(camera, rays))
    _CACHE[key] = data
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return data


# -- rendering --------------------------------------------------------------------------
def _in_image(pix: FloatArray, size: tuple[int, int]) -> NDArray[np.bool_]:
    """Whether pixel positions (..., 2) lie in the image (-0.5 .. size - 0.5); NaN: False."""
    with np.errstate(invalid="ignore"):
        return ((pix[..., 0] >= -0.5) & (pix[..., 0] <= size[0] - 0.5)
                & (pix[..., 1] >= -0.5) & (pix[..., 1] <= size[1] - 0.5))


def _plane_matrix(camera: Camera, rot: FloatArray, tvec: FloatArray) -> FloatArray:
    """``M`` (3, 3) with camera-frame point ``M @ (u, v, 1)`` for board point ``(u, v)``."""
    cam_rot = camera.rotation
    return np.column_stack([cam_rot @ rot[:, 0], cam_rot @ rot[:, 1],
                            cam_rot @ tvec + camera.tvec])


def _board_roi(camera: Camera, data: _CameraData, plane: FloatArray, board: BoardSpec,
               margin: float) -> tuple[int, int, int, int] | None:
    """Pixel bounding box (r0, r1, c0, c1), ends exclusive, of the board paper, or None.

    The visible part's extremes lie on the paper's outline inside the image or on the image
    border, so both are tested: outline points by projection (checked by undistorting back,
    which rejects lens fold-over), border pixels by intersecting their rays with the board.
    """
    width, height = camera.size
    (lo_u, lo_v), (hi_u, hi_v) = (-margin, -margin), (board.size[0] + margin,
                                                       board.size[1] + margin)
    box = np.array([[lo_u, lo_v], [hi_u, lo_v], [hi_u, hi_v], [lo_u, hi_v], [lo_u, lo_v]])
    s = np.linspace(0.0, 1.0, 256)[:, None]
    outline = (box[:-1, None] * (1 - s) + box[1:, None] * s).reshape(-1, 2)
    cam = np.concatenate([outline, np.ones((len(outline), 1))], -1) @ plane.T
    with np.errstate(invalid="ignore", divide="ignore"):
        ideal = np.where(cam[:, 2:] > 1e-6, cam[:, :2] / cam[:, 2:], np.nan)
        pix = camera.distort_normalized(ideal)
        ok = _in_image(pix, camera.size) & (
            np.abs(camera.undistort_points(pix) - ideal).max(-1) < 1e-4)
    xs, ys = np.arange(width), np.arange(height)
    ring = np.concatenate([np.stack([xs, np.zeros_like(xs)], -1),
                           np.stack([xs, np.full_like(xs, height - 1)], -1),
                           np.stack([np.zeros_like(ys), ys], -1),
                           np.stack([np.full_like(ys, width - 1), ys], -1)])
    rays = data.rays[ring[:, 1] + 1, ring[:, 0] + 1].astype(np.float64)
    uvw = np.concatenate([rays, np.ones((len(rays), 1))], -1) @ np.linalg.inv(plane).T
    with np.errstate(invalid="ignore", divide="ignore"):
        u, v = uvw[:, 0] / uvw[:, 2], uvw[:, 1] / uvw[:, 2]
        hit = (uvw[:, 2] > 0) & (u >= lo_u) & (u <= hi_u) & (v >= lo_v) & (v <= hi_v)
    points = np.concatenate([pix[ok], ring[hit]])
    if len(points) == 0:
        return None
    c0, r0 = np.floor(points.min(0)).astype(int) - 2
    c1, r1 = np.ceil(points.max(0)).astype(int) + 3
    return max(r0, 0), min(r1, height), max(c0, 0), min(c1, width)


def _sample_board(data: _CameraData, roi: tuple[int, int, int, int], hom: FloatArray,
                  texture: BoardTexture, supersample: int) -> tuple[F32, F32]:
    """Box-filtered texture value and coverage, each (h, w), of the ROI's pixels.

    ``hom`` maps ideal normalised coordinates to level-0 texel coordinates; its third
    output is positive where the ray meets the plane in front of the camera. Texture
    coordinates are computed per pixel (with one pixel of padding) and interpolated to the
    sub-sample centres, which is exact to well below 1e-3 px for these smooth maps.
    """
    r0, r1, c0, c1 = roi
    height, width, s = r1 - r0, c1 - c0, supersample
    rays = data.rays[r0:r1 + 2, c0:c1 + 2]
    x, y = rays[..., 0], rays[..., 1]
    h = hom.astype(np.float32)
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    front = w > 1e-12
    w = np.where(front, w, np.float32(1.0))
    tx = np.where(front, (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / w, np.float32(_FAR))
    ty = np.where(front, (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / w, np.float32(_FAR))
    # level of detail: texels per sub-sample along the less compressed image axis
    foot = np.minimum(np.hypot(np.diff(tx, axis=1), np.diff(ty, axis=1))[:-1],
                      np.hypot(np.diff(tx, axis=0), np.diff(ty, axis=0))[:, :-1])
    tex_h, tex_w = texture.levels[0].shape[:2]
    txc, tyc = tx[:-1, :-1], ty[:-1, :-1]
    inside = (txc > 0) & (txc < tex_w) & (tyc > 0) & (tyc < tex_h) & (foot < 1e4)
    level = 0
    if np.any(inside):
        ratio = float(np.percentile(foot[inside], _LOD_PERCENTILE)) / s
        level = int(np.clip(np.floor(np.log2(max(ratio, 1e-9)) + 0.5), 0, _MIP_LEVELS - 1))
    scale = np.float32(0.5**level)
    maps = np.dstack([(tx + 0.5) * scale - 0.5, (ty + 0.5) * scale - 0.5])
    out = np.empty((height, width, 2), np.float32)
    for top in range(0, height, _STRIP_ROWS):  # strips bound the S x S memory
        rows = min(_STRIP_ROWS, height - top)
        sub = cv2.resize(maps[top:top + rows + 2], ((width + 2) * s, (rows + 2) * s),
                         interpolation=cv2.INTER_LINEAR)[s:-s, s:-s]
        sampled = cv2.remap(texture.levels[level], np.ascontiguousarray(sub), None,
                            cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        out[top:top + rows] = cv2.resize(sampled, (width, rows), interpolation=cv2.INTER_AREA)
    return out[..., 0], out[..., 1]


def _board_layer(camera: Camera, data: _CameraData, board: BoardSpec, texture: BoardTexture,
                 poses: list[tuple[FloatArray, FloatArray, FloatArray]], blur_pad: int,
                 supersample: int, exposure: float
                 ) -> tuple[tuple[int, int, int, int], F32, F32] | None:
    """ROI, premultiplied board radiance and coverage (h, w), averaged over ``poses``.

    ``poses`` holds (rotation (3, 3), translation (3,), plane matrix) per sub-exposure.
    """
    rois = [_board_roi(camera, data, plane, board, texture.margin) for _, _, plane in poses]
    boxes = np.array([r for r in rois if r is not None], dtype=int).reshape(-1, 4)
    if len(boxes) == 0:
        return None
    roi = (max(int(boxes[:, 0].min()) - blur_pad, 0),
           min(int(boxes[:, 1].max()) + blur_pad, camera.size[1]),
           max(int(boxes[:, 2].min()) - blur_pad, 0),
           min(int(boxes[:, 3].max()) + blur_pad, camera.size[0]))
    ppm, off = texture.texels_per_m, texture.margin * texture.texels_per_m - 0.5
    to_texels = np.array([[ppm, 0.0, off], [0.0, ppm, off], [0.0, 0.0, 1.0]])
    radiance = np.zeros((roi[1] - roi[0], roi[3] - roi[2]), np.float32)
    alpha = np.zeros_like(radiance)
    for rot, tvec, plane in poses:
        value, cover = _sample_board(data, roi, to_texels @ np.linalg.inv(plane), texture,
                                     supersample)
        front = float(-rot[:, 2] @ (camera.center - tvec)) > 0
        normal = -rot[:, 2] if front else rot[:, 2]
        gain = 255.0 * exposure * (0.55 + 0.45 * max(float(normal @ _LIGHT), 0.0))
        if front:
            radiance += gain * (_PAPER[0] * cover + (_PAPER[1] - _PAPER[0]) * value)
        else:
            radiance += gain * _BACK * cover
        alpha += cover
    return roi, radiance / len(poses), alpha / len(poses)


def render_frame(
    camera: Camera,
    board: BoardSpec,
    pose: tuple[ArrayLike, ArrayLike],
    *,
    supersample: int = 3,
    blur_sigma: float = 0.0,
    noise_sigma: float = 0.0,
    seed: int | list[int] = 0,
    exposure: float = 1.0,
    texels_per_square: int = 256,
) -> NDArray[np.uint8]:
    """One BGR uint8 frame (H, W, 3) of ``camera`` seeing the board at ``pose``.

    ``pose`` is ``(rvec, tvec)`` board → world, each (3,), or each (k, 3) for k
    sub-exposures that are averaged (motion blur). The printed face is lit by a fixed
    directional light (Lambertian, white 0.9 and black 0.05 reflectance); the back is
    blank. ``blur_sigma`` (pixels) is a Gaussian optical blur applied around the board
    (the background is smooth); ``noise_sigma`` (grey levels) is Gaussian sensor noise from
    ``np.random.default_rng(seed)``. ``supersample`` S gives S x S rays per pixel.
    """
    data = _camera_data(camera)
    texture = board_texture(board, texels_per_square)
    rvecs = np.asarray(pose[0], np.float64).reshape(-1, 3)
    tvecs = np.asarray(pose[1], np.float64).reshape(-1, 3)
    poses = []
    for rot, tvec in zip(Rotation.from_rotvec(rvecs).as_matrix(), tvecs, strict=True):
        plane = _plane_matrix(camera, rot, tvec)
        if abs(np.linalg.det(plane)) > 1e-12:  # else the camera is in the board's plane
            poses.append((rot, tvec, plane))
    pad = int(np.ceil(3 * blur_sigma)) + 1 if blur_sigma > 0 else 0
    layer = _board_layer(camera, data, board, texture, poses, pad, supersample,
                         exposure) if poses else None
    rng = np.random.default_rng(seed)
    frame = data.background.copy()
    if noise_sigma > 0:  # cheap quantised noise; the board's patch gets exact noise below
        levels = np.rint(noise_sigma * ndtri((np.arange(256) + 0.5) / 256)).astype(np.int16)
        noise = cv2.LUT(np.frombuffer(rng.bytes(frame.size), np.uint8).reshape(frame.shape),
                        levels)
        frame = cv2.add(frame, noise, dtype=cv2.CV_8U)
    if layer is not None:
        (r0, r1, c0, c1), radiance, alpha = layer
        visible = len(poses) / len(rvecs)  # sub-exposures edge-on to the camera show nothing
        background = data.background[r0:r1, c0:c1].astype(np.float32)
        patch = (visible * radiance)[..., None] + (1 - visible * alpha)[..., None] * background
        if blur_sigma > 0:
            patch = cv2.GaussianBlur(patch, (0, 0), blur_sigma)
        if noise_sigma > 0:
            patch += rng.standard_normal(patch.shape, dtype=np.float32) * np.float32(noise_sigma)
        frame[r0:r1, c0:c1] = np.clip(np.rint(patch), 0, 255).astype(np.uint8)
    return frame


# -- whole calibration sets -------------------------------------------------------------
@dataclass(frozen=True)
class CalibrationTruth:
    """Exact ground truth of a rendered calibration set.

    Attributes:
        board: the board.
        camera_names: camera order of the first axis of the per-camera arrays.
        corners_2d: (n_cams, n_frames, n_corners, 2) pixels, NaN where not visible (see
            :func:`project_corners`).
        corners_3d: (n_frames, n_corners, 3) world positions in metres.
        rvecs, tvecs: (n_frames, 3) board → world poses at mid-exposure.
        view_cos: (n_cams, n_frames) see :func:`view_cosines`; negative: back side seen.
        fps: frame rate of the videos.
    """

    board: BoardSpec
    camera_names: tuple[str, ...]
    corners_2d: FloatArray
    corners_3d: FloatArray
    rvecs: FloatArray
    tvecs: FloatArray
    view_cos: FloatArray
    fps: float

    @property
    def corner_ids(self) -> NDArray[np.int64]:
        return np.arange(self.board.n_corners)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write an ``.npz`` atomically (board fields as ``board_<name>`` scalars)."""
        arrays = {k: getattr(self, k) for k in ("corners_2d", "corners_3d", "rvecs", "tvecs",
                                                 "view_cos")}
        arrays.update({f"board_{k}": np.asarray(v) for k, v in vars(self.board).items()})
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, camera_names=np.array(self.camera_names),
                                corner_ids=self.corner_ids, fps=self.fps, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CalibrationTruth:
        """Read a file written by :meth:`save`."""
        with np.load(path) as data:
            board = BoardSpec(**{k[6:]: data[k].item() for k in data.files
                                 if k.startswith("board_")})
            arrays = {k: data[k] for k in ("corners_2d", "corners_3d", "rvecs", "tvecs",
                                           "view_cos")}
            return cls(board=board, camera_names=tuple(str(n) for n in data["camera_names"]),
                       fps=float(data["fps"]), **arrays)


def calibration_truth(group: CameraGroup, board: BoardSpec, rvecs: ArrayLike,
                      tvecs: ArrayLike, fps: float = 30.0) -> CalibrationTruth:
    """Ground truth of ``group`` watching the board at poses (n_frames, 3) + (n_frames, 3)."""
    rvecs = np.asarray(rvecs, np.float64).reshape(-1, 3)
    tvecs = np.asarray(tvecs, np.float64).reshape(-1, 3)
    return CalibrationTruth(
        board, tuple(group.names),
        np.stack([project_corners(cam, board, rvecs, tvecs) for cam in group]),
        board_to_world(board, rvecs, tvecs), rvecs, tvecs,
        np.stack([view_cosines(cam, board, rvecs, tvecs) for cam in group]), float(fps))


def render_calibration_videos(
    group: CameraGroup,
    board: BoardSpec,
    out_dir: str | os.PathLike[str],
    n_frames: int = 300,
    fps: float = 30.0,
    seed: int = 0,
    *,
    cam_pattern: str = "{name}.mp4",
    truth_name: str = "charuco_truth.npz",
    shutter: float = 0.0,
    motion_samples: int = 5,
    trajectory: dict[str, Any] | None = None,
    poses: tuple[ArrayLike, ArrayLike] | None = None,
    **render_kwargs: Any,
) -> tuple[list[Path], CalibrationTruth]:
    """Render one calibration video per camera and save the ground truth beside them.

    The board follows :func:`board_pose_at` ``(t, n_frames, seed, board=board,
    **trajectory)`` for frame times ``t = 0 .. n_frames - 1``. ``shutter`` is the
    exposure as a fraction of the frame interval: when positive each frame averages
    ``motion_samples`` poses across it (motion blur); the truth is at mid-exposure.
    ``render_kwargs`` go to :func:`render_frame` (defaults: ``blur_sigma=0.6``,
    ``noise_sigma=1.5``). ``poses`` (rvecs, tvecs), each (n_frames, 3), replaces the
    trajectory by explicit per-frame poses (e.g. from
    :func:`posekit.synthetic.board_paths.calibration_session`; no motion blur then). The
    noise of camera ``i``, frame ``f`` is seeded by
    ``[seed, i, f]``. Files are written atomically; frames are rendered one at a time.
    Returns the video paths (camera order) and the truth (also in ``truth_name``).
    """
    out = Path(out_dir)
    render_kwargs = {"blur_sigma": 0.6, "noise_sigma": 1.5, **render_kwargs}
    offsets = shutter * np.linspace(-0.5, 0.5, motion_samples) if shutter > 0 else np.zeros(1)
    times = np.arange(n_frames)[:, None] + offsets
    trajectory = {"board": board, **(trajectory or {})}
    if poses is not None:
        if shutter > 0:
            raise ValueError("motion blur (shutter > 0) needs a trajectory, not fixed poses")
        rvecs = np.asarray(poses[0], np.float64).reshape(n_frames, 1, 3)
        tvecs = np.asarray(poses[1], np.float64).reshape(n_frames, 1, 3)
        truth = calibration_truth(group, board, rvecs[:, 0], tvecs[:, 0], fps=fps)
    else:
        rvecs, tvecs = board_pose_at(times, n_frames, seed, **trajectory)
        truth = calibration_truth(group, board, *board_trajectory(n_frames, seed, **trajectory),
                                  fps=fps)
    paths = []
    for index, cam in enumerate(group):
        path = out / cam_pattern.format(name=cam.name, index=index)
        log.info("rendering %d ChArUco frames for %s → %s", n_frames, cam.name, path)
        with video_writer(path, fps, cam.size) as writer:
            for frame in range(n_frames):
                writer.write(render_frame(cam, board, (rvecs[frame], tvecs[frame]),
                                          seed=[seed, index, frame], **render_kwargs))
        paths.append(path)
    truth.save(out / truth_name)
    return paths, truth
