"""The ``sync`` pipeline step: per-camera frame offsets of a trial → ``sync/<trial>.toml``.

Convention (also written in every file): frame ``i`` of camera ``c`` shows the same
instant as frame ``i + offset[c]`` of the reference camera, whose offset is 0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from math import floor
from pathlib import Path
from typing import Any

import numpy as np

from posekit.camera.toml_io import load_calibration
from posekit.errors import PosekitError, ProjectError
from posekit.io.atomic import write_figure_atomic
from posekit.io.tomlfile import read_toml_file, write_toml_atomic
from posekit.pose2d.table import Pose2D
from posekit.project.layout import Trial
from posekit.project.steps import (
    all_or_nothing,
    calibration_set,
    calibration_size_problems,
    frame_counts,
    frame_timing_problems,
    no_person_error,
    person_cameras,
    pose_2d_path,
    read_trial_2d,
    sync_path,
    trial_fps,
    turned_keypoint_problems,
)
from posekit.sync.geometry import GeometrySync, geometry_offsets
from posekit.sync.motion import FULL_OVERLAP_S, MotionSync, motion_offsets, movement_cap

log = logging.getLogger(__name__)
CONVENTION = ("frame i of camera c shows the same instant as frame i + offset[c] of the "
              "reference camera (offset 0)")
LOW_CONFIDENCE = 0.3
#: frames either side of the motion's offset that its confidence speaks for
MOTION_VOUCHES = 1


def _sync_table(path: str | Path, table: str, cast: Callable[[Any], Any],
                required: bool) -> dict[str, Any]:
    """Table ``table`` of a ``sync.toml`` by camera, each value through ``cast`` (empty
    when it is not ``required`` and absent); a :class:`PosekitError` naming the file when
    it cannot be read as one."""
    try:
        data = read_toml_file(path)
        values = data[table] if required else data.get(table, {})
        return {str(k): cast(v) for k, v in values.items()}
    except (OSError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise PosekitError(f"{path}: not a posekit sync file ({exc})") from None


def read_sync(path: str | Path) -> dict[str, int]:
    """Offsets by camera from a ``sync.toml``."""
    return _sync_table(path, "offsets", int, required=True)


def read_subframe(path: str | Path) -> dict[str, float]:
    """The geometry's sub-frame offsets by camera from a ``sync.toml`` (its
    ``[subframe]`` table: cameras refined by the joint step, three or more cameras with a
    calibration); empty when it has none."""
    return _sync_table(path, "subframe", float, required=False)


def _plot(path: Path, poses: Mapping[str, Pose2D], signals: Mapping[str, np.ndarray],
          offsets: Mapping[str, int], fps: float, confidence: Mapping[str, float]) -> None:
    """The motion signals on the reference camera's clock; each camera labelled with its
    offset and confidence, the low-confidence ones in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 1.0 + 0.6 * len(poses)))
    for k, (cam, sig) in enumerate(signals.items()):
        t = (np.arange(len(sig)) + offsets[cam]) / fps
        scale = np.nanpercentile(sig, 98) if np.isfinite(sig).any() else 1.0
        ax.plot(t, k + 0.8 * sig / (scale or 1.0), lw=0.8, label=cam)
    ax.set_yticks(range(len(signals)),
                  [f"{c}\n{offsets[c]:+d} fr, conf. {confidence.get(c, 0.0):.2f}"
                   for c in signals], fontsize=8)
    for tick, cam in zip(ax.get_yticklabels(), signals, strict=True):
        if confidence.get(cam, 0.0) < LOW_CONFIDENCE:
            tick.set_color("tab:red")
    ax.set_xlabel("time on the reference camera's clock (s)")
    ax.set_title("keypoint speed per camera, aligned by the estimated offsets")
    fig.tight_layout()
    write_figure_atomic(fig, path, dpi=100)


