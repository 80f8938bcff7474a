from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posekit.errors import PosekitError
from posekit.io.atomic import (
    atomic_path,
    mark_incomplete,
    marked_incomplete,
    write_text_atomic,
    writing_outputs,
)
from posekit.io.video import iter_frames, probe_video, write_video


def test_failed_write_leaves_nothing_and_keeps_old_file(tmp_path: Path) -> None:
    target = write_text_atomic(tmp_path / "out.csv", "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_new_file_appears_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("x")
        assert not target.exists()
    assert target.read_text() == "x"


def test_video_round_trip(tmp_path: Path) -> None:
    frames = [np.full((48, 64, 3), 20 * i, np.uint8) for i in range(7)]
    path = write_video(tmp_path / "v.mp4", frames, fps=25)
    info = probe_video(path)
    assert (info.width, info.height, info.n_frames, info.fps) == (64, 48, 7, 25.0)
    assert sum(1 for _ in iter_frames(path)) == 7


def test_missing_video_named(tmp_path: Path) -> None:
    with pytest.raises(PosekitError, match=r"nope\.mp4: video file not found"):
        probe_video(tmp_path / "nope.mp4")


def test_outputs_get_the_usual_permissions(tmp_path: Path) -> None:
    import os

    umask = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_step_that_fails_before_writing_leaves_its_outputs_usable(tmp_path: Path) -> None:
    """writing_outputs: on a failure, outputs the block did not touch lose the marker it put
    there; a replaced one keeps it, and so does one that was marked before."""
    kept, replaced, earlier = (tmp_path / n for n in ("kept.toml", "replaced.toml", "old.h5"))
    for path in (kept, replaced, earlier):
        path.write_text("previous run\n")
    mark_incomplete([earlier])  # a run killed while writing it
    with pytest.raises(PosekitError), writing_outputs([kept, replaced, earlier]):
        assert marked_incomplete(kept) and marked_incomplete(replaced)
        write_text_atomic(replaced, "half of a new run\n")
        raise PosekitError("the step stopped here")
    assert not marked_incomplete(kept) and kept.read_text() == "previous run\n"
    assert marked_incomplete(replaced) and marked_incomplete(earlier)
    with writing_outputs([kept, replaced, earlier]):
        pass
    assert not any(marked_incomplete(p) for p in (kept, replaced, earlier))
