"""Reading a camera's folder of calibration images (real JPEG files written by OpenCV)."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.calibration.detect import iter_source


def test_a_jpeg_cut_short_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """OpenCV decodes a JPEG whose end is missing (grey from there) without an error; the
    file is named with what to do. Zero bytes after the end marker are not a problem."""
    rng = np.random.default_rng(0)
    for i in range(3):
        image = (rng.random((120, 160, 3)) * 255).astype(np.uint8)
        cv2.imwrite(str(tmp_path / f"img{i}.jpg"), image)
    cut = tmp_path / "img1.jpg"
    cut.write_bytes(cut.read_bytes()[:-2000])
    padded = tmp_path / "img2.jpg"
    padded.write_bytes(padded.read_bytes() + b"\x00" * 64)
    with caplog.at_level(logging.WARNING):
        frames = list(iter_source(tmp_path, (160, 120)))
    assert len(frames) == 3
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [f"{cut}: this JPEG image is cut short (no end-of-image marker), so its "
                      "lower part is missing (grey) and no corner is found there; copy it "
                      "again from the camera or its backup"]
