"""Frame offsets of calibration videos from the board's motion (cameras started by hand).

Two cameras that see the board at the same instant see it in poses related by one fixed
transform, their relative pose. For a candidate lag between their videos, the board
poses (PnP in each camera, :class:`~posekit.calibration.intrinsics.BoardPoses`) of the
frames both saw give one relative pose each; at the right lag they agree (up to PnP
noise), at a wrong one they differ as much as the board moved in between. Lags with 6 or
more shared frames are scored, then lag 0 and the lags within two frames of the best on as
few as 2 frames (a lag next to the right one fits well too and may share more frames). The
lag whose poses agree best is taken when the evidence is clear: the poses agree several times
better than at the lags two or more frames away (a board held still fits every lag
equally, and then the videos are left as they are) and several times better than at
lag 0 (videos already synchronised keep offset 0). Cameras are placed one after another
from the first, each from the placed camera it shares the most frames with.

Convention, as for trials: frame ``i`` of camera ``c`` shows the same instant as frame
``i + offset[c]`` of the first camera.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from posekit.calibration.intrinsics import BoardPoses
from posekit.camera.model import rodrigues_to_matrix

log = logging.getLogger(__name__)
FloatArray = NDArray[np.float64]

#: frames two cameras must share at a lag for it to be scored
MIN_SHARED = 6
#: frames enough to score lag 0 (the videos' own alignment) and the lags next to the best
#: one: a lag next to the right one also fits well and may share more frames
MIN_SHARED_AT_ZERO = 2
#: the chosen lag's disagreement must be this many times smaller than at lag 0 and at any
#: lag two or more frames from it
CLEAR_FACTOR = 3.0
#: the best lag must beat lag 0 by this factor for a synchronised pair to be moved
KEEP_ZERO_FACTOR = 2.0


@dataclass
class PairLag:
    """The lag search between two cameras: ``lag`` (frame i of the second camera shows
    frame i + lag of the first), the disagreement of their relative poses at each scored
    lag (radians of rotation plus translation over distance), the frames shared there."""

    lag: int | None
    shared: int
    errors: dict[int, float] = field(default_factory=dict)
    counts: dict[int, int] = field(default_factory=dict)
    why: str = ""


@dataclass
class VideoOffsets:
    """Per camera its frame offset to the first camera, and what was found."""

    offsets: dict[str, int]
    notes: list[str] = field(default_factory=list)


def _transforms(poses: BoardPoses, usable: NDArray[np.bool_]) -> FloatArray:
    """Board → camera transforms (n_frames, 4, 4), NaN where not usable."""
    out = np.full((len(poses.rvecs), 4, 4), np.nan)
    for i in np.flatnonzero(usable):
        out[i] = np.eye(4)
        out[i, :3, :3] = rodrigues_to_matrix(poses.rvecs[i])
        out[i, :3, 3] = poses.tvecs[i]
    return out


def disagreement(first: FloatArray, second: FloatArray) -> FloatArray:
    """How far each relative pose ``first @ inv(second)`` (frames (n, 4, 4)) is from their
    robust mean: rotation angle (radians) plus translation difference over the median
    board distance in the first camera."""
    rel = first @ np.linalg.inv(second)
    rot = rel[:, :3, :3]
    u, _, vt = np.linalg.svd(np.median(rot, axis=0))
    mean = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt
    cos = (np.einsum("kij,ij->k", rot, mean) - 1.0) / 2.0
    angle = np.arccos(np.clip(cos, -1.0, 1.0))
    shift = rel[:, :3, 3] - np.median(rel[:, :3, 3], axis=0)
    scale = max(float(np.median(np.linalg.norm(first[:, :3, 3], axis=1))), 1e-12)
    return np.asarray(angle + np.linalg.norm(shift, axis=1) / scale)


def _score(errors: FloatArray) -> float:
    """Mean of the best 80 % (a few bad PnP poses do not decide)."""
    keep = max(1, int(0.8 * len(errors)))
    return float(np.sort(errors)[:keep].mean())


def pair_lag(first: FloatArray, second: FloatArray, max_lag: int) -> PairLag:
    """The lag between two cameras' board transforms (:func:`_transforms`)."""
    seen_a = np.flatnonzero(np.isfinite(first[:, 0, 0]))
    seen_b = np.flatnonzero(np.isfinite(second[:, 0, 0]))
    result = PairLag(None, 0)
    if not seen_a.size or not seen_b.size:
        result.why = "they never saw the board"
        return result
    # lags at which any frame is shared: differences of seen frame numbers
    lags = np.unique((seen_a[:, None] - seen_b[None, :]).ravel())
    lags = lags[np.abs(lags) <= max_lag]
    in_a = np.zeros(len(first), bool)
    in_a[seen_a] = True
    shared: dict[int, NDArray[np.int64]] = {}
    for lag in lags.tolist():
        frames_b = seen_b[(seen_b + lag >= 0) & (seen_b + lag < len(first))]
        shared[lag] = frames_b[in_a[frames_b + lag]]
        result.counts[lag] = len(shared[lag])

    def score(lag: int) -> float | None:
        """The disagreement at ``lag`` (None with fewer than 2 shared frames)."""
        if lag not in result.errors and result.counts.get(lag, 0) >= MIN_SHARED_AT_ZERO:
            frames_b = shared[lag]
            result.errors[lag] = _score(disagreement(first[frames_b + lag], second[frames_b]))
        return result.errors.get(lag)

    strong = {lag: score(lag) for lag, n in result.counts.items() if n >= MIN_SHARED}
    if not strong:
        result.why = (f"they never saw the board together in {MIN_SHARED} or more frames at "
                      "any lag")
        return result
    best = min(strong, key=lambda lag: strong[lag] or 0.0)
    # the lags next to the right one fit well too (the board moves little in a frame) and
    # may share more frames: the best of the lags around it is taken, however few frames
    near = {lag: e for lag in range(best - 2, best + 3) if (e := score(lag)) is not None}
    best = min(near, key=near.__getitem__)
    err = near[best]
    zero = score(0)
    if zero is not None and zero <= KEEP_ZERO_FACTOR * err:  # synchronised: keep it so
        result.lag, result.shared = 0, result.counts[0]
        return result
    far = [e for lag, e in strong.items() if e is not None and abs(lag - best) >= 2]
    if zero is not None:
        far.append(zero)
    if far and min(far) < CLEAR_FACTOR * err:
        result.why = ("the board's poses do not single out one lag: too few frames in which "
                      "both cameras saw it, or a board held still or moving too little")
        return result
    result.lag, result.shared = best, result.counts[best]
    return result


