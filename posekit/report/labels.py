"""Labeled videos drawn with OpenCV: the 2D detections on each camera's video
(``label-2d``) and the triangulated 3D reprojected onto each camera (``label-3d-proj``).

Every decoded input frame is written, so a labeled video has its input's frame count and
size. Files appear atomically under ``<session>/<pipeline.videos_labeled_2d>/`` and
``<session>/<pipeline.videos_labeled_3d>/`` as ``<video stem>.mp4``.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from posekit.camera.toml_io import load_calibration
from posekit.errors import PosekitError
from posekit.io.video import iter_frames, probe_video, video_writer
from posekit.pose2d.table import read_pose2d
from posekit.pose2d.timing import between_frames, frame_positions
from posekit.project.layout import Trial
from posekit.project.steps import (
    calibration_set,
    no_calibration,
    pose_2d_path,
    pose_3d_path,
    read_trial_2d,
)
from posekit.report.data import Bones, bones_for
from posekit.triangulation.align import undo_alignment
from posekit.triangulation.export import read_anipose_csv
from posekit.triangulation.step import trial_fractions, trial_offsets

log = logging.getLogger(__name__)
FloatArray = NDArray[np.float64]
#: reprojection error (px) drawn fully red in ``label-3d-proj``
ERROR_RED_PX = 20.0


def quality_colours(quality: NDArray[np.float64]) -> NDArray[np.uint8]:
    """BGR colours (k, 3) from red (quality 0) through yellow to green (1); NaN = grey."""
    q = np.clip(np.nan_to_num(np.asarray(quality, np.float64), nan=-1.0), -1.0, 1.0)
    red = np.where(q < 0.5, 255, np.round(255 * 2 * (1 - q)))
    green = np.where(q < 0.5, np.round(255 * 2 * q), 255)
    bgr = np.stack([np.zeros_like(q), green, red], axis=-1)
    bgr[q < 0] = 160
    return bgr.astype(np.uint8)


def draw_pose(frame: NDArray[np.uint8], xy: FloatArray, quality: FloatArray, bones: Bones,
              radius: int = 4) -> NDArray[np.uint8]:
    """Draw keypoints ``xy`` (k, 2) in pixels, coloured by ``quality`` (k,) in [0, 1], and
    the ``bones`` between them, onto ``frame`` (in place; returned). NaN points are not
    drawn, nor bones touching them."""
    colours = quality_colours(quality)
    ok = np.isfinite(xy).all(axis=1)
    pts = np.round(np.where(ok[:, None], xy, 0)).astype(np.int64)
    thickness = max(1, radius // 2)
    for a, b in bones:
        if ok[a] and ok[b]:
            mean = ((colours[a].astype(int) + colours[b]) // 2).tolist()
            cv2.line(frame, (int(pts[a, 0]), int(pts[a, 1])), (int(pts[b, 0]), int(pts[b, 1])),
                     mean, thickness, cv2.LINE_AA)
    for j in np.flatnonzero(ok):
        cv2.circle(frame, (int(pts[j, 0]), int(pts[j, 1])), radius, colours[j].tolist(), -1,
                   cv2.LINE_AA)
    return frame


def _radius(size: tuple[int, int]) -> int:
    return max(2, round(max(size) / 320))


#: a colour key under a labeled video's caption: its title and (label, quality) pairs, each
#: label drawn in the colour of its quality
Key = tuple[str, tuple[tuple[str, float], ...]]
#: label-2d's colours: the detector's likelihood
LIKELIHOOD_KEY: Key = ("likelihood", (("1", 1.0), ("0.5", 0.5), ("0", 0.0)))
#: label-3d-proj's colours: the triangulation's reprojection error
ERROR_KEY: Key = ("reprojection error", (("0 px", 1.0), (f"{ERROR_RED_PX / 2:g} px", 0.5),
                                         (f"{ERROR_RED_PX:g}+ px", 0.0)))


#: thickness of the dark outline under a caption's white letters (legible on any picture)
CAPTION_OUTLINE = 3


def caption_scale(text: str, width: int, radius: int) -> float:
    """The font scale of a caption: ``radius / 6``, smaller where ``text`` would not fit
    in a frame ``width`` pixels wide (a portrait video)."""
    scale = radius / 6
    (w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, CAPTION_OUTLINE)
    return min(scale, scale * (width - 20) / w) if w > 0 else scale


def _key_pieces(key: Key | None) -> list[tuple[str, tuple[int, int, int]]]:
    """The pieces of a colour key's line: text and BGR colour."""
    if key is None:
        return []
    title, entries = key
    colours = quality_colours(np.array([q for _, q in entries]))
    return [(f"{title}:", (255, 255, 255)),
            *((label, (int(colour[0]), int(colour[1]), int(colour[2])))
              for (label, _), colour in zip(entries, colours, strict=True))]


