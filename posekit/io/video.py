"""Video writing and basic probing with OpenCV.

Videos are written through :func:`posekit.io.atomic.atomic_path`, so an interrupted render
never leaves a truncated file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from posekit.errors import PosekitError
from posekit.io.atomic import atomic_path


@dataclass(frozen=True)
class VideoInfo:
    """Basic facts about a video file as OpenCV decodes it."""

    path: Path
    width: int
    height: int
    fps: float
    n_frames: int


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Width, height, frame rate and frame count of ``path`` (errors name the file)."""
    path = Path(path)
    if not path.is_file():
        raise PosekitError(f"{path}: video file not found")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise PosekitError(f"{path}: OpenCV cannot open this video (corrupt or unknown codec)")
        return VideoInfo(
            path=path,
            width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=float(cap.get(cv2.CAP_PROP_FPS)),
            n_frames=int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
        )
    finally:
        cap.release()


def iter_frames(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """Decode ``path`` frame by frame as BGR uint8 arrays (H, W, 3)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise PosekitError(f"{path}: OpenCV cannot open this video (corrupt or unknown codec)")
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield frame
    finally:
        cap.release()


@contextlib.contextmanager
def video_writer(
    path: str | os.PathLike[str], fps: float, size: tuple[int, int], fourcc: str = "mp4v"
) -> Iterator[cv2.VideoWriter]:
    """A ``cv2.VideoWriter`` for ``size = (width, height)`` whose file appears atomically."""
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*fourcc), float(fps), size)
        if not writer.isOpened():
            raise PosekitError(f"{path}: cannot open a video writer (codec {fourcc!r})")
        try:
            yield writer
        finally:
            writer.release()


def write_video(
    path: str | os.PathLike[str], frames: Iterable[np.ndarray], fps: float
) -> Path:
    """Write BGR uint8 frames (all the same size) to ``path`` atomically; returns the path."""
    it = iter(frames)
    try:
        first = next(it)
    except StopIteration:
        raise PosekitError(f"{path}: no frames to write") from None
    height, width = first.shape[:2]
    with video_writer(path, fps, (width, height)) as writer:
        writer.write(first)
        for frame in it:
            writer.write(frame)
    return Path(path)


class VideoDecodeError(PosekitError):
    """A video stopped decoding before its end (truncated or corrupt)."""


@dataclass(frozen=True)
class TimedFrame:
    index: int
    time_s: float  # presentation time from the container
    image: np.ndarray  # BGR uint8, rotation metadata applied


def _decode(path: Path, out: queue.Queue[TimedFrame | BaseException | None],
            stop: threading.Event, threads: int = 0) -> None:
    params = [cv2.CAP_PROP_N_THREADS, threads] if threads else []
    cap = cv2.VideoCapture(str(path), cv2.CAP_ANY, params)
    try:
        if not cap.isOpened():
            raise PosekitError(f"{path}: OpenCV cannot open this video (corrupt or unknown "
                               "codec)")
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)  # honour rotation metadata (phones)
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        index = 0
        while not stop.is_set():
            ok, frame = cap.read()
            if not ok:
                break
            msec = cap.get(cv2.CAP_PROP_POS_MSEC)
            time_s = msec / 1000.0 if msec > 0 or index == 0 else index / (fps or 1.0)
            out.put(TimedFrame(index, time_s, frame))
            index += 1
        expected = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if not stop.is_set() and expected > 0 and index < expected - 1:
            raise VideoDecodeError(
                f"{path}: decoding stopped at frame {index} of {expected} (the file is "
                "truncated or corrupt from there; re-export or re-copy the video)")
        out.put(None)
    except BaseException as exc:
        out.put(exc)
    finally:
        cap.release()


def read_frames(path: str | os.PathLike[str], prefetch: int = 8, threads: int = 0
                ) -> Iterator[TimedFrame]:
    """Frames with their index and time, decoded on a background thread ``prefetch``
    frames ahead, so decoding overlaps the consumer's work (OpenCV releases the GIL).
    Rotation metadata is applied. A video that stops decoding before its reported frame
    count raises :class:`VideoDecodeError` naming the frame, after the frames decoded.
    ``threads``: decoder threads (0 = the backend's default, one per core)."""
    frames: queue.Queue[TimedFrame | BaseException | None] = queue.Queue(maxsize=prefetch)
    stop = threading.Event()
    thread = threading.Thread(target=_decode, args=(Path(path), frames, stop, threads),
                              daemon=True)
    thread.start()
    try:
        while True:
            item = frames.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                frames.get(timeout=0.05)
