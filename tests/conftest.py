"""Shared fixtures: small project trees built on disk."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import cv2
import pytest


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def anipose_project(tmp_path: Path) -> Path:
    """Anipose-style tree: nesting = 1, two sessions, <trial>-cam<A|B|C>.mp4 videos,
    calibration folder at the project root. Video files are empty: discovery only."""
    root = tmp_path / "study"
    write(root / "config.toml", 'nesting = 1\n[triangulation]\ncam_regex = "-cam([A-Z])$"\n')
    for cam in "ABC":
        write(root / "calibration" / f"calib-cam{cam}.mp4")
    for session, trials in {"2024-01-10": ["walk", "run"], "2024-01-11": ["jump"]}.items():
        for trial in trials:
            for cam in "ABC":
                write(root / session / "videos-raw" / f"{trial}-cam{cam}.mp4")
    return root


@pytest.fixture
def make_file() -> Callable[..., Path]:
    return write


#: ISO/QuickTime display matrices (a, b, c, d of the track header, 16.16 fixed point) of a
#: video whose stored frames a player turns clockwise by the key, in degrees.
_DISPLAY = {90: (0, 1, -1, 0), 180: (-1, 0, 0, -1), 270: (0, -1, 1, 0)}
_STORE = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180,
          270: cv2.ROTATE_90_CLOCKWISE}


def _store_turned(source: Path, dest: Path, degrees: int) -> Path:
    """Re-store the video ``source`` as ``dest`` the way a phone held sideways does: its
    frames turned by ``-degrees`` and a rotation flag of ``degrees`` in the track header,
    so that a player (and posekit) shows ``source``'s frames the same way up."""
    from posekit.io.video import iter_frames, probe_video, write_video

    fps = probe_video(source).fps
    write_video(dest, (cv2.rotate(f, _STORE[degrees]) for f in iter_frames(source)), fps)
    data = bytearray(dest.read_bytes())
    at = data.find(b"tkhd")
    assert at > 0 and data[at + 4] == 0, "expected one version-0 track header"
    matrix = at + 4 + 4 + 20 + 8 + 8  # version/flags, times/ids/duration, reserved, layer...
    a, b, c, d = (v * 65536 for v in _DISPLAY[degrees])
    data[matrix:matrix + 36] = struct.pack(">9i", a, b, 0, c, d, 0, 0, 0, 1 << 30)
    dest.write_bytes(bytes(data))
    return dest


@pytest.fixture
def store_turned() -> Callable[[Path, Path, int], Path]:
    """:func:`_store_turned`: a video re-stored as a phone held sideways stores it."""
    return _store_turned
