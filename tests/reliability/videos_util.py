"""Small projects with bad videos, for the reliability tests of detect and calibrate
(shared by ``test_bad_videos.py``, ``test_bad_board.py`` and ``test_odd_paths.py``).

Videos are real files written by :func:`posekit.io.video.write_video` and spoiled the way
they get spoiled in practice: garbage bytes under a video's name, an empty file, a copy cut
short, bytes overwritten in the middle, a folder or a dangling link in a video's place.
Person videos are the committed example project's squat, scaled down; board videos show a
printed board (:meth:`posekit.calibration.board.Board.draw`) from a few viewpoints.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from click.testing import CliRunner, Result

from posekit.calibration.board import Board
from posekit.cli.main import cli
from posekit.io.video import iter_frames, write_video

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"
FPS = 30.0
SMALL = (480, 270)  # person videos: width, height
BOARD_SIZE = (640, 480)  # board videos: width, height
#: the example project's board: ChArUco 5 x 7 squares, DICT_4X4_50, new layout
EXAMPLE_BOARD = Board(size=(5, 7), square_length=0.12, marker_length=0.08, units="m")


def config_text(nesting: int = 1, extra: str = "") -> str:
    """The example project's config.toml with another ``nesting`` and ``extra`` appended."""
    text = (EXAMPLE / "config.toml").read_text(encoding="utf-8")
    return text.replace("nesting = 1", f"nesting = {nesting}") + extra


