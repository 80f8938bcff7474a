"""Synchronised synthetic 2D keypoints with 3D ground truth, for triangulation benchmarks.

The 33 MediaPipe landmarks of a :class:`~posekit.synthetic.motions.Motion` are projected
through a synthetic rig (:func:`~posekit.synthetic.rig.make_rig`, metres, lens distortion)
and degraded at one of three levels:

- ``"clean"``: the exact projections;
- ``"noisy"``: Gaussian pixel noise (``noise_px``, 2 px by default);
- ``"corrupted"``: the noise, plus ``outlier_rate`` of the detections in view replaced by
  outliers that look like good detections (likelihood U(0.6, 1.0) like every other
  detection, so no score threshold can tell them apart), plus ``dropout_rate`` of dropped
  detections. Half the outliers are *jumps*: a keypoint displaced by a random 20-150 px
  vector for a run of 1-5 frames; the other half are *left/right swaps*: a run of 1-10
  frames of one camera where every ``left_*``/``right_*`` pair is exchanged, as detectors
  do when they mistake the person's facing (each swapped detection counts as one outlier).
  Dropouts follow :func:`~posekit.synthetic.sync_data._dropout_mask`: half whole-frame
  bursts, half single keypoints.

At every level, points out of the image (or behind the camera) are NaN with score 0;
scores of detections are U(0.6, 1.0). The same arguments give the same trial.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from posekit.camera.model import CameraGroup
from posekit.skeletons import MEDIAPIPE_33
from posekit.synthetic.motions import DEFAULT_DURATIONS, make_motion
from posekit.synthetic.rig import make_rig
from posekit.synthetic.sync_data import _dropout_mask

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: The corruption levels of :func:`make_triangulation_trial`.
LEVELS = ("clean", "noisy", "corrupted")
#: Frames (inclusive range) of one left/right swap run.
SWAP_FRAMES = (1, 10)
#: Frames (inclusive range) of one jump outlier.
JUMP_FRAMES = (1, 5)
#: Length in pixels (range) of a jump outlier's displacement.
JUMP_PX = (20.0, 150.0)
#: Range of the detection scores (good detections and outliers alike).
SCORE_RANGE = (0.6, 1.0)


@dataclass
class TriangulationTrial:
    """Synthetic synchronised 2D detections of every camera with their 3D ground truth.

    ``xy`` (n_cams, n_frames, 33, 2) pixels, NaN = missing; ``scores`` (n_cams, n_frames,
    33), 0 where missing; ``points3d`` (n_frames, 33, 3) metres: the true landmarks, in
    the world frame of ``group`` (metres); ``keypoints`` the MediaPipe 33 names;
    ``outliers`` (n_cams, n_frames, 33): detections that are outliers (jumps or swaps,
    all finite); ``swapped`` the subset of them that come from a left/right swap.
    """

    group: CameraGroup
    xy: FloatArray
    scores: FloatArray
    points3d: FloatArray
    keypoints: tuple[str, ...]
    fps: float
    level: str
    motion: str
    seed: int
    outliers: BoolArray
    swapped: BoolArray

    @property
    def n_cams(self) -> int:
        return int(self.xy.shape[0])

    @property
    def n_frames(self) -> int:
        return int(self.xy.shape[1])

    @property
    def jumps(self) -> BoolArray:
        """(n_cams, n_frames, 33) outliers that are jumps (displaced keypoints)."""
        return self.outliers & ~self.swapped

    @property
    def observed(self) -> BoolArray:
        """(n_cams, n_frames, 33) detections present (finite)."""
        return np.isfinite(self.xy).all(axis=-1)


def _swap_permutation(keypoints: tuple[str, ...]) -> tuple[NDArray[np.intp], BoolArray]:
    """Index array that exchanges every left/right pair, and the mask of paired keypoints."""
    perm = np.arange(len(keypoints))
    paired = np.zeros(len(keypoints), bool)
    for left, right in MEDIAPIPE_33.left_right_pairs:
        i, j = keypoints.index(left), keypoints.index(right)
        perm[i], perm[j] = j, i
        paired[[i, j]] = True
    return perm, paired


def _run_frames(rng: np.random.Generator, n: int, total: int, lo: int, hi: int) -> BoolArray:
    """(n,) mask of about ``total`` frames in non-overlapping runs of ``lo..hi`` frames at
    random places (the last run is shortened to hit ``total``)."""
    total = int(min(max(total, 0), n))
    if total == 0:
        return np.zeros(n, bool)
    lengths = rng.integers(lo, hi + 1, total // lo + 1)
    lengths = lengths[np.cumsum(lengths) <= total]
    if total > lengths.sum():
        lengths = np.append(lengths, total - lengths.sum())
    lengths = rng.permutation(lengths)
    gaps = np.sort(rng.integers(0, n - lengths.sum() + 1, len(lengths)))
    starts = gaps + np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    edges = np.zeros(n + 1, np.int64)
    np.add.at(edges, starts, 1)
    np.add.at(edges, starts + lengths, -1)
    return np.asarray(np.cumsum(edges[:n]) > 0)


def _in_image(xy: FloatArray, size: tuple[int, int]) -> BoolArray:
    width, height = size
    with np.errstate(invalid="ignore"):
        return np.asarray((xy[..., 0] >= 0) & (xy[..., 0] < width) & (xy[..., 1] >= 0)
                          & (xy[..., 1] < height))


def _corrupt(rng: np.random.Generator, xy: FloatArray, scores: FloatArray,
             size: tuple[int, int], outlier_rate: float, dropout_rate: float,
             perm: NDArray[np.intp], paired: BoolArray
             ) -> tuple[BoolArray, BoolArray]:
    """Add swaps, jumps and dropouts to one camera's ``xy`` (n, k, 2) and ``scores`` (n, k)
    in place; returns the masks (n, k) of outliers and of swapped detections."""
    n, n_kp = scores.shape
    seen = np.isfinite(xy).all(axis=-1)
    target = outlier_rate / 2 * seen.sum()  # detections per kind of outlier

    # Left/right swaps: whole frames, every pair exchanged.
    per_frame = seen[:, paired].sum(axis=1)
    mean_paired = per_frame.mean() if n else 0.0
    frames = _run_frames(rng, n, round(target / mean_paired) if mean_paired > 0 else 0,
                         *SWAP_FRAMES)
    xy[frames] = xy[frames][:, perm]
    scores[frames] = scores[frames][:, perm]
    seen = np.isfinite(xy).all(axis=-1)
    swapped = frames[:, None] & paired[None, :] & seen

    # Jumps: one keypoint displaced by one vector for a run of frames.
    jumped = np.zeros((n, n_kp), bool)
    count, lo, hi = 0, *JUMP_FRAMES
    candidates = np.argwhere(seen & ~swapped)
    while count < target and len(candidates):
        batch = max(1, round((target - count) / ((lo + hi) / 2)))
        picks = candidates[rng.integers(0, len(candidates), batch)]
        lengths = rng.integers(lo, hi + 1, batch)
        angles = rng.uniform(0.0, 2 * np.pi, batch)
        radii = rng.uniform(*JUMP_PX, batch)
        for (f, k), ln, ang, rad in zip(picks, lengths, angles, radii, strict=True):
            rows = np.arange(f, min(f + ln, n))
            rows = rows[seen[rows, k] & ~swapped[rows, k] & ~jumped[rows, k]]
            rows = rows[: max(0, int(np.ceil(target - count)))]
            if not len(rows):
                continue
            xy[rows, k] += rad * np.array([np.cos(ang), np.sin(ang)])
            jumped[rows, k] = True
            count += len(rows)
            if count >= target:
                break
    gone = jumped & ~_in_image(xy, size)  # jumped out of the image: not detected
    xy[gone] = np.nan
    scores[gone] = 0.0
    jumped &= ~gone

    lost = _dropout_mask(rng, n, n_kp, dropout_rate)
    xy[lost] = np.nan
    scores[lost] = 0.0
    return (jumped | swapped) & ~lost, swapped & ~lost


def make_triangulation_trial(n_cams: int = 4, n_frames: int = 1000, fps: float = 30.0,
                             level: str = "noisy", motion: str = "demo", seed: int = 0,
                             noise_px: float = 2.0, outlier_rate: float = 0.05,
                             dropout_rate: float = 0.10) -> TriangulationTrial:
    """``n_frames`` synchronised frames of ``motion`` seen by ``make_rig(n_cams, seed)``.

    The motion is ``make_motion(motion, duration, seed)`` with ``duration`` its default
    (e.g. 21 s for ``demo``) or ``n_frames / fps`` when that is longer (the motion is then
    stretched: segments last longer, periodic motions repeat more often); frame i is at
    ``i / fps`` s. ``level`` is ``"clean"`` (exact projections), ``"noisy"`` (Gaussian noise
    of ``noise_px`` px) or ``"corrupted"`` (noise, ``outlier_rate`` of the detections in
    view made high-score outliers, half jumps and half left/right swaps, then
    ``dropout_rate`` of all detections dropped); see the module docstring. ``noise_px``,
    ``outlier_rate`` and ``dropout_rate`` only apply at the levels that use them.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; choose from {list(LEVELS)}")
    if motion not in DEFAULT_DURATIONS:
        raise ValueError(f"unknown motion {motion!r}; choose from {sorted(DEFAULT_DURATIONS)}")
    if n_frames < 1 or fps <= 0 or noise_px < 0:
        raise ValueError("n_frames and fps must be positive and noise_px >= 0")
    if not (0 <= outlier_rate < 1 and 0 <= dropout_rate < 1):
        raise ValueError("outlier_rate and dropout_rate must be in [0, 1)")
    group = make_rig(n_cams, seed)
    model = make_motion(motion, max(DEFAULT_DURATIONS[motion], n_frames / fps), seed)
    points3d = model.landmarks(np.arange(n_frames) / fps)
    keypoints = MEDIAPIPE_33.keypoints
    perm, paired = _swap_permutation(keypoints)
    n_kp = len(keypoints)
    shape = (n_cams, n_frames, n_kp)
    xy = np.full((*shape, 2), np.nan)
    scores = np.zeros(shape)
    outliers = np.zeros(shape, bool)
    swapped = np.zeros(shape, bool)
    for i, (cam, ss) in enumerate(zip(group, np.random.SeedSequence(seed).spawn(n_cams),
                                      strict=True)):
        rng = np.random.default_rng(ss)
        clean = cam.project(points3d)
        pts = clean if level == "clean" else clean + rng.normal(0.0, noise_px, clean.shape)
        seen = _in_image(clean, cam.size) & _in_image(pts, cam.size)
        sc = rng.uniform(*SCORE_RANGE, (n_frames, n_kp))
        pts[~seen] = np.nan
        sc[~seen] = 0.0
        if level == "corrupted":
            outliers[i], swapped[i] = _corrupt(rng, pts, sc, cam.size, outlier_rate,
                                               dropout_rate, perm, paired)
        xy[i], scores[i] = pts, sc
    return TriangulationTrial(group, xy, scores, points3d, keypoints, float(fps), level,
                              motion, seed, outliers, swapped)
