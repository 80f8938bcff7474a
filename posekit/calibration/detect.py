"""Board detection over calibration videos or image folders, in parallel over cameras.

Results are dense NaN-filled arrays: ``corners[frame, corner_id] = (x, y)`` pixels, NaN
where the corner was not found, so later steps stay vectorised. A video's frames are
placed on its regular frame grid by their timestamps, with empty frames where the camera
dropped some; the calibration then finds the videos' offsets (:mod:`posekit.calibration.sync`).
Image folders are read in natural file-name order, one image per frame.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from posekit.calibration.board import Board
from posekit.errors import CalibrationError, PosekitError
from posekit.io.video import iter_frames, probe_video, read_frames
from posekit.pose2d.timing import clock_slots, fit_grid, frame_slots, spread
from posekit.project.steps import IMAGE_SUFFIXES, image_files, processing_rate

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
#: rates (from the timestamps) closer than this (relative) are the same rate
RATE_SAME = 1e-4


@dataclass
class CameraDetections:
    """Board corners seen by one camera over its calibration recording."""

    camera: str
    source: Path
    size: tuple[int, int]  # width, height in pixels
    corners: FloatArray  # (n_frames, n_corners, 2), NaN where not found
    n_markers: NDArray[np.int64]  # (n_frames,) ArUco markers seen (diagnosis)
    frame_times: FloatArray | None = None  # (n_frames,) s, videos only (NaN: empty frame)

    @property
    def n_frames(self) -> int:
        return int(self.corners.shape[0])

    @property
    def counts(self) -> NDArray[np.int64]:
        """Corners found per frame."""
        return np.isfinite(self.corners[..., 0]).sum(axis=1)

    def boards(self, min_corners: int) -> NDArray[np.int64]:
        """Frames with at least ``min_corners`` corners."""
        return np.flatnonzero(self.counts >= min_corners)

    def padded(self, n_frames: int) -> FloatArray:
        """Corners padded with NaN (or cut) to ``n_frames`` frames."""
        out = np.full((n_frames, *self.corners.shape[1:]), np.nan)
        n = min(n_frames, self.n_frames)
        out[:n] = self.corners[:n]
        return out


def _jpeg_cut_short(path: Path) -> bool:
    """Whether ``path`` is a JPEG file without its end-of-image marker (a copy that
    stopped early), which OpenCV still decodes, grey from where the data ends. Zero
    bytes after the marker, which some cameras write, are allowed."""
    if path.suffix.lower() not in (".jpg", ".jpeg"):
        return False
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 4096))
            tail = handle.read()
    except OSError:
        return False
    return not tail.rstrip(b"\x00").endswith(b"\xff\xd9")


def unreadable_image(path: Path) -> CalibrationError:
    """The error for an image of a calibration folder that OpenCV cannot read."""
    return CalibrationError(
        f"{path}: cannot read this image ({path.stat().st_size} bytes: empty, damaged or "
        "not an image); copy it again, or remove it together with the images taken at the "
        "same moment by the other cameras (image folders are matched image by image, in "
        "name order)")


def source_info(source: Path) -> tuple[int, tuple[int, int]]:
    """Frame count and (width, height) of a video file or an image folder."""
    if source.is_dir():
        files = image_files(source)
        if not files:
            raise CalibrationError(f"{source}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
        first = cv2.imread(str(files[0]))
        if first is None:
            raise unreadable_image(files[0])
        return len(files), (int(first.shape[1]), int(first.shape[0]))
    info = probe_video(source)
    return info.n_frames, (info.width, info.height)


def iter_source(source: Path, size: tuple[int, int] | None = None
                ) -> Iterator[NDArray[np.uint8]]:
    """Frames of a video or of an image folder (all images must share one size)."""
    if not source.is_dir():
        yield from iter_frames(source)
        return
    for path in image_files(source):
        image = cv2.imread(str(path))
        if image is None:
            raise unreadable_image(path)
        if _jpeg_cut_short(path):
            log.warning("%s: this JPEG image is cut short (no end-of-image marker), so its "
                        "lower part is missing (grey) and no corner is found there; copy it "
                        "again from the camera or its backup", path)
        if size is not None and (image.shape[1], image.shape[0]) != size:
            raise CalibrationError(
                f"{path}: image is {image.shape[1]}x{image.shape[0]}, the first image of "
                f"{source.name} is {size[0]}x{size[1]}; one folder must hold one camera")
        yield image


def sample_frames(source: Path, count: int) -> list[NDArray[np.uint8]]:
    """About ``count`` frames spread evenly over a video or image folder."""
    n_frames, size = source_info(source)
    wanted = set(np.linspace(0, max(n_frames - 1, 0), min(count, n_frames)).round().astype(int))
    return [frame for i, frame in enumerate(iter_source(source, size)) if i in wanted]


def _timed_frames(source: Path, times: list[float]) -> Iterator[NDArray[np.uint8]]:
    """The frames of a video, appending each one's timestamp (s) to ``times``."""
    for frame in read_frames(source):
        times.append(frame.time_s)
        yield frame.image


