"""Frames on a regular time grid, from the frame times a video's container gives.

A camera that drops frames, or a phone that records at a variable rate, gives fewer frames
than its nominal rate over the same time, so its frame ``i`` is not the other cameras'
frame ``i + offset`` for one constant offset. posekit keeps each decoded frame's
timestamp in its 2D files; :func:`frame_slots` gives each frame its place on the camera's
regular grid (one slot per nominal frame interval), and :func:`on_frame_grid` spreads a
2D file onto that grid, with empty rows (NaN, likelihood 0) where the camera recorded
nothing. A camera that recorded at a slightly different rate than the reference camera
(29.97 against 30 fps) goes onto the reference camera's clock instead (:func:`on_clock`),
so that it does not drift out of step. Sync and triangulation work on these grids, so the
cameras stay in step across a gap; for constant-rate videos at one rate the grid is the
frames themselves.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from posekit.numerics import nanmedian
from posekit.pose2d.table import Pose2D

IntArray = NDArray[np.int64]
Item = TypeVar("Item", bound=np.generic)

#: A frame that comes more than this many typical frame intervals after the previous one
#: follows dropped frames (or a slower, variable-rate stretch).
GAP_FACTOR = 1.5
#: intervals within these multiples of the typical one are a camera's usual interval
#: (narrow: a phone's stretches at 1.25 intervals are not usual); the grid is also fitted
#: from :data:`WIDE` (sturdier when timestamps jitter a lot) and the closer fit kept
USUAL = (0.8, 1.2)
WIDE = (0.5, GAP_FACTOR)


def frame_period(times: ArrayLike, usual: tuple[float, float] | None = None) -> float:
    """The typical interval between frames (s), 0 when there are too few: the mean of the
    intervals within ``usual`` (default :data:`USUAL`) times it, starting from their
    median. Timestamps jitter, and slots count intervals over the whole clip, so the mean
    (whose error does not grow with the clip, as consecutive intervals share their ends)
    serves better than the median; intervals far from it (gaps, stretches of a lower
    variable rate) are left out."""
    step = np.diff(np.asarray(times, np.float64))
    step = step[np.isfinite(step)]
    if step.size < 2:
        return 0.0
    period = float(np.median(step))
    low, high = usual or USUAL
    for _ in range(5):  # recentre the window on the usual intervals' mean
        kept = step[(step > low * period) & (step < high * period)]
        if not kept.size:
            break
        period = float(np.mean(kept))
    return period


def increasing_fit(values: ArrayLike) -> NDArray[np.float64]:
    """The non-decreasing sequence nearest to ``values`` in least squares (isotonic
    regression, pool-adjacent-violators; O(n))."""
    v = np.asarray(values, np.float64)
    means: list[float] = []
    sizes: list[int] = []
    for x in v:
        mean, size = float(x), 1
        while means and means[-1] > mean:  # pool with the block before
            prev, n = means.pop(), sizes.pop()
            mean, size = (prev * n + mean * size) / (n + size), n + size
        means.append(mean)
        sizes.append(size)
    return np.repeat(np.array(means), np.array(sizes, np.int64))


#: frames placed with the typical interval alone, before the grid is fitted to them
_FIRST_FRAMES = 16
#: half-width (frames) of the running median that tells a camera's phase changes
_SMOOTH = 7


def _slots(x: NDArray[np.float64]) -> IntArray:
    """Strictly increasing whole slots nearest to the positions ``x`` (in intervals)."""
    slots = np.round(x).astype(np.int64)
    if not (np.diff(slots) > 0).all():  # frames jitter into one slot: fit the lateness
        index = np.arange(len(x))
        slots = index + np.round(increasing_fit(x - index)).astype(np.int64)
    return slots - slots[0]


def fit_grid(times: ArrayLike) -> tuple[IntArray, float, float]:
    """Each frame's slot on the camera's regular grid (first frame = slot 0), with the
    grid's interval and origin (s): slot ``k`` is at ``origin + k * interval``.

    A slot is the frame's time in frame intervals from the first frame, rounded. Over
    thousands of frames, a tiny error in the interval adds up to whole frames, so the
    interval and the origin are fitted (a straight line of the times on the slots, fitted
    again to the frames within a quarter interval of it) to the frames placed so far, and
    the next frames, half as many again, placed with that fit, and so on over the clip:
    each step reaches only a little beyond the frames its fit has seen. Should timestamps
    jitter two frames into one slot, the frames' lateness against their index is fitted
    by the nearest non-decreasing sequence before rounding, so a single late frame leaves
    the grid as it is, while a real gap moves every later frame by the frames missing in
    it. The first interval comes from the usual intervals (:data:`USUAL`, which leaves out
    a phone's stretches at a lower rate) and from a wider window (:data:`WIDE`, sturdier
    when timestamps jitter a lot); the fit whose frames lie closer to their slots is
    kept."""
    t = np.asarray(times, np.float64)
    periods = [frame_period(t, usual) for usual in (USUAL, WIDE)]
    if len(t) < 3 or periods[0] <= 0:
        step = float(np.median(np.diff(t))) if len(t) >= 2 else 1.0
        return np.arange(len(t), dtype=np.int64), step, float(t[0]) if len(t) else 0.0
    fits = [_grow_grid(t, period) for period in periods]
    return min(fits, key=lambda fit: float(np.median(np.abs(
        t - fit[2] - fit[0] * fit[1]))) / fit[1])


def _line(slots: IntArray, t: NDArray[np.float64], runs: bool = False
          ) -> tuple[float, float]:
    """Interval and origin of the grid through the frames (times ``t`` at ``slots``),
    fitted again to the frames on it (within a quarter interval): frames of a stretch at
    a lower rate sit between slots and would tilt the line. A camera that resumes its
    rate after such a stretch may do so at another phase; with ``runs``, the interval is
    one slope over the runs at one phase, each run with its own offset."""
    x = slots.astype(np.float64)
    period, origin = np.polyfit(x, t, 1)
    phase = (t - origin - x * period) / period
    on = np.abs(phase) < 0.25
    if on.sum() < max(3, len(t) // 2):
        return float(period), float(origin)
    xs, ts, ph = x[on], t[on], phase[on]
    if not runs:
        period, origin = np.polyfit(xs, ts, 1)
        return float(period), float(origin)
    if len(ph) > 2 * _SMOOTH:
        smooth = np.median(np.lib.stride_tricks.sliding_window_view(
            np.pad(ph, _SMOOTH, mode="edge"), 2 * _SMOOTH + 1), axis=1)
        run = np.r_[0, np.cumsum(np.abs(np.diff(smooth)) > 0.1)]
    else:
        run = np.zeros(len(ph), np.int64)
    counts = np.bincount(run)
    xc = xs - (np.bincount(run, xs) / counts)[run]
    tc = ts - (np.bincount(run, ts) / counts)[run]
    period = float(np.sum(xc * tc) / np.sum(xc * xc))
    first = run == run[0]
    origin = float(np.mean(ts[first] - xs[first] * period))
    return period, origin


def _grow_grid(t: NDArray[np.float64], period: float) -> tuple[IntArray, float, float]:
    end = min(len(t), _FIRST_FRAMES)
    slots = _slots((t[:end] - t[0]) / period)
    while True:
        period, origin = _line(slots, t[:end])
        if end == len(t):
            slots = _slots((t - origin) / period)
            period, origin = _line(slots, t, runs=True)
            slots = _slots((t - origin) / period)
            return slots, period, origin
        end = min(len(t), end + end // 2)
        slots = _slots((t[:end] - origin) / period)


def frame_slots(times: ArrayLike | None) -> IntArray | None:
    """Each frame's slot on the camera's regular grid (:func:`fit_grid`), or None when the
    frames need no grid (each frame in the slot of its own index: every constant-rate
    video) or there are no usable times. A camera that dropped frames, or a phone whose
    rate fell in low light (frames 1.25 intervals apart for a while, which no single
    interval shows as a gap), gets empty slots where it recorded nothing."""
    if times is None:
        return None
    t = np.asarray(times, np.float64)
    if not np.isfinite(t).all():
        return None
    slots = fit_grid(t)[0]  # the frames themselves when there are too few
    return None if int(slots[-1]) == len(t) - 1 else slots


def clock_slots(times: ArrayLike, period: float,
                grid: tuple[IntArray, float, float] | None = None
                ) -> tuple[IntArray, NDArray[np.bool_]]:
    """Each frame's slot on another clock (a grid of ``period`` seconds from this camera's
    first frame), for a camera that recorded at another rate than the trial is processed
    at, and which frames to keep: where frames share a slot, the one nearest its middle.

    The frames are first placed on their own camera's grid (:func:`fit_grid`, which
    takes out timestamp jitter and finds dropped frames), and that grid's times are
    rounded to the other clock: the drift between the two rates then turns into one empty
    slot (a slower camera) or one frame left out (a faster one) each time it reaches a
    whole frame, and nothing else. ``grid``: :func:`fit_grid` of ``times``, when the
    caller has it already."""
    t = np.asarray(times, np.float64)
    x = clock_positions(fit_grid(t) if grid is None else grid, period)
    slots = np.round(x).astype(np.int64)
    order = np.lexsort((np.abs(x - slots), slots))  # by slot, then nearest first
    keep = np.zeros(len(t), bool)
    keep[order[np.r_[True, np.diff(slots[order]) > 0]]] = True
    return slots, keep


def clock_positions(grid: tuple[IntArray, float, float], period: float
                    ) -> NDArray[np.float64]:
    """Each frame's instant in frames of another clock (``period`` seconds, from the
    camera's first frame), fractional, from the camera's own :func:`fit_grid` ``grid``."""
    own, own_period, _ = grid
    return np.asarray(own * (own_period / period), np.float64)


def spread(values: NDArray[Item], slots: IntArray, n: int, fill: float) -> NDArray[Item]:
    """``values`` (one row per frame) in rows ``slots`` of an array of ``n`` rows, ``fill``
    in the others (the slots no frame is in)."""
    out = np.full((n, *values.shape[1:]), fill, values.dtype)
    out[slots] = values
    return out


def _spread(pose: Pose2D, slots: IntArray, keep: NDArray[np.bool_] | None = None,
            **metadata: object) -> Pose2D:
    rows = np.ones(pose.n_frames, bool) if keep is None else keep
    slots = slots[rows]
    n = int(slots[-1]) + 1
    grid = Pose2D(pose.keypoints, spread(pose.xy[rows], slots, n, np.nan),
                  spread(pose.likelihood[rows], slots, n, 0.0), pose.scorer,
                  spread(np.asarray(pose.frame_times, np.float64)[rows], slots, n, np.nan),
                  {**pose.metadata, **metadata})
    # the decoded frame of each row (-1: none)
    grid.metadata["frame_index"] = spread(np.flatnonzero(rows), slots, n, -1)
    return grid


def on_frame_grid(pose: Pose2D) -> Pose2D:
    """``pose`` with one row per slot of its camera's regular grid (:func:`frame_slots`):
    empty rows where the camera recorded nothing; ``frame_times`` NaN there. ``pose``
    itself when it needs no grid. The result's metadata gains ``frames_missing`` and
    ``frame_index`` (:func:`grid_to_frames`)."""
    slots = frame_slots(pose.frame_times)
    if slots is None:
        return pose
    return _spread(pose, slots, frames_missing=int(slots[-1]) + 1 - pose.n_frames)


def on_clock(pose: Pose2D, fps: float, interpolate: bool = False) -> Pose2D:
    """``pose`` (a camera with frame times) placed on a grid of ``fps`` frames per second
    (:func:`clock_slots`): empty rows for the slots it has no frame in, frames left out
    where two share one. Its metadata's ``fps`` becomes ``fps``; it gains ``recorded_fps``
    (the camera's own), ``frames_missing``, ``frames_left_out``, ``frame_index`` and
    ``clock_position`` (each decoded frame's instant in the clock's frames,
    :func:`clock_positions`).

    With ``interpolate``, each slot's row is instead the camera's 2D at the slot's own
    instant, interpolated between the two frames around it (:func:`between_frames`, on
    the camera's grid, :func:`fit_grid`); the rows and the metadata are the same, and
    ``frame_index`` names the nearer frame (-1 where the camera dropped it). Taking the
    nearest frame, a camera at 29.97 fps on a 30-fps clock is up to half a frame off in
    each slot (it drifts from one whole frame to the next over 33 s); interpolated, it is
    not. Metadata ``interpolated``: true; ``slots_empty``: the slots left empty (those
    whose nearer frame the camera dropped; ``frames_missing`` counts the nearest-frame
    placement's, which also has the slots the drift leaves without a frame)."""
    times = np.asarray(pose.frame_times, np.float64)
    grid = fit_grid(times)  # the camera's own grid, for both placements
    slots, keep = clock_slots(times, 1.0 / fps, grid)
    n = int(slots[keep][-1]) + 1
    metadata = {"fps": float(fps), "recorded_fps": pose.metadata.get("fps"),
                "frames_missing": n - int(keep.sum()), "frames_left_out": int((~keep).sum()),
                "clock_position": clock_positions(grid, 1.0 / fps)}
    if not interpolate:
        return _spread(pose, slots, keep, **metadata)
    own, own_period, origin = grid
    rows = _spread(pose, own)  # one row per slot of the camera's own grid
    positions = np.arange(n) / fps / own_period  # each clock slot on the camera's grid
    xy, likelihood = between_frames(rows.xy, rows.likelihood, positions)
    nearer = np.clip(np.round(positions).astype(np.int64), 0, rows.n_frames - 1)
    index = np.asarray(rows.metadata["frame_index"])[nearer]
    return Pose2D(pose.keypoints, xy, likelihood, pose.scorer,
                  origin + np.arange(n) / fps,
                  {**pose.metadata, **metadata, "interpolated": True, "frame_index": index,
                   "slots_empty": int(np.sum(index < 0))})


def grid_to_frames(pose: Pose2D) -> IntArray:
    """For each row of ``pose`` (as :func:`on_frame_grid` or :func:`on_clock` give it, or
    a 2D file as read), the decoded video frame it holds, or -1 for an empty slot."""
    index = pose.metadata.get("frame_index")
    if index is None:
        return np.arange(pose.n_frames, dtype=np.int64)
    return np.asarray(index, np.int64)


def frame_positions(placed: Pose2D, fractional: bool = False) -> NDArray[np.float64]:
    """Where each decoded frame of a camera lies among the rows of ``placed`` (its 2D as
    :func:`on_frame_grid` or :func:`on_clock` placed it), as a row number; NaN for a frame
    no row holds. The inverse of :func:`grid_to_frames`, row numbers whole; or, with
    ``fractional`` and ``placed`` on another clock, each frame's own instant in that
    clock's frames (a 29.97-fps frame falls between two 30-fps slots), for every frame,
    also those the placement left out."""
    position = placed.metadata.get("clock_position")
    if fractional and position is not None:
        return np.asarray(position, np.float64)
    index = grid_to_frames(placed)
    out = np.full(int(index.max(initial=-1)) + 1, np.nan)
    rows = np.flatnonzero(index >= 0)
    out[index[rows]] = rows
    return out


#: two neighbouring frames are interpolated between only when a keypoint moved from one
#: to the other by at most this many times its median movement per frame over the clip
#: (else one of them is most likely a detection error, which interpolation would spread
#: over two frames: the nearer frame is taken instead, as whole-frame offsets would)
AGREE_STEPS = 4.0


def between_frames(xy: ArrayLike, likelihood: ArrayLike, positions: ArrayLike
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A camera's 2D keypoints at fractional frame ``positions`` (m,): ``xy`` (n, k, 2)
    and ``likelihood`` (n, k) interpolated linearly between the two frames around each
    position, or taken from the nearer frame where only that one saw the keypoint or the
    two disagree (:data:`AGREE_STEPS`). Positions outside ``0 .. n - 1`` take the nearer
    frame when it is within half a frame, else NaN (likelihood 0). An interpolated
    likelihood is the smaller of the two.

    For cameras that are not in step with the reference camera (:mod:`posekit.sync`'s
    sub-frame offsets): each reference frame then falls between two of the camera's
    frames."""
    xy = np.asarray(xy, np.float64)
    like = np.asarray(likelihood, np.float64)
    pos = np.asarray(positions, np.float64)
    n = len(xy)
    if n == 0:
        return (np.full((len(pos), *xy.shape[1:]), np.nan),
                np.zeros((len(pos), *like.shape[1:])))
    lo = np.floor(pos).astype(np.int64)
    w = (pos - lo)[:, None]  # weight of the later frame
    hi = lo + 1

    def rows(i: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        inside = (i >= 0) & (i < n)
        j = np.clip(i, 0, n - 1)
        return (np.where(inside[:, None, None], xy[j], np.nan),
                np.where(inside[:, None], like[j], 0.0))

    (a, la), (b, lb) = rows(lo), rows(hi)
    later = w >= 0.5
    near, lnear = np.where(later[..., None], b, a), np.where(later, lb, la)
    step = np.linalg.norm(np.diff(xy, axis=0), axis=-1)  # (n - 1, k), NaN where unseen
    typical = nanmedian(step, axis=0) if len(step) else np.full(xy.shape[1], np.nan)
    with np.errstate(invalid="ignore"):  # NaN: not both seen, or no typical movement
        agree = np.linalg.norm(b - a, axis=-1) <= AGREE_STEPS * typical
    out = np.where(agree[..., None], (1.0 - w[..., None]) * a + w[..., None] * b, near)
    lik = np.where(agree, np.minimum(la, lb), lnear)
    lost = ~np.isfinite(out).all(axis=-1)
    return np.where(lost[..., None], np.nan, out), np.where(lost, 0.0, lik)
