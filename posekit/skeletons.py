"""Skeleton definitions: keypoint names, bones and left/right pairs.

Keypoint order is the detector's output order; names follow each detector's documentation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Skeleton:
    """Keypoint names (in detector order), bones and symmetric left/right pairs."""

    name: str
    keypoints: tuple[str, ...]
    bones: tuple[tuple[str, str], ...]

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

SKELETONS: dict[str, Skeleton] = {MEDIAPIPE_33.name: MEDIAPIPE_33}
