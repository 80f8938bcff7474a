"""Motions of the synthetic person as functions of continuous time, with known angles.

A :class:`Motion` maps time stamps ``t`` (seconds, any values) to the 33 MediaPipe
landmarks, so it can be sampled exactly at any frame rate and start time, including per
camera (:func:`sample_cameras`, for unsynchronised cameras with their own frame rates).
Times outside ``[0, duration]`` hold the first or last pose.

The ground-truth joint angles of a :class:`MotionSample` are the 3-point angles of
:func:`posekit.synthetic.person.joint_angles` computed from its landmarks, e.g.
``left_knee`` = the 3D angle at the left knee between left hip and left ankle (180 =
straight), ``left_hip`` = shoulder-hip-knee, ``left_elbow`` = shoulder-elbow-wrist,
``left_shoulder`` = hip-shoulder-elbow, ``left_ankle`` = knee-ankle-foot_index; all in
degrees, shape (n_frames,).

Every motion starts and ends in the neutral standing pose, feet on the floor (except
during the flight of a jump), centred on ``position`` and facing -y (heading 0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from posekit.synthetic.person import BodyModel, joint_angles, landmark_index

FloatArray = NDArray[np.float64]
GRAVITY = 9.81


@dataclass(frozen=True)
class PoseTrack:
    """Generating parameters at n instants: ``angles`` name → (n,) degrees (see
    :data:`~posekit.synthetic.person.POSE_PARAMETERS`), ``lift`` (n,) metres of the lowest
    sole above the floor, ``anchor`` (n,) in [0, 1]: 1 keeps the ankles' midpoint over
    the motion's position, 0 keeps the pelvis there."""

    angles: dict[str, FloatArray]
    lift: FloatArray
    anchor: FloatArray


PoseFn = Callable[[FloatArray], PoseTrack]


@dataclass(frozen=True)
class MotionSample:
    """A motion sampled at ``times`` (n,) s: ``landmarks`` (n, 33, 3) m and ``angles``
    name → (n,) degrees (3-point ground-truth angles, see the module docstring)."""

    name: str
    times: FloatArray
    landmarks: FloatArray
    angles: dict[str, FloatArray]


@dataclass(frozen=True)
class Motion:
    """A continuous-time motion of a person with proportions ``body``."""

    name: str
    duration: float
    pose_fn: PoseFn
    body: BodyModel = field(default_factory=BodyModel)
    position: tuple[float, float] = (0.0, 0.0)
    heading_deg: float = 0.0

    def landmarks(self, times: ArrayLike) -> FloatArray:
        """Landmarks (n, 33, 3) in metres at ``times`` (n,) seconds (clipped to the clip)."""
        t = np.clip(np.atleast_1d(np.asarray(times, dtype=np.float64)), 0.0, self.duration)
        track = self.pose_fn(t)
        n = len(t)
        pts = self.body.landmarks(track.angles, np.zeros((n, 3)), self.heading_deg)
        feet = [landmark_index(f"{s}_{p}") for s in ("left", "right") for p in ("heel",
                                                                             "foot_index")]
        ankles = [landmark_index("left_ankle"), landmark_index("right_ankle")]
        sole = self.body.lengths["sole_height"]
        shift = np.zeros((n, 3))
        shift[:, 2] = sole - pts[:, feet, 2].min(axis=1) + track.lift
        shift[:, :2] = np.asarray(self.position) - track.anchor[:, None] * pts[:, ankles,
                                                                              :2].mean(axis=1)
        return pts + shift[:, None, :]

    def sample_times(self, times: ArrayLike) -> MotionSample:
        """The motion at arbitrary ``times`` (n,) seconds, with ground-truth angles."""
        t = np.atleast_1d(np.asarray(times, dtype=np.float64))
        pts = self.landmarks(t)
        return MotionSample(self.name, t, pts, joint_angles(pts))

    def sample(self, fps: float, n_frames: int | None = None, start: float = 0.0
               ) -> MotionSample:
        """Frames ``i = 0..n_frames-1`` at ``start + i / fps``; by default the whole clip."""
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if n_frames is None:
            n_frames = int(np.floor(self.duration * fps + 1e-9)) + 1
        return self.sample_times(start + np.arange(n_frames) / fps)


