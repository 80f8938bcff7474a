"""A tiny study for the task-graph tests: the committed example project's calibration and
its squat cut into two 0.5 s trials, in two sessions (2 x 2 trials x 3 cameras)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from posekit.io.video import iter_frames, write_video

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"
TRIAL_FRAMES = 15  # 0.5 s at 30 fps: enough for sync and triangulation
SESSIONS = ("s1", "s2")


def build_study(root: Path) -> Path:
    """Write the study to ``root``; the second session's videos are the first's."""
    root.mkdir(parents=True)
    shutil.copy(EXAMPLE / "config.toml", root / "config.toml")
    shutil.copytree(EXAMPLE / "calibration", root / "calibration")
    raw = root / SESSIONS[0] / "videos-raw"
    for video in sorted((EXAMPLE / "session1" / "videos-raw").glob("squat-cam*.mp4")):
        cam = video.stem.split("-")[-1]
        frames = list(iter_frames(video))
        for i, trial in enumerate(("a", "b")):
            write_video(raw / f"{trial}-{cam}.mp4",
                        frames[i * TRIAL_FRAMES:(i + 1) * TRIAL_FRAMES], 30.0)
    for session in SESSIONS[1:]:
        shutil.copytree(raw, root / session / "videos-raw")
    return root


@pytest.fixture(scope="session")
def study_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_study(tmp_path_factory.mktemp("study-template") / "study")


@pytest.fixture
def study(study_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the study (no outputs yet)."""
    return Path(shutil.copytree(study_template, tmp_path / "study"))


@pytest.fixture
def calibrated_study(study: Path) -> Path:
    """The study with its calibration already done (the true rig, written after the
    videos, so that ``calibrate`` is up to date)."""
    shutil.copy(EXAMPLE / "ground-truth" / "calibration.toml",
                study / "calibration" / "calibration.toml")
    return study
