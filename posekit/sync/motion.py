"""Frame offsets between cameras from the person's motion in each view.

Convention: frame ``i`` of camera ``c`` shows the same instant as frame ``i + offset[c]``
of the reference camera; the reference's offset is 0. (A camera started 12 frames after
the reference has offset +12: its frame 0 is the reference's frame 12.)

Each camera gives a motion signal that hardly depends on the viewpoint: per frame, the
mean speed of the keypoints in units of the person's size in that view, robust to
outlier detections (the fastest 20 % of keypoints of a frame are left out, the signal is
clipped at its 99th percentile). Signals of every pair of cameras are cross-correlated
(Pearson over the overlapping frames, NaN-aware, via FFT) over the allowed lags; the
offsets of all cameras are then solved jointly by weighted least squares over the pairs,
dropping pairs that disagree with the others.

A view in which the person stands still (or a frozen picture, a poster, a bystander) has
only the detector's jitter for a signal, and jitter correlates best with the others at some
random lag, sometimes sharply. So each camera's :func:`movement` (how much its signal
varies, against the other cameras') caps its confidence, and the reference's caps every
camera's: an offset against a view with no movement in it is not measured.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from posekit.pose2d.table import Pose2D

log = logging.getLogger(__name__)
FloatArray = NDArray[np.float64]
MIN_LIKELIHOOD = 0.3
#: a camera whose signal varies by this share of the other cameras' or less sees no
#: movement (confidence 0); from this share up to twice it the cap rises to 1
STILL_SHARE = 0.2
#: seconds of shared signal from which a pair's correlation peak is taken at face value;
#: a shorter overlap scales its confidence down in proportion
FULL_OVERLAP_S = 10.0


def motion_signal(pose: Pose2D, step: int = 3) -> FloatArray:
    """Per-frame keypoint speed in person sizes per ``step`` frames (NaN where unknown).

    Displacements over ``step`` frames rather than one keep detector noise from drowning
    slow movements."""
    xy = np.where((pose.likelihood >= MIN_LIKELIHOOD)[..., None], pose.xy, np.nan)
    seen = np.isfinite(xy[..., 0]).any(axis=1)
    if not seen.any():
        return np.full(pose.n_frames, np.nan)
    extent = np.nanmax(xy[seen], axis=1) - np.nanmin(xy[seen], axis=1)  # (n_seen, 2)
    size = float(np.median(np.hypot(*extent.T)))
    if not np.isfinite(size) or size <= 0:
        return np.full(pose.n_frames, np.nan)
    step = max(1, min(step, pose.n_frames - 1))
    speed = np.hypot(*(xy[step:] - xy[:-step]).transpose(2, 0, 1)) / size  # (n - step, k)
    speed = np.sort(np.where(np.isfinite(speed), speed, np.inf), axis=1)
    n_ok = np.isfinite(speed).sum(axis=1)
    keep = np.floor(0.8 * n_ok).astype(int)
    ranks = np.arange(speed.shape[1])[None, :]
    masked = np.where(ranks < keep[:, None], speed, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        signal = np.where(keep >= 3, masked.sum(axis=1) / keep, np.nan)
    if np.isfinite(signal).any():
        signal = np.minimum(signal, np.nanpercentile(signal, 99))
    return np.concatenate([signal, np.full(step, np.nan)])


def _xcorr(a: FloatArray, b: FloatArray, n: int) -> FloatArray:
    """c[L] = sum_t a[t] b[t + L] for L in -(len(a)-1) .. len(b)-1 (FFT size n)."""
    fa = np.fft.rfft(a[::-1], n)
    fb = np.fft.rfft(b, n)
    return np.fft.irfft(fa * fb, n)[: len(a) + len(b) - 1]


def normalized_xcorr(a: FloatArray, b: FloatArray, max_lag: int, min_overlap: int
                     ) -> tuple[NDArray[np.int64], FloatArray, FloatArray]:
    """Lags L, Pearson r of (a[t], b[t + L]) over the frames both have, and the number of
    those frames; r is NaN where fewer than ``min_overlap`` frames overlap."""
    ma, mb = np.isfinite(a).astype(float), np.isfinite(b).astype(float)
    x, y = np.nan_to_num(a), np.nan_to_num(b)
    size = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    count = _xcorr(ma, mb, size)
    sx, sy = _xcorr(x, mb, size), _xcorr(ma, y, size)
    sxx, syy = _xcorr(x * x, mb, size), _xcorr(ma, y * y, size)
    sxy = _xcorr(x, y, size)
    lags = np.arange(-(len(a) - 1), len(b))
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sy / count
        var = (sxx - sx**2 / count) * (syy - sy**2 / count)
        r = np.where((count >= min_overlap) & (var > 1e-12), cov / np.sqrt(var), np.nan)
    sel = np.abs(lags) <= max_lag
    return lags[sel], r[sel], np.round(count[sel])


@dataclass(frozen=True)
class PairLag:
    """Best lag of camera ``b`` against camera ``a``: ``a[t] ~ b[t + lag]``."""

    a: int
    b: int
    lag: int
    peak: float  # Pearson r at the lag
    distinct: float  # peak minus the best r more than a few frames away
    overlap: int = 0  # frames the two signals share at the lag


def pair_lag(a: FloatArray, b: FloatArray, ia: int, ib: int, max_lag: int,
             min_overlap: int) -> PairLag | None:
    lags, r, count = normalized_xcorr(a, b, max_lag, min_overlap)
    if not np.isfinite(r).any():
        return None
    best = int(np.nanargmax(r))
    away = np.abs(lags - lags[best]) > 5
    second = float(np.nanmax(r[away])) if np.isfinite(r[away]).any() else 0.0
    return PairLag(ia, ib, int(lags[best]), float(r[best]), float(r[best]) - max(second, 0.0),
                   int(count[best]))


def movement(signals: Mapping[str, FloatArray]) -> dict[str, float]:
    """Per camera, how much its motion signal varies (the spread between its 10th and
    90th percentiles) as a share of the median of the other cameras' spreads; NaN for a
    camera without a signal, 1 when no other camera has one.

    The signal is in person sizes, so views of the same movement vary alike (in synthetic
    trials of 2–6 cameras no moving view's share fell below 0.42; on the real Pose2Sim
    trial they are 0.77–5.1), while detector jitter on a still person barely varies
    (0.26 at most there)."""
    spread = {}
    for cam, sig in signals.items():
        ok = sig[np.isfinite(sig)]
        spread[cam] = float(np.subtract(*np.percentile(ok, [90, 10]))) if len(ok) else np.nan
    share = {}
    for cam, value in spread.items():
        others = [v for c, v in spread.items() if c != cam and np.isfinite(v)]
        typical = float(np.median(others)) if others else 0.0
        if not np.isfinite(value):
            share[cam] = np.nan
        else:
            share[cam] = value / typical if typical > 0 else 1.0
    return share


def movement_cap(share: float) -> float:
    """The most confidence a camera's offset can have given its :func:`movement` share:
    0 up to ``STILL_SHARE``, rising linearly to 1 at twice that."""
    if not np.isfinite(share):
        return 0.0
    return float(np.clip((share - STILL_SHARE) / STILL_SHARE, 0.0, 1.0))


def pair_confidence(pair: PairLag, fps: float) -> float:
    """How far one pair's correlation peak can be trusted (0..1): four times how much it
    stands out from the best peak more than a few frames away, scaled down when the
    signals share less than ``FULL_OVERLAP_S`` seconds. A few seconds of movement hold few
    independent swings, and chance peaks of short signals stand out as much as true ones
    (in synthetic trials of 4–6 s, offsets drawn in ±1 s, more than a quarter of the
    cameras got an offset more than a frame off with the unscaled confidence 0.3 or
    more)."""
    return float(np.clip(pair.distinct * 4, 0.0, 1.0)) * min(
        1.0, pair.overlap / (FULL_OVERLAP_S * fps))


@dataclass(frozen=True)
class MotionSync:
    offsets: dict[str, int]
    confidence: dict[str, float]  # 0..1 per camera
    pairs: list[PairLag]
    signals: dict[str, FloatArray]
    #: per camera, its :func:`movement` share (the reference included)
    movement: dict[str, float] = field(default_factory=dict)
    reference: str = ""

    def movement_limit(self, cam: str) -> float:
        """The most confidence ``cam``'s offset can have given how much movement it and
        the reference see (:func:`movement_cap` of both; 1 for cameras not measured)."""
        return min(movement_cap(self.movement.get(cam, 1.0)),
                   movement_cap(self.movement.get(self.reference, 1.0)))


def solve_offsets(n_cams: int, pairs: Sequence[PairLag], reference: int = 0
                  ) -> tuple[FloatArray, list[PairLag]]:
    """Offsets (n_cams,) with offset[b] - offset[a] = -lag... solved by weighted least
    squares over consistent pairs; NaN for cameras no usable pair reaches."""
    used = [p for p in pairs if p.distinct > 0]
    while True:
        rows, rhs, weights = [], [], []
        for p in used:
            row = np.zeros(n_cams)
            row[p.a], row[p.b] = 1.0, -1.0  # a[t] ~ b[t + lag] → o_a - o_b = lag
            rows.append(row)
            rhs.append(p.lag)
            weights.append(max(p.distinct, 1e-3) * max(p.peak, 1e-3))
        fix = np.zeros(n_cams)
        fix[reference] = 1.0
        mat = np.vstack([*rows, fix * 1e3]) if rows else fix[None] * 1e3
        vec = np.array([*rhs, 0.0])
        w = np.sqrt(np.array([*weights, 1.0]))
        sol, *_ = np.linalg.lstsq(mat * w[:, None], vec * w, rcond=None)
        residual = np.abs(mat[:-1] @ sol - vec[:-1]) if rows else np.zeros(0)
        if len(residual) == 0 or residual.max() <= 1.0:
            break
        used.pop(int(np.argmax(residual)))
    reached = {reference} | {p.a for p in used} | {p.b for p in used}
    out = np.array([sol[i] if i in reached else np.nan for i in range(n_cams)])
    return out, used


def motion_offsets(poses: Mapping[str, Pose2D], fps: float, max_lag_s: float = 10.0,
                   reference: str | None = None, min_overlap_s: float = 2.0) -> MotionSync:
    """Integer offsets per camera from motion signals (see the module docstring). Lags
    are only considered where the clips overlap by half of the shortest clip and by
    ``min_overlap_s`` (or 3/4 of the shortest clip if that is shorter)."""
    names = list(poses)
    ref = names.index(reference) if reference else 0
    step = max(1, round(fps / 10))
    signals = {n: motion_signal(poses[n], step) for n in names}
    max_lag = round(max_lag_s * fps)
    shortest = min(p.n_frames for p in poses.values())
    min_overlap = max(shortest // 2, min(round(min_overlap_s * fps), int(0.75 * shortest)))
    pairs = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            p = pair_lag(signals[names[i]], signals[names[j]], i, j, max_lag, min_overlap)
            if p is not None:
                pairs.append(p)
    sol, used = solve_offsets(len(names), pairs, ref)
    share = movement(signals)
    found = MotionSync({}, {}, pairs, signals, share, names[ref])
    offsets, confidence = found.offsets, found.confidence
    for i, n in enumerate(names):
        mine = [p for p in used if i in (p.a, p.b)]
        offsets[n] = 0 if i == ref else (round(sol[i]) if np.isfinite(sol[i]) else 0)
        confidence[n] = 1.0 if i == ref else min(
            max((pair_confidence(p, fps) for p in mine), default=0.0),
            found.movement_limit(n))
    return found
