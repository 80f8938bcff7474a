"""Temporal filters around triangulation: 2D clean-up before it, 3D smoothing after it.

Every function is pure: it takes arrays with time on axis 0, returns new arrays and leaves
its inputs untouched. Each scalar series (one coordinate of one keypoint) is filtered on
its own, all series at once. A value that is not finite (NaN, ±inf) is *missing*.

The missing pattern is part of the contract:

* no function turns a missing value into a number, except :func:`interpolate_gaps` inside
  gaps of at most ``max_gap`` frames;
* no function turns a number into a missing value, except the jump removal of
  :func:`median_filter_2d` (``max_jump_px`` set), which also zeroes the score there.

Arrays shorter than a filter's window are fine: windows shrink at the edges because the
frames beyond the ends count as missing.
"""

from __future__ import annotations

import operator
from typing import Literal, overload

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray

from posekit.numerics import nanmedian

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]

__all__ = ["butterworth_3d", "interpolate_gaps", "median_filter_2d", "median_filter_3d"]


# ----------------------------------------------------------------------------- checks


def _as_series(values: ArrayLike, name: str) -> FloatArray:
    """``values`` as a float64 copy with at least one (time) axis."""
    arr = np.array(values, dtype=np.float64)
    if arr.ndim < 1:
        raise ValueError(f"{name} must have a time axis (axis 0), got a scalar")
    return arr


def _columns(arr: FloatArray) -> FloatArray:
    """View of ``arr`` as (n_frames, n_series); works for zero frames too."""
    return arr.reshape(arr.shape[0], int(np.prod(arr.shape[1:], dtype=np.intp)))


def _check_window(window: int) -> int:
    try:
        win = operator.index(window)
    except TypeError:
        raise ValueError(f"window must be an odd positive integer, got {window!r}") from None
    if win < 1 or win % 2 == 0:
        raise ValueError(f"window must be an odd positive integer, got {win}")
    return win


# ----------------------------------------------------------------------------- helpers


def _running_median(values: FloatArray, window: int) -> FloatArray:
    """Centred running median over axis 0 that ignores missing values.

    Output has the shape of ``values``; it is NaN wherever ``values`` is missing and the
    median of the finite values in the (edge-shrunk) window elsewhere. With an even count
    of finite values the two middle ones are averaged.
    """
    n = values.shape[0]
    if n == 0:
        return values.copy()
    flat = _columns(values)
    half = window // 2
    padded = np.full((n + 2 * half, flat.shape[1]), np.nan)
    padded[half:half + n] = np.where(np.isfinite(flat), flat, np.nan)
    windows = sliding_window_view(padded, window, axis=0)  # (n, m, window)
    present = np.isfinite(flat)
    out = np.full(flat.shape, np.nan)
    if present.any():
        # Every selected window holds at least its own centre, so no slice is all-NaN.
        out[present] = nanmedian(windows[present], axis=-1)
    return out.reshape(values.shape)


