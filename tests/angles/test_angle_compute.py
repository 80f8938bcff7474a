"""The angle forms on hand-computed cases, NaN handling, and Anipose's column names."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.angles.compute import (
    axis_angle,
    chain_angles,
    compute_angles,
    cross_axis_angle,
    inner_angle,
    lowpass_angles,
)
from posekit.angles.definitions import parse_angles

ORIGIN = np.zeros(3)


@pytest.mark.parametrize(("a", "c", "expected"), [
    ([1, 0, 0], [0, 1, 0], 90.0),
    ([1, 0, 0], [-2, 0, 0], 180.0),  # straight
    ([1, 0, 0], [3, 0, 0], 0.0),  # folded back
    ([1, 0, 0], [1, 1, 0], 45.0),
    ([0, 0, 2], [0, np.sqrt(3), -1], 120.0),
])
def test_inner_angle_hand_computed(a: list[float], c: list[float], expected: float) -> None:
    np.testing.assert_allclose(inner_angle(a, ORIGIN, c), [expected], atol=1e-9)


def test_inner_angle_is_accurate_near_straight() -> None:
    # 0.001 degrees off straight: arccos of the dot product would lose most digits here
    eps = np.radians(1e-3)
    got = inner_angle([-1, 0, 0], ORIGIN, [np.cos(eps), np.sin(eps), 0])
    np.testing.assert_allclose(got, [180.0 - 1e-3], atol=1e-9)


@pytest.mark.parametrize(("c", "expected"), [
    ([0, -1, -1], 90.0),  # c→b = (0, 1, 1): along y of the axis frame
    ([-1, 0, -5], 0.0),  # c→b = (1, 0, 5): along x
    ([1, 1, 0], -135.0),  # c→b = (-1, -1, 0)
    ([0, 1, 3], -90.0),
])
def test_axis_angle_hand_computed(c: list[float], expected: float) -> None:
    # axis z = b→a = +z; x = world x; y = z × x = +y; angle of c→b in that (x, y) plane
    np.testing.assert_allclose(axis_angle([0, 0, 1], ORIGIN, c), [expected], atol=1e-9)


@pytest.mark.parametrize(("a", "c", "expected"), [
    # normal (a-b) × (b-c) = -z; x = world x; y = z × x = -y; a→c = (-1, 1, 0)
    ([1, 0, 0], [0, 1, 0], -135.0),
    # normal = -y; x = world x; y = +z; a→c = (1, 0, -1)
    ([0, 0, 1], [1, 0, 0], -45.0),
])
def test_cross_axis_angle_hand_computed(a: list[float], c: list[float],
                                        expected: float) -> None:
    np.testing.assert_allclose(cross_axis_angle(a, ORIGIN, c), [expected], atol=1e-9)


def test_chain_hand_computed() -> None:
    # segment 0 along world z; segment 1 bends 45 degrees towards +x; segment 2 leaves
    # the bending plane along +y. Joint 0 (world → segment 0) is the identity; joint 1
    # flexes 135 (the inner angle) and its bending plane is turned -90 about segment 1.
    pts = np.array([[[0, 0, 0], [0, 0, 1], [1, 0, 2], [1, 1, 2]]], float)
    got = chain_angles(pts, ["k0", "k1", "k2", "k3"])
    assert list(got) == ["k0_flex", "k0_rot", "k0_abduct", "k1_flex", "k1_rot", "k2_flex"]
    expected = {"k0_flex": 0.0, "k0_rot": 0.0, "k0_abduct": 0.0, "k1_flex": 135.0,
                "k1_rot": -90.0, "k2_flex": 90.0}
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], [value], atol=1e-9, err_msg=name)


def test_chain_flip_marker_negates_the_flexion() -> None:
    # "k1/" negates segment 0's x axis: joint 0 becomes a 180 rotation about z and the
    # flexion at k1 is -135
    pts = np.array([[[0, 0, 0], [0, 0, 1], [1, 0, 2]]], float)
    (definition,) = parse_angles({"leg": ["chain", "k0", "k1/", "k2"]})
    assert definition.flip == (False, True, False)
    got = compute_angles(pts, ["k0", "k1", "k2"], [definition])
    assert list(got) == ["k0_flex", "k0_rot", "k0_abduct", "k1_flex"]
    np.testing.assert_allclose([got[k][0] for k in got], [0.0, 180.0, 0.0, -135.0],
                               atol=1e-9)


def test_chain_of_two_keypoints_is_the_segments_orientation() -> None:
    # segment along (1, 0, 1)/sqrt2: about y 45 degrees, no abduction
    pts = np.array([[[0, 0, 0], [1, 0, 1]], [[0, 0, 0], [0, -1, 1]]], float)
    got = chain_angles(pts, ["a", "b"])
    assert list(got) == ["a_flex", "a_abduct"]
    np.testing.assert_allclose(got["a_flex"], [45.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(got["a_abduct"], [0.0, 45.0], atol=1e-9)


def test_chain_flexion_equals_the_inner_angle_on_random_poses() -> None:
    rng = np.random.default_rng(3)
    pts = rng.normal(size=(500, 5, 3))
    got = chain_angles(pts, list("abcde"), [False, True, False, False, False])
    for i, name in enumerate("bcd", start=1):
        inner = inner_angle(pts[:, i - 1], pts[:, i], pts[:, i + 1])
        sign = -1.0 if name == "b" else 1.0
        np.testing.assert_allclose(got[f"{name}_flex"], sign * inner, atol=1e-9)
    for values in got.values():
        assert np.all((values >= -180) & (values <= 180))


def test_chain_first_joint_angles_rebuild_the_first_segment() -> None:
    """Joint 0's flexion (about y) and abduction (about x) are extrinsic z-y-x Euler
    angles of segment 0's frame in the world: Rx(abduct) Ry(flex) maps world z onto the
    segment's direction."""
    rng = np.random.default_rng(5)
    pts = rng.normal(size=(300, 3, 3))
    got = chain_angles(pts, list("abc"))
    flex, abduct = np.radians(got["a_flex"]), np.radians(got["a_abduct"])
    rebuilt = np.stack([np.sin(flex), -np.sin(abduct) * np.cos(flex),
                        np.cos(abduct) * np.cos(flex)], axis=-1)
    seg = pts[:, 1] - pts[:, 0]
    np.testing.assert_allclose(rebuilt, seg / np.linalg.norm(seg, axis=1, keepdims=True),
                               atol=1e-9)
    assert np.all(np.abs(got["a_flex"]) <= 90)


