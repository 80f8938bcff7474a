"""Multi-camera calibration from board detections: intrinsics, extrinsics, world frame.

Order: per-camera intrinsics (full OpenCV model by default) → per-view board poses →
camera graph initialisation → one bundle adjustment over all cameras and board poses
(intrinsics refined too unless disabled) → world frame (camera 1, or the board as placed
in a chosen frame) → quality figures (reprojection errors, board-distance check).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from posekit.calibration import extrinsics as ext
from posekit.calibration.board import UNITS_PER_M, Board
from posekit.calibration.bundle import BundleResult, Observation, bundle_adjust
from posekit.calibration.detect import CameraDetections
from posekit.calibration.intrinsics import (
    DISTORTION_FREE,
    GRID,
    BoardPoses,
    board_poses,
    calibrate_intrinsics,
    covered_cells,
)
from posekit.calibration.sync import shift_frames, video_offsets
from posekit.camera.model import Camera, CameraGroup, matrix_to_rodrigues
from posekit.config.schema import CalibrationConfig
from posekit.errors import CalibrationError
from posekit.triangulation.dlt import triangulate

log = logging.getLogger(__name__)
FloatArray = NDArray[np.float64]
#: board frame → world frame when the board lies face up: x kept, y and z flipped (z up)
BOARD_TO_FLOOR = np.diag([1.0, -1.0, -1.0])
#: intrinsics are fitted from views at most 60° oblique (corner accuracy drops beyond)
INTRINSICS_MIN_COS = 0.5


@dataclass
class CameraQuality:
    """Per-camera figures of a calibration."""

    frames_with_board: int
    intrinsics_frames: int
    bundle_views: int
    corners: int
    median_px: float
    p95_px: float
    #: cells of the image's 8 x 6 grid holding a corner of a frame with the board
    #: (:func:`~posekit.calibration.intrinsics.covered_cells`)
    cells: tuple[int, ...] = ()

    @property
    def image_coverage(self) -> float:
        """Share of the image's cells that the board's corners reached."""
        return len(self.cells) / (GRID[0] * GRID[1])


@dataclass
class Calibration:
    """The result of :func:`calibrate`: cameras plus everything the report shows."""

    group: CameraGroup
    board: Board
    quality: dict[str, CameraQuality]
    board_distance: dict[str, float]  # error stats of triangulated neighbour distances
    bundle: BundleResult
    slots: NDArray[np.int64]  # frame index of each bundle-adjusted board pose
    world: str
    notes: list[str] = field(default_factory=list)
    #: frame offsets of the calibration videos (frame i of a camera = frame i + offset of
    #: the first camera); all 0 when they were synchronised or not searched
    offsets: dict[str, int] = field(default_factory=dict)


def _observations(corners: FloatArray, usable: NDArray[np.bool_], slots: NDArray[np.int64]
                  ) -> list[Observation]:
    """Usable views of the board poses ``slots`` from corners (n_cams, n_frames, k, 2)."""
    obs = []
    for ci in range(len(corners)):
        for si, f in enumerate(slots):
            if usable[ci, f]:
                ok = np.isfinite(corners[ci, f, :, 0])
                obs.append(Observation(ci, si, np.flatnonzero(ok), corners[ci, f, ok]))
    return obs


def _board_world(cameras: list[Camera], rvec: FloatArray, tvec: FloatArray) -> list[Camera]:
    """Cameras re-expressed in the frame of a board lying face up (origin at its first
    square's corner, x along its columns, z up)."""
    board_to_world = ext.to_matrix(rvec, tvec)
    new_to_old = board_to_world @ np.diag([*np.diag(BOARD_TO_FLOOR), 1.0])
    out = []
    for cam in cameras:
        w2c = cam.extrinsics @ new_to_old
        out.append(Camera(cam.name, cam.size, cam.matrix, cam.dist,
                          matrix_to_rodrigues(w2c[:3, :3]), w2c[:3, 3], cam.fisheye))
    return out


def board_distance_check(group: CameraGroup, board: Board,
                         detections: Mapping[str, CameraDetections]) -> dict[str, float]:
    """Triangulate board corners seen by >= 2 cameras and compare the distances between
    neighbouring corners with the square size; errors in millimetres."""
    n_frames = max(d.n_frames for d in detections.values())
    pts2d = np.stack([detections[c].padded(n_frames) for c in group.names])
    pts3d = triangulate(group, pts2d)  # (n_frames, n_corners, 3)
    pairs = board.neighbour_pairs()
    dist = np.linalg.norm(pts3d[:, pairs[:, 0]] - pts3d[:, pairs[:, 1]], axis=-1)
    err = (dist - board.square_length)[np.isfinite(dist)]
    to_mm = 1000.0 / UNITS_PER_M[board.units]
    if err.size == 0:
        return {"pairs": 0}
    err_mm = err * to_mm
    return {"pairs": int(err.size), "mean_mm": float(err_mm.mean()),
            "sd_mm": float(err_mm.std()), "median_abs_mm": float(np.median(np.abs(err_mm))),
            "p95_abs_mm": float(np.percentile(np.abs(err_mm), 95)),
            "square_mm": float(board.square_length * to_mm)}


def _align_videos(names: list[str], detections: Mapping[str, CameraDetections],
                  poses: list[BoardPoses], offsets: Mapping[str, int]
                  ) -> tuple[dict[str, CameraDetections], int, int]:
    """Detections and board poses (in place) moved onto the first camera's timeline by
    ``offsets``; returns the moved detections, the frame of the timeline where the first
    camera's frame 0 is, and the timeline's length."""
    start = -min(0, *offsets.values())
    length = start + max(offsets[n] + detections[n].n_frames for n in names)
    moved = {}
    for n, p in zip(names, poses, strict=True):
        det, off = detections[n], offsets[n]
        corners = np.asarray(shift_frames(det.corners, off, start, length), np.float64)
        markers = np.asarray(shift_frames(det.n_markers, off, start, length, 0), np.int64)
        # frame times of the video as decoded no longer match the moved frames
        moved[n] = replace(det, corners=corners, n_markers=markers, frame_times=None)
        for attr in ("rvecs", "tvecs", "view_cos", "error"):
            arr = getattr(p, attr)[:det.n_frames]
            setattr(p, attr, shift_frames(arr, off, start, length))
    return moved, start, length


def calibrate(detections: Mapping[str, CameraDetections], board: Board,
              cfg: CalibrationConfig, max_lag: int = 0) -> Calibration:
    """Calibrate the cameras of ``detections`` (camera order kept) with the board.
    ``max_lag`` > 0: the recordings are videos that may have been started at different
    times; their frame offsets are searched within ``±max_lag`` frames from the board's
    motion (:mod:`posekit.calibration.sync`) and applied."""
    names = list(detections)
    min_cos = float(np.cos(np.deg2rad(cfg.max_view_angle)))
    min_corners = max(cfg.min_board_corners, 4)
    intr = {n: calibrate_intrinsics(board, detections[n], model=cfg.distortion_model,
                                    fisheye=cfg.fisheye, max_frames=cfg.max_intrinsics_frames,
                                    min_corners=min_corners,
                                    min_view_cos=max(min_cos, INTRINSICS_MIN_COS))
            for n in names}
    cams = [intr[n].camera for n in names]
    if len(names) == 1:
        raise CalibrationError("only one camera found: multi-camera calibration needs two or "
                               "more (intrinsics alone are not written)")
    poses: list[BoardPoses] = [board_poses(c, board, detections[n], min_corners)
                               for c, n in zip(cams, names, strict=True)]
    n_frames = max(d.n_frames for d in detections.values())
    for p in poses:  # pad to a common frame count
        for attr in ("rvecs", "tvecs", "view_cos", "error"):
            arr = getattr(p, attr)
            pad = np.full((n_frames - len(arr), *arr.shape[1:]), np.nan)
            setattr(p, attr, np.concatenate([arr, pad]))
    max_err = max(1.0, 5 * float(np.nanmedian(np.concatenate([p.error for p in poses]))))
    usable = ext.usable_views(poses, min_cos, max_err)
    notes: list[str] = []
    offsets, start = dict.fromkeys(names, 0), 0
    if max_lag > 0:
        found = video_offsets(names, poses, usable, max_lag)
        notes += found.notes
        if any(found.offsets.values()):
            offsets = found.offsets
            detections, start, n_frames = _align_videos(names, detections, poses, offsets)
            usable = ext.usable_views(poses, min_cos, max_err)
            listing = ", ".join(f"{n} {o:+d}" for n, o in offsets.items() if n != names[0])
            notes.append(f"Calibration videos not synchronised: frame offsets {listing} "
                         f"(frame i of a camera is frame i + offset of {names[0]}), found "
                         "from the board's motion and applied")
            log.info("calibration videos started at different times: offsets %s frames "
                     "(found from the board's motion; set [calibration] sync = false if "
                     "they are synchronised)", listing)
    world_to_cam = ext.initial_extrinsics(names, poses, usable)
    corners = np.stack([detections[n].padded(n_frames) for n in names])
    counts = np.isfinite(corners[..., 0]).sum(axis=2)
    rvecs, tvecs = ext.initial_board_poses(world_to_cam, poses, usable, counts)
    slots = np.flatnonzero(np.isfinite(rvecs[:, 0]))
    cams = [ext.with_extrinsics(c, w) for c, w in zip(cams, world_to_cam, strict=True)]
    obs = _observations(corners, usable, slots)
    free = DISTORTION_FREE[cfg.distortion_model] if not cfg.fisheye else (True,) * 4
    result = bundle_adjust(board.object_points(), cams, rvecs[slots], tvecs[slots], obs,
                           refine_intrinsics=cfg.refine_intrinsics, distortion_free=free)
    log.info("bundle adjustment: %d views, %d iterations, %d corners rejected",
             len(result.observations), result.iterations, result.rejected)
    cameras = result.cameras
    world = "camera 1"
    if cfg.world_frame == "board":
        seen_by = np.zeros(len(slots), int)
        for o in result.observations:
            seen_by[o.frame] += 1
        if cfg.world_board_frame is None:
            slot = int(np.argmax(seen_by))
        else:
            where = np.flatnonzero(slots == cfg.world_board_frame + start)
            if where.size == 0:
                raise CalibrationError(
                    f"[calibration] world_board_frame = {cfg.world_board_frame}: the board "
                    "is not usable in that frame (too few corners or too oblique in every "
                    "camera); frames with a usable board: "
                    f"{(slots[:10] - start).tolist()}...")
            slot = int(where[0])
        cameras = _board_world(cameras, result.frame_rvecs[slot], result.frame_tvecs[slot])
        world = (f"board in frame {int(slots[slot]) - start}"
                 + (f" of {names[0]}" if start or any(offsets.values()) else "")
                 + " (z up from its face, origin at its corner)")
    group = CameraGroup(cameras, {"units": board.units, "world": world,
                                  "board": board.describe()})
    quality = {}
    for ci, n in enumerate(names):
        errs = [e for o, e in zip(result.observations, result.errors, strict=True)
                if o.camera == ci]
        flat = np.concatenate(errs) if errs else np.zeros(0)
        with_board = detections[n].boards(min_corners)
        quality[n] = CameraQuality(
            frames_with_board=len(with_board),
            intrinsics_frames=len(intr[n].frames), bundle_views=len(errs), corners=flat.size,
            median_px=float(np.median(flat)) if flat.size else float("nan"),
            p95_px=float(np.percentile(flat, 95)) if flat.size else float("nan"),
            cells=covered_cells(detections[n], with_board))
    return Calibration(group, board, quality, board_distance_check(group, board, detections),
                       result, slots - start, world, notes, offsets)