def _finite_runs(present: BoolArray) -> tuple[IntArray, IntArray, IntArray]:
    """Row, start column and length of every run of True along axis 1 of ``present``."""
    edges = np.diff(np.pad(present.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, stops = np.nonzero(edges == -1)  # row-major order pairs each stop with its start
    return rows, starts, stops - starts


def _sosfiltfilt_padlen(sos: FloatArray) -> int:
    """The edge padding :func:`scipy.signal.sosfiltfilt` uses by default for ``sos``."""
    taps = 2 * len(sos) + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return 3 * taps


# ----------------------------------------------------------------------------- 2D


def median_filter_2d(xy: ArrayLike, scores: ArrayLike, window: int, *,
                     max_jump_px: float | None = None) -> tuple[FloatArray, FloatArray]:
    """Running-median clean-up of one camera's 2D keypoints.

    Args:
        xy: pixel positions (n_frames, n_kp, 2); NaN = not detected. Extra axes between
            frames and the last one (e.g. individuals) are allowed.
        scores: detection scores (n_frames, n_kp), ``xy.shape[:-1]``.
        window: odd number of frames in the centred median window (1 = no smoothing).
        max_jump_px: ``None`` replaces every detected point by the per-coordinate running
            median of its keypoint (Anipose's ``medfilt``). A number instead keeps the
            raw points and removes the *jumps*: points farther than ``max_jump_px`` pixels
            (Euclidean) from the running median become NaN with score 0. A jump lasting
            more than ``window // 2`` frames drags the median along and is not caught.

    Returns:
        New ``(xy, scores)``. Missing points stay missing; scores change only where a jump
        was removed.
    """
    pts = _as_series(xy, "xy")
    conf = np.array(scores, dtype=np.float64)
    if pts.ndim < 2 or pts.shape[-1] != 2:
        raise ValueError(f"xy must be (n_frames, n_kp, 2), got shape {pts.shape}")
    if conf.shape != pts.shape[:-1]:
        raise ValueError(f"scores must have shape {pts.shape[:-1]} to match xy "
                         f"{pts.shape}, got {conf.shape}")
    median = _running_median(pts, _check_window(window))
    if max_jump_px is None:
        return median, conf
    if not max_jump_px >= 0:
        raise ValueError(f"max_jump_px must be a non-negative number of pixels, "
                         f"got {max_jump_px}")
    offset = np.linalg.norm(np.nan_to_num(pts - median, nan=0.0), axis=-1)
    jump = offset > max_jump_px  # a missing coordinate adds no offset
    pts[jump] = np.nan
    conf[jump] = 0.0
    return pts, conf


# ----------------------------------------------------------------------------- 3D


@overload
def interpolate_gaps(points: ArrayLike, max_gap: int, *,
                     return_mask: Literal[False] = ...) -> FloatArray: ...


@overload
def interpolate_gaps(points: ArrayLike, max_gap: int, *,
                     return_mask: Literal[True]) -> tuple[FloatArray, BoolArray]: ...


def interpolate_gaps(points: ArrayLike, max_gap: int, *,
                     return_mask: bool = False) -> FloatArray | tuple[FloatArray, BoolArray]:
    """Fill short interior gaps by linear interpolation in time.

    Args:
        points: series with time on axis 0, typically 3D points (n_frames, n_kp, 3).
            Each coordinate of each keypoint is treated separately; missing = not finite.
        max_gap: longest run of missing frames that is filled (0 fills nothing). Longer
            runs, and missing frames before the first or after the last finite value of a
            series, stay NaN.
        return_mask: also return a boolean array (shape of ``points``) that is True
            exactly where a value was filled, so outputs can flag interpolated data.

    Returns:
        The filled copy, or ``(filled, mask)`` with ``return_mask=True``.
    """
    arr = _as_series(points, "points")
    try:
        limit = operator.index(max_gap)
    except TypeError:
        raise ValueError(f"max_gap must be a non-negative integer, got {max_gap!r}") from None
    if limit < 0:
        raise ValueError(f"max_gap must be a non-negative integer, got {limit}")
    n = arr.shape[0]
    flat = _columns(arr)
    present = np.isfinite(flat)
    frame = np.arange(n)[:, None]
    before = np.maximum.accumulate(np.where(present, frame, -1), axis=0)
    after = np.minimum.accumulate(np.where(present, frame, n)[::-1], axis=0)[::-1]
    fill = ~present & (before >= 0) & (after < n) & (after - before - 1 <= limit)
    t, col = np.nonzero(fill)
    lo, hi = before[t, col], after[t, col]
    start, stop = flat[lo, col], flat[hi, col]
    flat[t, col] = start + (stop - start) * ((t - lo) / (hi - lo))
    if return_mask:
        return arr, fill.reshape(arr.shape)
    return arr


def butterworth_3d(points: ArrayLike, fps: float, cutoff_hz: float,
                   order: int = 4) -> FloatArray:
    """Zero-phase Butterworth low-pass in time (``butter`` + ``sosfiltfilt``).

    Args:
        points: series with time on axis 0, typically 3D points (n_frames, n_kp, 3).
        fps: sampling rate of axis 0, in frames per second.
        cutoff_hz: -3 dB cut-off of one pass, in Hz; must lie in (0, fps / 2).
        order: order of the Butterworth design (the forward-backward pass doubles it).

    Each contiguous run of finite values of each series is filtered on its own, so gaps
    stay NaN and no value leaks across a gap. A run no longer than the edge padding that
    ``sosfiltfilt`` uses (``3 * (order + 1)`` frames: 15 for order 4, 27 for
    order 8) is returned unfiltered: with the padding cut short, the start-up transient of
    the filter would add more error than the noise it removes. Fill short gaps first
    (:func:`interpolate_gaps`) so that fewer runs are that short.
    """
    arr = _as_series(points, "points")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    nyquist = fps / 2.0
    if not 0 < cutoff_hz < nyquist:
        raise ValueError(f"cutoff_hz must lie between 0 and the Nyquist frequency "
                         f"fps / 2 = {nyquist:g} Hz, got {cutoff_hz:g} Hz")
    try:
        n_order = operator.index(order)
    except TypeError:
        raise ValueError(f"order must be a positive integer, got {order!r}") from None
    if n_order < 1:
        raise ValueError(f"order must be a positive integer, got {n_order}")
    # imported here: scipy.signal takes over a second to import, more than the rest of
    # the triangulation, and the 3D filter is off by default
    from scipy.signal import butter, sosfiltfilt

    sos = butter(n_order, cutoff_hz / nyquist, btype="low", output="sos")
    padlen = _sosfiltfilt_padlen(sos)
    n = arr.shape[0]
    series = np.ascontiguousarray(_columns(arr).T)  # (m, n): one row per series
    flat = series.reshape(-1)  # a view: writes land in ``series``
    rows, starts, lengths = _finite_runs(np.isfinite(series))
    # Runs of equal length are stacked and filtered together: one call per distinct length.
    for length in np.unique(lengths[lengths > padlen]).tolist():
        chosen = lengths == length
        index = (rows[chosen] * n + starts[chosen])[:, None] + np.arange(length)
        flat[index] = sosfiltfilt(sos, flat[index], axis=-1, padlen=padlen)
    return np.ascontiguousarray(series.T).reshape(arr.shape)


def median_filter_3d(points: ArrayLike, window: int) -> FloatArray:
    """Centred running median in time that ignores missing values.

    Args:
        points: series with time on axis 0, typically 3D points (n_frames, n_kp, 3).
        window: odd number of frames in the window; it shrinks at the array's ends and
            skips missing frames, so arrays shorter than ``window`` are fine.

    Returns:
        A new array, NaN exactly where ``points`` is missing.
    """
    return _running_median(_as_series(points, "points"), _check_window(window))
