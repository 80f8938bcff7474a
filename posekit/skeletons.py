"""Skeleton definitions: keypoint names, bones and left/right pairs.

Keypoint order is the detector's output order; names follow each detector's documentation,
written in snake_case with ``left_``/``right_`` prefixes (the subject's left and right).

Built-in skeletons (:data:`SKELETONS`): ``mediapipe33`` (MediaPipe BlazePose), ``coco17``
(COCO keypoints: YOLO-pose, RTMPose, ViTPose, AlphaPose's COCO models...), ``body25``
(OpenPose's default model), ``body25b`` (OpenPose's experimental BODY_25B model, whose order
differs from BODY_25: COCO's 17 first, then upper neck, head top and the feet) and ``halpe26``
(AlphaPose / RTMPose Halpe 26). Users define their own in a config's ``[skeletons.<name>]``
table; :func:`get_skeleton` finds either kind by name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from posekit.errors import ConfigError


@dataclass(frozen=True)
class Skeleton:
    """Keypoint names (in detector order), bones and symmetric left/right pairs."""

    name: str
    keypoints: tuple[str, ...]
    bones: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        keypoints = tuple(str(k) for k in self.keypoints)
        bones = tuple((str(a), str(b)) for a, b in self.bones)
        if not keypoints:
            raise ValueError(f"skeleton {self.name!r} has no keypoints")
        if len(set(keypoints)) != len(keypoints):
            raise ValueError(f"skeleton {self.name!r} names a keypoint twice: "
                             f"{_duplicates(keypoints)}")
        known = set(keypoints)
        for bone in bones:
            for kp in bone:
                if kp not in known:
                    raise ValueError(f"skeleton {self.name!r}: bone {list(bone)} names "
                                     f"{kp!r}, which is not one of its keypoints")
        object.__setattr__(self, "keypoints", keypoints)
        object.__setattr__(self, "bones", bones)

    def __len__(self) -> int:
        return len(self.keypoints)

    def index(self, keypoint: str) -> int:
        """Position of ``keypoint`` in the detector's output."""
        try:
            return self.keypoints.index(keypoint)
        except ValueError:
            raise KeyError(
                f"keypoint {keypoint!r} is not in the {self.name} skeleton"
            ) from None

    @property
    def left_right_pairs(self) -> tuple[tuple[str, str], ...]:
        """(left, right) keypoint pairs, matched by their ``left_``/``right_`` prefix."""
        pairs = []
        for kp in self.keypoints:
            if kp.startswith("left_"):
                other = "right_" + kp[len("left_"):]
                if other in self.keypoints:
                    pairs.append((kp, other))
        return tuple(pairs)


MEDIAPIPE_33 = Skeleton(
    name="mediapipe33",
    keypoints=(
        "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner",
        "right_eye", "right_eye_outer", "left_ear", "right_ear", "mouth_left",
        "mouth_right", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index",
        "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
        "right_heel", "left_foot_index", "right_foot_index",
    ),
    bones=(
        ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
        ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
        ("left_wrist", "left_pinky"), ("left_wrist", "left_index"),
        ("left_wrist", "left_thumb"), ("right_wrist", "right_pinky"),
        ("right_wrist", "right_index"), ("right_wrist", "right_thumb"),
        ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
        ("left_ankle", "left_heel"), ("left_heel", "left_foot_index"),
        ("left_ankle", "left_foot_index"), ("right_ankle", "right_heel"),
        ("right_heel", "right_foot_index"), ("right_ankle", "right_foot_index"),
        ("nose", "left_eye_inner"), ("left_eye_inner", "left_eye"),
        ("left_eye", "left_eye_outer"), ("left_eye_outer", "left_ear"),
        ("nose", "right_eye_inner"), ("right_eye_inner", "right_eye"),
        ("right_eye", "right_eye_outer"), ("right_eye_outer", "right_ear"),
        ("mouth_left", "mouth_right"),
    ),
)


def _duplicates(names: Iterable[str]) -> list[str]:
    """Names that occur more than once, sorted."""
    seen: set[str] = set()
    dup: set[str] = set()
    for n in names:
        (dup if n in seen else seen).add(n)
    return sorted(dup)


