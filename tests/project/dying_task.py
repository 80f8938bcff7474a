"""A detection task whose worker process dies once, half-way through writing its output.

Imported by name in worker processes (tests/project is on sys.path under pytest, and
spawned workers inherit sys.path).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from posekit.compute.tasks import detect_camera
from posekit.io.atomic import atomic_path
from posekit.project.steps import pose_2d_path

VICTIM = ("a", "cam2")  # (trial, camera) whose first attempt is killed
MARKER = "worker-killed"  # written beside the project before the kill


def marker(trial: Any) -> Path:
    return Path(trial.session.project.root).parent / MARKER


def detect_or_die(trial: Any, camera: str, overwrite: bool = False) -> tuple[int, int]:
    """The first attempt at VICTIM starts writing its 2D file, then kills its own worker
    process (SIGKILL: nothing can clean up); every other call detects as usual."""
    if (trial.name, camera) == VICTIM and not marker(trial).exists():
        marker(trial).touch()
        with atomic_path(pose_2d_path(trial, camera)) as tmp:
            tmp.write_bytes(b"half a file")
            os.kill(os.getpid(), signal.SIGKILL)
    return detect_camera(trial, camera, overwrite)