def _estimate(trial: Trial, poses: Mapping[str, Pose2D], fixed: Mapping[str, int],
              record: dict[str, Any], warnings: list[str]) -> dict[str, np.ndarray]:
    """Offsets of the cameras that saw the person, by motion then geometry, into
    ``record``; the cameras that never saw the person get offset 0 and a warning.
    Returns each camera's motion signal (for the plot)."""
    cfg = trial.config.sync
    cams = list(poses)
    seen = person_cameras(poses)
    if not seen:
        raise no_person_error(trial, cams)
    if len(seen) < 2:
        raise ProjectError(
            f"trial {trial.key}: only camera {seen[0]} detected the person (cameras "
            f"{', '.join(c for c in cams if c not in seen)} have no keypoint in any frame), "
            "so no offset can be estimated; check those cameras' videos and 2D files, or "
            "set [sync] offsets for them")
    counts = frame_counts(poses)
    if counts:
        log.info("%s: the cameras recorded different numbers of frames (%s), as cameras "
                 "started and stopped by hand do; offsets are estimated from the frames "
                 "they share", trial.key, counts)
    fps = trial_fps(trial, poses)
    warnings.extend(frame_timing_problems(poses))
    subframe: dict[str, float] = {}
    subframe_se: dict[str, float] = {}
    est = motion_offsets({c: poses[c] for c in seen}, fps, cfg.max_lag_s)
    offsets = {c: est.offsets.get(c, 0) for c in cams}
    confidence = {c: est.confidence.get(c, 0.0) for c in cams}
    method = "motion"
    rivals: dict[str, int] = {}
    between: dict[str, tuple[float, float]] = {}  # sub-frame offsets (± SE) in doubt
    still: dict[str, float] = {}  # how clearly each camera sees a movement (geometry)
    cs = calibration_set(trial)
    if cs is not None and cs.output.is_file():
        group = load_calibration(cs.output)
        absent = [c for c in seen if c not in group.names]
        misfit = [] if absent else calibration_size_problems(
            trial, {c: group[c].size for c in seen}, cs.output) + turned_keypoint_problems(
            trial, {c: poses[c] for c in seen})
        if misfit:
            warnings.append("the calibration does not fit the videos or their 2D, so the "
                            "offsets are from the motion only, not checked by the geometry: "
                            + "; ".join(misfit))
        elif not absent:
            geo = geometry_offsets({c: poses[c] for c in seen}, group.subset(seen), offsets,
                                   confidence, seen[0], round(cfg.max_lag_s * fps))
            offsets.update(geo.offsets)
            certainty = offset_certainty(est, geo, cams)
            confidence = camera_confidence(est, geo, cams)
            subframe = {c: round(v, 2) for c, (v, _) in geo.subframe.items()
                        if c not in fixed}
            subframe_se = {c: round(se, 2) for c, (_, se) in geo.subframe.items()
                           if c not in fixed and np.isfinite(se)}
            rivals, still = geo.rivals, geo.still_fit
            between = {c: (v, se) for c, (v, se) in geo.subframe.items()  # only that in doubt
                       if certainty[c] >= LOW_CONFIDENCE and geo.rounding.get(c, 1.0) < 1.0}
            method = "motion + geometry"
        else:
            warnings.append(
                f"cameras {absent} are not in the calibration {cs.output} (it has "
                f"{group.names}): offsets from the motion only, not checked by the "
                "geometry; triangulation needs them calibrated")
    else:
        log.info("%s: no calibration yet, so the offsets are from the motion only, which "
                 "is often a frame off; once `posekit calibrate` has run, sync runs again "
                 "(its output is then out of date) and the geometry checks them",
                 trial.key)
    for cam, value in fixed.items():
        offsets[cam], confidence[cam] = value, 1.0
    doubted = []  # cameras that saw the person, warned about for low confidence
    for cam in cams:
        if cam in fixed:
            continue
        if cam not in seen:
            warnings.append(
                f"{cam}: no person detected in any frame of {pose_2d_path(trial, cam).name}"
                f": offset {offsets[cam]} has low confidence (0.00); check that camera's "
                f"video, or set [sync] offsets.{cam}")
        elif confidence[cam] < LOW_CONFIDENCE:
            doubted.append(cam)
            warnings.append(f"{cam}: offset {offsets[cam]} has low confidence "
                            f"({confidence[cam]:.2f}): "
                            + _low_confidence_reason(
                                cam, offsets[cam], rivals, between, still, seen[0],
                                est.movement, shared_seconds(poses, offsets, seen[0], cam, fps)))
    hint = _hardware_sync_hint({c: offsets[c] for c in seen if c not in fixed}, subframe,
                               warned=bool(doubted))
    if hint:
        warnings.append(hint)
    record.update(method=method, fps=fps, max_lag_s=cfg.max_lag_s, offsets=offsets,
                  confidence={c: round(float(v), 3) for c, v in confidence.items()},
                  frames={c: p.n_frames for c, p in poses.items()})
    if seen[0] != cams[0]:
        record["reference"] = seen[0]
    if subframe:  # the geometry's sub-frame estimates, before rounding
        record["subframe"] = subframe
        if subframe_se:  # their standard errors (jackknife), where there is one
            record["subframe_se"] = subframe_se
    return {c: est.signals.get(c, np.full(p.n_frames, np.nan)) for c, p in poses.items()}