#: text pieces placed on a frame: text, BGR colour, bottom-left corner
Placed = list[tuple[str, tuple[int, int, int], tuple[int, int]]]


def _place_line(pieces: Sequence[tuple[str, tuple[int, int, int]]], corner: tuple[int, int],
                scale: float) -> Placed:
    """Text pieces side by side (two spaces apart) from ``corner`` on (computed once per
    video, not per frame)."""
    x, y = corner
    space = cv2.getTextSize("  ", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0]
    placed: Placed = []
    for text, colour in pieces:
        placed.append((text, colour, (x, y)))
        x += cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] + space
    return placed


def _put_line(frame: NDArray[np.uint8], placed: Placed, scale: float) -> None:
    """Draw placed text pieces, each on a dark outline."""
    for text, colour, at in placed:
        for ink, thickness in (((0, 0, 0), CAPTION_OUTLINE), (colour, 1)):
            cv2.putText(frame, text, at, cv2.FONT_HERSHEY_SIMPLEX, scale, ink, thickness,
                        cv2.LINE_AA)


def render_video(source: Path, target: Path, xy: FloatArray, quality: FloatArray,
                 bones: Bones, caption: str, key: Key | None = None) -> Path:
    """Copy ``source`` to ``target`` with frame ``i`` overlaid by ``xy[i]`` (n, k, 2) and
    ``quality[i]``; frames beyond ``len(xy)`` are copied unlabeled. Each frame is captioned
    with ``caption`` and its number, and the colour ``key`` (if any) below."""
    info = probe_video(source)
    size = (info.width, info.height)
    radius = _radius(size)
    white = (255, 255, 255)
    pieces = _key_pieces(key)
    scale = min(caption_scale(line, info.width, radius) for line in (
        f"{caption}  frame {max(info.n_frames - 1, 0)}", "  ".join(t for t, _ in pieces)))
    corner = (10, 10 + round(36 * scale))
    key_line = _place_line(pieces, (10, corner[1] + round(40 * scale)), scale)
    with video_writer(target, info.fps or 30.0, size) as writer:
        for i, frame in enumerate(iter_frames(source)):
            if i < len(xy):
                draw_pose(frame, xy[i], quality[i], bones, radius)
            _put_line(frame, [(f"{caption}  frame {i}", white, corner)], scale)
            _put_line(frame, key_line, scale)
            writer.write(frame)
    return target


def _outdated(target: Path, inputs: Sequence[Path], overwrite: bool) -> bool:
    if overwrite or not target.is_file():
        return True
    newest = max((p.stat().st_mtime for p in inputs if p.is_file()), default=0.0)
    return target.stat().st_mtime < newest


@dataclass(frozen=True)
class LabelJob:
    """One labeled video to draw (:func:`render_video`'s arguments)."""

    camera: str
    source: Path
    target: Path
    xy: FloatArray
    quality: FloatArray
    bones: Bones
    caption: str
    key: Key | None = None

    def run(self) -> Path:
        return render_video(self.source, self.target, self.xy, self.quality, self.bones,
                            self.caption, self.key)


