"""Confirm and refine frame offsets with the calibration: at the right offset, a camera's
keypoints and another camera's triangulate to points that reproject onto both.

For a camera ``c`` and candidate offset ``o``, the keypoints of ``c`` are compared on the
frames it shares with other cameras (same convention as :mod:`posekit.sync.motion`) with
what the other cameras predict for them: two-view triangulation and reprojection against
one camera, or the reprojection of points triangulated from several.

**Bias removal.** A calibration error, or a detector that places a joint a little
differently from one viewpoint to another, shifts a camera's reprojection residuals by a
roughly constant amount per keypoint. While the person drifts slowly in one direction a
time shift produces the same kind of residual (velocity × lag), so the raw error can be
smallest several frames off (4 frames for one camera of the Pose2Sim demo trial). Each
keypoint's median residual over the compared frames is therefore subtracted before the
error is taken (:func:`residual_error`): what is scored is whether the *changes* of the
keypoints agree, which a constant bias cannot fake.

**Every camera against all the others.** The whole-range search places the cameras one
by one, each against those placed before it, then checks each against all the others
(:func:`recheck_offsets`), so that no camera's offset rests on a single pair of views.

**Joint sub-frame refinement** (:func:`geometry_offsets`, three or more cameras): after
the whole-range search, gross detection errors are removed (:func:`clean_keypoints`), then
every camera's offset is corrected by a robust regression of its bias-removed residuals on
the keypoints' image velocities (:func:`lag_correction`), all cameras together
(:func:`joint_subframe`), and rounded. The sub-frame values also say how close a camera
is to the rounding boundary, which enters its confidence.

**What the confidence cannot see locally.** The refinement's error curve spans a few
frames, so two things are checked over the whole clip: another cycle of a repeated
movement that fits about as well (``rival_fit``), and a camera that sees no movement, whose
error is smallest wherever the others move least (:func:`still_fit`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from posekit.camera.model import CameraGroup
from posekit.numerics import nanmedian
from posekit.pose2d.table import Pose2D
from posekit.skeletons import limb_joint_indices
from posekit.sync.motion import MIN_LIKELIHOOD
from posekit.triangulation.dlt import (
    focal_lengths,
    normalize_points,
    triangulate,
    triangulate_normalized,
    triangulate_undistorted,
)
from posekit.triangulation.robust import repair_swaps, select_views, symmetric_pairs, view_errors

FloatArray = NDArray[np.float64]
MIN_PAIRS = 50  # keypoint observations needed for a score
MAX_FRAMES = 150  # frames of the overlap used per score (evenly spread)
#: frames of a camera's clip at most compared per candidate in the whole-range search
#: (every n-th frame of longer clips: 50 s at 60 fps and shorter are compared whole)
SEARCH_FRAMES = 3000
WINDOW = 4  # frames either side of the current offset searched by the joint refinement
JUMP_FACTOR = 20.0  # velocities this many times the median are left out of the slope
MAX_IRLS = 50  # iterations of the robust slope
VEL_STEP = 3  # frames either side for keypoint velocities
MAX_SWEEPS = 10  # sweeps of the joint refinement over the cameras
STILL_QUANTILE = 90.0  # percentile of the residuals that :func:`still_fit` compares
MAX_RECHECKS = 3  # passes of the search's check of every camera against all others
#: frames of a camera's clip at most compared per candidate in that check (10 s at 60 fps)
RECHECK_FRAMES = 600
ROUNDING_SE = 2.0  # standard errors of margin to the rounding boundary for full confidence


def _columns(pose: Pose2D) -> list[int]:
    joints = limb_joint_indices(pose.keypoints)
    return joints if len(joints) >= 6 else list(range(len(pose.keypoints)))


def _valid(pose: Pose2D) -> FloatArray:
    keep = _columns(pose)
    return np.where((pose.likelihood >= MIN_LIKELIHOOD)[..., None], pose.xy, np.nan)[:, keep]


def residual_error(resid: FloatArray, debias: bool = True, quantile: float = 50.0) -> float:
    """Median (or another ``quantile``, %) length (px) of reprojection residuals ``resid``
    (..., frames, keypoints, 2), NaN where unknown. With ``debias``, each keypoint's median
    residual over the frames (per leading index, e.g. per view) is subtracted first, and
    keypoints seen in fewer than a fifth of the frames (at least 3) are left out. NaN with
    fewer than ``MIN_PAIRS`` residuals."""
    resid = np.asarray(resid, np.float64)
    if debias:
        seen = np.isfinite(resid[..., 0])
        enough = seen.sum(axis=-2, keepdims=True) >= max(3, resid.shape[-3] // 5)
        centre = nanmedian(resid, axis=-3, keepdims=True)  # all-NaN keypoints: NaN
        resid = np.where(enough[..., None], resid - centre, np.nan)
    err = np.hypot(resid[..., 0], resid[..., 1])
    err = err[np.isfinite(err)]
    return float(np.percentile(err, quantile)) if err.size >= MIN_PAIRS else float("nan")


def pair_error(group: CameraGroup, a: str, c: str, xy_a: FloatArray, xy_c: FloatArray,
               off_a: int, off_c: int, debias: bool = True, quantile: float = 50.0,
               normalized: tuple[FloatArray, FloatArray] | None = None) -> float:
    """Median (or another ``quantile``, %) two-view reprojection error (px) of cameras
    ``a`` and ``c`` aligned by their offsets (NaN when the clips overlap by less than half
    the shorter one, or too few keypoints are seen by both); bias-removed unless ``debias``
    is false (module docstring). ``normalized``: ``xy_a`` and ``xy_c`` already undistorted
    (:meth:`~posekit.camera.model.Camera.undistort_points`), for many offsets of the same
    two clips (the same result, without undistorting them again for each)."""
    # reference frame t ↔ frame t - off of each camera
    start = max(off_a, off_c)
    stop = min(off_a + len(xy_a), off_c + len(xy_c))
    if stop - start < max(2, min(len(xy_a), len(xy_c)) // 2):
        return float("nan")
    frames = np.unique(np.linspace(start, stop - 1, min(MAX_FRAMES, stop - start)).astype(int))
    pts2d = np.stack([xy_a[frames - off_a], xy_c[frames - off_c]])  # (2, F, K, 2)
    both = np.isfinite(pts2d[..., 0]).all(axis=0)
    if both.sum() < MIN_PAIRS:
        return float("nan")
    pts2d = np.where(both[None, ..., None], pts2d, np.nan)
    sub = group.subset([a, c])
    if normalized is None:
        points = triangulate(sub, pts2d)
    else:
        rays = np.stack([normalized[0][frames - off_a], normalized[1][frames - off_c]])
        points = triangulate_undistorted(sub, np.where(both[None, ..., None], rays, np.nan))
    proj = sub.project(points)
    return residual_error(proj - pts2d, debias, quantile)


def _anchor_projection(group: CameraGroup, anchors: Sequence[str],
                       offsets: Mapping[str, int], xy: Mapping[str, FloatArray], cam: str
                       ) -> tuple[int, FloatArray]:
    """The anchors' keypoints triangulated on the reference timeline (placed by their
    offsets) and projected into ``cam``: the first reference frame and the projections
    (frames, keypoints, 2)."""
    t0 = min(offsets[a] for a in anchors)
    t1 = max(offsets[a] + len(xy[a]) for a in anchors)
    k = xy[cam].shape[1]
    stacked = np.full((len(anchors), t1 - t0, k, 2), np.nan)
    for i, a in enumerate(anchors):
        stacked[i, offsets[a] - t0: offsets[a] - t0 + len(xy[a])] = xy[a]
    return t0, group[cam].project(triangulate(group.subset(list(anchors)), stacked))


def anchored_errors(group: CameraGroup, anchors: Sequence[str], offsets: Mapping[str, int],
                    xy: Mapping[str, FloatArray], cam: str, candidates: NDArray[np.int64],
                    debias: bool = True, quantile: float = 50.0,
                    max_frames: int | None = None) -> FloatArray:
    """Median (or another ``quantile``, %) reprojection error (px) of ``cam`` for each
    candidate offset, against points triangulated from the ``anchors`` (two or more, placed
    by ``offsets``) on the reference timeline; bias-removed unless ``debias`` is false. The
    3D points do not depend on the candidate, so every candidate costs one comparison.
    With ``max_frames``, a clip longer than that is compared on every n-th of its frames
    (the same ones for every candidate), n the smallest that keeps at most ``max_frames``."""
    t0, proj = _anchor_projection(group, anchors, offsets, xy, cam)
    return _candidate_errors(t0, proj, xy[cam], candidates, debias, quantile, max_frames)


def _candidate_errors(t0: int, proj: FloatArray, own: FloatArray,
                      candidates: NDArray[np.int64], debias: bool, quantile: float,
                      max_frames: int | None) -> FloatArray:
    """:func:`anchored_errors` of the keypoints ``own`` against the anchors' points
    projected into their camera (``proj``, from reference frame ``t0`` on)."""
    need = max(2, len(own) // 2)
    stride = 1 if max_frames is None else max(1, -(-len(own) // max_frames))
    mine = np.arange(0, len(own), stride)  # the frames of cam compared
    out = np.full(len(candidates), np.nan)
    for j, o in enumerate(candidates):
        start, stop = max(0, o - t0), min(len(proj), o - t0 + len(own))  # on the timeline
        if stop - start < need:
            continue
        if stride == 1:
            resid = proj[start:stop] - own[start - (o - t0): stop - (o - t0)]
        else:
            sel = mine[(mine >= start - (o - t0)) & (mine < stop - (o - t0))]
            resid = proj[sel + (o - t0)] - own[sel]
        out[j] = residual_error(resid, debias, quantile)
    return out


def sharpness(candidates: NDArray[np.int64], errors: FloatArray) -> float:
    """0..1: how much larger the smallest error 3 or more frames from the best one is
    (relative; 0 for a flat or unknown curve)."""
    if not np.isfinite(errors).any():
        return 0.0
    best = int(np.nanargmin(errors))
    far = np.abs(candidates - candidates[best]) >= 3
    if not np.isfinite(errors[far]).any() or errors[best] <= 0:
        return 0.0
    return float(np.clip(np.nanmin(errors[far]) / errors[best] - 1, 0, 1))


def _rival(candidates: NDArray[np.int64], errors: FloatArray) -> int | None:
    """The best offset 3 or more frames from the best one, when it is a second valley of
    the error curve (the errors between the two rise at least 20 % above it): a movement
    that repeats. None on a curve without such a valley (e.g. a flat one)."""
    best = int(np.nanargmin(errors))
    far = np.flatnonzero(np.abs(candidates - candidates[best]) >= 3)
    if not np.isfinite(errors[far]).any():
        return None
    other = int(far[int(np.nanargmin(errors[far]))])
    between = errors[min(best, other) + 1:max(best, other)]
    if not np.isfinite(between).any() or np.nanmax(between) < 1.2 * errors[other]:
        return None
    return int(candidates[other])


def still_fit(group: CameraGroup, partners: Sequence[Sequence[str]],
              offsets: Mapping[str, int], xy: Mapping[str, FloatArray], cam: str) -> float:
    """0..1: how much better ``cam``'s keypoints fit the points triangulated from other
    cameras (placed by ``offsets``) than a person standing still would: ``error(still) /
    error(keypoints) - 1``, clipped, where "still" holds each of ``cam``'s keypoints at its
    median over the clip (where it was seen) and the errors are the 90th percentiles of
    the bias-removed residuals (a median would be blind to movements that fill less than
    half the clip; without the bias removal, a camera with a constant error would seem to
    fit as badly as a still person), so gross detection errors must be removed first
    (:func:`clean_keypoints`). The best over ``partners`` (sets of two or more cameras), so
    that one camera that sees no movement spoils only the sets it is in. 0 when ``cam`` sees no
    movement (a person standing still, or a frozen or static picture): its offset then
    only picks the stillest stretch of the others' movement, however sharply. 1 when no
    set gives a figure."""
    own = xy[cam]
    still = np.where(np.isfinite(own), nanmedian(own, axis=0, keepdims=True), np.nan)
    lag = np.array([offsets[cam]])
    best = float("nan")
    for cams in partners:
        t0, proj = _anchor_projection(group, cams, offsets, xy, cam)  # once for both
        moving, standing = (float(_candidate_errors(t0, proj, k, lag, True, STILL_QUANTILE,
                                                    None)[0]) for k in (own, still))
        if np.isfinite(moving) and np.isfinite(standing) and moving > 0:
            fit = float(np.clip(standing / moving - 1, 0, 1))
            best = fit if np.isnan(best) else max(best, fit)
    return 1.0 if np.isnan(best) else best


def _stillness(group: CameraGroup, reference: str, cameras: Sequence[str],
               offsets: Mapping[str, int], xy: Mapping[str, FloatArray]) -> dict[str, float]:
    """:func:`still_fit` of every placed camera, the ``reference`` included, against every
    pair of the others; none with fewer than three cameras (two views cannot tell a still
    person from a moving one: their reprojection errors see only the movement across the
    epipolar lines). With three cameras, one that sees no movement is in the only pair of
    each of the others, so their values can come out low too."""
    if len(cameras) < 3:
        return {}
    return {cam: still_fit(group, list(itertools.combinations(
        [n for n in cameras if n != cam], 2)), offsets, xy, cam) for cam in cameras}


def lag_correction(group: CameraGroup, anchors: Sequence[str], offsets: Mapping[str, int],
                   xy: Mapping[str, FloatArray], cam: str, lag: int, step: int = VEL_STEP
                   ) -> tuple[float, float]:
    """Sub-frame correction ``delta`` to offset ``lag`` of ``cam`` (and its standard
    error, frames) against the points triangulated from the ``anchors`` placed by
    ``offsets``; NaN, NaN when the clips overlap by less than half of ``cam``'s or too
    few keypoints are seen.

    With ``proj(t)`` the anchors' points reprojected into ``cam`` at reference time ``t``
    and ``own(i)`` its keypoints, the residual ``proj(i + lag) - own(i)`` is, to first
    order, a constant bias per keypoint minus ``delta`` times the keypoint's image
    velocity, where ``lag + delta`` is the true (sub-frame) offset. ``delta`` is the
    robust (Huber) least-squares slope of the residuals on the velocities (from
    ``proj``, central differences over ``step`` frames), both centred per keypoint on
    their medians, which absorbs the bias; velocities over ``JUMP_FACTOR`` times the
    median (points that jump because of a wrong detection) are left out. Every frame and
    keypoint contributes along its direction of motion. No frame is interpolated
    (interpolating noisy keypoints would lower their noise between frames and pull the
    estimate to half frames). The standard error treats the observations as independent,
    so it is optimistic for detectors whose errors persist over frames."""
    found = lag_observations(group, anchors, offsets, xy, cam, lag, step)
    return (float("nan"), float("nan")) if found is None else huber_slope(*found[:2])


def lag_observations(group: CameraGroup, anchors: Sequence[str], offsets: Mapping[str, int],
                     xy: Mapping[str, FloatArray], cam: str, lag: int, step: int = VEL_STEP
                     ) -> tuple[FloatArray, FloatArray, NDArray[np.intp]] | None:
    """What :func:`lag_correction` regresses: the centred residuals and velocities
    (n, 2) and each one's keypoint column; None where it gives NaN."""
    t0, proj = _anchor_projection(group, anchors, offsets, xy, cam)
    vel = np.full_like(proj, np.nan)
    if len(proj) > 2 * step:
        vel[step:-step] = (proj[2 * step:] - proj[:-2 * step]) / (2 * step)
    own = xy[cam]
    start, stop = max(0, lag - t0), min(len(proj), lag - t0 + len(own))  # on the timeline
    if stop - start < max(2, len(own) // 2):
        return None
    resid = proj[start:stop] - own[start - (lag - t0): stop - (lag - t0)]
    v = vel[start:stop]
    ok = np.isfinite(resid).all(axis=-1) & np.isfinite(v).all(axis=-1)
    if ok.sum() < MIN_PAIRS:
        return None
    rc, vc = ((a - nanmedian(np.where(ok[..., None], a, np.nan), axis=0))[ok]
              for a in (resid, v))
    column = np.broadcast_to(np.arange(ok.shape[1]), ok.shape)[ok]
    # a wrong detection in an anchor view makes its point jump: such velocities would
    # outweigh all others in the slope, so they are left out
    speed = np.hypot(*vc.T)
    calm = speed <= JUMP_FACTOR * np.median(speed) + 1e-9
    if calm.sum() < MIN_PAIRS:
        return None
    return rc[calm], vc[calm], column[calm]


def huber_slope(resid: FloatArray, vel: FloatArray) -> tuple[float, float]:
    """The robust slope ``delta`` in ``resid ≈ -delta * vel`` (both (n, 2), centred) and
    its standard error: least squares reweighted with Huber weights (IRLS, at most
    ``MAX_IRLS`` rounds, until ``delta`` moves by less than 0.001); NaN, NaN when the
    velocities are all zero."""
    weight = np.ones(len(resid))
    delta, scale, vv = 0.0, 0.0, 0.0
    for _ in range(MAX_IRLS):
        vv = float(np.sum(weight[:, None] * vel * vel))
        if vv <= 0:
            return float("nan"), float("nan")
        previous, delta = delta, -float(np.sum(weight[:, None] * resid * vel)) / vv
        norm = np.hypot(*(resid + delta * vel).T)
        scale = 1.4826 * float(np.median(norm)) + 1e-9
        weight = np.minimum(1.0, 1.5 * scale / np.maximum(norm, 1e-12))
        if abs(delta - previous) < 1e-3:
            break
    return delta, scale / np.sqrt(vv)


def _trust(cam: str, reference: str, rival_fit: Mapping[str, float],
           still: Mapping[str, float]) -> float:
    """The most confidence an offset of ``cam`` can have, whatever its error curve says:
    at most how much worse a repeated movement's other cycle fits (``rival_fit``) and how
    clearly ``cam`` and the reference see the movement (``still``: :func:`still_fit`;
    every offset is relative to the reference). 1 for the reference."""
    if cam == reference:
        return 1.0
    return min(rival_fit.get(cam, 1.0), still.get(cam, 1.0), still.get(reference, 1.0))


@dataclass(frozen=True)
class GeometrySync:
    """What :func:`geometry_offsets` found: whole-frame ``offsets``, ``confidence``
    (0..1) per camera, per camera the error ``curves`` (candidate offsets, median
    reprojection errors in px) and, where the joint refinement ran, the ``subframe``
    offsets and their standard errors (frames). ``rivals``: per camera, the offset 3 or
    more frames from the chosen one that fits best over the whole lag range (what makes
    the confidence low when a repeated movement fits again one cycle later).
    ``rival_fit``: per camera with a rival, how much worse the rival fits on the search's
    error curve (``error(rival) / error(best) - 1``, clipped to 0..1; 0: just as well).
    ``still_fit``: per camera, the ``reference`` included, its :func:`still_fit` at its
    offset (0: it sees no movement; see :func:`_stillness`); every offset is relative to
    the reference, so a camera's confidence is at most its own value and the reference's.
    ``sharpness``: per camera, the :func:`sharpness` of its last error curve, at most its
    ``rival_fit`` and its ``still_fit``; ``rounding``: per camera refined by the joint
    step, how clearly its sub-frame offset rounds to a whole frame (``min(1, margin /
    0.25)``, 0 at exactly half a frame); ``confidence`` is their product."""

    offsets: dict[str, int]
    confidence: dict[str, float]
    curves: dict[str, FloatArray]
    subframe: dict[str, tuple[float, float]] = field(default_factory=dict)
    rivals: dict[str, int] = field(default_factory=dict)
    sharpness: dict[str, float] = field(default_factory=dict)
    rounding: dict[str, float] = field(default_factory=dict)
    rival_fit: dict[str, float] = field(default_factory=dict)
    still_fit: dict[str, float] = field(default_factory=dict)
    reference: str = ""

    def trust(self, cam: str) -> float:
        """The most confidence ``cam``'s offset can have (:func:`_trust`)."""
        return _trust(cam, self.reference, self.rival_fit, self.still_fit)


def geometry_offsets(poses: Mapping[str, Pose2D], group: CameraGroup,
                     offsets: Mapping[str, int], confidence: Mapping[str, float],
                     reference: str, max_lag: int, debias: bool = True, joint: bool = True,
                     recheck: bool = True) -> GeometrySync:
    """Offsets found by the geometry, starting from (motion) ``offsets``.

    1. **Search** over the whole lag range (``±max_lag``), cameras placed in order of
       their motion ``confidence``: the first one is scored against the reference by
       two-view reprojection error, each later one against the points triangulated from
       all cameras placed so far; bias-removed errors (module docstring) unless
       ``debias`` is false. With ``recheck`` and three or more cameras placed, each is
       then searched again against all the others (:func:`recheck_offsets`).
    2. With ``joint`` and three or more placed cameras: gross detection errors
       (left/right swaps, wrong limbs) are removed at these offsets
       (:func:`clean_keypoints`), then all offsets are refined together to sub-frame
       precision (:func:`joint_subframe`, within ``WINDOW`` frames) and rounded.

    Confidence: the reference 1; otherwise :func:`sharpness` of the camera's last error
    curve (the whole range after step 1, a ``WINDOW`` either side after step 2), after
    step 2 at most the camera's ``rival_fit`` (a movement that repeats fits again a cycle
    away, which the narrow curve does not reach) and its ``still_fit`` (a camera that sees
    no movement fits best where the others move least; on the cleaned keypoints, three or
    more cameras), and multiplied by ``min(1, margin / 0.25)`` where ``margin`` is how far
    the sub-frame offset is from the rounding boundary (0 for exactly half a frame)."""
    xy = {n: _valid(p) for n, p in poses.items()}
    result = dict(offsets)
    curves: dict[str, FloatArray] = {}
    rivals: dict[str, int] = {}
    rival_fit: dict[str, float] = {}
    sharp: dict[str, float] = {reference: 1.0}
    order: Sequence[str] = sorted((n for n in poses if n != reference),
                                  key=lambda n: -confidence.get(n, 0.0))
    anchors = [reference]
    candidates = np.arange(-max_lag, max_lag + 1)

    def place(cam: str, errors: FloatArray) -> None:
        """Put ``cam`` at the best offset of its whole-range error curve ``errors``."""
        curves[cam] = np.stack([candidates.astype(float), errors])
        sharp[cam] = sharpness(candidates, errors)
        rivals.pop(cam, None)
        rival_fit.pop(cam, None)
        if not np.isfinite(errors).any():
            return
        result[cam] = int(candidates[int(np.nanargmin(errors))])
        rival = _rival(candidates, errors)
        if rival is not None:
            rivals[cam] = rival
            rival_fit[cam] = float(np.clip(
                errors[candidates == rival][0] / np.nanmin(errors) - 1, 0, 1))

    for cam in order:
        if len(anchors) == 1:
            rays = (group[reference].undistort_points(xy[reference]),
                    group[cam].undistort_points(xy[cam]))
            errors = np.array([pair_error(group, reference, cam, xy[reference], xy[cam], 0,
                                          int(o), debias, normalized=rays)
                               for o in candidates])
        else:
            errors = anchored_errors(group, anchors, result, xy, cam, candidates, debias,
                                     max_frames=SEARCH_FRAMES)
        place(cam, errors)
        if np.isfinite(errors).any():
            anchors.append(cam)
    if recheck and len(anchors) >= 3:
        for cam, errors in recheck_offsets(group, xy, result, anchors, candidates, sharp,
                                           debias).items():
            place(cam, errors)
    if not joint or len(anchors) < 3:
        return GeometrySync(result, sharp, curves, rivals=rivals, sharpness=dict(sharp),
                            rival_fit=rival_fit, reference=reference)
    names = [poses[reference].keypoints[i] for i in _columns(poses[reference])]
    placed = clean_keypoints(group, {n: xy[n] for n in anchors}, result, names)
    fine = joint_subframe(group, placed, result, reference, anchors, max_lag)
    start = dict(result)
    curve_sharp = dict(sharp)
    rounding: dict[str, float] = {}
    for cam, (value, _) in fine.items():
        result[cam] = int(np.clip(round(value), max(-max_lag, start[cam] - WINDOW),
                                  min(max_lag, start[cam] + WINDOW)))
    rivals = {c: r for c, r in rivals.items() if abs(r - result[c]) >= 3}
    rival_fit = {c: v for c, v in rival_fit.items() if c in rivals}
    still = _stillness(group, reference, anchors, result, placed)
    for cam, (value, _) in fine.items():
        others = [n for n in anchors if n != cam]
        local = np.arange(max(-max_lag, result[cam] - WINDOW),
                          min(max_lag, result[cam] + WINDOW) + 1)
        errors = anchored_errors(group, others, result, placed, cam, local, debias)
        curves[cam] = np.stack([local.astype(float), errors])
        margin = max(0.0, 0.5 - abs(value - result[cam]))
        # the local curve sees neither a repeated movement's other cycle nor a still view
        curve_sharp[cam] = min(sharpness(local, errors),
                               _trust(cam, reference, rival_fit, still))
        rounding[cam] = rounding_factor(margin, fine[cam][1])
        sharp[cam] = curve_sharp[cam] * rounding[cam]
    return GeometrySync(result, sharp, curves, fine, rivals, curve_sharp, rounding, rival_fit,
                        still, reference)


def recheck_offsets(group: CameraGroup, xy: Mapping[str, FloatArray], offsets: dict[str, int],
                    cameras: Sequence[str], candidates: NDArray[np.int64],
                    clarity: Mapping[str, float], debias: bool = True
                    ) -> dict[str, FloatArray]:
    """Each of ``cameras`` (in the order the search placed them; the first is the
    reference) but the first searched again over ``candidates``, against the points
    triangulated from all the others placed by ``offsets``, at the offsets where it shares
    at least half of its clip (or the reference's, if shorter) with the reference. Where
    the new error curve is clearer than the camera's current one (a higher
    :func:`sharpness`; ``clarity``: the current curves') and has a single valley (no
    :func:`_rival`), the camera moves to its best offset (``offsets`` is updated). Passes
    over the cameras until none moves (at most ``MAX_RECHECKS``). A camera is searched again
    only when the others or their offsets differ from those it was last searched against
    (so not the last one placed, at first). Clips longer than ``RECHECK_FRAMES`` are
    compared on every n-th frame (:func:`anchored_errors`). Returns the curves taken.

    The search places cameras one by one, each against those placed before it: the first
    against the reference alone, the second against two. Two views cannot see errors along
    their epipolar lines, so a pair that agrees with itself can still predict a third
    camera badly and place it frames or seconds off (one camera of the Pose2Sim demo trial
    with MediaPipe 2D, 52 frames); against all the others it falls into place. But one
    of the others may see no movement (a still person, a frozen picture): points
    triangulated with it fit any camera poorly at every offset, so such a flat curve must
    not overrule a clear one; and every offset is relative to the reference, so the others
    must not carry a camera away from it. A movement that repeats (marching) fits the
    others about as well a cycle later whichever cycle they are on, so a curve with two
    valleys is no better evidence than the one it would replace."""
    def others(cam: str) -> frozenset[tuple[str, int]]:
        return frozenset((n, offsets[n]) for n in cameras if n != cam)

    searched = {cameras[-1]: others(cameras[-1])}  # the search's last camera: all the others
    clearest = dict(clarity)
    curves: dict[str, FloatArray] = {}
    for _ in range(MAX_RECHECKS):
        moved = False
        for cam in cameras[1:]:
            if searched.get(cam) == others(cam):
                continue
            searched[cam] = others(cam)
            errors = anchored_errors(group, [n for n in cameras if n != cam], offsets, xy,
                                     cam, candidates, debias, max_frames=RECHECK_FRAMES)
            shared = (np.minimum(candidates + len(xy[cam]), len(xy[cameras[0]]))
                      - np.maximum(candidates, 0))  # frames shared with the reference
            errors[shared < min(len(xy[cam]), len(xy[cameras[0]])) // 2] = np.nan
            clear = sharpness(candidates, errors)
            if clear > clearest.get(cam, 0.0) and _rival(candidates, errors) is None:
                clearest[cam], curves[cam] = clear, errors
                best = int(candidates[int(np.nanargmin(errors))])
                moved |= best != offsets[cam]
                offsets[cam] = best
        if not moved:
            break
    return curves


def rounding_factor(margin: float, sigma: float) -> float:
    """0..1: how clearly a sub-frame offset rounds to its whole frame, from its
    ``margin`` to the rounding boundary (frames; 0 at exactly half a frame) and its
    standard error ``sigma``: 1 from a margin of ``ROUNDING_SE`` standard errors, or of a
    quarter frame when the estimate is more precise than that (or ``sigma`` unknown), and
    proportionally less below."""
    scale = 0.25 if not np.isfinite(sigma) else max(0.25, ROUNDING_SE * sigma)
    return min(1.0, margin / scale)


def refine_offsets(poses: Mapping[str, Pose2D], group: CameraGroup, offsets: Mapping[str, int],
                   confidence: Mapping[str, float], reference: str, max_lag: int,
                   debias: bool = True, joint: bool = True
                   ) -> tuple[dict[str, int], dict[str, float], dict[str, FloatArray]]:
    """:func:`geometry_offsets` as a tuple (offsets, confidence, curves)."""
    found = geometry_offsets(poses, group, offsets, confidence, reference, max_lag, debias,
                             joint)
    return found.offsets, found.confidence, found.curves


def joint_subframe(group: CameraGroup, xy: Mapping[str, FloatArray], offsets: Mapping[str, int],
                   reference: str, cameras: Sequence[str], max_lag: int
                   ) -> dict[str, tuple[float, float]]:
    """Sub-frame offsets (and standard errors) of ``cameras`` other than the ``reference``
    (offset 0), starting from the whole-frame ``offsets``.

    Every camera, the reference included, gets its :func:`lag_correction` ``delta``
    against the points triangulated from all the others. With ``n`` cameras whose
    offsets are off by ``e`` (``e[reference] = 0``), the others' points are on average
    off by the mean of the others' ``e``, so ``delta[c] - delta[reference] =
    n / (n - 1) * e[c]``: all corrections are solved at once (Jacobi), the offsets moved
    to the nearest whole frames, and this repeated until none moves (at most
    ``MAX_SWEEPS`` times). Solving for all cameras together, rather than moving one at a
    time against the others, cannot stall half-way when the reference itself sits
    between whole frames of the others. No camera leaves ``WINDOW`` frames around its
    start; a camera without a usable estimate keeps its offset (standard error NaN).

    The standard errors come from a jackknife over the keypoints (each keypoint left out
    of every camera's slope in turn, :func:`_jackknife_errors`), not from the slope's own
    formula: a real detector's errors differ from keypoint to keypoint and persist over
    frames, which the formula, treating every observation as independent, does not see
    (on the real Pose2Sim trial it gave 0.06-0.09 frame where the jackknife gives
    0.1-0.2). With fewer than three keypoints, the formula's."""
    n = len(cameras)
    lag = {c: int(offsets[c]) for c in cameras}
    fine = {c: (float(lag[c]), float("nan")) for c in cameras if c != reference}
    used = dict(lag)
    seen: dict[str, tuple[FloatArray, FloatArray, NDArray[np.intp]] | None] = {}
    for _ in range(MAX_SWEEPS):
        used = dict(lag)
        seen = {cam: lag_observations(group, [o for o in cameras if o != cam], lag, xy, cam,
                                      lag[cam]) for cam in cameras}
        delta = {cam: (float("nan"), float("nan")) if obs is None else huber_slope(*obs[:2])
                 for cam, obs in seen.items()}
        ref = delta[reference][0] if np.isfinite(delta[reference][0]) else 0.0
        changed = False
        for cam in fine:
            d, sigma = delta[cam]
            if not np.isfinite(d):
                continue
            value = _joint_offset(lag[cam], d, ref, n)
            fine[cam] = (value, sigma)
            new = int(np.clip(round(value), offsets[cam] - WINDOW, offsets[cam] + WINDOW))
            new = int(np.clip(new, -max_lag, max_lag))
            changed |= new != lag[cam]
            lag[cam] = new
        if not changed:
            break
    spread = _jackknife_errors(seen, used, reference, n)
    return {cam: (value, spread.get(cam, sigma)) for cam, (value, sigma) in fine.items()}


def _joint_offset(lag: int, delta: float, ref: float, n: int) -> float:
    """A camera's sub-frame offset from its whole-frame ``lag``, its correction ``delta``
    and the reference's ``ref`` among ``n`` cameras (:func:`joint_subframe`)."""
    return lag + (n - 1) / n * (delta - ref)


def _jackknife_errors(seen: Mapping[str, tuple[FloatArray, FloatArray, NDArray[np.intp]]
                                        | None],
                      lag: Mapping[str, int], reference: str, n: int) -> dict[str, float]:
    """Jackknife standard errors (frames) of the joint sub-frame offsets of the cameras
    other than the ``reference``, from their regressions' observations ``seen`` (at the
    whole-frame offsets ``lag``, ``n`` cameras; :func:`joint_subframe`): each keypoint
    column is left out of every camera's slope in turn. Cameras without observations,
    or with fewer than three keypoints, get none."""
    columns = sorted({int(k) for obs in seen.values() if obs is not None
                      for k in np.unique(obs[2])})
    if len(columns) < 3 or seen.get(reference) is None:
        return {}
    values: dict[str, list[float]] = {c: [] for c, obs in seen.items()
                                      if c != reference and obs is not None}
    for k in columns:
        slope = {}
        for cam, obs in seen.items():
            if obs is None:
                continue
            keep = obs[2] != k
            slope[cam] = huber_slope(obs[0][keep], obs[1][keep])[0] \
                if keep.sum() >= MIN_PAIRS else float("nan")
        ref = slope[reference] if np.isfinite(slope[reference]) else 0.0
        for cam in values:
            if np.isfinite(slope[cam]):
                values[cam].append(_joint_offset(lag[cam], slope[cam], ref, n))
    out = {}
    for cam, v in values.items():
        if len(v) >= 3:
            arr = np.asarray(v)
            out[cam] = float(np.sqrt((len(arr) - 1) / len(arr)
                                     * np.sum((arr - arr.mean()) ** 2)))
    return out


def clean_keypoints(group: CameraGroup, xy: Mapping[str, FloatArray], offsets: Mapping[str, int],
                    keypoints: Sequence[str], factor: float = 4.0) -> dict[str, FloatArray]:
    """``xy`` (camera → (frames, keypoints, 2) pixels) with gross detection errors
    removed, for three or more cameras placed by ``offsets``: on the reference timeline,
    each point is triangulated robustly (:func:`~posekit.triangulation.robust.
    select_views`), left/right swaps are undone (:func:`~posekit.triangulation.robust.
    repair_swaps`, ``keypoints`` names the columns) and observations that the robust
    triangulation of the repaired keypoints still drops become NaN. The threshold is
    ``factor`` times the median reprojection error of all observations, so it adapts to
    the detector and the calibration, and is far above what a misalignment of a frame
    or two adds."""
    names = list(xy)
    if len(names) < 3:
        return dict(xy)
    sub = group.subset(names)
    t0 = min(offsets[n] for n in names)
    t1 = max(offsets[n] + len(xy[n]) for n in names)
    k = len(keypoints)
    pix = np.full((len(names), t1 - t0, k, 2), np.nan)
    for i, n in enumerate(names):
        pix[i, offsets[n] - t0: offsets[n] - t0 + len(xy[n])] = xy[n]
    ext = np.stack([cam.extrinsics[:3] for cam in sub])
    focal = focal_lengths(sub)
    norm = normalize_points(sub, pix.reshape(len(names), -1, 2))
    weights = np.isfinite(norm).all(axis=-1).astype(float)
    err = view_errors(ext, focal, norm, triangulate_normalized(ext, norm, weights, 1, focal))
    if not np.isfinite(err).any():
        return dict(xy)
    threshold = factor * float(np.nanmedian(err))
    pts, _ = select_views(ext, focal, norm, weights, threshold)
    pairs = symmetric_pairs(keypoints)
    if pairs:
        _, swapped = repair_swaps(ext, focal, norm.reshape(pix.shape),
                                  pts.reshape(t1 - t0, k, 3), pairs, threshold)
        left, right = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        c, f, q = np.nonzero(swapped)
        pix[c, f, left[q]], pix[c, f, right[q]] = pix[c, f, right[q]], pix[c, f, left[q]]
        norm = normalize_points(sub, pix.reshape(len(names), -1, 2))
    pts, used = select_views(ext, focal, norm, weights, threshold)
    with np.errstate(invalid="ignore"):
        bad = ~used | (view_errors(ext, focal, norm, pts) > threshold)
    pix[bad.reshape(pix.shape[:3])] = np.nan
    return {n: pix[i, offsets[n] - t0: offsets[n] - t0 + len(xy[n])]
            for i, n in enumerate(names)}