# --- building blocks -------------------------------------------------------------------
def _smooth_keys(t: FloatArray, keys: Sequence[tuple[float, float]]) -> FloatArray:
    """Smoothstep interpolation through (time, value) keys, zero velocity at each key."""
    kt = np.array([k[0] for k in keys])
    kv = np.array([k[1] for k in keys])
    i = np.clip(np.searchsorted(kt, t, side="right") - 1, 0, len(kt) - 2)
    u = np.clip((t - kt[i]) / (kt[i + 1] - kt[i]), 0.0, 1.0)
    return kv[i] + (kv[i + 1] - kv[i]) * u * u * (3 - 2 * u)


def _neutral(n: int) -> dict[str, FloatArray]:
    """Relaxed standing: arms slightly away from the body, elbows slightly bent."""
    ang = {f"{s}_{k}": np.full(n, v) for s in ("left", "right") for k, v in
           (("shoulder_abduction", 9.0), ("elbow_flexion", 12.0), ("hip_abduction", 2.0),
            ("knee_flexion", 3.0), ("hip_flexion", 2.0))}
    return ang


def _flat_feet(ang: dict[str, FloatArray], extra: dict[str, FloatArray] | None = None) -> None:
    """Set the ankles so the feet stay level (plus ``extra`` plantar flexion per side)."""
    tilt = ang.get("pelvis_tilt", 0.0)
    for s in ("left", "right"):
        level = ang[f"{s}_knee_flexion"] - ang[f"{s}_hip_flexion"] + tilt
        ang[f"{s}_ankle_flexion"] = level - (extra or {}).get(s, 0.0)


def _track(ang: dict[str, FloatArray], anchor: float, lift: FloatArray | None = None
           ) -> PoseTrack:
    n = len(next(iter(ang.values())))
    return PoseTrack(ang, np.zeros(n) if lift is None else lift, np.full(n, anchor))


def _reps(duration: float, period: float) -> float:
    """A period close to ``period`` that fits a whole number of repetitions."""
    return duration / max(1, round(duration / period))


def _stand_fn(t: FloatArray) -> PoseTrack:
    ang = _neutral(len(t))
    _flat_feet(ang)
    return _track(ang, 1.0)


def _squat_fn(duration: float, rng: np.random.Generator, depth: float = 1.0) -> PoseFn:
    period, amp = _reps(duration, rng.uniform(2.3, 2.9)), depth * rng.uniform(0.9, 1.05)

    def fn(t: FloatArray) -> PoseTrack:
        s = amp * (1 - np.cos(2 * np.pi * t / period)) / 2
        ang = _neutral(len(t))
        ang["pelvis_tilt"] = 35 * s
        for side in ("left", "right"):
            ang[f"{side}_hip_flexion"] = 2 + 120 * s
            ang[f"{side}_knee_flexion"] = 3 + 115 * s
            ang[f"{side}_hip_abduction"] = 2 + 8 * s
            ang[f"{side}_shoulder_flexion"] = 85 * s
            ang[f"{side}_shoulder_abduction"] = 9 * (1 - s)
        _flat_feet(ang)
        return _track(ang, 1.0)

    return fn


def _arm_raise_fn(duration: float, rng: np.random.Generator, plane: str) -> PoseFn:
    if plane not in ("front", "side"):
        raise ValueError(f"plane must be 'front' or 'side', got {plane!r}")
    period = _reps(duration, rng.uniform(2.8, 3.6))
    amps = {s: rng.uniform(0.9, 1.0) for s in ("left", "right")}

    def fn(t: FloatArray) -> PoseTrack:
        s = (1 - np.cos(2 * np.pi * t / period)) / 2
        ang = _neutral(len(t))
        for side, a in amps.items():
            if plane == "front":
                ang[f"{side}_shoulder_flexion"] = 165 * a * s
                ang[f"{side}_shoulder_abduction"] = 9 * (1 - s)
            else:
                ang[f"{side}_shoulder_abduction"] = 9 + 155 * a * s
            ang[f"{side}_elbow_flexion"] = 12 - 7 * s
        _flat_feet(ang)
        return _track(ang, 1.0)

    return fn


def _march_fn(duration: float, rng: np.random.Generator) -> PoseFn:
    period, amp = _reps(duration, rng.uniform(1.0, 1.3)), rng.uniform(0.85, 1.05)

    def fn(t: FloatArray) -> PoseTrack:
        phase = np.sin(2 * np.pi * t / period)
        up = {"left": np.maximum(phase, 0) ** 2, "right": np.maximum(-phase, 0) ** 2}
        ang = _neutral(len(t))
        for side, other in (("left", "right"), ("right", "left")):
            ang[f"{side}_hip_flexion"] = 2 + 65 * amp * up[side]
            ang[f"{side}_knee_flexion"] = 3 + 85 * amp * up[side]
            ang[f"{side}_shoulder_flexion"] = 30 * amp * (up[other] - up[side])
            ang[f"{side}_elbow_flexion"] = 12 + 30 * (up[side] + up[other])
        ang["trunk_lateral"] = 2.0 * (up["left"] - up["right"])
        _flat_feet(ang, {s: 10 * up[s] for s in ("left", "right")})
        return _track(ang, 0.0)

    return fn