def _hardware_sync_hint(offsets: Mapping[str, int], subframe: Mapping[str, float],
                        warned: bool) -> str | None:
    """When cameras were ``warned`` about for low confidence and every estimated offset (and
    sub-frame offset) is within a frame of 0, the note that cameras synchronised in hardware
    need no estimate: those warnings then say only that the estimate cannot settle what the
    recording already fixed."""
    if not warned or len(offsets) < 2:
        return None
    if any(abs(v) > 1 for v in offsets.values()) or any(abs(v) > 1 for v in subframe.values()):
        return None
    listed = ", ".join(f"{c} {v:+d}" for c, v in offsets.items())
    return (f"every offset is within a frame of 0 ({listed}): if these cameras are "
            "synchronised in hardware (a shared trigger, genlock or timecode), the offsets "
            "need no estimate and the low-confidence warnings above do not apply; set [sync] "
            "enabled = false in the trial's, session's or project's config.toml, and the 3D "
            "uses the frames as recorded")


def offset_certainty(motion: MotionSync, geo: GeometrySync, cameras: Sequence[str]
                     ) -> dict[str, float]:
    """Per camera, how clearly its offset is found up to the rounding (0..1): the larger of
    the geometry's error-curve sharpness and, where the geometry's offset is within
    ``MOTION_VOUCHES`` frames of the motion's, the motion's confidence. The motion's
    correlation peak speaks for its own offset and the frames beside it, not for an offset
    the geometry moved the camera to. Either way it is at most the geometry's
    :meth:`~posekit.sync.geometry.GeometrySync.trust`: when another offset, a cycle of a
    repeated movement away, fits the geometry about as well, neither signal has settled
    which one is right, and a camera that sees no movement (or whose reference sees none)
    has nothing to be in step with: neither by the geometry's still fit nor by the motion
    signal's :meth:`~posekit.sync.motion.MotionSync.movement_limit` (which also covers
    two cameras, where the geometry cannot tell a still view from a moving one)."""
    certainty = {}
    for c in cameras:
        near = abs(motion.offsets.get(c, 0) - geo.offsets.get(c, 0)) <= MOTION_VOUCHES
        vouched = motion.confidence.get(c, 0.0) if c in motion.offsets and near else 0.0
        certainty[c] = min(max(vouched, geo.sharpness.get(c, 0.0)), geo.trust(c),
                           motion.movement_limit(c))
    return certainty


def camera_confidence(motion: MotionSync, geo: GeometrySync, cameras: Sequence[str]
                      ) -> dict[str, float]:
    """Each camera's confidence (0..1), as written to the sync file: its
    :func:`offset_certainty` times the geometry's rounding factor (low for a camera the
    geometry puts between two whole frames, which no motion signal can settle)."""
    certainty = offset_certainty(motion, geo, cameras)
    return {c: certainty[c] * geo.rounding.get(c, 1.0) for c in cameras}


def overlap(offsets: Mapping[str, int], lengths: Mapping[str, int]) -> tuple[int, int]:
    """Reference frames ``[start, stop)`` recorded by every camera of ``lengths`` (camera
    → frames), placed by ``offsets``."""
    start = max(offsets[c] for c in lengths)
    stop = min(offsets[c] + lengths[c] for c in lengths)
    return start, stop


def shared_seconds(poses: Mapping[str, Pose2D], offsets: Mapping[str, int], reference: str,
                   cam: str, fps: float) -> float:
    """Seconds that ``cam`` and the ``reference`` both recorded, placed by ``offsets``."""
    start, stop = overlap(offsets, {c: poses[c].n_frames for c in (reference, cam)})
    return max(0, stop - start) / fps