def _spread(detections: CameraDetections, slots: NDArray[np.int64],
            keep: NDArray[np.bool_]) -> CameraDetections:
    slots = slots[keep]
    n = int(slots[-1]) + 1
    times = detections.frame_times
    return replace(detections, corners=spread(detections.corners[keep], slots, n, np.nan),
                   n_markers=spread(detections.n_markers[keep], slots, n, 0),
                   frame_times=None if times is None else spread(times[keep], slots, n,
                                                                 np.nan))


def on_one_clock(detections: Mapping[str, CameraDetections],
                 warnings: list[str] | None = None) -> dict[str, CameraDetections]:
    """Every camera's detections (the first camera the reference) placed by their frame
    times, as the trials' 2D keypoints are (:func:`posekit.project.steps.on_reference_clock`):
    a camera on its own regular grid, with empty frames where it dropped some; a camera
    that recorded at another rate (measured from the timestamps) on the clock of
    :func:`~posekit.project.steps.processing_rate`: the reference camera's, or the slowest
    camera's when one is much slower. Image folders stay as they are. What it warns about
    is logged and appended to ``warnings``."""
    said = [] if warnings is None else warnings
    grids = {n: fit_grid(d.frame_times) for n, d in detections.items()
             if d.frame_times is not None and len(d.frame_times) >= 3}
    rates = {n: 1.0 / grid[1] for n, grid in grids.items()}
    clock = processing_rate([rates.get(name, 0.0) for name in detections])
    out = {}
    for name, det in detections.items():
        if name not in rates or det.frame_times is None:
            out[name] = det
        elif clock and abs(rates[name] / clock - 1) > RATE_SAME:
            slots, keep = clock_slots(det.frame_times, 1.0 / clock, grids[name])
            out[name] = _spread(det, slots, keep)
            said.append(f"{name}: {det.source.name} was recorded at {rates[name]:.3f} fps, "
                        f"the calibration is made at {clock:.3f} fps: its frames are placed "
                        f"on that clock by their times ({out[name].n_frames - int(keep.sum())}"
                        f" empty frame(s), {int((~keep).sum())} frame(s) left out), so it "
                        "stays in step with the other cameras")
            log.warning("%s", said[-1])
        else:
            grid = frame_slots(det.frame_times)
            if grid is None:
                out[name] = det
                continue
            out[name] = _spread(det, grid, np.ones(len(grid), bool))
            said.append(f"{name}: the frame times of {det.source.name} have "
                        f"{out[name].n_frames - det.n_frames} frame(s) missing (the camera "
                        "dropped frames or recorded at a variable rate); its frames are "
                        "placed by their times, so it stays in step with the other cameras, "
                        "and the calibration counts its frames on that grid")
            log.warning("%s", said[-1])
    return out


def detect_camera(camera: str, source: str | os.PathLike[str], board: Board,
                  position: int | None = None, progress: bool = True) -> CameraDetections:
    """Detect the board in every frame of one camera's recording (a video's frames with
    their timestamps; an image folder's images in file-name order)."""
    source = Path(source)
    n_frames, size = source_info(source)
    detector = board.detector()
    corners = np.full((n_frames, board.n_corners, 2), np.nan)
    n_markers = np.zeros(n_frames, np.int64)
    count = 0
    times: list[float] = []
    frames = iter_source(source, size) if source.is_dir() else _timed_frames(source, times)
    bar = tqdm(total=n_frames, desc=f"detect board {camera}", unit="frame", position=position,
               leave=False, disable=None if progress else True)
    with bar:
        for index, frame in enumerate(frames):
            if index >= n_frames:  # containers may under-report their length
                corners = np.concatenate([corners, np.full_like(corners, np.nan)])
                n_markers = np.concatenate([n_markers, np.zeros_like(n_markers)])
                n_frames = len(corners)
            found = detector.detect(frame)
            corners[index, found.ids] = found.corners
            n_markers[index] = found.n_markers
            count = index + 1
            bar.update()
    detections = CameraDetections(camera, source, size, corners[:count], n_markers[:count],
                                  np.array(times) if len(times) == count else None)
    log.info("%s: board found in %d of %d frames%s", camera,
             int((detections.counts >= 4).sum()), count,
             "" if source.name == camera else f" ({source.name})")
    return detections


def detect_all(sources: Mapping[str, Path], board: Board, jobs: int = 0,
               progress: bool = True, frame_times: bool = True,
               warnings: list[str] | None = None) -> dict[str, CameraDetections]:
    """Detect the board in every camera's recording, ``jobs`` cameras at a time
    (0 = one per CPU core). OpenCV releases the GIL, so threads run in parallel. With
    ``frame_times``, the videos' frames are placed on one clock (:func:`on_one_clock`,
    whose warnings are appended to ``warnings``)."""
    workers = max(1, min(len(sources), jobs or os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {cam: pool.submit(detect_camera, cam, path, board, i, progress)
                   for i, (cam, path) in enumerate(sources.items())}
        out, errors = {}, []
        for cam, future in futures.items():
            try:
                out[cam] = future.result()
            except PosekitError as exc:  # every unreadable recording, not just the first
                errors.append(f"{cam}: {exc}")
    if len(errors) == 1:
        raise CalibrationError(f"cannot read the calibration recording of camera {errors[0]}")
    if errors:
        raise CalibrationError(f"cannot read the calibration recordings of {len(errors)} "
                               "cameras:\n  " + "\n  ".join(errors))
    return on_one_clock(out, warnings) if frame_times else out
