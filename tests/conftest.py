"""Shared fixtures: small project trees built on disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
