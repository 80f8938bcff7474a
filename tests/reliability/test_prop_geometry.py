"""Property tests of the numerical core: projection ↔ triangulation on random rigs, rotation
conversions (Rodrigues, alignment frames), camera tables.

Random rigs: 2-6 cameras 2-10 units from the origin, looking at a point near it with a
random roll, focal lengths 400-2500 px, off-centre principal points, mild lens distortion
(or OpenCV's fisheye model); points inside the volume the cameras look at, in front of
every camera and inside its image.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from posekit.camera.model import Camera, CameraGroup, matrix_to_rodrigues, rodrigues_to_matrix
from posekit.triangulation.align import alignment_from_keypoints, apply_alignment, undo_alignment
from posekit.triangulation.dlt import triangulate

SETTINGS = settings(max_examples=100, deadline=None)

finite = st.floats(allow_nan=False, allow_infinity=False)


def unit_vectors() -> st.SearchStrategy[np.ndarray]:
    return arrays(np.float64, 3, elements=st.floats(-1, 1)).filter(
        lambda v: np.linalg.norm(v) > 0.1).map(lambda v: v / np.linalg.norm(v))


def look_at(center: np.ndarray, target: np.ndarray, roll: float) -> np.ndarray:
    """World → camera rotation of a camera at ``center`` looking at ``target``."""
    forward = (target - center) / np.linalg.norm(target - center)
    helper = np.array([0.0, 0.0, 1.0]) if abs(forward[2]) < 0.9 else np.array([1.0, 0, 0])
    right = np.cross(forward, helper)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    c, s = np.cos(roll), np.sin(roll)
    right, down = c * right + s * down, -s * right + c * down
    return np.stack([right, down, forward])


@st.composite
def cameras(draw: st.DrawFn, name: str, fisheye: bool) -> Camera:
    direction = draw(unit_vectors())
    distance = draw(st.floats(2.0, 10.0))
    target = draw(arrays(np.float64, 3, elements=st.floats(-0.3, 0.3)))
    roll = draw(st.floats(-np.pi, np.pi))
    rot = look_at(direction * distance, target, roll)
    width, height = draw(st.sampled_from([(640, 480), (1280, 720), (1920, 1080)]))
    f = draw(st.floats(400.0, 2500.0))
    aspect = draw(st.floats(0.95, 1.05))
    cx = width / 2 + draw(st.floats(-40, 40))
    cy = height / 2 + draw(st.floats(-40, 40))
    matrix = np.array([[f, 0.0, cx], [0.0, f * aspect, cy], [0.0, 0.0, 1.0]])
    if fisheye:
        dist = draw(arrays(np.float64, 4, elements=st.floats(-0.02, 0.02)))
    else:
        k1, k2 = draw(st.floats(-0.15, 0.15)), draw(st.floats(-0.05, 0.05))
        p1, p2 = draw(st.floats(-1e-3, 1e-3)), draw(st.floats(-1e-3, 1e-3))
        dist = np.array([k1, k2, p1, p2, 0.0])
    return Camera(name, (width, height), matrix, dist, matrix_to_rodrigues(rot),
                  -rot @ (direction * distance), fisheye=fisheye)


@st.composite
def rigs(draw: st.DrawFn, fisheye: bool = False) -> CameraGroup:
    n = draw(st.integers(2, 6))
    return CameraGroup([draw(cameras(f"cam{i + 1}", fisheye)) for i in range(n)])


def visible(group: CameraGroup, points: np.ndarray, margin: float = 0.05,
            min_angle_deg: float = 10.0) -> np.ndarray:
    """Points in front of every camera (depth > 0.5), inside every image (with margin) and
    seen by every pair of cameras under an angle between ``min_angle_deg`` and 180° minus
    it (a real baseline; a point on the line between two cameras is degenerate)."""
    ok = np.ones(len(points), bool)
    rays = [points - cam.center for cam in group]
    rays = [r / np.linalg.norm(r, axis=-1, keepdims=True) for r in rays]
    cos_max = np.cos(np.deg2rad(min_angle_deg))
    for i in range(len(rays)):
        for j in range(i + 1, len(rays)):
            ok &= np.abs(np.einsum("nk,nk->n", rays[i], rays[j])) < cos_max
    for cam in group:
        depth = cam.world_to_camera(points)[:, 2]
        px = cam.project(points)
        w, h = cam.size
        ok &= (depth > 0.5) & np.isfinite(px).all(axis=1)
        ok &= (px[:, 0] > margin * w) & (px[:, 0] < (1 - margin) * w)
        ok &= (px[:, 1] > margin * h) & (px[:, 1] < (1 - margin) * h)
    return ok


def scene_points(n_max: int = 40) -> st.SearchStrategy[np.ndarray]:
    return st.integers(1, n_max).flatmap(
        lambda n: arrays(np.float64, (n, 3), elements=st.floats(-0.6, 0.6)))


def scale_of(group: CameraGroup) -> float:
    return float(np.mean([np.linalg.norm(cam.center) for cam in group]))


@SETTINGS
@given(rigs(), scene_points(), st.sampled_from([0, 2]))
def test_project_then_triangulate_gives_the_points_back(group: CameraGroup, points: np.ndarray,
                                                        refine: int) -> None:
    points = points[visible(group, points)]
    assume(len(points) > 0)
    back = triangulate(group, group.project(points), refine=refine)
    err = np.linalg.norm(back - points, axis=-1)
    assert err.max() <= 1e-6 * scale_of(group), err.max()


@settings(max_examples=50, deadline=None)
@given(rigs(fisheye=True), scene_points())
def test_fisheye_rigs_round_trip_too(group: CameraGroup, points: np.ndarray) -> None:
    points = points[visible(group, points)]
    assume(len(points) > 0)
    back = triangulate(group, group.project(points))
    err = np.linalg.norm(back - points, axis=-1)
    assert err.max() <= 1e-6 * scale_of(group), err.max()


@SETTINGS
@given(rigs(), scene_points(20), st.data())
def test_views_lost_or_weighted_keep_exact_points_exact(group: CameraGroup, points: np.ndarray,
                                                        data: st.DataObject) -> None:
    """NaN views and per-view weights do not bias exact data; fewer than 2 views is NaN."""
    points = points[visible(group, points)]
    assume(len(points) > 0)
    pix = group.project(points)
    n_cams, n = pix.shape[:2]
    seen = data.draw(arrays(np.bool_, (n_cams, n)))
    weights = data.draw(arrays(np.float64, (n_cams, n), elements=st.floats(0.05, 1.0)))
    pix[~seen] = np.nan
    back = triangulate(group, pix, weights=weights, refine=1)
    enough = seen.sum(axis=0) >= 2
    assert np.isnan(back[~enough]).all()
    err = np.linalg.norm(back[enough] - points[enough], axis=-1)
    assert (err <= 1e-6 * scale_of(group)).all(), err.max()


@SETTINGS
@given(rigs(), arrays(np.float64, (3, 4, 3), elements=st.floats(-0.6, 0.6)))
def test_projection_keeps_leading_shape_and_nan(group: CameraGroup, points: np.ndarray) -> None:
    points[0, 1] = np.nan
    pix = group.project(points)
    assert pix.shape == (len(group), 3, 4, 2)
    assert np.isnan(pix[:, 0, 1]).all()


# -- rotations ----------------------------------------------------------------------------


def assert_rotation(mat: np.ndarray) -> None:
    np.testing.assert_allclose(mat @ mat.T, np.eye(3), atol=1e-12)
    assert abs(np.linalg.det(mat) - 1.0) < 1e-12


def rvecs(min_angle: float, max_angle: float) -> st.SearchStrategy[np.ndarray]:
    return st.tuples(unit_vectors(), st.floats(min_angle, max_angle)).map(
        lambda va: va[0] * va[1])


@settings(max_examples=200, deadline=None)
@given(rvecs(0.0, np.pi - 1e-6))
def test_rodrigues_round_trip_below_pi(rvec: np.ndarray) -> None:
    mat = rodrigues_to_matrix(rvec)
    assert_rotation(mat)
    np.testing.assert_allclose(matrix_to_rodrigues(mat), rvec, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.one_of(rvecs(0.0, 1e-6), rvecs(1e-12, 1e-8), st.just(np.zeros(3))))
def test_rodrigues_near_zero(rvec: np.ndarray) -> None:
    mat = rodrigues_to_matrix(rvec)
    assert_rotation(mat)
    np.testing.assert_allclose(mat, np.eye(3), atol=2e-6)
    np.testing.assert_allclose(matrix_to_rodrigues(mat), rvec, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(rvecs(np.pi - 1e-3, np.pi))
def test_rodrigues_near_pi(rvec: np.ndarray) -> None:
    """At π the vector's sign is ambiguous (v and -v are the same rotation): compare the
    rotations, and the angle."""
    mat = rodrigues_to_matrix(rvec)
    assert_rotation(mat)
    back = matrix_to_rodrigues(mat)
    assert np.linalg.norm(back) <= np.pi + 1e-9
    np.testing.assert_allclose(rodrigues_to_matrix(back), mat, atol=1e-7)
    np.testing.assert_allclose(np.linalg.norm(back), np.linalg.norm(rvec), atol=1e-7)


@settings(max_examples=100, deadline=None)
@given(rvecs(0.0, np.pi - 1e-6), arrays(np.float64, 3, elements=st.floats(-5, 5)))
def test_camera_frame_and_table_round_trip(rvec: np.ndarray, tvec: np.ndarray) -> None:
    cam = Camera("A", (640, 480), np.array([[600.0, 0, 320], [0, 610, 240], [0, 0, 1]]),
                 np.array([0.1, -0.02, 1e-3, 0, 0]), rvec, tvec)
    assert_rotation(cam.rotation)
    np.testing.assert_allclose(cam.world_to_camera(cam.center), 0, atol=1e-12)
    again = Camera.from_dict(cam.to_dict())
    for attr in ("matrix", "dist", "rvec", "tvec"):
        np.testing.assert_array_equal(getattr(again, attr), getattr(cam, attr))
    assert (again.name, again.size, again.fisheye) == (cam.name, cam.size, cam.fisheye)


# -- alignment frames ---------------------------------------------------------------------

AXIS_PAIRS = [(a, b) for a in "xyz" for b in "xyz" if a != b]


@SETTINGS
@given(arrays(np.float64, (5, 4, 3), elements=st.floats(-0.2, 0.2)), unit_vectors(),
       unit_vectors(), st.sampled_from(AXIS_PAIRS), st.integers(0, 3))
def test_alignment_is_a_rotation_and_undoes(noise: np.ndarray, u: np.ndarray, v: np.ndarray,
                                            axes: tuple[str, str], ref: int) -> None:
    """Keypoints b = a + u and d = c + v (plus noise) define the axes; ``M`` is a rotation,
    undo inverts apply, the first axis is the median a→b, the reference median is 0."""
    assume(np.linalg.norm(np.cross(u, v)) > 0.2)
    points = noise + np.stack([np.zeros(3), 1.5 * u, np.ones(3), np.ones(3) + 1.5 * v])
    kps = ["a", "b", "c", "d"]
    spec = [[axes[0], "a", "b"], [axes[1], "c", "d"]]
    rot, center = alignment_from_keypoints(points, kps, spec, kps[ref])
    assert_rotation(rot)
    aligned = apply_alignment(points, rot, center)
    np.testing.assert_allclose(undo_alignment(aligned, rot, center), points, atol=1e-12)
    a = np.median(points[:, 1] - points[:, 0], axis=0)
    direction = rot @ (a / np.linalg.norm(a))
    np.testing.assert_allclose(direction, np.eye(3)["xyz".index(axes[0])], atol=1e-9)
    np.testing.assert_allclose(np.median(aligned[:, ref], axis=0), 0, atol=1e-12)