def _jump_fn(duration: float, rng: np.random.Generator) -> PoseFn:
    period = _reps(duration, 3.0)
    k = period / 3.0  # template times below are for a 3 s jump cycle
    dip = rng.uniform(0.5, 0.6)
    take_off, landing = 1.3 * k, 1.75 * k

    def fn(t: FloatArray) -> PoseTrack:
        tau = np.mod(t, period)
        s = _smooth_keys(tau / k, [(0, 0), (0.5, 0), (1.0, dip), (1.3, 0), (1.75, 0),
                                   (1.95, 0.8 * dip), (2.5, 0), (3.0, 0)])
        plantar = _smooth_keys(tau / k, [(0, 0), (1.05, 0), (1.3, 35), (1.5, 25),
                                         (1.75, 5), (1.85, 0), (3.0, 0)])
        arms = _smooth_keys(tau / k, [(0, 0), (0.5, 0), (1.0, -45), (1.3, 140), (1.55, 150),
                                      (1.8, 60), (2.3, 0), (3.0, 0)])
        ang = _neutral(len(t))
        ang["pelvis_tilt"] = 35 * s
        for side in ("left", "right"):
            ang[f"{side}_hip_flexion"] = 2 + 120 * s
            ang[f"{side}_knee_flexion"] = 3 + 115 * s
            ang[f"{side}_shoulder_flexion"] = arms
        _flat_feet(ang, {"left": plantar, "right": plantar})
        flying = (tau > take_off) & (tau < landing)
        lift = np.where(flying, GRAVITY / 2 * (tau - take_off) * (landing - tau), 0.0)
        return _track(ang, 1.0, lift)

    return fn


def _with_sway(fn: PoseFn, rng: np.random.Generator) -> PoseFn:
    """Add slow natural sway of trunk, head and arms (smooth sums of sinusoids)."""
    keys = ("trunk_lateral", "trunk_flexion", "neck_rotation", "neck_flexion",
            "left_elbow_flexion", "right_elbow_flexion", "left_shoulder_abduction",
            "right_shoulder_abduction")
    amps = dict(zip(keys, (1.2, 1.5, 6.0, 3.0, 3.0, 3.0, 1.5, 1.5), strict=True))
    freq = {k: rng.uniform(0.15, 0.45) for k in keys}
    phase = {k: rng.uniform(0, 2 * np.pi) for k in keys}

    def swayed(t: FloatArray) -> PoseTrack:
        track = fn(t)
        ang = dict(track.angles)
        for key in keys:
            wobble = amps[key] * np.sin(2 * np.pi * freq[key] * t + phase[key])
            ang[key] = ang.get(key, np.zeros(len(t))) + wobble
        return PoseTrack(ang, track.lift, track.anchor)

    return swayed


#: Segments of the demo sequence: (motion name, share of the duration).
DEMO_SEGMENTS: tuple[tuple[str, float], ...] = (
    ("stand", 1.0), ("arm_raise_front", 3.5), ("arm_raise_side", 3.5), ("squat", 5.0),
    ("march", 4.0), ("jump", 3.0), ("stand", 1.0),
)


def _raw_fn(name: str, duration: float, rng: np.random.Generator) -> PoseFn:
    if name == "stand":
        return _stand_fn
    if name == "squat":
        return _squat_fn(duration, rng)
    if name in ("arm_raise_front", "arm_raise_side"):
        return _arm_raise_fn(duration, rng, name.rsplit("_", 1)[1])
    if name == "march":
        return _march_fn(duration, rng)
    if name == "jump":
        return _jump_fn(duration, rng)
    if name == "demo":
        return _demo_fn(duration, rng)
    raise ValueError(f"unknown motion {name!r}; choose from {sorted(DEFAULT_DURATIONS)}")