@functools.lru_cache(maxsize=8)
def person_frames(camera: str = "cam1", n_frames: int = 6,
                  size: tuple[int, int] = SMALL) -> tuple[np.ndarray, ...]:
    """The first ``n_frames`` frames of the example squat seen by ``camera``, resized."""
    video = EXAMPLE / "session1" / "videos-raw" / f"squat-{camera}.mp4"
    frames = []
    for frame in iter_frames(video):
        frames.append(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
        if len(frames) == n_frames:
            break
    return tuple(frames)


def empty_scene_frames(n_frames: int = 6, size: tuple[int, int] = SMALL,
                       seed: int = 0) -> list[np.ndarray]:
    """Frames of a room with nobody in it: a smooth wall, a floor, sensor noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    wall = np.linspace(150, 190, width, dtype=np.float64)[None, :, None] * [1.0, 0.95, 0.9]
    image = np.broadcast_to(wall, (height, width, 3)).copy()
    image[int(0.7 * height):] = (70, 90, 110)  # floor
    return [np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
            for _ in range(n_frames)]


def board_frames(printed: Board, n_frames: int = 8, size: tuple[int, int] = BOARD_SIZE,
                 seed: int = 0) -> list[np.ndarray]:
    """BGR frames of the ``printed`` board, tilted and turned a little differently in
    each frame, on a grey background."""
    rng = np.random.default_rng(seed)
    face = printed.draw(48, margin_px=24)
    h, w = face.shape
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    width, height = size
    out = []
    for _ in range(n_frames):
        scale = rng.uniform(0.65, 0.8) * min(width, height) / max(w, h)
        angle = rng.uniform(-0.4, 0.4)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        centre = np.array([width, height]) * rng.uniform(0.45, 0.55, 2)
        dst = (src - [w / 2, h / 2]) * scale @ rot.T + centre
        dst += rng.normal(0, 0.03 * scale * max(w, h), dst.shape)  # a little perspective
        hom = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
        image = cv2.warpPerspective(face, hom, size, flags=cv2.INTER_AREA, borderValue=110)
        out.append(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    return out


def write_frames(path: Path, frames: Sequence[np.ndarray]) -> Path:
    """Write ``frames`` as an mp4 video at :data:`FPS`."""
    return write_video(path, frames, FPS)


def write_person_videos(raw: Path, trial: str, cameras: Sequence[str] = ("cam1", "cam2"),
                        n_frames: int = 6) -> dict[str, Path]:
    """One small squat video per camera, ``<raw>/<trial>-<camera>.mp4``."""
    return {cam: write_frames(raw / f"{trial}-{cam}.mp4", person_frames(cam, n_frames))
            for cam in cameras}


def write_placeholders(raw: Path, trial: str, cameras: Sequence[str] = ("cam1", "cam2")
                       ) -> None:
    """Empty files named like a trial's videos (for steps that do not read them)."""
    raw.mkdir(parents=True, exist_ok=True)
    for cam in cameras:
        (raw / f"{trial}-{cam}.mp4").touch()


# --- spoiling a video -------------------------------------------------------------------

def garbage(path: Path, n_bytes: int = 20_000, seed: int = 0) -> Path:
    """Random bytes under a video's name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    path.write_bytes(np.random.default_rng(seed).bytes(n_bytes))
    return path


def empty(path: Path) -> Path:
    """A 0-byte file under a video's name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    path.touch()
    return path


def cut_short(path: Path, keep: float = 0.5) -> Path:
    """Keep only the first ``keep`` of the file's bytes (a copy that did not finish)."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def overwrite_middle(path: Path, start: float = 0.2, stop: float = 0.8, seed: int = 0
                     ) -> Path:
    """Overwrite the bytes between ``start`` and ``stop`` (fractions of the size) with
    random bytes: the file opens, then stops decoding part-way."""
    data = bytearray(path.read_bytes())
    a, b = int(len(data) * start), int(len(data) * stop)
    data[a:b] = np.random.default_rng(seed).bytes(b - a)
    path.write_bytes(bytes(data))
    return path


def lose_frame_data(path: Path, keep: float = 0.5) -> Path:
    """Drop the second half of an mp4's frame data (its ``mdat`` box) but keep its index
    (``moov``), as a damaged copy or a recovery tool leaves it: the file opens, and the
    frames whose data is gone cannot be read."""
    data, offset, boxes = path.read_bytes(), 0, []
    while offset < len(data):
        length = int.from_bytes(data[offset:offset + 4], "big")
        boxes.append(data[offset:offset + length])
        offset += length
    out = []
    for box in boxes:
        if box[4:8] == b"mdat":
            body = box[8:8 + int((len(box) - 8) * keep)]
            box = (len(body) + 8).to_bytes(4, "big") + b"mdat" + body
        out.append(box)
    path.write_bytes(b"".join(out))
    return path


def folder_instead(path: Path) -> Path:
    """A folder where the video should be."""
    path.unlink(missing_ok=True)
    path.mkdir(parents=True)
    return path


def dangling_link(path: Path, target: str = "/nonexistent-drive/videos/take.mp4") -> Path:
    """A link to a file that is not there (a drive that is not mounted)."""
    path.unlink(missing_ok=True)
    os.symlink(target, path)
    return path


_MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def _mp4_boxes(data: bytes, start: int, end: int) -> list[tuple[int, int, bytes]]:
    """(offset, size, type) of the MP4 boxes between ``start`` and ``end``."""
    found, i = [], start
    while i < end:
        size, kind = int.from_bytes(data[i:i + 4], "big"), data[i + 4:i + 8]
        found.append((i, size, kind))
        i += size
    return found


def drop_frames(path: Path, after: int, missing: int) -> Path:
    """Make the MP4 ``path`` (written by :func:`write_video`: one constant frame duration,
    the movie box after the media data) look like a camera that dropped ``missing``
    frames after frame ``after``: its time-to-sample table gives that frame a duration of
    ``1 + missing`` frames, so every later frame's timestamp comes that much later (the
    pictures stay as they are, as when a camera skips frames)."""
    data = path.read_bytes()
    kinds = [kind for _, _, kind in _mp4_boxes(data, 0, len(data))]
    assert kinds.index(b"moov") > kinds.index(b"mdat"), kinds  # no chunk offset moves
    tables: dict[bytes, int] = {}

    def find(start: int, end: int) -> None:
        for i, size, kind in _mp4_boxes(data, start, end):
            if kind in _MP4_CONTAINERS:
                find(i + 8, i + size)
            tables.setdefault(kind, i)

    find(0, len(data))
    at = tables[b"stts"]
    entries, count, delta = (int.from_bytes(data[at + k:at + k + 4], "big")
                             for k in (12, 16, 20))
    assert entries == 1, "expected one constant frame duration"
    media_scale = int.from_bytes(data[tables[b"mdhd"] + 20:tables[b"mdhd"] + 24], "big")
    movie_scale = int.from_bytes(data[tables[b"mvhd"] + 20:tables[b"mvhd"] + 24], "big")
    extra_s = missing * delta / media_scale

    def rewrite(start: int, end: int) -> bytes:
        out = bytearray()
        for i, size, kind in _mp4_boxes(data, start, end):
            body = bytearray(data[i + 8:i + size])
            if kind in _MP4_CONTAINERS:
                body = bytearray(rewrite(i + 8, i + size))
            elif kind == b"edts":  # its edit list would cut the track at the old length
                continue
            elif kind == b"stts":
                runs = [(after, delta), (1, delta * (1 + missing)), (count - after - 1, delta)]
                body = body[:4] + (3).to_bytes(4, "big") + b"".join(
                    n.to_bytes(4, "big") + d.to_bytes(4, "big") for n, d in runs)
            elif kind in (b"mvhd", b"tkhd", b"mdhd"):  # version-0 durations
                field = 20 if kind == b"tkhd" else 16
                scale = media_scale if kind == b"mdhd" else movie_scale
                old = int.from_bytes(body[field:field + 4], "big")
                body[field:field + 4] = (old + round(extra_s * scale)).to_bytes(4, "big")
            out += (len(body) + 8).to_bytes(4, "big") + kind + body
        return bytes(out)

    path.write_bytes(rewrite(0, len(data)))
    return path


SPOILERS = {
    "garbage": garbage,
    "empty": empty,
    "cut-short": cut_short,
    "overwritten-middle": overwrite_middle,
    "frame-data-lost": lose_frame_data,
    "folder": folder_instead,
    "dangling-link": dangling_link,
}


# --- checks -----------------------------------------------------------------------------

def partial_files(folder: Path) -> list[Path]:
    """posekit's temporary files (``.<stem>.<random>.partial<suffix>``) in ``folder``."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if ".partial" in p.name)


def invoke(*args: str | os.PathLike[str]) -> Result:
    """Run the command line in this process, as a user would type it."""
    return CliRunner().invoke(cli, [str(a) for a in args])


def run_posekit(*args: str | os.PathLike[str], cwd: Path | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m posekit ARGS`` in a fresh process (so that its log lines, warnings
    included, are printed as a user sees them), in environment ``env`` (None: this
    process's); stdout and stderr as text."""
    return subprocess.run([sys.executable, "-m", "posekit", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def copy_tree(source: Path, dest: Path) -> Path:
    """A copy of a project tree, links kept as links."""
    return Path(shutil.copytree(source, dest, symlinks=True))
