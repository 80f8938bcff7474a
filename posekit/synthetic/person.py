"""An articulated synthetic person: the 33 MediaPipe landmarks by forward kinematics.

World frame: metres, z up, floor z = 0 (as in :mod:`posekit.synthetic.rig`). The body
frame of every segment has x = the person's right, y = forward, z = up when the person
stands in the neutral pose (arms hanging, palms facing the thighs). A heading of 0° faces
the person towards -y, i.e. towards camera 1 of :func:`~posekit.synthetic.rig.make_rig`;
the person's left is then at +x.

Segment lengths are fractions of the body height after Winter (Biomechanics and Motor
Control of Human Movement, after Drillis & Contini): thigh 0.245 H, shank 0.246 H, ankle
height 0.039 H, upper arm 0.186 H, forearm 0.146 H, hand 0.108 H, foot 0.152 H, shoulder
joints 0.810 H above the floor. Joint angles (all in degrees, 0 = neutral standing):

- ``pelvis_tilt`` (+ = forward), ``pelvis_list`` (+ = right side down), ``trunk_flexion``
  (+ = forward), ``trunk_lateral`` (+ = to the right), ``trunk_rotation`` (+ = shoulders
  turn left), ``neck_flexion`` (+ = chin down), ``neck_rotation`` (+ = look left);
- per side (``left_``/``right_`` prefix): ``shoulder_flexion`` (+ = arm forward),
  ``shoulder_abduction`` (+ = arm sideways), ``shoulder_rotation`` (+ = internal),
  ``elbow_flexion``, ``wrist_flexion`` (+ = towards the palm), ``hip_flexion`` (+ = thigh
  forward), ``hip_abduction``, ``hip_rotation`` (+ = internal), ``knee_flexion``,
  ``ankle_flexion`` (+ = dorsiflexion, toes up).

These are the *generating* parameters. The ground-truth angles that a measurement is
checked against are the 3-point angles of :func:`joint_angles`, computed from landmarks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from posekit.skeletons import MEDIAPIPE_33

FloatArray = NDArray[np.float64]

#: x coordinate sign of each body side in the body frame (x = the person's right).
SIDE_SIGN: dict[str, float] = {"left": -1.0, "right": 1.0}

#: Generating joint parameters accepted by :meth:`BodyModel.landmarks` (degrees).
_LIMB_PARAMETERS = (
    "shoulder_flexion", "shoulder_abduction", "shoulder_rotation", "elbow_flexion",
    "wrist_flexion", "hip_flexion", "hip_abduction", "hip_rotation", "knee_flexion",
    "ankle_flexion",
)
POSE_PARAMETERS: tuple[str, ...] = (
    "pelvis_tilt", "pelvis_list", "trunk_flexion", "trunk_lateral", "trunk_rotation",
    "neck_flexion", "neck_rotation",
    *(f"{side}_{joint}" for side in ("left", "right") for joint in _LIMB_PARAMETERS),
)

#: Ground-truth angle name → (a, b, c) landmark names; the angle is measured at ``b``
#: between the segments b→a and b→c (see :func:`joint_angles`).
ANGLE_DEFINITIONS: dict[str, tuple[str, str, str]] = {}
for _s in ("left", "right"):
    ANGLE_DEFINITIONS.update({
        f"{_s}_knee": (f"{_s}_hip", f"{_s}_knee", f"{_s}_ankle"),
        f"{_s}_hip": (f"{_s}_shoulder", f"{_s}_hip", f"{_s}_knee"),
        f"{_s}_elbow": (f"{_s}_shoulder", f"{_s}_elbow", f"{_s}_wrist"),
        f"{_s}_shoulder": (f"{_s}_hip", f"{_s}_shoulder", f"{_s}_elbow"),
        f"{_s}_ankle": (f"{_s}_knee", f"{_s}_ankle", f"{_s}_foot_index"),
    })

# Face landmarks in the head frame (origin midway between the ears), fractions of H;
# x is given for the right side and mirrored for the left.
_FACE = {
    "eye_inner": (0.010, 0.046, 0.010), "eye": (0.019, 0.044, 0.010),
    "eye_outer": (0.028, 0.040, 0.010), "ear": (0.045, 0.0, 0.0),
    "mouth": (0.013, 0.047, -0.030),
}
_NOSE = (0.0, 0.062, -0.008)
# Hand landmarks in the hand frame (wrist origin, fingers along -z, thumb towards +y),
# fractions of the hand length; x is towards the palm (medial) for the right hand.
_HAND = {"index": (0.0, 0.18, -0.46), "pinky": (0.0, -0.20, -0.42),
         "thumb": (0.10, 0.32, -0.30)}


def _rot(axis: int, deg: ArrayLike) -> FloatArray:
    """Rotation matrices (n, 3, 3) about body axis ``axis`` (0=x, 1=y, 2=z) by ``deg``."""
    a = np.deg2rad(np.asarray(deg, dtype=np.float64))
    c, s = np.cos(a), np.sin(a)
    out = np.zeros((*a.shape, 3, 3))
    i, j = [k for k in range(3) if k != axis]
    out[..., axis, axis] = 1.0
    out[..., i, i] = c
    out[..., j, j] = c
    sign = 1.0 if axis != 1 else -1.0  # keeps the right-handed convention for y
    out[..., j, i] = sign * s
    out[..., i, j] = -sign * s
    return out


def _apply(rot: FloatArray, vec: ArrayLike) -> FloatArray:
    """Rotate body-frame vectors: (n, 3, 3) @ (3,) or (n, 3) → (n, 3)."""
    v = np.asarray(vec, dtype=np.float64)
    return np.einsum("nij,...j->ni", rot, v) if v.ndim == 1 else np.einsum("nij,nj->ni", rot, v)


@dataclass(frozen=True)
class BodyModel:
    """Proportions of a person of standing height ``height`` (metres).

    All lengths are ``height`` times a fixed anthropometric ratio, so every segment length
    scales linearly with height.
    """

    height: float = 1.75

    def __post_init__(self) -> None:
        if not 0.5 <= float(self.height) <= 2.5:
            raise ValueError(f"height must be between 0.5 and 2.5 m, got {self.height}")

    @property
    def lengths(self) -> dict[str, float]:
        """Segment lengths in metres: thigh, shank, upper_arm, forearm, hand, foot, trunk
        (hip centre → shoulder centre), neck (shoulder centre → head centre), hip_width and
        shoulder_width (between joint centres), ankle_height and sole_height (heel and
        toe landmarks above the floor when standing)."""
        ratios = {
            "thigh": 0.245, "shank": 0.246, "upper_arm": 0.186, "forearm": 0.146,
            "hand": 0.108, "foot": 0.152, "trunk": 0.280, "neck": 0.125,
            "hip_width": 0.120, "shoulder_width": 0.210, "ankle_height": 0.039,
            "sole_height": 0.012,
        }
        return {k: v * float(self.height) for k, v in ratios.items()}

    @property
    def standing_hip_height(self) -> float:
        """Height of the hip joint centres above the floor in the neutral pose (m)."""
        ln = self.lengths
        return ln["ankle_height"] + ln["shank"] + ln["thigh"]

    def landmarks(
        self,
        angles: Mapping[str, ArrayLike],
        root: ArrayLike,
        heading_deg: ArrayLike = 0.0,
    ) -> FloatArray:
        """Forward kinematics: the 33 MediaPipe landmarks (n, 33, 3) in metres.

        Args:
            angles: generating joint parameters (see :data:`POSE_PARAMETERS`), each a
                scalar or (n,) array in degrees; missing ones are 0 (neutral).
            root: (n, 3) or (3,) position of the midpoint between the hip joint centres.
            heading_deg: rotation of the whole body about +z (scalar or (n,)); 0 faces -y.

        NaN in an input propagates to the affected landmarks. Unknown angle names raise
        ``KeyError``.
        """
        unknown = set(angles) - set(POSE_PARAMETERS)
        if unknown:
            raise KeyError(f"unknown pose parameter(s): {sorted(unknown)}")
        root_arr = np.atleast_2d(np.asarray(root, dtype=np.float64))
        sizes = [np.size(v) for v in angles.values()] + [len(root_arr), np.size(heading_deg)]
        n = max(sizes)
        ang = {k: np.broadcast_to(np.asarray(angles.get(k, 0.0), dtype=np.float64), (n,))
               for k in POSE_PARAMETERS}
        root_arr = np.broadcast_to(root_arr, (n, 3))
        heading = np.broadcast_to(np.asarray(heading_deg, dtype=np.float64), (n,))
        pts: dict[str, FloatArray] = {}
        r_pelvis = (_rot(2, heading + 180.0) @ _rot(0, -ang["pelvis_tilt"])
                    @ _rot(1, ang["pelvis_list"]))
        r_trunk = (r_pelvis @ _rot(0, -ang["trunk_flexion"]) @ _rot(1, ang["trunk_lateral"])
                   @ _rot(2, ang["trunk_rotation"]))
        self._head(pts, ang, root_arr, r_trunk)
        for side, sign in SIDE_SIGN.items():
            self._arm(pts, ang, side, sign, root_arr, r_trunk)
            self._leg(pts, ang, side, sign, root_arr, r_pelvis)
        return np.stack([pts[k] for k in MEDIAPIPE_33.keypoints], axis=1)

    def _head(self, pts: dict[str, FloatArray], ang: Mapping[str, FloatArray],
              root: FloatArray, r_trunk: FloatArray) -> None:
        ln, h = self.lengths, float(self.height)
        neck_base = root + _apply(r_trunk, [0.0, 0.0, ln["trunk"]])
        r_head = r_trunk @ _rot(2, ang["neck_rotation"]) @ _rot(0, -ang["neck_flexion"])
        centre = neck_base + _apply(r_head, [0.0, 0.0, ln["neck"]])
        pts["nose"] = centre + _apply(r_head, np.array(_NOSE) * h)
        for side, sign in SIDE_SIGN.items():
            for name, (x, y, z) in _FACE.items():
                key = f"mouth_{side}" if name == "mouth" else f"{side}_{name}"
                pts[key] = centre + _apply(r_head, np.array([sign * x, y, z]) * h)

    def _arm(self, pts: dict[str, FloatArray], ang: Mapping[str, FloatArray], side: str,
             sign: float, root: FloatArray, r_trunk: FloatArray) -> None:
        ln = self.lengths
        a = {k: ang[f"{side}_{k}"] for k in ("shoulder_flexion", "shoulder_abduction",
                                             "shoulder_rotation", "elbow_flexion",
                                             "wrist_flexion")}
        shoulder = root + _apply(r_trunk, [sign * ln["shoulder_width"] / 2, 0.0, ln["trunk"]])
        r_upper = (r_trunk @ _rot(1, -sign * a["shoulder_abduction"])
                   @ _rot(0, a["shoulder_flexion"]) @ _rot(2, sign * a["shoulder_rotation"]))
        elbow = shoulder + _apply(r_upper, [0.0, 0.0, -ln["upper_arm"]])
        r_fore = r_upper @ _rot(0, a["elbow_flexion"])
        wrist = elbow + _apply(r_fore, [0.0, 0.0, -ln["forearm"]])
        r_hand = r_fore @ _rot(1, sign * a["wrist_flexion"])
        pts[f"{side}_shoulder"], pts[f"{side}_elbow"], pts[f"{side}_wrist"] = (
            shoulder, elbow, wrist)
        for name, (x, y, z) in _HAND.items():
            local = np.array([-sign * x, y, z]) * ln["hand"]
            pts[f"{side}_{name}"] = wrist + _apply(r_hand, local)

    def _leg(self, pts: dict[str, FloatArray], ang: Mapping[str, FloatArray], side: str,
             sign: float, root: FloatArray, r_pelvis: FloatArray) -> None:
        ln = self.lengths
        a = {k: ang[f"{side}_{k}"] for k in ("hip_flexion", "hip_abduction", "hip_rotation",
                                             "knee_flexion", "ankle_flexion")}
        hip = root + _apply(r_pelvis, [sign * ln["hip_width"] / 2, 0.0, 0.0])
        r_thigh = (r_pelvis @ _rot(1, -sign * a["hip_abduction"]) @ _rot(0, a["hip_flexion"])
                   @ _rot(2, sign * a["hip_rotation"]))
        knee = hip + _apply(r_thigh, [0.0, 0.0, -ln["thigh"]])
        r_shank = r_thigh @ _rot(0, -a["knee_flexion"])
        ankle = knee + _apply(r_shank, [0.0, 0.0, -ln["shank"]])
        r_foot = r_shank @ _rot(0, a["ankle_flexion"])
        drop = ln["ankle_height"] - ln["sole_height"]
        pts[f"{side}_hip"], pts[f"{side}_knee"], pts[f"{side}_ankle"] = hip, knee, ankle
        pts[f"{side}_heel"] = ankle + _apply(r_foot, [0.0, -0.25 * ln["foot"], -drop])
        pts[f"{side}_foot_index"] = ankle + _apply(r_foot, [0.0, 0.72 * ln["foot"], -drop])

    def standing(self, n_frames: int = 1, heading_deg: float = 0.0) -> FloatArray:
        """Neutral standing landmarks (n_frames, 33, 3) with the feet on the floor."""
        root = np.array([0.0, 0.0, self.standing_hip_height])
        return self.landmarks({}, np.tile(root, (n_frames, 1)), heading_deg)


def landmark_index(name: str) -> int:
    """Position of landmark ``name`` in the 33-landmark arrays."""
    return MEDIAPIPE_33.index(name)


def three_point_angle(a: ArrayLike, b: ArrayLike, c: ArrayLike) -> FloatArray:
    """Angle at ``b`` between b→a and b→c in degrees (...,); inputs (..., 3).

    0 = folded back on itself, 180 = straight. NaN where an input is NaN or a segment has
    zero length.
    """
    u = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    v = np.asarray(c, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    nu, nv = np.linalg.norm(u, axis=-1), np.linalg.norm(v, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.sum(u * v, axis=-1) / np.where((nu > 1e-12) & (nv > 1e-12), nu * nv, np.nan)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def joint_angles(landmarks: ArrayLike) -> dict[str, FloatArray]:
    """Ground-truth 3-point joint angles from landmarks (..., 33, 3), degrees (...,).

    For each entry ``name: (a, b, c)`` of :data:`ANGLE_DEFINITIONS` the angle is the 3D
    angle at landmark ``b`` between the segments b→a and b→c (:func:`three_point_angle`):
    ``left_knee`` = angle at the left knee between left hip and left ankle (180 =
    straight leg); ``left_hip`` = shoulder-hip-knee (180 = upright, smaller = flexed or
    extended); ``left_elbow`` = shoulder-elbow-wrist; ``left_shoulder`` =
    hip-shoulder-elbow (≈0 = arm hanging, 90 = horizontal, 180 = overhead);
    ``left_ankle`` = knee-ankle-foot_index (≈ 90-100 standing); likewise ``right_*``.
    NaN where a landmark is NaN.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    idx = MEDIAPIPE_33.index
    return {
        name: three_point_angle(pts[..., idx(a), :], pts[..., idx(b), :], pts[..., idx(c), :])
        for name, (a, b, c) in ANGLE_DEFINITIONS.items()
    }


def segment_lengths(landmarks: ArrayLike) -> dict[str, FloatArray]:
    """Lengths (...,) in metres of the rigid segments of landmarks (..., 33, 3):
    ``{side}_thigh``, ``{side}_shank``, ``{side}_upper_arm``, ``{side}_forearm``,
    ``shoulder_width`` and ``hip_width``. NaN propagates."""
    pts = np.asarray(landmarks, dtype=np.float64)
    idx = MEDIAPIPE_33.index
    pairs = {"shoulder_width": ("left_shoulder", "right_shoulder"),
             "hip_width": ("left_hip", "right_hip")}
    for s in ("left", "right"):
        pairs.update({f"{s}_thigh": (f"{s}_hip", f"{s}_knee"),
                      f"{s}_shank": (f"{s}_knee", f"{s}_ankle"),
                      f"{s}_upper_arm": (f"{s}_shoulder", f"{s}_elbow"),
                      f"{s}_forearm": (f"{s}_elbow", f"{s}_wrist")})
    return {k: np.linalg.norm(pts[..., idx(a), :] - pts[..., idx(b), :], axis=-1)
            for k, (a, b) in pairs.items()}