def label_2d_jobs(trial: Trial, overwrite: bool = False) -> list[LabelJob]:
    """The 2D labeled videos of ``trial`` that are missing or out of date (all with
    ``overwrite``): each camera's 2D keypoints on its video (colour = likelihood)."""
    out_dir = trial.output_dir(trial.config.pipeline.videos_labeled_2d)
    jobs: list[LabelJob] = []
    for cam, video in trial.videos.items():
        src = pose_2d_path(trial, cam)
        if not src.is_file():
            raise PosekitError(f"{src} is missing; run `posekit detect` first")
        target = out_dir / f"{video.stem}.mp4"
        if not _outdated(target, [video, src], overwrite):
            log.info("%s: %s is up to date", trial.key, target.name)
            continue
        pose = read_pose2d(src)
        bones = bones_for(pose.keypoints, trial.config)
        jobs.append(LabelJob(cam, video, target, pose.xy, pose.likelihood, bones,
                             f"{trial.key} {cam} 2D", LIKELIHOOD_KEY))
    return jobs


def label_2d(trial: Trial, overwrite: bool = False) -> list[Path]:
    """Draw each camera's 2D keypoints on its video (colour = detection likelihood)."""
    return [job.run() for job in label_2d_jobs(trial, overwrite)]


def reprojections(trial: Trial) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Per camera: the 3D points projected into each of its video frames (n_video, k, 2)
    (NaN where the frame has no 3D) and a quality (n_video, k) in [0, 1] from the
    triangulation's reprojection error (1 = 0 px, 0 = :data:`ERROR_RED_PX` or more).

    Each frame gets the 3D of its own instant: with ``[triangulation] subframe`` (the
    default), the 3D is interpolated between the reference frames around it
    (:func:`~posekit.pose2d.timing.between_frames`) for a camera out of step by part of a
    frame or recorded at another rate (also for the frames of a faster camera that the
    trial's clock leaves out), as triangulation interpolated that camera's 2D the other
    way; otherwise each frame gets the 3D of the slot the placement put it in, and a frame
    the trial's clock left out the 3D of its nearest slot."""
    cs = calibration_set(trial)
    if cs is None or not cs.output.is_file():
        raise PosekitError(f"{trial.key}: {no_calibration(trial)}")
    data = read_anipose_csv(pose_3d_path(trial))
    group = load_calibration(cs.output)
    offsets, _ = trial_offsets(trial)
    fractions = trial_fractions(trial, offsets)
    poses = read_trial_2d(trial)
    exact = trial.config.triangulation.subframe
    # the 3D on the reference's frame numbers, every frame from the first to the last
    first = int(data.fnum[0])
    world = np.full((int(data.fnum[-1]) - first + 1, *data.points.shape[1:]), np.nan)
    world[data.fnum - first] = undo_alignment(data.points, data.M, data.center)
    quality = np.zeros(world.shape[:2])
    quality[data.fnum - first] = np.nan_to_num(1.0 - np.clip(data.errors / ERROR_RED_PX,
                                                             0.0, 1.0))
    out: dict[str, tuple[FloatArray, FloatArray]] = {}
    for cam, video in trial.videos.items():
        if cam not in group.names:
            raise PosekitError(f"{trial.key}: camera {cam} is not in {cs.output}")
        n_video = probe_video(video).n_frames
        # each video frame's row on the camera's frame grid (or the trial's clock), whose
        # row i shows reference frame i + offset (+ the sub-frame fraction)
        rows = np.full(n_video, np.nan)
        if cam in poses:
            found = frame_positions(poses[cam], fractional=exact)[:n_video]
            rows[:len(found)] = found
            # frames the clock left out (a faster camera's): nearest slot, halves up (not
            # clock_slots' half-to-even, which would step back and forth on a 60-fps video)
            if not exact:
                own = frame_positions(poses[cam], fractional=True)[:n_video]
                fill = np.isnan(rows[:len(own)]) & np.isfinite(own)
                rows[:len(own)][fill] = np.floor(own[fill] + 0.5)
        else:
            rows[:] = np.arange(n_video)
        at = rows + offsets[cam] + (fractions.get(cam, 0.0) if exact else 0.0) - first
        points, q = between_frames(world, quality, np.where(np.isfinite(at), at, -1.0))
        xy = np.full((n_video, points.shape[1], 2), np.nan)
        seen = np.isfinite(points).all(axis=-1).any(axis=-1)
        xy[seen] = group[cam].project(points[seen])
        out[cam] = (xy, np.where(np.isfinite(xy).all(axis=-1), q, np.nan))
    return out


def label_3d_proj_jobs(trial: Trial, overwrite: bool = False) -> list[LabelJob]:
    """The reprojected-3D labeled videos of ``trial`` that are missing or out of date (all
    with ``overwrite``)."""
    src = pose_3d_path(trial)
    if not src.is_file():
        raise PosekitError(f"{src} is missing; run `posekit triangulate` first")
    out_dir = trial.output_dir(trial.config.pipeline.videos_labeled_3d)
    targets = {cam: out_dir / f"{video.stem}.mp4" for cam, video in trial.videos.items()}
    todo = [cam for cam, t in targets.items()
            if _outdated(t, [trial.videos[cam], src], overwrite)]
    if not todo:
        return []
    projected = reprojections(trial)
    keypoints = read_anipose_csv(src).keypoints
    bones = bones_for(keypoints, trial.config)
    return [LabelJob(cam, trial.videos[cam], targets[cam], *projected[cam], bones,
                     f"{trial.key} {cam} 3D reprojected", ERROR_KEY) for cam in todo]


def label_3d_proj(trial: Trial, overwrite: bool = False) -> list[Path]:
    """Draw the trial's 3D keypoints reprojected onto each camera's video (colour = the
    triangulation's reprojection error: green small, red :data:`ERROR_RED_PX` px or more)."""
    return [job.run() for job in label_3d_proj_jobs(trial, overwrite)]


def label_trials(trials: Sequence[Trial], kind: str, overwrite: bool = False,
                 workers: int = 1) -> Iterator[tuple[Trial, str | None, Path | None,
                                                     str | None]]:
    """Draw the labeled videos (``kind`` "2d" or "3d") of ``trials``, ``workers`` videos
    at a time in spawned processes (1: one after the other, here). Yields
    ``(trial, camera, video, error)`` per video in order, a trial's videos together;
    ``camera`` is None (and ``error`` says why) for a trial whose videos could not be
    prepared. At most twice ``workers`` videos' keypoints are held at once, so a study
    of long trials does not fill the memory."""
    make = label_2d_jobs if kind == "2d" else label_3d_proj_jobs

    def prepared() -> Iterator[tuple[Trial, LabelJob | None, str | None]]:
        for trial in trials:
            try:
                jobs = make(trial, overwrite)
            except PosekitError as exc:
                yield trial, None, str(exc)
                continue
            if not jobs:
                yield trial, None, None
            for job in jobs:
                yield trial, job, None

    if workers <= 1:
        for trial, job, error in prepared():
            if job is None:
                yield trial, None, None, error
                continue
            try:
                yield trial, job.camera, job.run(), None
            except PosekitError as exc:
                yield trial, job.camera, None, str(exc)
        return
    context = multiprocessing.get_context("spawn")  # fork is unsafe with threaded libraries
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        queue: deque[tuple[Trial, LabelJob | None, str | None, Future[Path] | None]] = deque()

        def first() -> tuple[Trial, str | None, Path | None, str | None]:
            trial, job, error, future = queue.popleft()
            if job is None or future is None:
                return trial, None, None, error
            try:
                return trial, job.camera, future.result(), None
            except PosekitError as exc:
                return trial, job.camera, None, str(exc)
            except Exception as exc:  # a bug, or a worker that died: keep the others going
                return trial, job.camera, None, f"unexpected {type(exc).__name__}: {exc}"

        for trial, job, error in prepared():
            queue.append((trial, job, error, None if job is None else pool.submit(job.run)))
            while sum(1 for *_, f in queue if f is not None) > 2 * workers:
                yield first()
        while queue:
            yield first()