# COCO order: also the first 17 keypoints of BODY_25B, Halpe 26 and COCO-WholeBody.
_COCO_KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
_FACE_BONES = (
    ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"),
    ("right_eye", "right_ear"),
)
_LIMB_BONES = (
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
)
_FEET_BONES = (
    ("left_ankle", "left_big_toe"), ("left_big_toe", "left_small_toe"),
    ("left_ankle", "left_heel"), ("right_ankle", "right_big_toe"),
    ("right_big_toe", "right_small_toe"), ("right_ankle", "right_heel"),
)

COCO_17 = Skeleton(
    name="coco17",
    keypoints=_COCO_KEYPOINTS,
    bones=(
        *_FACE_BONES, ("left_eye", "right_eye"), ("left_ear", "left_shoulder"),
        ("right_ear", "right_shoulder"), ("left_shoulder", "right_shoulder"),
        ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
        ("left_hip", "right_hip"), *_LIMB_BONES,
    ),
)

# OpenPose BODY_25 (the default model of OpenPose >= 1.3): POSE_BODY_25_BODY_PARTS.
BODY_25 = Skeleton(
    name="body25",
    keypoints=(
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
        "left_elbow", "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle",
        "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear",
        "left_ear", "left_big_toe", "left_small_toe", "left_heel", "right_big_toe",
        "right_small_toe", "right_heel",
    ),
    bones=(
        ("neck", "nose"), ("neck", "mid_hip"), ("neck", "left_shoulder"),
        ("neck", "right_shoulder"), ("mid_hip", "left_hip"), ("mid_hip", "right_hip"),
        *_FACE_BONES, *_LIMB_BONES, *_FEET_BONES,
    ),
)

# OpenPose's experimental BODY_25B (openpose_train/experimental_models): COCO's 17 in COCO
# order, then UpperNeck, HeadTop, LBigToe, LSmallToe, LHeel, RBigToe, RSmallToe, RHeel.
BODY_25B = Skeleton(
    name="body25b",
    keypoints=(
        *_COCO_KEYPOINTS, "upper_neck", "head_top", "left_big_toe", "left_small_toe",
        "left_heel", "right_big_toe", "right_small_toe", "right_heel",
    ),
    bones=(
        *_FACE_BONES, ("upper_neck", "head_top"), ("upper_neck", "nose"),
        ("upper_neck", "left_shoulder"), ("upper_neck", "right_shoulder"),
        ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_hip"),
        ("right_shoulder", "right_hip"), ("left_hip", "right_hip"),
        *_LIMB_BONES, *_FEET_BONES,
    ),
)

# Halpe 26 (AlphaPose halpe26 models, RTMPose body8-halpe26): COCO's 17, then Head (top of
# the head), Neck, Hip (mid-hip), LBigToe, RBigToe, LSmallToe, RSmallToe, LHeel, RHeel.
HALPE_26 = Skeleton(
    name="halpe26",
    keypoints=(
        *_COCO_KEYPOINTS, "head", "neck", "mid_hip", "left_big_toe", "right_big_toe",
        "left_small_toe", "right_small_toe", "left_heel", "right_heel",
    ),
    bones=(
        *_FACE_BONES, ("neck", "head"), ("neck", "left_shoulder"),
        ("neck", "right_shoulder"), ("neck", "mid_hip"), ("mid_hip", "left_hip"),
        ("mid_hip", "right_hip"), *_LIMB_BONES, *_FEET_BONES,
    ),
)

#: the limb joints: large, well detected by every detector, and they move
LIMB_JOINTS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")


def limb_joint_indices(keypoints: Iterable[str]) -> list[int]:
    """Positions in ``keypoints`` of the names that end in a limb joint after their first
    word (``left_knee``, ``right_wrist``...)."""
    return [i for i, k in enumerate(keypoints) if k.split("_", 1)[-1] in LIMB_JOINTS]


SKELETONS: dict[str, Skeleton] = {
    s.name: s for s in (MEDIAPIPE_33, COCO_17, BODY_25, BODY_25B, HALPE_26)
}

# Other spellings of the built-in names (compared after lower-casing and removing _ and -).
_ALIASES = {"blazepose": "mediapipe33", "mediapipe": "mediapipe33", "coco": "coco17",
            "halpe": "halpe26", "openpose": "body25"}


