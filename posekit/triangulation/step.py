"""The ``triangulate`` pipeline step: a trial's 2D keypoints, calibration and frame offsets
→ ``pose-3d/<trial>.csv`` (Anipose's layout), ``.trc``, ``.c3d`` and quality files.

Offsets come from ``sync/<trial>.toml`` (the sync step), else from ``[sync] offsets`` in
the config, else 0. Frame ``i`` of camera ``c`` shows reference frame ``i + offset[c]``;
only the reference frames every camera recorded are triangulated, and the output's
``fnum`` are the reference camera's frame numbers (from 0, as Anipose; the TRC and C3D
count frames from 1, so their frame k is fnum k - 1). Cameras that the sync file finds
out of step with the reference by part of a frame (its ``[subframe]`` offsets) have their
2D interpolated to the reference's instants (``[triangulation] subframe``,
:func:`trial_fractions`), and so do cameras at another frame rate than the trial's clock
(29.97 among 30 fps), to the clock's instants
(:func:`~posekit.pose2d.timing.on_clock`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from posekit.calibration.board import UNITS_PER_M
from posekit.calibration.report import extrapolated_shares, read_report, world_frame_text
from posekit.camera.model import CameraGroup
from posekit.camera.toml_io import load_calibration
from posekit.config.schema import Config
from posekit.errors import CalibrationError, PosekitError, ProjectError
from posekit.io.atomic import write_text_atomic
from posekit.pose2d.table import Pose2D
from posekit.pose2d.timing import between_frames
from posekit.project.layout import Trial
from posekit.project.steps import (
    all_or_nothing,
    calibration_set,
    calibration_size_problems,
    frame_counts,
    frame_timing_problems,
    no_calibration,
    no_person_error,
    person_cameras,
    pose_2d_path,
    pose_3d_path,
    read_trial_2d,
    sync_path,
    trial_fps,
    turned_keypoint_problems,
)
from posekit.sync.step import overlap, read_subframe, read_sync
from posekit.triangulation.align import alignment_from_keypoints, apply_alignment
from posekit.triangulation.export import write_anipose_csv, write_c3d, write_trc
from posekit.triangulation.filters import (
    butterworth_3d,
    interpolate_gaps,
    median_filter_2d,
    median_filter_3d,
)
from posekit.triangulation.nwb import check_available as check_nwb
from posekit.triangulation.nwb import write_nwb
from posekit.triangulation.quality import (
    extrapolated_warnings,
    partial_warnings,
    plot_quality,
    quality_summary,
)
from posekit.triangulation.reconstruct import reconstruct

log = logging.getLogger(__name__)
FloatArray = NDArray[np.float64]


def trial_offsets(trial: Trial) -> tuple[dict[str, int], str]:
    """Offsets by camera and where they came from."""
    path = sync_path(trial)
    cams = trial.cameras
    if path.is_file():
        offsets = read_sync(path)
        missing = [c for c in cams if c not in offsets]
        if missing:
            raise PosekitError(f"{path}: no offsets for cameras {missing}; rerun "
                               "`posekit sync --overwrite`")
        return {c: offsets[c] for c in cams}, str(path)
    fixed = trial.config.sync.offsets
    if fixed:
        return {c: int(fixed.get(c, 0)) for c in cams}, "[sync] offsets in config.toml"
    return {c: 0 for c in cams}, "none (cameras assumed synchronised)"


def trial_fractions(trial: Trial, offsets: Mapping[str, int]) -> dict[str, float]:
    """Per camera, the part of a frame by which it is out of step with the reference
    camera, beyond its whole-frame offset: the sync file's sub-frame offset minus
    ``offsets`` (cameras whose difference is 0 or more than half a frame, e.g. an offset
    changed by hand, are left out). Empty with ``[triangulation] subframe = false`` or
    without a sync file."""
    path = sync_path(trial)
    if not trial.config.triangulation.subframe or not path.is_file():
        return {}
    out = {}
    for cam, value in read_subframe(path).items():
        if cam in offsets and 0 < abs(value - offsets[cam]) <= 0.5:
            out[cam] = round(value - offsets[cam], 4)
    return out


def stack_poses(poses: Mapping[str, Pose2D], offsets: Mapping[str, int],
                fractions: Mapping[str, float] | None = None
                ) -> tuple[FloatArray, FloatArray, NDArray[np.int64]]:
    """2D points (n_cams, n, k, 2), scores (n_cams, n, k) of the overlapping reference
    frames, and those frame numbers (n,). A camera with a ``fractions`` entry ``f`` (its
    frames show the reference's frame ``i + offset + f``) is interpolated to the
    reference's instants (:func:`~posekit.pose2d.timing.between_frames`)."""
    start, stop = overlap(offsets, {c: p.n_frames for c, p in poses.items()})
    if stop <= start:
        spans = {c: (offsets[c], offsets[c] + p.n_frames) for c, p in poses.items()}
        raise PosekitError(
            "the cameras' recordings do not overlap with these offsets (reference frame "
            f"spans {spans}); check the sync file or [sync] offsets")
    frames = np.arange(start, stop)
    xy, sc = [], []
    for c, p in poses.items():
        part = (fractions or {}).get(c, 0.0)
        if part:
            pts, like = between_frames(p.xy, p.likelihood, frames - offsets[c] - part)
        else:
            pts = p.xy[start - offsets[c]:stop - offsets[c]]
            like = p.likelihood[start - offsets[c]:stop - offsets[c]]
        xy.append(pts)
        sc.append(like)
    return np.stack(xy), np.stack(sc), frames


def _load_inputs(trial: Trial) -> tuple[CameraGroup, dict[str, Pose2D]]:
    cams = trial.cameras
    cs = calibration_set(trial)
    if cs is None or not cs.output.is_file():
        raise PosekitError(no_calibration(trial))
    group = load_calibration(cs.output)
    missing = [c for c in cams if c not in group.names]
    if missing:
        videos = ", ".join(trial.videos[c].name for c in missing)
        hint = ("; none of the names match: the calibration's camera names must be the "
                "names [triangulation] cam_regex finds in the video file names"
                if len(missing) == len(cams) else "")
        raise CalibrationError(
            f"trial {trial.key}: cameras {missing} have videos ({videos}) but are not in "
            f"{cs.output} (it has {group.names}){hint}; recalibrate with every camera of the "
            f"trial (a calibration video per camera in {cs.folder}, then `posekit calibrate "
            "--overwrite`), or move the odd videos out of the raw-videos folder")
    problems = calibration_size_problems(trial, {c: group[c].size for c in cams}, cs.output)
    if problems:
        raise CalibrationError(f"trial {trial.key}: the calibration does not fit the "
                               "videos: " + "; ".join(problems))
    poses = read_trial_2d(trial, interpolate=trial.config.triangulation.subframe)
    turned = turned_keypoint_problems(trial, poses)
    if turned:
        raise PosekitError(f"trial {trial.key}: the 2D keypoints do not fit the videos: "
                           + "; ".join(turned))
    extra = [c for c in group.names if c not in cams]
    if extra:
        log.info("%s: the calibration has cameras without a video in this trial (%s); "
                 "triangulating with %s", trial.key, ", ".join(extra), ", ".join(cams))
    return group.subset(cams), poses


def _check_detections(trial: Trial, poses: Mapping[str, Pose2D], scores: FloatArray,
                      fnum: NDArray[np.int64], source: str) -> list[str]:
    """Warnings about cameras that saw no one; an error when fewer than two cameras saw
    the person in the frames every camera recorded (``scores`` (n_cams, n, k))."""
    cams = list(poses)
    seen = person_cameras(poses)
    if not seen:
        raise no_person_error(trial, cams)
    in_overlap = [c for i, c in enumerate(cams) if (scores[i] > 0).any()]
    if len(in_overlap) < 2:
        who = (f"only camera {in_overlap[0]} detected" if in_overlap
               else "no camera detected")
        others = ", ".join(c for c in cams if c not in in_overlap)
        raise ProjectError(
            f"trial {trial.key}: {who} the person in the {len(fnum)} frames all cameras "
            f"recorded (reference frames {fnum[0]} to {fnum[-1]}, offsets from {source}); "
            "triangulation needs two cameras that see the person at the same time: check "
            f"the other cameras' videos and 2D files ({others}) and the offsets")
    if not ((scores > 0).sum(axis=0) >= 2).any():
        raise ProjectError(
            f"trial {trial.key}: no two cameras saw a keypoint at the same time in the "
            f"{len(fnum)} frames all cameras recorded (reference frames {fnum[0]} to "
            f"{fnum[-1]}); check the offsets (from {source}): wrong ones shift the "
            "cameras' views of the person apart")
    return [f"camera {cam}: no person detected in its 2D file "
            f"({pose_2d_path(trial, cam).name}), so it is not used; check its video"
            for cam in cams if cam not in seen]


def filter_2d(cfg: Config, xy: FloatArray, scores: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The ``[filter]`` 2D pre-filter applied to every camera."""
    if not cfg.filter.enabled:
        return xy, scores
    window = cfg.filter.medfilt + (1 - cfg.filter.medfilt % 2)
    out = [median_filter_2d(xy[c], scores[c], window, max_jump_px=cfg.filter.offset_threshold)
           for c in range(len(xy))]
    return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])


def filter_3d(cfg: Config, points: FloatArray, fps: float) -> FloatArray:
    """The ``[filter3d]`` post-filter, then gap interpolation up to ``max_gap`` frames."""
    f3 = cfg.filter3d
    if f3.enabled:
        if f3.type == "butterworth":
            points = butterworth_3d(points, fps, f3.cutoff_hz, f3.order)
        else:
            points = median_filter_3d(points, f3.medfilt + (1 - f3.medfilt % 2))
    if not cfg.triangulation.optim:
        points = interpolate_gaps(points, cfg.triangulation.max_gap)
    return points


def _align(cfg: Config, points: FloatArray, keypoints: list[str]
           ) -> tuple[FloatArray, FloatArray | None, FloatArray | None]:
    """``[triangulation] axes`` and ``reference_point`` applied to ``points``."""
    tcfg = cfg.triangulation
    if tcfg.axes:
        if not tcfg.reference_point:
            raise PosekitError("[triangulation] axes needs reference_point too (the "
                               "keypoint that becomes the origin)")
        m, center = alignment_from_keypoints(points, keypoints, tcfg.axes,
                                             tcfg.reference_point)
        return apply_alignment(points, m, center), m, center
    if tcfg.reference_point:
        if tcfg.reference_point not in keypoints:
            raise PosekitError(f"[triangulation] reference_point = "
                               f"{tcfg.reference_point!r} is not a keypoint ({keypoints})")
        center = np.nanmedian(points[:, keypoints.index(tcfg.reference_point)], axis=0)
        return points - center, np.eye(3), center
    return points, None, None


def _write_nwb(trial: Trial, path: Path, points: FloatArray, keypoints: list[str],
               fps: float, fnum: NDArray[np.int64], scores: FloatArray, reference: str,
               aligned: bool, calibration: Path | None) -> Path:
    """The NWB export of a trial's 3D (:mod:`posekit.triangulation.nwb`): its session
    starts at the reference camera's video's modification time (UTC), its reference frame
    is the world frame of ``calibration`` (as its report names it), re-aligned when
    ``aligned``."""
    from posekit.report.data import bones_for  # the report's module reads this one's outputs

    report = read_report(calibration)[0] if calibration is not None else None
    frame = world_frame_text(str((report or {}).get("world", "")), reference)
    if aligned:
        frame += (" Re-aligned from it by [triangulation] axes and reference_point "
                  f"({trial.config.triangulation.reference_point} at the origin).")
    video = trial.videos.get(reference)
    stamp = video.stat().st_mtime if video is not None and video.is_file() else 0.0
    return write_nwb(path, points, keypoints, fps, trial.config.calibration.units, fnum,
                     scores, bones_for(keypoints, trial.config),
                     session_description=f"posekit 3D keypoints of trial {trial.key}",
                     session_start=dt.datetime.fromtimestamp(stamp, dt.timezone.utc),
                     reference_frame=frame)


def run(trial: Trial, overwrite: bool = False) -> Path:
    """Triangulate one trial (module docstring).

    Errors, with nothing written: a trial with fewer than two cameras, cameras missing
    from the calibration or without 2D file, no person detected by any camera, fewer than
    two cameras seeing the person in the frames they all recorded, no 3D point
    reconstructed at all. What is missing from a written result (cameras without a
    person, keypoints never reconstructed) is logged as a warning and listed under
    ``warnings`` in the quality file."""
    del overwrite  # the runner decides what to redo
    cfg = trial.config
    tcfg = cfg.triangulation
    if "nwb" in tcfg.formats:
        check_nwb()  # before any work: say how to install what it needs
    group, poses = _load_inputs(trial)
    offsets, source = trial_offsets(trial)
    fps = trial_fps(trial, poses)
    start, stop = overlap(offsets, {c: p.n_frames for c, p in poses.items()})
    if stop <= start:
        spans = ", ".join(f"{c} {offsets[c]} to {offsets[c] + p.n_frames - 1}"
                          for c, p in poses.items())
        raise ProjectError(
            f"trial {trial.key}: with the offsets from {source}, no frame was recorded by "
            f"every camera (reference frames each recorded: {spans}); check the offsets "
            "(`posekit sync --overwrite`, or [sync] offsets) and the shortest videos")
    fractions = trial_fractions(trial, offsets)
    if fractions:
        log.info("%s: cameras out of step with the reference by part of a frame (%s, from "
                 "%s): their 2D is interpolated to the reference's instants", trial.key,
                 ", ".join(f"{c} {f:+.2f}" for c, f in fractions.items()), source)
    clocked = [c for c, p in poses.items() if p.metadata.get("interpolated")]
    if clocked:
        log.info("%s: cameras at another frame rate (%s): their 2D is interpolated to the "
                 "instants of the trial's clock", trial.key, ", ".join(clocked))
    xy, scores, fnum = stack_poses(poses, offsets, fractions)
    cam_warnings = [*frame_timing_problems(poses),
                    *_check_detections(trial, poses, scores, fnum, source)]
    counts = frame_counts(poses)
    if counts:
        log.info("%s: the cameras recorded different numbers of frames (%s); triangulating "
                 "the %d frames all of them recorded (reference frames %d to %d, offsets "
                 "from %s)", trial.key, counts, len(fnum), fnum[0], fnum[-1], source)
    xy, scores = filter_2d(cfg, xy, scores)
    keypoints = list(next(iter(poses.values())).keypoints)
    mm_per_unit = 1000.0 / UNITS_PER_M[cfg.calibration.units]
    rec = reconstruct(group, xy, scores, keypoints, tcfg, fps, mm_per_unit=mm_per_unit)
    points = filter_3d(cfg, rec.points, fps)
    if not np.isfinite(points).all(axis=-1).any():
        raise ProjectError(
            f"trial {trial.key}: no 3D point could be reconstructed: the cameras' "
            "detections never agree on a position; check that the calibration is of this "
            f"camera set-up and the offsets (from {source}), and look at the 2D "
            "(`posekit label-2d`)")
    points, m, center = _align(cfg, points, keypoints)
    out = pose_3d_path(trial)
    units = cfg.calibration.units
    summary = quality_summary(rec, group.names)
    summary.update(offsets=offsets, subframe=fractions, interpolated_to_clock=clocked,
                   offsets_source=trial.session.project.relative(source),
                   fps=fps, units=units, first_frame=int(fnum[0]),
                   reference_camera=group.names[0],
                   frames_per_camera={c: p.n_frames for c, p in poses.items()})
    cs = calibration_set(trial)
    outside = {} if cs is None else extrapolated_shares(cs.output, group, xy,
                                                        scores >= tcfg.score_threshold)
    for cam, share in outside.items():
        summary["cameras"][cam]["outside_calibration_share"] = share
    warnings = [*partial_warnings(summary, cam_warnings), *extrapolated_warnings(outside)]
    summary["warnings"] = warnings
    for warning in warnings:
        log.warning("%s: %s", trial.key, warning)
    with all_or_nothing() as written:
        if "trc" in tcfg.formats:
            # TRC and C3D count frames from 1: their frame k is the CSV's fnum k - 1
            written.append(write_trc(out.with_suffix(".trc"), points, keypoints, fps,
                                     units=units, fnum=fnum + 1,
                                     first_time=float(fnum[0]) / fps))
        if "c3d" in tcfg.formats:
            written.append(write_c3d(out.with_suffix(".c3d"), points, keypoints, fps,
                                     units=units, residuals=rec.errors,
                                     first_frame=int(fnum[0]) + 1))
        if "nwb" in tcfg.formats:
            written.append(_write_nwb(trial, out.with_suffix(".nwb"), points, keypoints,
                                      fps, fnum, rec.scores, group.names[0], m is not None,
                                      None if cs is None else cs.output))
        quality = out.with_name(f"{out.stem}.quality.json")
        written.append(write_text_atomic(quality, json.dumps(summary, indent=1)))
        written.append(quality.with_suffix(".png"))
        plot_quality(quality.with_suffix(".png"), summary)
        # the CSV is the step's declared output: written last, so a complete CSV means
        # the other files are complete too
        return write_anipose_csv(out, points, rec.errors, rec.ncams, rec.scores, keypoints,
                                 fnum, m, center)
