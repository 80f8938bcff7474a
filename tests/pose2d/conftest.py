"""A pose landmarker ``.task`` file for the Tasks-API path, made from the models inside
the mediapipe wheel (nothing downloaded): BlazePose full, the same weights the shipped
path runs."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shipped_task(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mediapipe")
    from posekit.pose2d.detectors import write_shipped_task

    return write_shipped_task(tmp_path_factory.mktemp("models") / "pose_landmarker_full.task")
