"""World-frame alignment from keypoints: hand-computed frames and error messages."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.errors import PosekitError
from posekit.triangulation.align import alignment_from_keypoints, apply_alignment, undo_alignment

KEYPOINTS = ["origin", "right", "up", "front"]
# In the world frame: origin at 0, "right" along +x, "up" along +z, "front" along +y.
WORLD = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 2.0, 0.0]])
AXES = [["x", "origin", "right"], ["z", "origin", "up"]]


def _rot_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _camera_frame(n_frames: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World points seen in a rotated, shifted frame: raw = world @ R.T + t."""
    rot = _rot_z(0.7) @ _rot_x(-0.4)
    shift = np.array([0.3, -1.2, 2.5])
    noise = np.random.default_rng(seed).normal(0, 1e-3, (n_frames, *WORLD.shape))
    raw = (WORLD + noise) @ rot.T + shift
    return raw, rot, shift


def test_recovers_known_rotation_and_translation() -> None:
    raw, rot, shift = _camera_frame()
    M, center = alignment_from_keypoints(raw, KEYPOINTS, AXES, "origin")
    np.testing.assert_allclose(M, rot.T, atol=5e-3)
    np.testing.assert_allclose(M @ M.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(M) == pytest.approx(1.0)
    aligned = apply_alignment(raw, M, center)
    np.testing.assert_allclose(aligned, np.broadcast_to(WORLD, aligned.shape), atol=1e-2)
    # The reference point's median sits exactly at the origin.
    np.testing.assert_allclose(np.median(aligned[:, 0], axis=0), 0.0, atol=1e-12)
    # Anipose's meaning: center is the reference point in the *rotated* frame.
    np.testing.assert_allclose(center, M @ shift, atol=1e-2)
    np.testing.assert_allclose(undo_alignment(aligned, M, center), raw, atol=1e-12)


def test_exact_hand_computed_case() -> None:
    # Raw frame: the subject's x axis is raw +y, its z axis raw +x, so its y axis (z × x) is
    # raw +z; origin at (5, 0, 0).
    raw = np.array([[[5.0, 0.0, 0.0], [5.0, 3.0, 0.0], [7.0, 0.0, 0.0], [5.0, 0.0, 1.0]]])
    M, center = alignment_from_keypoints(raw, KEYPOINTS, AXES, "origin")
    expected_M = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(M, expected_M, atol=1e-15)
    np.testing.assert_allclose(center, [0.0, 0.0, 5.0])
    np.testing.assert_allclose(apply_alignment(raw, M, center)[0],
                               [[0, 0, 0], [3, 0, 0], [0, 0, 2], [0, 1, 0]], atol=1e-15)


@pytest.mark.parametrize(
    "axes",
    [
        [["x", "origin", "right"], ["y", "origin", "front"]],
        [["y", "origin", "front"], ["x", "origin", "right"]],
        [["z", "origin", "up"], ["x", "origin", "right"]],
        [["x", "origin", "right"], ["z", "origin", "up"]],
        [["y", "origin", "front"], ["z", "origin", "up"]],
        [["z", "origin", "up"], ["y", "origin", "front"]],
    ],
)
def test_every_axis_pair_gives_the_same_right_handed_frame(axes: list[list[str]]) -> None:
    rot = _rot_z(0.7) @ _rot_x(-0.4)
    raw = WORLD[None] @ rot.T
    M, center = alignment_from_keypoints(raw, KEYPOINTS, axes, "origin")
    np.testing.assert_allclose(M, rot.T, atol=1e-12)
    np.testing.assert_allclose(center, 0.0, atol=1e-12)


def test_second_axis_is_orthogonalised() -> None:
    world = WORLD.copy()
    world[2] = [0.5, 0.0, 1.0]  # "up" leans towards +x
    M, _ = alignment_from_keypoints(world[None], KEYPOINTS, AXES, "origin")
    np.testing.assert_allclose(M, np.eye(3), atol=1e-15)


def test_nan_frames_are_ignored_and_median_is_used() -> None:
    raw = np.repeat(WORLD[None], 5, axis=0)
    raw[1, 1] = np.nan
    raw[2, 1, 0] = np.nan  # one NaN coordinate: the point counts as missing
    raw[3, 2] = [100.0, 0.0, 1.0]  # one outlier frame for "up"
    M, center = alignment_from_keypoints(raw, KEYPOINTS, AXES, "origin")
    np.testing.assert_allclose(M, np.eye(3), atol=1e-15)
    np.testing.assert_allclose(center, 0.0, atol=1e-15)
    assert np.isnan(apply_alignment(raw, M, center)[1, 1]).all()


def test_unknown_keypoint_is_named_with_the_available_ones() -> None:
    with pytest.raises(PosekitError, match=r"'nose'.*origin, right, up, front"):
        alignment_from_keypoints(WORLD[None], KEYPOINTS, [["x", "origin", "nose"], AXES[1]],
                                 "origin")
    with pytest.raises(PosekitError, match=r"reference_point.*'hip'"):
        alignment_from_keypoints(WORLD[None], KEYPOINTS, AXES, "hip")


def test_same_axis_letter_twice() -> None:
    with pytest.raises(PosekitError, match="both define axis 'x'"):
        alignment_from_keypoints(WORLD[None], KEYPOINTS,
                                 [["x", "origin", "right"], ["x", "origin", "up"]], "origin")


@pytest.mark.parametrize(
    "axes",
    [
        [["x", "origin", "right"], ["z", "origin", "right"]],
        [["x", "origin", "right"], ["z", "right", "origin"]],
    ],
)
def test_parallel_directions(axes: list[list[str]]) -> None:
    with pytest.raises(PosekitError, match="parallel"):
        alignment_from_keypoints(WORLD[None], KEYPOINTS, axes, "origin")


def test_zero_length_direction() -> None:
    with pytest.raises(PosekitError, match="zero length"):
        alignment_from_keypoints(WORLD[None], KEYPOINTS,
                                 [["x", "origin", "origin"], AXES[1]], "origin")


def test_never_seen_keypoints_are_named() -> None:
    raw = np.repeat(WORLD[None], 3, axis=0)
    raw[:, 2] = np.nan
    with pytest.raises(PosekitError, match=r"axes\[1\].*up.*never"):
        alignment_from_keypoints(raw, KEYPOINTS, AXES, "origin")
    raw = np.repeat(WORLD[None], 2, axis=0)
    raw[0, 0] = np.nan
    raw[1, 1] = np.nan
    with pytest.raises(PosekitError, match="origin and right are never triangulated in the same"):
        alignment_from_keypoints(raw, KEYPOINTS, AXES, "up")
    raw = np.repeat(WORLD[None], 2, axis=0)
    raw[:, 3] = np.nan
    with pytest.raises(PosekitError, match="reference_point 'front' was never"):
        alignment_from_keypoints(raw, KEYPOINTS, AXES, "front")


@pytest.mark.parametrize(
    "axes",
    [
        [["x", "origin", "right"]],
        [["x", "origin"], ["z", "origin", "up"]],
        [["w", "origin", "right"], ["z", "origin", "up"]],
        "x",
    ],
)
def test_malformed_axes(axes: object) -> None:
    with pytest.raises(PosekitError, match="axes"):
        alignment_from_keypoints(WORLD[None], KEYPOINTS, axes, "origin")  # type: ignore[arg-type]


def test_shape_checks() -> None:
    with pytest.raises(PosekitError, match="shape"):
        alignment_from_keypoints(WORLD, KEYPOINTS, AXES, "origin")
    with pytest.raises(PosekitError, match="3 keypoint names for 4"):
        alignment_from_keypoints(WORLD[None], KEYPOINTS[:3], AXES, "origin")
    with pytest.raises(PosekitError, match=r"\(3, 3\)"):
        apply_alignment(WORLD, np.eye(2), np.zeros(3))
