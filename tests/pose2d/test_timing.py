"""Frames placed on a regular time grid from their timestamps (dropped frames, variable
frame rates, timestamp jitter)."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.pose2d.table import Pose2D
from posekit.pose2d.timing import (
    between_frames,
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


def test_a_camera_at_another_rate_interpolated_to_the_clock() -> None:
    """A minute of a 29.97-fps camera on a 30-fps clock, a keypoint swinging 40 px at
    1 Hz, one frame dropped. The nearest frame is up to half a frame off in each slot
    (up to 4 px here); interpolated to each slot's instant, the keypoint is where it was
    at that instant, to a fraction of a pixel, and the slots the drift leaves without a
    frame are filled too. Same rows and bookkeeping either way."""
    own, clock = 29.97, 30.0
    n = round(60 * own)
    times = np.round(3.0 + np.arange(n) / own, 3)
    times = np.delete(times, 900)  # a dropped frame

    def swing(t: np.ndarray) -> np.ndarray:
        return np.stack([200 + 40 * np.sin(2 * np.pi * t), 300 + 0 * t], axis=-1)[:, None]

    pose = Pose2D(("a",), swing(times), np.ones((len(times), 1)), frame_times=times,
                  metadata={"fps": own})
    nearest, between = on_clock(pose, clock), on_clock(pose, clock, interpolate=True)
    assert between.n_frames == nearest.n_frames
    for key in ("fps", "recorded_fps", "frames_missing", "frames_left_out"):
        assert between.metadata[key] == nearest.metadata[key]
    assert between.metadata["interpolated"] and "interpolated" not in nearest.metadata
    truth = swing(times[0] + np.arange(between.n_frames) / clock)  # each slot's instant
    seen, filled = np.isfinite(nearest.xy[:, 0, 0]), np.isfinite(between.xy[:, 0, 0])
    # the slots the drift leaves empty (2 in a minute) are filled; the slot whose nearer
    # frame is the dropped one stays empty
    assert (filled >= seen).all() and (~filled).sum() == 1 and (~seen).sum() == 3
    assert between.metadata["slots_empty"] == 1 and nearest.metadata["frames_missing"] == 3
    inside = np.arange(between.n_frames) < between.n_frames - 1  # not past the last frame
    err_nearest = np.linalg.norm(nearest.xy - truth, axis=-1)[inside & seen]
    err_between = np.linalg.norm(between.xy - truth, axis=-1)[inside & filled]
    assert err_nearest.max() > 3.5 and np.median(err_nearest) > 1.0
    # beside the dropped frame, the nearer frame (0.1 frame off): under 1 px
    assert err_between.max() < 1.0 and np.median(err_between) < 0.2
    # each row names the nearer frame, as the nearest placement does where it kept one
    same = grid_to_frames(nearest) >= 0
    agree = grid_to_frames(between)[same] == grid_to_frames(nearest)[same]
    assert agree.mean() > 0.99


# --------------------------------------------------------------------------------------------
# between_frames: a camera's 2D at the instants between its frames (sub-frame offsets)


def _walking(n: int = 20, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints moving 2 px per frame to the right (k of them, 10 px apart)."""
    xy = np.stack([np.stack([np.arange(n) * 2.0 + 10 * j, np.full(n, 5.0 * j)], axis=-1)
                   for j in range(k)], axis=1)
    return xy, np.full((n, k), 0.9)


def test_between_frames_follows_steady_movement_exactly() -> None:
    xy, like = _walking()
    pos = np.array([0.0, 0.25, 3.5, 7.9, 18.6])
    out, lik = between_frames(xy, like, pos)
    np.testing.assert_allclose(out[:, 0, 0], 2.0 * pos)
    np.testing.assert_allclose(out[:, 2, 1], 10.0)
    np.testing.assert_allclose(lik, 0.9)
    # whole positions give the frames themselves
    whole, _ = between_frames(xy, like, np.arange(20.0))
    np.testing.assert_array_equal(whole, xy)


def test_between_frames_takes_the_nearer_frame_past_a_gap_or_a_detection_error() -> None:
    xy, like = _walking()
    xy[5, 0] = np.nan  # keypoint 0 not seen in frame 5
    like[5, 0] = 0.0
    xy[9, 1] = [300.0, -40.0]  # keypoint 1 wrongly detected in frame 9
    like[9, 1] = 0.6
    out, lik = between_frames(xy, like, np.array([4.3, 4.7, 8.2, 8.8]))
    # frame 5 missing: 4.3 takes frame 4; 4.7 would take frame 5, which is missing
    np.testing.assert_allclose(out[0, 0], xy[4, 0])
    assert np.isnan(out[1, 0]).all() and lik[1, 0] == 0.0
    # frames 8 and 9 disagree by far more than the keypoint's usual step: the nearer one
    np.testing.assert_allclose(out[2, 1], xy[8, 1])
    np.testing.assert_allclose(out[3, 1], xy[9, 1])
    assert lik[3, 1] == 0.6
    # the other keypoints are interpolated
    np.testing.assert_allclose(out[:, 2, 0], 2.0 * np.array([4.3, 4.7, 8.2, 8.8]) + 20)


def test_between_frames_at_the_ends_of_the_clip() -> None:
    xy, like = _walking(n=10)
    out, lik = between_frames(xy, like, np.array([-0.3, -0.7, 9.2, 9.6]))
    np.testing.assert_allclose(out[0], xy[0])  # within half a frame of frame 0
    np.testing.assert_allclose(out[2], xy[9])
    assert np.isnan(out[[1, 3]]).all() and (lik[[1, 3]] == 0).all()
    empty, none = between_frames(xy[:0], like[:0], np.array([0.5]))
    assert empty.shape == (1, 3, 2) and np.isnan(empty).all() and (none == 0).all()
