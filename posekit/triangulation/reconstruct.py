"""From synchronised 2D keypoints of every camera to one trial's 3D keypoints.

The stages, each optional through ``[triangulation]`` (keys in brackets):

1. drop 2D points scored below ``score_threshold`` and undistort the rest with each
   camera's full lens model;
2. robust, score-weighted DLT: outlier views rejected per point (``outlier_rejection``,
   threshold ``reproj_error_threshold`` px), see :mod:`posekit.triangulation.robust`;
3. left/right swap repair per camera (``swap_repair``), then step 2 again;
4. spatiotemporal optimisation (``optim``), see :mod:`posekit.triangulation.optim`;
5. quality per point: reprojection error (px, full lens model) and number of cameras
   whose views agree with the result; points with no agreeing view for more than
   ``max_gap`` consecutive frames are NaN (the optimiser only bridges short gaps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from posekit.camera.model import CameraGroup
from posekit.config.schema import TriangulationConfig
from posekit.errors import PosekitError
from posekit.numerics import nanmedian
from posekit.triangulation.dlt import focal_lengths, normalize_points
from posekit.triangulation.filters import median_filter_3d
from posekit.triangulation.optim import OUTLIER_FACTOR, OptimSettings, optimize
from posekit.triangulation.robust import repair_swaps, select_views, symmetric_pairs

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
#: A starting point further than this (mm) from its running median is not trusted.
JUMP_MM = 150.0
#: Frames of the running median that the second left/right swap check compares with.
SWAP_WINDOW = 31


@dataclass
class Reconstruction:
    """3D keypoints of a trial and their quality.

    ``points`` (n_frames, n_kp, 3) in calibration units (NaN = not reconstructed);
    ``errors`` (n_frames, n_kp) mean reprojection error in px over the cameras used;
    ``ncams`` (n_frames, n_kp) cameras used; ``scores`` (n_frames, n_kp) their mean 2D
    score; ``used`` (n_cams, n_frames, n_kp); ``view_errors`` (n_cams, n_frames, n_kp)
    reprojection error of every detection (NaN where none); ``swaps`` (n_cams, n_frames)
    number of left/right pairs exchanged; ``keypoints`` names.
    """

    points: FloatArray
    errors: FloatArray
    ncams: IntArray
    scores: FloatArray
    used: BoolArray
    view_errors: FloatArray
    swaps: IntArray
    keypoints: list[str]


def keypoint_pairs(pairs: Sequence[Sequence[str]], keypoints: Sequence[str], key: str
                   ) -> list[tuple[int, int]]:
    """Index pairs of ``[[a, b], ...]`` keypoint names; unknown names are an error that
    names the config key."""
    index = {k: i for i, k in enumerate(keypoints)}
    out = []
    for pair in pairs:
        if len(pair) != 2:
            raise PosekitError(f"[triangulation] {key}: each entry must be [a, b], got {pair}")
        missing = [p for p in pair if p not in index]
        if missing:
            raise PosekitError(
                f"[triangulation] {key}: unknown keypoint(s) {missing}; the 2D files have "
                f"{list(keypoints)}"
            )
        out.append((index[pair[0]], index[pair[1]]))
    return out


def _fill_gaps(points: FloatArray) -> FloatArray:
    """Every NaN stretch of each keypoint coordinate filled linearly (held at the ends);
    keypoints never seen stay NaN."""
    n = points.shape[0]
    flat = points.reshape(n, -1).copy()
    t = np.arange(n)
    for j in range(flat.shape[1]):
        ok = np.isfinite(flat[:, j])
        if ok.any() and not ok.all():
            flat[:, j] = np.interp(t, t[ok], flat[ok, j])
    return flat.reshape(points.shape)


def _sampled_median(points: FloatArray, window: int, samples: int = 7) -> FloatArray:
    """A running median over ``window`` frames from ``samples`` evenly spaced frames of
    it (edges clamped): cheap, and robust to runs shorter than half the samples."""
    n = points.shape[0]
    offsets = np.linspace(-(window // 2), window // 2, samples).round().astype(int)
    idx = np.clip(np.arange(n)[None, :] + offsets[:, None], 0, n - 1)
    return nanmedian(points[idx], axis=0)


def _effective_threshold(err: FloatArray, used: BoolArray, thr: float) -> float:
    """The outlier threshold of :func:`select_views`: ``thr`` or 4x the median error."""
    from posekit.triangulation.robust import TYPICAL_FACTOR

    finite = err[used & np.isfinite(err)]
    return max(thr, TYPICAL_FACTOR * float(np.median(finite))) if finite.size else thr


def _drop_jumps(points: FloatArray, limit: float, window: int = 9) -> FloatArray:
    """``points`` with those further than ``limit`` from their running median over
    ``window`` frames set to NaN (two-view points can fit an outlier exactly)."""
    med = median_filter_3d(points, window)
    dev = np.linalg.norm(points - med, axis=-1)
    with np.errstate(invalid="ignore"):
        return np.where((dev > limit)[..., None], np.nan, points)


def _run_lengths(mask: BoolArray) -> IntArray:
    """For a (n, m) boolean mask, the length of the True run each element belongs to
    (0 where False)."""
    n = mask.shape[0]
    out = np.zeros(mask.shape, dtype=np.int64)
    for j in range(mask.shape[1]):
        col = mask[:, j]
        if not col.any():
            continue
        edges = np.diff(np.concatenate([[0], col.astype(np.int8), [0]]))
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        runs = np.zeros(n + 1, dtype=np.int64)
        np.add.at(runs, starts, stops - starts)
        np.add.at(runs, stops, -(stops - starts))
        out[:, j] = np.where(col, np.cumsum(runs)[:n], 0)
    return out


def _robust(ext: FloatArray, focal: FloatArray, xy: FloatArray, w: FloatArray,
            threshold: float, robust: bool) -> tuple[FloatArray, BoolArray]:
    n_cams, n, k = w.shape
    pts, used = select_views(ext, focal, xy.reshape(n_cams, -1, 2), w.reshape(n_cams, -1),
                             threshold if robust else np.inf)
    return pts.reshape(n, k, 3), used.reshape(n_cams, n, k)


def reconstruct(group: CameraGroup, xy: FloatArray, scores: FloatArray,
                keypoints: Sequence[str], cfg: TriangulationConfig, fps: float = 30.0,
                *, mm_per_unit: float = 1.0) -> Reconstruction:
    """Reconstruct (module docstring) from pixels ``xy`` (n_cams, n_frames, n_kp, 2) and
    scores (n_cams, n_frames, n_kp) of the cameras of ``group`` in its order (NaN or
    score 0 = not detected). ``mm_per_unit``: millimetres per calibration unit (the
    smoothness weight is per millimetre, as in Anipose). ``fps`` is kept for filters."""
    del fps
    xy = np.asarray(xy, dtype=np.float64)
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64))
    n_cams, n, k = scores.shape
    if xy.shape != (n_cams, n, k, 2) or n_cams != len(group):
        raise PosekitError(
            f"2D keypoints must be (n_cams={len(group)}, frames, keypoints, 2) with scores "
            f"(n_cams, frames, keypoints); got {xy.shape} and {scores.shape}")
    if len(keypoints) != k:
        raise PosekitError(f"{len(keypoints)} keypoint names for {k} keypoints")
    keypoints = list(keypoints)
    strong = keypoint_pairs(cfg.constraints, keypoints, "constraints")
    weak = keypoint_pairs(cfg.constraints_weak, keypoints, "constraints_weak")
    lengths = {}
    for name, value in cfg.lengths.items():
        pair = name.split("-")
        lengths[keypoint_pairs([pair], keypoints, f"lengths.{name}")[0]] = float(value)
    ok = np.isfinite(xy).all(axis=-1) & (scores >= cfg.score_threshold) & (scores > 0)
    w = np.where(ok, scores, 0.0)
    pix = np.where(ok[..., None], xy, np.nan)
    ext = np.stack([cam.extrinsics[:3] for cam in group])
    focal = focal_lengths(group)
    norm = normalize_points(group, pix.reshape(n_cams, -1, 2)).reshape(pix.shape)
    thr = float(cfg.reproj_error_threshold)
    pts, used = _robust(ext, focal, norm, w, thr, cfg.outlier_rejection)
    swaps = np.zeros((n_cams, n), dtype=np.int64)
    pairs = symmetric_pairs(keypoints) if cfg.swap_repair else []
    if pairs and n_cams >= 3:
        # against the same frame's robust 3D (one camera mirrored), then against the
        # trial's running median (two cameras mirrored at once: no majority in the frame)
        for reference in ("frame", "median"):
            ref = pts if reference == "frame" else _sampled_median(pts, SWAP_WINDOW)
            norm, swapped = repair_swaps(ext, focal, norm, ref, pairs, thr)
            if not swapped.any():
                continue
            swaps += swapped.sum(axis=-1)
            c_i, f_i, p_i = np.nonzero(swapped)
            left = np.array([p[0] for p in pairs])
            right = np.array([p[1] for p in pairs])
            for arr in (w, pix):  # scores and pixels follow the exchanged detections
                a_l, a_r = arr[c_i, f_i, left[p_i]].copy(), arr[c_i, f_i, right[p_i]].copy()
                arr[c_i, f_i, left[p_i]], arr[c_i, f_i, right[p_i]] = a_r, a_l
            pts, used = _robust(ext, focal, norm, w, thr, cfg.outlier_rejection)
    if cfg.optim and n > 1:
        err0 = _view_errors(ext, focal, norm, pts)
        good = used & (err0 <= thr)
        n_good = good.sum(axis=0)
        start = np.where((n_good >= 2)[..., None], pts, np.nan)
        checked = _drop_jumps(start, JUMP_MM / mm_per_unit)
        init = _fill_gaps(np.where((n_good >= 3)[..., None], start, checked))
        settings = OptimSettings(
            scale_smooth=cfg.scale_smooth, scale_length=cfg.scale_length,
            scale_length_weak=cfg.scale_length_weak, reproj_error_threshold=thr,
            n_deriv_smooth=cfg.n_deriv_smooth, smooth_delta=cfg.smooth_threshold,
            scale_smooth_higher=cfg.scale_smooth_higher,
            smooth_delta_higher=cfg.smooth_threshold_higher,
            mm_per_unit=mm_per_unit,
            constraints=strong, constraints_weak=weak, lengths=lengths,
            chunk_frames=cfg.optim_chunking_size if cfg.optim_chunking else 0)
        view_w = np.where(used, w, 0.0)
        # two views that disagree: one is wrong, the optimiser's fit tells which
        suspect = (used.sum(axis=0) == 2) & (np.nanmax(np.where(used, err0, 0.0), axis=0)
                                              > _effective_threshold(err0, used, thr))
        pts, _ = optimize(ext, focal, norm, view_w, init, settings, suspect)
    return _quality(group, pix, w, pts, thr, cfg.max_gap, keypoints, swaps)


def _view_errors(ext: FloatArray, focal: FloatArray, norm: FloatArray, pts: FloatArray
                 ) -> FloatArray:
    from posekit.triangulation.robust import view_errors

    n_cams, n, k = norm.shape[:3]
    return view_errors(ext, focal, norm.reshape(n_cams, -1, 2),
                       pts.reshape(-1, 3)).reshape(n_cams, n, k)


def _quality(group: CameraGroup, pix: FloatArray, w: FloatArray, pts: FloatArray,
             thr: float, max_gap: int, keypoints: list[str], swaps: IntArray
             ) -> Reconstruction:
    n_cams, n, k = w.shape
    flat = pts.reshape(-1, 3)
    proj = group.project(np.where(np.isfinite(flat), flat, 0.0)).reshape(n_cams, n, k, 2)
    errs = np.hypot(*np.moveaxis(proj - pix, -1, 0))
    errs[:, ~np.isfinite(pts).all(axis=-1)] = np.nan
    with np.errstate(invalid="ignore"):
        used = (w > 0) & (errs <= OUTLIER_FACTOR * thr)
    ncams = used.sum(axis=0)
    unseen = ncams == 0
    long_gap = _run_lengths(unseen.reshape(n, -1)).reshape(n, k) > max_gap
    # fewer than two views: only bridged by the optimiser within short gaps
    pts = np.where(long_gap[..., None], np.nan, pts)
    with np.errstate(invalid="ignore"):
        mean_err = np.where(ncams > 0, np.sum(np.where(used, errs, 0.0), axis=0)
                            / np.maximum(ncams, 1), np.nan)
        mean_score = np.where(ncams > 0, np.sum(np.where(used, w, 0.0), axis=0)
                              / np.maximum(ncams, 1), np.nan)
    missing = ~np.isfinite(pts).all(axis=-1)
    mean_err[missing] = np.nan
    mean_score[missing] = np.nan
    return Reconstruction(pts, mean_err, ncams.astype(np.int64), mean_score, used, errs,
                          swaps, keypoints)
