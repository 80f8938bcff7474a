"""Video reading, writing and probing with OpenCV.

Videos are written through :func:`posekit.io.atomic.atomic_path`, so an interrupted render
never leaves a truncated file under the final name. A video that cannot be read (missing, a
link to a missing file, a folder, empty, not a video) or that stops decoding before its end
is a :class:`~posekit.errors.PosekitError` naming the file and saying what to do.
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

#: FFmpeg's own lines about damaged data ("[h264 @ 0x...] error while decoding MB ...", one
#: per broken block) are left out: posekit's message names the file and the frame where
#: decoding stopped. OpenCV reads this when it first opens a video; `posekit -v` and a
#: value set beforehand keep FFmpeg's messages.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


@dataclass(frozen=True)
class VideoInfo:
    """Basic facts about a video file as posekit reads it: width and height as a player
    shows the frames, i.e. after the container's rotation flag (``rotation``)."""

    path: Path
    width: int
    height: int
    fps: float
    n_frames: int
    rotation: int = 0  # degrees the container asks to turn the stored frames (applied)


class VideoDecodeError(PosekitError):
    """A video stopped decoding before its end (truncated or corrupt)."""


def check_video_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a :class:`~pathlib.Path` when it is a non-empty file; otherwise a
    :class:`PosekitError` that says what is there instead (nothing, a link to a missing
    file, a folder, an empty file) and what to do."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise PosekitError(
            f"{path}: video file not found: it is a link to {os.readlink(path)}, which does "
            "not exist (is the drive or share it points to connected?); reconnect it, or "
            "copy the video here")
    if not path.exists():
        raise PosekitError(
            f"{path}: video file not found (moved, renamed or deleted?); put the video back "
            "and run the step again")
    if path.is_dir():
        raise PosekitError(
            f"{path}: is a folder, not a video file; move it out of the way and put the "
            "camera's video file there")
    if path.stat().st_size == 0:
        raise PosekitError(
            f"{path}: the file is empty (0 bytes): the recording or the copy did not "
            "finish; copy the video from the camera or its backup again")
    return path


_MP4_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"pnot",
              b"meta", b"styp", b"sidx", b"moof", b"mfra", b"pdin", b"udta"}


def _mp4_damage(path: Path) -> str | None:
    """Why an MP4 / MOV file (ISO base media: a sequence of boxes) cannot be played: it
    ends inside a box, or it has no ``moov`` box (the index a player needs); None when
    the file does not look like one or its boxes look whole."""
    size, offset = path.stat().st_size, 0
    seen: list[bytes] = []
    with path.open("rb") as file:
        while offset + 8 <= size:
            file.seek(offset)
            head = file.read(16)
            length, kind = int.from_bytes(head[:4], "big"), head[4:8]
            if kind not in _MP4_BOXES:
                return None if not seen else f"it is damaged after byte {offset}"
            if length == 1 and len(head) == 16:
                length = int.from_bytes(head[8:16], "big")
            elif length == 0:
                length = size - offset
            if length < 8:
                return f"it is damaged after byte {offset}"
            seen.append(kind)
            if offset + length > size:
                return (f"it is cut short: the last {offset + length - size} bytes of its "
                        f"'{kind.decode()}' box are missing")
            offset += length
    if seen and b"moov" not in seen:
        return ("it has no 'moov' index, which a player needs: the recording was not "
                "stopped cleanly, or the copy was cut short")
    return None


def _open(path: Path, params: list[int] | None = None) -> cv2.VideoCapture:
    """An opened ``cv2.VideoCapture`` of ``path`` (checked with :func:`check_video_file`);
    an error that names the file, says why when it can tell, and what to do when OpenCV
    cannot open it.

    The capture applies the container's rotation flag (phones store a portrait video as
    landscape frames plus "rotate 90°"), as video players do and as ``cv2.imread`` applies
    a photo's EXIF orientation, so that every step (calibration, detection, labelled
    videos) sees the frames the same way up, whatever OpenCV's default for the flag."""
    check_video_file(path)
    cap = cv2.VideoCapture(str(path), cv2.CAP_ANY, params or [])
    if cap.isOpened():  # frames and sizes as a player shows them (phones: rotation flag)
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    else:
        cap.release()
        damage = _mp4_damage(path) if path.suffix.lower() in (".mp4", ".mov", ".m4v") \
            else None
        why = damage or (f"{path.stat().st_size} bytes: not a video, corrupt, or a codec "
                         "this OpenCV lacks")
        raise PosekitError(
            f"{path}: OpenCV cannot open this video ({why}); check that it plays in a "
            "video player, then copy it again from the camera or its backup, or re-export "
            "it (e.g. as H.264 .mp4)")
    return cap


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Width, height, frame rate and frame count of ``path`` (errors name the file)."""
    path = Path(path)
    cap = _open(path)
    try:
        return VideoInfo(
            path=path,
            width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=float(cap.get(cv2.CAP_PROP_FPS)),
            n_frames=int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
            rotation=int(cap.get(cv2.CAP_PROP_ORIENTATION_META)) % 360,
        )
    finally:
        cap.release()


def _check_complete(path: Path, decoded: int, expected: int) -> None:
    """Raise :class:`VideoDecodeError` when decoding stopped before the end the container
    reports (one frame of slack: containers round their length), or before any frame."""
    if decoded == 0:
        raise VideoDecodeError(
            f"{path}: no frame could be decoded (the file is corrupt or cut short); copy "
            "it again from the camera or re-export it")
    if expected > 0 and decoded < expected - 1:
        raise VideoDecodeError(
            f"{path}: decoding stopped at frame {decoded} of {expected} (the file is "
            "truncated or corrupt from there; re-export or re-copy the video)")


def read_frame_times(path: str | os.PathLike[str]) -> np.ndarray:
    """The presentation time (s) of every frame of ``path``, as :func:`read_frames` gives
    them (each frame is decoded, not converted to an image). A video that stops decoding
    early raises :class:`VideoDecodeError`."""
    path = Path(path)
    cap = _open(path)
    try:
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
        times: list[float] = []
        while cap.grab():
            msec = cap.get(cv2.CAP_PROP_POS_MSEC)
            index = len(times)
            times.append(msec / 1000.0 if msec > 0 or index == 0 else index / (fps or 1.0))
        _check_complete(path, len(times), int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
    finally:
        cap.release()
    return np.array(times, np.float64)


def iter_frames(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """Decode ``path`` frame by frame as BGR uint8 arrays (H, W, 3). A video that stops
    decoding before its reported frame count raises :class:`VideoDecodeError` naming the
    frame, after the frames decoded."""
    path = Path(path)
    cap = _open(path)
    try:
        count = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            count += 1
            yield frame
        _check_complete(path, count, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
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


@dataclass(frozen=True)
class TimedFrame:
    index: int
    time_s: float  # presentation time from the container
    image: np.ndarray  # BGR uint8, rotation metadata applied


def _decode(path: Path, out: queue.Queue[TimedFrame | BaseException | None],
            stop: threading.Event, threads: int = 0) -> None:
    params = [cv2.CAP_PROP_N_THREADS, threads] if threads else []
    cap: cv2.VideoCapture | None = None
    try:
        cap = _open(path, params)
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
        if not stop.is_set():
            _check_complete(path, index, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        out.put(None)
    except BaseException as exc:
        out.put(exc)
    finally:
        if cap is not None:
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
