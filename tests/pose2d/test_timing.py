"""Frames placed on a regular time grid from their timestamps (dropped frames, variable
frame rates, timestamp jitter)."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.pose2d.table import Pose2D
from posekit.pose2d.timing import (
    clock_slots,
    frame_slots,
    grid_to_frames,
    increasing_fit,
    on_clock,
    on_frame_grid,
)

PERIOD = 1 / 30


def _pose(times: np.ndarray) -> Pose2D:
    n = len(times)
    xy = np.arange(n, dtype=np.float64)[:, None, None] * np.ones((1, 2, 2))
    return Pose2D(("a", "b"), xy, np.ones((n, 2)), frame_times=times,
                  metadata={"video": "v.mp4"})


def test_constant_rate_needs_no_grid() -> None:
    times = np.arange(100) * PERIOD
    assert frame_slots(times) is None
    assert frame_slots(None) is None
    pose = _pose(times)
    assert on_frame_grid(pose) is pose
    np.testing.assert_array_equal(grid_to_frames(pose), np.arange(100))


def test_dropped_frames_leave_empty_slots() -> None:
    kept = np.r_[0:21, 25:60]  # frames 21 to 24 dropped
    pose = _pose(kept * PERIOD + 0.5)
    np.testing.assert_array_equal(frame_slots(pose.frame_times), kept)
    grid = on_frame_grid(pose)
    assert grid.n_frames == 60 and grid.metadata["frames_missing"] == 4
    np.testing.assert_array_equal(grid.xy[kept, 0, 0], np.arange(len(kept)))
    assert np.isnan(grid.xy[21:25]).all() and not grid.likelihood[21:25].any()
    assert np.isnan(grid.frame_times[21:25]).all()
    np.testing.assert_allclose(grid.frame_times[kept], pose.frame_times)
    frames = grid_to_frames(grid)
    np.testing.assert_array_equal(frames[kept], np.arange(len(kept)))
    assert (frames[21:25] == -1).all()
    # the raw file is not touched
    assert pose.n_frames == len(kept) and "frames_missing" not in pose.metadata


def test_a_slower_stretch_of_a_variable_rate_video() -> None:
    """A phone that drops to 15 fps for a second in low light, then returns to 30 fps."""
    slots = np.r_[0:30, 30:60:2, 60:120]
    times = slots * PERIOD + np.random.default_rng(0).normal(0, 0.002, len(slots))
    np.testing.assert_array_equal(frame_slots(times), slots)


def test_timestamp_jitter_moves_no_frame() -> None:
    """One late frame (0.6 interval late, so the interval before it is 1.6 long) is not a
    gap: every frame keeps its slot, i.e. no grid is needed."""
    times = np.arange(50) * PERIOD
    times[10] += 0.6 * PERIOD
    assert frame_slots(times) is None
    assert on_frame_grid(_pose(times)).n_frames == 50


def test_a_phone_slowing_down_in_low_light_without_gaps() -> None:
    """30 fps for 5 s, 24 fps for 4 s (frames 1.25 intervals apart: no single interval is
    a gap), 30 fps again: each frame in the 30-fps slot nearest its time, so the 96
    frames of the slow stretch take its 120 slots (frame by frame, everything after it
    would be 24 frames late)."""
    times = np.r_[np.arange(150) / 30, 5.003 + np.arange(96) / 24, 9 + np.arange(150) / 30]
    slots = frame_slots(np.round(times + 0.25, 4))
    np.testing.assert_array_equal(slots, np.round(times * 30).astype(int))
    assert slots[-1] == 419


@pytest.mark.parametrize("values", [[0, 0, 1, 0.5, 3], [3, 2, 1], [0, 1, 2], [1.0]])
def test_increasing_fit_is_the_least_squares_monotone_sequence(values: list[float]) -> None:
    fit = increasing_fit(values)
    assert (np.diff(fit) >= -1e-12).all()
    # no non-decreasing sequence on a grid of candidates is nearer
    rng = np.random.default_rng(1)
    best = float(np.sum((fit - values) ** 2))
    for _ in range(2000):
        other = np.sort(rng.uniform(min(values) - 1, max(values) + 1, len(values)))
        assert np.sum((other - values) ** 2) >= best - 1e-12
    np.testing.assert_allclose(increasing_fit([0, 0, 1, 0.5, 3]), [0, 0, 0.75, 0.75, 3])


@pytest.mark.parametrize("fps", [29.97, 120.0])
def test_long_clips_with_many_drops_do_not_drift(fps: float) -> None:
    """Ten minutes of a camera that dropped 5 % of its frames at random, timestamps in
    whole milliseconds with 5 % of a frame of jitter: every frame in its slot (a grid
    interval off by a thousandth would put the later frames several slots off)."""
    rng = np.random.default_rng(3)
    n = round(600 * fps)
    keep = rng.random(n) > 0.05
    keep[0] = True
    slots = np.flatnonzero(keep)
    times = np.round(2.5 + (slots + rng.normal(0, 0.05, len(slots))) / fps, 3)
    np.testing.assert_array_equal(frame_slots(times), slots)



@pytest.mark.parametrize(("own", "reference"), [(29.97, 30.0), (30.0, 29.97), (59.94, 60.0)])
def test_a_camera_at_a_slightly_different_rate_goes_on_the_reference_clock(
    own: float, reference: float
) -> None:
    """Two minutes of a camera at ``own`` fps (timestamps in whole milliseconds) placed on
    a ``reference`` fps clock: each kept frame lies in the slot nearest its time, a slot
    holds at most one frame, and the drift (0.12 frames per minute per 0.001 relative)
    becomes a few empty slots or frames left out, not a growing lag."""
    n = round(120 * own)
    times = np.round(7.0 + np.arange(n) / own, 3)
    slots, keep = clock_slots(times, 1 / reference)
    true = (times - times[0]) * reference
    assert np.abs(slots[keep] - true[keep]).max() <= 0.5 + 0.03 * reference / 30
    assert (np.diff(slots[keep]) > 0).all()
    drift = round(abs(n * reference / own - n))
    pose = on_clock(Pose2D(("a",), np.arange(n, dtype=np.float64)[:, None, None] * np.ones(
        (1, 1, 2)), np.ones((n, 1)), frame_times=times, metadata={"fps": own}), reference)
    assert pose.metadata["fps"] == reference and pose.metadata["recorded_fps"] == own
    assert abs(pose.n_frames - round(n * reference / own)) <= 1
    missing, left_out = pose.metadata["frames_missing"], pose.metadata["frames_left_out"]
    assert (missing if own < reference else left_out) in (drift - 1, drift, drift + 1)
    assert (left_out if own < reference else missing) <= 1
    index = grid_to_frames(pose)
    rows = index >= 0
    np.testing.assert_array_equal(pose.xy[rows, 0, 0], index[rows])