def _demo_fn(duration: float, rng: np.random.Generator) -> PoseFn:
    total = sum(w for _, w in DEMO_SEGMENTS)
    lengths = [duration * w / total for _, w in DEMO_SEGMENTS]
    starts = np.concatenate([[0.0], np.cumsum(lengths)])
    parts = [_raw_fn(name, ln, rng) for (name, _), ln in zip(DEMO_SEGMENTS, lengths,
                                                             strict=True)]

    def fn(t: FloatArray) -> PoseTrack:
        seg = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(parts) - 1)
        ang: dict[str, FloatArray] = {}
        lift, anchor = np.zeros(len(t)), np.zeros(len(t))
        for i, part in enumerate(parts):
            sel = seg == i
            if not np.any(sel):
                continue
            tr = part(np.clip(t[sel] - starts[i], 0.0, lengths[i]))
            for key, val in tr.angles.items():
                ang.setdefault(key, np.zeros(len(t)))[sel] = val
            lift[sel], anchor[sel] = tr.lift, tr.anchor
        return PoseTrack(ang, lift, anchor)

    return fn


#: Motion names and their default durations in seconds.
DEFAULT_DURATIONS: dict[str, float] = {
    "stand": 2.0, "squat": 5.0, "arm_raise_front": 6.5, "arm_raise_side": 6.5,
    "march": 4.0, "jump": 3.0, "demo": 21.0,
}


def make_motion(name: str, duration: float | None = None, seed: int = 0,
                height: float = 1.75, position: tuple[float, float] = (0.0, 0.0),
                heading_deg: float = 0.0) -> Motion:
    """A continuous-time motion: ``stand``, ``squat``, ``arm_raise_front``,
    ``arm_raise_side``, ``march`` (walking in place), ``jump`` (countermovement jump,
    about 0.25 m of flight per 3 s cycle) or ``demo`` (all of them in sequence).

    ``seed`` varies tempo, amplitude and a slow natural sway; the same seed gives the same
    motion. Periodic motions fit a whole number of repetitions into ``duration``.
    """
    if name not in DEFAULT_DURATIONS:
        raise ValueError(f"unknown motion {name!r}; choose from {sorted(DEFAULT_DURATIONS)}")
    dur = float(DEFAULT_DURATIONS[name] if duration is None else duration)
    if dur <= 0:
        raise ValueError(f"duration must be positive, got {dur}")
    rng = np.random.default_rng(seed)
    fn = _with_sway(_raw_fn(name, dur, rng), rng)
    return Motion(name, dur, fn, BodyModel(height), position, heading_deg)


def generate_motion(name: str, duration: float | None = None, fps: float = 30.0,
                    seed: int = 0, height: float = 1.75) -> MotionSample:
    """``make_motion(...).sample(fps)``: landmarks (n, 33, 3) and angles name → (n,)."""
    return make_motion(name, duration, seed, height).sample(fps)


def camera_times(n_frames: int | Sequence[int], fps: float | Sequence[float],
                 offsets: Sequence[float] | None = None, ref_fps: float | None = None,
                 ) -> list[FloatArray]:
    """Time stamps (s) of each camera's frames for unsynchronised cameras.

    Camera ``c``'s frame ``i`` shows the instant ``offsets[c] / ref_fps + i / fps[c]``:
    with equal frame rates, camera c's frame i shows reference frame ``i + offsets[c]``.
    ``ref_fps`` defaults to the first camera's rate; offsets may be fractional or
    negative. The number of cameras is the longest of the sequence arguments.
    """
    seqs = [x for x in (n_frames, fps, offsets) if isinstance(x, Sequence)]
    n_cams = max([len(s) for s in seqs], default=1)

    def per_cam(x: float | Sequence[float] | None, default: float) -> list[float]:
        vals = list(x) if isinstance(x, Sequence) else [default if x is None else x] * n_cams
        if len(vals) != n_cams:
            raise ValueError(f"expected {n_cams} per-camera values, got {len(vals)}")
        return [float(v) for v in vals]

    rates, counts, offs = per_cam(fps, 0.0), per_cam(n_frames, 0), per_cam(offsets, 0.0)
    if min(rates) <= 0:
        raise ValueError(f"frame rates must be positive, got {rates}")
    ref = float(ref_fps) if ref_fps else rates[0]
    return [o / ref + np.arange(int(n)) / r for o, n, r in zip(offs, counts, rates,
                                                                 strict=True)]


def sample_cameras(motion: Motion, n_frames: int | Sequence[int],
                   fps: float | Sequence[float], offsets: Sequence[float] | None = None,
                   ref_fps: float | None = None) -> list[MotionSample]:
    """One :class:`MotionSample` per camera at :func:`camera_times` (exact sampling)."""
    return [motion.sample_times(t) for t in camera_times(n_frames, fps, offsets, ref_fps)]