def video_offsets(names: Sequence[str], poses: Sequence[BoardPoses],
                  usable: NDArray[np.bool_], max_lag: int) -> VideoOffsets:
    """Each camera's frame offset to the first one (see the module docstring). A camera
    that cannot be placed keeps offset 0, with a note saying why."""
    mats = [_transforms(p, u) for p, u in zip(poses, usable, strict=True)]
    offsets = {names[0]: 0}
    notes: list[str] = []
    cache: dict[tuple[int, int], PairLag] = {}
    left = list(range(1, len(names)))
    while left:
        best: tuple[int, int, int, PairLag] | None = None
        for c in left:
            for a in (names.index(n) for n in offsets):
                if (a, c) not in cache:
                    cache[a, c] = pair_lag(mats[a], mats[c], max_lag)
                found = cache[a, c]
                if found.lag is not None and (best is None or found.shared > best[3].shared):
                    best = (a, c, found.lag, found)
        if best is None:
            placed = [names.index(n) for n in offsets]
            for c in left:
                whys = {cache[a, c].why for a in placed}
                offsets[names[c]] = 0
                notes.append(f"{names[c]}: the frame offset of its calibration video could "
                             f"not be measured ({'; '.join(sorted(whys))}), so the videos "
                             "are taken as synchronised")
            break
        a, c, lag, found = best
        offsets[names[c]] = offsets[names[a]] + lag
        log.debug("calibration video of %s: lag %+d to %s over %d shared frames (%s)",
                  names[c], lag, names[a], found.shared,
                  ", ".join(f"{k:+d}: {v:.4f}" for k, v in sorted(found.errors.items())))
        left.remove(c)
    return VideoOffsets({n: offsets[n] for n in names}, notes)


def shift_frames(array: NDArray[np.generic], offset: int, start: int, length: int,
                 fill: float | int = np.nan) -> NDArray[np.generic]:
    """``array`` (frames first) placed on a common timeline of ``length`` frames: its
    frame ``i`` at ``i + offset + start``; ``fill`` elsewhere."""
    out = np.full((length, *array.shape[1:]), fill, dtype=np.result_type(array, type(fill)))
    first = offset + start
    out[first:first + len(array)] = array
    return out
