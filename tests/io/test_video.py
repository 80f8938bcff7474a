"""Videos read the way a player shows them: the rotation flag phones write is applied by
every reader (probe, frame iterator, prefetching reader), so calibration and detection see
the same frames."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from posekit.io.video import iter_frames, probe_video, read_frames, write_video


def _marked_frames(n: int = 5) -> list[np.ndarray]:
    """Landscape frames (48 x 80) with a white block in the top-left corner."""
    frames = []
    for i in range(n):
        frame = np.full((48, 80, 3), 40 + 10 * i, np.uint8)
        frame[:16, :24] = 255
        frames.append(frame)
    return frames


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_a_rotation_flag_is_applied_by_every_reader(
    tmp_path: Path, degrees: int, store_turned: Callable[[Path, Path, int], Path]
) -> None:
    upright = write_video(tmp_path / "upright.mp4", _marked_frames(), fps=30)
    turned = store_turned(upright, tmp_path / "turned.mp4", degrees)
    info = probe_video(turned)
    assert (info.width, info.height, info.n_frames, info.rotation) == (80, 48, 5, degrees)
    assert probe_video(upright).rotation == 0
    first = next(iter_frames(turned))
    prefetched = [f.image for f in read_frames(turned)]
    assert len(prefetched) == 5 and first.shape == (48, 80, 3)
    assert np.array_equal(first, prefetched[0])
    white = np.argwhere(first.min(axis=2) > 200)
    # the block is back in the top-left corner (codec blur aside)
    assert white.min(axis=0).tolist() == [0, 0]
    assert white.max(axis=0).tolist() == pytest.approx([15, 23], abs=2)