def _normalise(name: str) -> str:
    key = name.lower().replace("_", "").replace("-", "").replace(" ", "")
    return _ALIASES.get(key, key)


def skeleton_from_config(name_or_dict: object,
                         name: str = "custom",
                         user_defined: Mapping[str, Any] | None = None) -> Skeleton:
    """A :class:`Skeleton` from a built-in (or ``user_defined``) name, or from a user
    definition: a mapping ``{"keypoints": [...], "bones": [[a, b], ...]}`` or a config's
    ``[skeletons.<name>]`` section (:class:`~posekit.config.schema.SkeletonSpec`).

    A definition whose bones name unknown keypoints, that repeats a keypoint or has an
    unknown key is a :class:`~posekit.errors.ConfigError` naming the skeleton and the key.
    """
    if isinstance(name_or_dict, Skeleton):
        return name_or_dict
    if isinstance(name_or_dict, str):
        return get_skeleton(name_or_dict, user_defined)
    where = f"[skeletons.{name}]"
    if isinstance(name_or_dict, Mapping):
        unknown = sorted(set(name_or_dict) - {"keypoints", "bones"})
        if unknown:
            raise ConfigError(f"{where} {unknown[0]}: unknown key (valid keys: keypoints, "
                              "bones)")
        if "keypoints" not in name_or_dict:
            raise ConfigError(f"{where} keypoints: missing (the list of keypoint names, in "
                              "the order of the 2D files)")
        keypoints, bones = name_or_dict["keypoints"], name_or_dict.get("bones", [])
    elif hasattr(name_or_dict, "keypoints"):  # a SkeletonSpec
        spec: Any = name_or_dict
        keypoints, bones = spec.keypoints, getattr(spec, "bones", None) or []
    else:
        raise ConfigError(f"{where}: a skeleton is a name or a table with keypoints and bones "
                          f"(got {name_or_dict!r})")
    if not isinstance(keypoints, (list, tuple)) or not all(isinstance(k, str) for k in keypoints):
        raise ConfigError(f"{where} keypoints: must be a list of names (got {keypoints!r})")
    if not keypoints:
        raise ConfigError(f"{where} keypoints: the list is empty")
    dup = _duplicates(keypoints)
    if dup:
        raise ConfigError(f"{where} keypoints: {', '.join(map(repr, dup))} listed twice")
    known = set(keypoints)
    if not isinstance(bones, (list, tuple)):
        raise ConfigError(f"{where} bones: must be a list of [keypoint, keypoint] pairs "
                          f"(got {bones!r})")
    pairs: list[tuple[str, str]] = []
    for i, bone in enumerate(bones):
        if not isinstance(bone, (list, tuple)) or len(bone) != 2:
            raise ConfigError(f"{where} bones[{i}]: a bone is a pair of keypoint names "
                              f"(got {bone!r})")
        for kp in bone:
            if kp not in known:
                close = difflib.get_close_matches(str(kp), keypoints, n=1)
                hint = f", did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"{where} bones[{i}]: {kp!r} is not one of the skeleton's "
                                  f"keypoints{hint}")
        pairs.append((str(bone[0]), str(bone[1])))
    return Skeleton(name=name, keypoints=tuple(keypoints), bones=tuple(pairs))


def get_skeleton(name: str, user_defined: Mapping[str, Any] | None = None) -> Skeleton:
    """The skeleton called ``name``: user-defined first (``user_defined`` maps names to
    definitions, e.g. ``config.skeletons``), then the built-in ones (case, ``_`` and ``-``
    do not matter for those: ``BODY_25B`` is ``body25b``). An unknown name is a
    :class:`~posekit.errors.ConfigError` listing the available ones."""
    user = dict(user_defined or {})
    if name in user:
        return skeleton_from_config(user[name], name=name)
    builtin = SKELETONS.get(_normalise(name))
    if builtin is not None:
        return builtin
    available = f"built-in: {', '.join(sorted(SKELETONS))}"
    if user:
        available += f"; user-defined in [skeletons]: {', '.join(sorted(user))}"
    raise ConfigError(f"unknown skeleton {name!r} ({available})")