def test_nan_in_nan_out_and_undefined_geometry_is_nan() -> None:
    a = np.array([[1, 0, 0], [np.nan, 0, 0], [1, 0, 0]], float)
    b = np.array([[0, 0, 0], [0, 0, 0], [0, 0, 0]], float)
    c = np.array([[0, 1, 0], [0, 1, 0], [0, 0, 0]], float)  # frame 2: zero-length b→c
    got = inner_angle(a, b, c)
    assert got[0] == pytest.approx(90.0)
    assert np.isnan(got[1]) and np.isnan(got[2])
    # axis along the world x axis: the reference direction is undefined
    assert np.isnan(axis_angle([1, 0, 0], ORIGIN, [0, 1, 1]))[0]
    # collinear points: no plane
    assert np.isnan(cross_axis_angle([0, 0, 1], ORIGIN, [0, 0, 2]))[0]
    pts = np.array([[[0, 0, 0], [0, 0, 1], [1, 0, 2]], [[0, 0, 0], [np.nan, 0, 1], [1, 0, 2]]])
    for values in chain_angles(pts, ["a", "b", "c"]).values():
        assert np.isfinite(values[0]) and np.isnan(values[1])


def test_compute_angles_columns_follow_the_definitions() -> None:
    defs = parse_angles({
        "knee": ["hip", "knee", "ankle"],
        "twist": ["axis", "hip", "knee", "ankle"],
        "plane": ["cross-axis", "hip", "knee", "ankle"],
        "leg": ["chain", "hip", "knee", "ankle", "toe"],
    }, {"knee": "flexion"})
    pts = np.array([[[0, 0, 1], [0, 0, 0], [0.5, 0, -1], [1, 0.2, -1]]], float)
    got = compute_angles(pts, ["hip", "knee", "ankle", "toe"], defs)
    assert list(got) == ["knee", "twist", "plane", "hip_flex", "hip_rot", "hip_abduct",
                         "knee_flex", "knee_rot", "ankle_flex"]
    inner = inner_angle(pts[:, 0], pts[:, 1], pts[:, 2])
    np.testing.assert_allclose(got["knee"], 180.0 - inner)  # the flexion convention
    np.testing.assert_allclose(got["knee_flex"], inner)  # the chain keeps Anipose's


def test_lowpass_keeps_gaps_and_handles_the_180_seam() -> None:
    fps = 100.0
    t = np.arange(400) / fps
    rng = np.random.default_rng(0)
    straight = 90 + 30 * np.sin(2 * np.pi * 0.5 * t)
    seam = np.mod(175 + 10 * np.sin(2 * np.pi * 0.5 * t) + 180, 360) - 180  # crosses ±180
    noisy = {"inner": straight + rng.normal(0, 2, t.size),
             "dir": np.mod(seam + rng.normal(0, 2, t.size) + 180, 360) - 180}
    noisy["inner"][100:110] = np.nan
    out = lowpass_angles(noisy, {"dir": True}, fps, 6.0, 4)
    assert np.isnan(out["inner"][100:110]).all() and np.isfinite(out["inner"][:100]).all()
    ok = np.isfinite(out["inner"])
    assert np.sqrt(np.mean((out["inner"][ok] - straight[ok]) ** 2)) < 1.0
    err = np.mod(out["dir"] - seam + 180, 360) - 180
    assert np.sqrt(np.mean(err ** 2)) < 1.0  # no smearing across the seam