def _low_confidence_reason(cam: str, offset: int, rivals: Mapping[str, int],
                           between: Mapping[str, tuple[float, float]], still: Mapping[str, float],
                           reference: str, moving: Mapping[str, float],
                           shared_s: float | None = None) -> str:
    """Why camera ``cam``'s ``offset`` is in doubt, and what to do, for its warning: the
    ``reference`` camera or ``cam`` sees no movement (``still``: the geometry's still fits;
    ``moving``: the motion signals' movement shares; the reference is blamed on its still
    fit alone only when its 2D does not move as much as the others' or ``cam`` has no
    rival offset), another offset fits as well
    (``rivals``), the geometry puts it between whole frames (``between``: its sub-frame
    offset and its standard error), or the camera sees little movement or a flat curve
    (``shared_s``: the seconds it shares with the reference, named when they are few)."""
    if still and max(still.values()) < LOW_CONFIDENCE:  # no view's movement confirmed
        return ("the geometry cannot confirm that the cameras see the same movement: in "
                "at least one view the person stands still, or the picture is frozen or "
                "static, and the geometry cannot tell which (with three cameras, one such "
                "view spoils the check of all three); check each camera's video and 2D (the "
                f"sync plot shows each camera's movement), or set [sync] offsets.{cam}")
    # a reference whose 2D moves as much as the others' can still fit the others' points
    # no better than a still person would when the offsets are a whole cycle of a repeated
    # movement off: then the rival offset is the cause to name
    reference_moves = movement_cap(moving.get(reference, float("nan"))) >= 1.0
    if still.get(reference, 1.0) < LOW_CONFIDENCE and not (reference_moves and cam in rivals):
        return (f"the reference camera {reference} sees no movement (the person stands "
                "still in its view, or its picture is frozen or static), so no offset can be "
                f"measured against it; check {reference}'s video and 2D, or set [sync] "
                f"offsets.{cam}")
    for who, measured in ((reference, "against it"), (cam, "for it")):
        share = moving.get(who, 1.0)
        if movement_cap(share) < LOW_CONFIDENCE:
            whose = "this camera" if who == cam else f"the reference camera {reference}"
            return (f"{whose} sees far less movement than the others (its keypoints' speed "
                    f"varies {share:.0%} as much as theirs): the person may stand still in "
                    "its view, or its picture is frozen or shows someone else, so no offset "
                    f"can be measured {measured}; check {who}'s video and 2D (the sync plot "
                    f"shows each camera's movement), or set [sync] offsets.{cam}")
    if cam in rivals and still.get(cam, 1.0) >= LOW_CONFIDENCE:
        return (f"offset {rivals[cam]}, {abs(rivals[cam] - offset)} frames from offset "
                f"{offset}, fits the geometry "
                "almost as well, as happens when a movement repeats (walking, marching, "
                "cycling: one cycle looks like the next); check the plot, record a distinct "
                f"movement (a jump or a clap) at the start, or set [sync] offsets.{cam}")
    if cam in between:
        value, se = between[cam]
        spread = f" ± {se:.2f}" if np.isfinite(se) else ""
        return (f"the geometry places this camera {value:+.2f}{spread} frames from the "
                f"reference, between whole frames, so offsets {floor(value):+d} and "
                f"{floor(value) + 1:+d} fit about equally well and either is up to about "
                "half a frame off (cameras that are not hardware-synchronised start a "
                "fraction of a frame apart, and a detector whose errors differ from view to "
                "view can look the same); triangulation uses the sub-frame value itself "
                "unless [triangulation] subframe = false, so the 3D does not depend on which "
                f"whole frame it is; if you know the true offset, set [sync] offsets.{cam}")
    short = (f"it shares only {shared_s:.1f} s of recording with the reference camera, "
             "which seldom holds a movement distinct enough to fix an offset, or "
             if shared_s is not None and shared_s < FULL_OVERLAP_S else "")
    return (f"{short}the person may be out of view or barely moving in it; check the plot, "
            "record a longer clip with a distinct movement (a jump or a clap), or set [sync] "
            f"offsets.{cam}")


def run(trial: Trial, overwrite: bool = False) -> Path:
    """Estimate (or take from ``[sync] offsets``) the offsets of one trial.

    A trial needs two or more cameras and a 2D file for each; cameras whose 2D files hold
    no person get offset 0 and a warning (the offsets of the others are estimated
    without them); a trial in which no camera saw the person is an error."""
    del overwrite  # the runner decides what to redo
    cfg = trial.config.sync
    cams = trial.cameras
    fixed = {c: int(v) for c, v in cfg.offsets.items() if c in cams}
    record: dict[str, Any] = {"reference": cams[0], "convention": CONVENTION}
    warnings: list[str] = []
    poses: dict[str, Pose2D] = {}
    signals: dict[str, np.ndarray] | None = None
    if not cfg.enabled or len(fixed) == len(cams):
        offsets = {c: fixed.get(c, 0) for c in cams}
        record.update(method="config" if fixed else "none (sync disabled)",
                      offsets=offsets, confidence={c: 1.0 for c in cams})
    else:
        poses = read_trial_2d(trial)
        signals = _estimate(trial, poses, fixed, record, warnings)
    if warnings:
        record["warnings"] = warnings
        for w in warnings:
            log.warning("%s: %s", trial.key, w)
    with all_or_nothing() as written:
        if signals is not None:
            plot = sync_path(trial).with_suffix(".png")
            _plot(plot, poses, signals, record["offsets"], record["fps"],
                  record["confidence"])
            written.append(plot)
        return write_toml_atomic(sync_path(trial), record,
                                 header=f"# posekit sync: {CONVENTION}\n")
