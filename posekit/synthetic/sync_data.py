"""Unsynchronised synthetic 2D keypoints with exact frame offsets, for the sync step.

No video is rendered: the 33 MediaPipe landmarks of a :class:`~posekit.synthetic.motions.
Motion` are projected through a synthetic rig, then degraded like a real detector's output
(pixel noise, outliers, dropouts, points out of view).

Offset convention (the sync step's): **frame i of camera c shows the same instant as frame
``i + offsets[c]`` of the reference camera** (the rig's first camera, ``cam1``, offset 0).
E.g. ``offsets["cam2"] == 45`` at 30 fps: cam2 started recording 1.5 s after cam1, and
cam2's frame 0 shows what cam1's frame 45 shows; with ``-45`` cam2 started 1.5 s earlier,
and cam2's frame 45 shows cam1's frame 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from posekit.camera.model import CameraGroup
from posekit.pose2d.table import Pose2D
from posekit.skeletons import MEDIAPIPE_33
from posekit.synthetic.motions import DEFAULT_DURATIONS, camera_times, make_motion
from posekit.synthetic.rig import make_rig

FloatArray = NDArray[np.float64]
#: Lengths (frames, inclusive range) of the whole-frame dropout bursts.
BURST_FRAMES = (3, 12)


@dataclass
class SyncTrial:
    """Synthetic unsynchronised 2D keypoints with their ground truth.

    ``poses`` camera name → :class:`Pose2D` (MediaPipe 33 keypoints, each camera with its
    own frames); ``offsets`` camera name → true offset in whole frames (module docstring
    convention; the reference camera ``group.names[0]`` has 0), ``fractions`` the part of
    a frame (in [-0.5, 0.5]) by which a camera's frames are moreover late (cameras not
    named: 0; see :func:`make_sync_trial`); ``points3d``
    (n, 33, 3) metres: the true landmarks at reference frames ``first_frame ..
    first_frame + n - 1`` (``first_frame = min(offsets) <= 0``, so ``points3d[k -
    first_frame]`` is reference frame k, covering every camera's frames; see
    :meth:`camera_points`). A static camera's keypoints do not follow ``points3d``.
    """

    group: CameraGroup
    poses: dict[str, Pose2D]
    offsets: dict[str, int]
    fps: float
    points3d: FloatArray
    motion: str
    first_frame: int = 0
    fractions: dict[str, float] = field(default_factory=dict)

    @property
    def subframe_offsets(self) -> dict[str, float]:
        """True offsets in frames, fractions of a frame included (``offsets`` plus
        ``fractions``)."""
        return {c: o + self.fractions.get(c, 0.0) for c, o in self.offsets.items()}

    @property
    def reference(self) -> str:
        """Name of the reference camera (offset 0)."""
        return self.group.names[0]

    def camera_points(self, name: str) -> FloatArray:
        """True landmarks (n_frames, 33, 3) at camera ``name``'s frames: row i is
        ``points3d[i + offsets[name] - first_frame]``."""
        start = self.offsets[name] - self.first_frame
        return self.points3d[start:start + self.poses[name].n_frames]


def _dropout_mask(rng: np.random.Generator, n: int, n_kp: int, rate: float
                  ) -> NDArray[np.bool_]:
    """(n, n_kp) mask of dropped detections, about ``rate`` of them: half as whole-frame
    bursts of mostly ``BURST_FRAMES`` frames (non-overlapping, at random places), the
    rest as single keypoints."""
    lo, hi = BURST_FRAMES
    total = round(n * rate / 2)  # frames in bursts
    lengths = rng.integers(lo, hi + 1, total // lo + 1)
    lengths = lengths[np.cumsum(lengths) <= total]
    if total > lengths.sum():  # the remainder lengthens the last burst
        lengths = np.append(lengths[:-1], total - lengths[:-1].sum())
    # Bursts in order, separated by random gaps that share the free frames.
    gaps = np.sort(rng.integers(0, n - lengths.sum() + 1, len(lengths)))
    starts = gaps + np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    edges = np.zeros(n + 1, np.int64)
    np.add.at(edges, starts, 1)
    np.add.at(edges, starts + lengths, -1)
    frames = np.cumsum(edges[:n]) > 0
    share = frames.mean() if n else 0.0
    singles = rng.random((n, n_kp)) < max(0.0, rate - share) / (1.0 - share)
    return frames[:, None] | singles


def _degrade(rng: np.random.Generator, clean: FloatArray, size: tuple[int, int],
             noise_px: float, outlier_rate: float, dropout_rate: float
             ) -> tuple[FloatArray, FloatArray]:
    """Noisy detections ``xy`` (n, n_kp, 2) and likelihoods of clean projections."""
    n, n_kp = clean.shape[:2]
    width, height = size
    xy = clean + rng.normal(0.0, noise_px, clean.shape)
    with np.errstate(invalid="ignore"):  # in view before and after the noise
        seen = np.all([(p[..., 0] >= 0) & (p[..., 0] < width) & (p[..., 1] >= 0)
                       & (p[..., 1] < height) for p in (clean, xy)], axis=0)
    like = rng.uniform(0.6, 1.0, (n, n_kp))
    outlier = seen & (rng.random((n, n_kp)) < outlier_rate)
    xy[outlier] = rng.uniform((0.0, 0.0), (width, height), (int(outlier.sum()), 2))
    like[outlier] = rng.uniform(0.3, 0.9, int(outlier.sum()))
    lost = ~seen | _dropout_mask(rng, n, n_kp, dropout_rate)
    xy[lost] = np.nan
    like[lost] = 0.0
    return xy, like


def make_sync_trial(n_cams: int = 4, fps: float = 30.0, duration: float = 20.0,
                    max_offset_s: float = 3.0, noise_px: float = 2.0,
                    outlier_rate: float = 0.05, dropout_rate: float = 0.10,
                    motion: str = "demo", seed: int = 0,
                    offsets: dict[str, int] | None = None,
                    static_camera: str | None = None,
                    absent_camera: str | None = None,
                    fractions: dict[str, float] | None = None) -> SyncTrial:
    """Unsynchronised 2D keypoints of ``motion`` seen by ``make_rig(n_cams, seed)``.

    Each camera records ``round(duration * fps)`` frames from its own start. The offsets
    (module docstring convention) are drawn uniformly among the integers within
    ``±max_offset_s * fps``, or taken from ``offsets`` (camera name → frames; cameras not
    named are drawn; the reference ``cam1`` is always 0). E.g. ``offsets={"cam2": 30}``:
    cam2 starts 1 s after cam1 and ``poses["cam2"].xy[i]`` shows reference frame
    ``i + 30``. The motion (``make_motion(motion, seed=seed)``, stretched to cover every
    camera's frames) starts with the earliest camera.

    Detections get Gaussian noise of ``noise_px`` pixels; ``outlier_rate`` of those in
    the image are replaced by uniformly random pixels (likelihood U(0.3, 0.9));
    ``dropout_rate`` are dropped (NaN, likelihood 0), half as whole-frame bursts, half as
    single keypoints; points out of the image or behind the camera are NaN with
    likelihood 0; other likelihoods are U(0.6, 1.0). ``static_camera`` sees a person
    standing perfectly still, ``absent_camera`` never sees anyone (all NaN).
    ``fractions`` (camera name → a fraction of a frame in [-0.5, 0.5]) makes cameras that
    are not in step with the reference, as free-running cameras never are: camera c's
    frame i then shows reference frame ``i + offsets[c] + fractions[c]``, i.e. the
    instant between two of the reference's frames (``points3d`` stays on the
    reference's frames). The same arguments give the same trial.
    """
    if fps <= 0 or duration <= 0 or max_offset_s < 0 or noise_px < 0:
        raise ValueError("fps and duration must be positive, max_offset_s and noise_px >= 0")
    if not (0 <= outlier_rate < 1 and 0 <= dropout_rate < 1):
        raise ValueError("outlier_rate and dropout_rate must be in [0, 1)")
    if motion not in DEFAULT_DURATIONS:
        raise ValueError(f"unknown motion {motion!r}; choose from {sorted(DEFAULT_DURATIONS)}")
    group = make_rig(n_cams, seed)
    names = group.names
    for label, named in (("static_camera", static_camera), ("absent_camera", absent_camera),
                         *(("offsets", c) for c in offsets or {})):
        if named is not None and named not in names:
            raise ValueError(f"{label}: no camera {named!r} (cameras: {names})")
    if (offsets or {}).get(names[0], 0) != 0 or (fractions or {}).get(names[0], 0.0) != 0:
        raise ValueError(f"the reference camera {names[0]} must have offset 0")
    fracs = {c: float(f) for c, f in (fractions or {}).items()}
    for c, f in fracs.items():
        if c not in names:
            raise ValueError(f"fractions: no camera {c!r} (cameras: {names})")
        if not -0.5 <= f <= 0.5:
            raise ValueError(f"fractions[{c!r}] = {f}: must be in [-0.5, 0.5] (whole frames "
                             "go in offsets)")
    seeds = np.random.SeedSequence(seed).spawn(n_cams + 1)
    limit = round(max_offset_s * fps)
    drawn = np.random.default_rng(seeds[0]).integers(-limit, limit + 1, n_cams)
    offs = {c: 0 if i == 0 else int((offsets or {}).get(c, drawn[i]))
            for i, c in enumerate(names)}
    n_frames = round(duration * fps)
    if n_frames < 1:
        raise ValueError(f"{duration} s at {fps} fps is less than one frame")
    first = min(offs.values())
    total = max(offs.values()) + n_frames - first
    model = make_motion(motion, max(DEFAULT_DURATIONS[motion], (total - 1) / fps), seed)
    points3d = model.landmarks(np.arange(total) / fps)
    # Camera c's frame i is at reference frame i + offs[c] + fracs[c], i.e. motion time
    # (i + offs[c] + fracs[c] - first) / fps.
    times = camera_times(n_frames, fps, [o + fracs.get(c, 0.0) - first
                                         for c, o in offs.items()])
    still = make_motion("stand", seed=seed).landmarks([0.0])
    poses: dict[str, Pose2D] = {}
    for i, cam in enumerate(group):
        pts = np.broadcast_to(still, (n_frames, *still.shape[1:])) \
            if cam.name == static_camera else model.landmarks(times[i])
        clean = cam.project(pts)
        if cam.name == absent_camera:
            clean = np.full_like(clean, np.nan)
        xy, like = _degrade(np.random.default_rng(seeds[i + 1]), clean, cam.size,
                            noise_px, outlier_rate, dropout_rate)
        poses[cam.name] = Pose2D(MEDIAPIPE_33.keypoints, xy, like, scorer="synthetic",
                                 frame_times=np.arange(n_frames) / fps,
                                 metadata={"camera": cam.name, "synthetic_seed": seed})
    return SyncTrial(group, poses, offs, float(fps), points3d, motion, first,
                     {c: f for c, f in fracs.items() if f})


def shift_pose(pose: Pose2D, frames: int) -> Pose2D:
    """``pose`` with its first ``frames`` frames cut (``frames < 0``: that many missing
    frames prepended), as if the camera had started later (earlier).

    New frame i is old frame ``i + frames``, so a camera with offset ``o`` (frame i shows
    reference frame ``i + o``) gets offset ``o + frames``; shifting the reference camera
    by ``k`` instead gives every other camera offset ``o - k``. E.g. cutting 10 frames of
    cam2 in a synchronised recording makes its true offset +10. Frame times keep their
    spacing and start at the original first time stamp (prepended frames one median
    frame step apart).
    """
    frames = int(frames)
    if frames >= pose.n_frames:
        raise ValueError(f"cannot cut {frames} of {pose.n_frames} frames")
    if frames >= 0:
        xy, like = pose.xy[frames:].copy(), pose.likelihood[frames:].copy()
    else:
        pad = -frames
        xy = np.concatenate([np.full((pad, *pose.xy.shape[1:]), np.nan), pose.xy])
        like = np.concatenate([np.zeros((pad, pose.likelihood.shape[1])), pose.likelihood])
    times, t = None, pose.frame_times
    if t is not None and frames >= 0:
        times = t[frames:] - t[frames] + t[0]
    elif t is not None and len(t) >= 2:
        step = float(np.median(np.diff(t)))
        times = np.concatenate([t[0] + step * np.arange(-frames), t - step * frames])
    meta = dict(pose.metadata)
    meta["shifted_frames"] = int(meta.get("shifted_frames", 0)) + frames
    return Pose2D(pose.keypoints, xy, like, pose.scorer, times, meta)
