from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.camera import Camera, CameraGroup, load_calibration, save_calibration
from posekit.errors import CalibrationError
from posekit.synthetic.rig import make_rig


def _camera(**kw: object) -> Camera:
    args: dict[str, object] = {
        "name": "A", "size": (1920, 1080),
        "matrix": [[1400, 0, 950], [0, 1410, 530], [0, 0, 1]],
        "dist": [-0.2, 0.05, 0.001, -0.002, 0.01], "rvec": [0.1, 0.2, 0.3],
        "tvec": [0.1, -0.2, 4.0],
    }
    args.update(kw)
    return Camera(**args)  # type: ignore[arg-type]


def test_projection_matches_opencv() -> None:
    cam = _camera()
    pts = np.random.default_rng(1).uniform(-1, 1, (200, 3))
    ref, _ = cv2.projectPoints(pts, cam.rvec, cam.tvec, cam.matrix, cam.dist)
    np.testing.assert_allclose(cam.project(pts), ref.reshape(-1, 2), atol=1e-9)


def test_fisheye_projection_matches_opencv() -> None:
    cam = _camera(dist=[0.05, -0.01, 0.002, 0.0], fisheye=True)
    pts = np.random.default_rng(2).uniform(-1, 1, (50, 1, 3))
    ref, _ = cv2.fisheye.projectPoints(pts, cam.rvec, cam.tvec, cam.matrix, cam.dist)
    np.testing.assert_allclose(cam.project(pts[:, 0]), ref.reshape(-1, 2), atol=1e-6)


def test_undistort_inverts_distortion_over_the_image() -> None:
    cam = _camera()
    u, v = np.meshgrid(np.arange(0, 1920, 37.0), np.arange(0, 1080, 29.0))
    px = np.stack([u, v], axis=-1)
    np.testing.assert_allclose(cam.distort_normalized(cam.undistort_points(px)), px, atol=1e-6)


def test_nan_in_nan_out_and_behind_camera_is_nan() -> None:
    cam = _camera(rvec=[0, 0, 0], tvec=[0, 0, 0])
    out = cam.project([[np.nan, 0, 1], [0, 0, -1], [0, 0, 2]])
    assert np.isnan(out[:2]).all() and np.isfinite(out[2]).all()
    assert np.isnan(cam.undistort_points([[np.nan, 1.0]])).all()


def test_rays_pass_through_the_projected_point() -> None:
    cam = _camera()
    pts = np.array([[0.2, -0.1, 0.3], [0.0, 0.5, -0.4]])
    rays = cam.pixel_rays(cam.project(pts))
    to_pts = pts - cam.center
    to_pts /= np.linalg.norm(to_pts, axis=1, keepdims=True)
    np.testing.assert_allclose(rays, to_pts, atol=1e-7)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"matrix": [[1, 0], [0, 1]]}, "matrix must have shape (3, 3)"),
        ({"matrix": [[0, 0, 1], [0, 0, 1], [0, 0, 1]]}, "not a valid intrinsic matrix"),
        ({"matrix": [[np.nan, 0, 1], [0, 1, 1], [0, 0, 1]]}, "NaN"),
        ({"rvec": [0, 0]}, "rotation must have shape (3,)"),
        ({"size": (0, 10)}, "size must be positive"),
        ({"dist": [0.1, 0, 0, 0, 0, 0.3]}, "at most 5 distortion coefficients"),
    ],
)
def test_invalid_camera_names_the_problem(kw: dict[str, object], message: str) -> None:
    with pytest.raises(CalibrationError) as info:
        _camera(**kw)
    assert "camera 'A'" in str(info.value) and message in str(info.value)


def test_calibration_toml_round_trip_and_aniposelib_reads_it(tmp_path: Path) -> None:
    from aniposelib.cameras import CameraGroup as AniposeGroup

    group = make_rig(3, seed=4)
    path = save_calibration(group, tmp_path / "calibration.toml")
    back = load_calibration(path)
    assert back.names == group.names
    pts = np.random.default_rng(0).uniform(-0.5, 0.5, (20, 3)) + np.array([0.0, 0.0, 1.0])
    np.testing.assert_allclose(back.project(pts), group.project(pts), atol=1e-9)
    anipose = AniposeGroup.load(str(path))
    assert anipose.get_names() == group.names
    for ours, theirs in zip(group, anipose.cameras, strict=True):
        np.testing.assert_allclose(theirs.project(pts).reshape(-1, 2), ours.project(pts),
                                   atol=1e-6)


def test_cameras_ordered_by_number_not_text(tmp_path: Path) -> None:
    cams = [_camera(name=f"c{i}") for i in range(12)]
    path = save_calibration(CameraGroup(cams), tmp_path / "calibration.toml")
    assert load_calibration(path).names == [f"c{i}" for i in range(12)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[cam_0]\nname = 'A'\n", "[cam_0]: missing key(s) size, matrix"),
        ("[camera]\nname = 'A'\n", "unexpected table [camera]"),
        ("[cam_0\n", "not valid TOML"),
        ("[metadata]\n", "no [cam_N] tables"),
    ],
)
def test_bad_calibration_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "calibration.toml"
    path.write_text(text)
    with pytest.raises(CalibrationError) as info:
        load_calibration(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_missing_calibration_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="posekit calibrate"):
        load_calibration(tmp_path / "calibration.toml")


def test_duplicate_camera_names_rejected() -> None:
    with pytest.raises(CalibrationError, match="duplicate camera name"):
        CameraGroup([_camera(), _camera()])


finite = st.floats(-2, 2, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(rvec=st.tuples(finite, finite, finite), tvec=st.tuples(finite, finite, finite),
       k1=st.floats(-0.3, 0.3), fx=st.floats(300, 3000))
def test_toml_round_trip_property(tmp_path_factory: pytest.TempPathFactory,
                                  rvec: tuple[float, float, float],
                                  tvec: tuple[float, float, float], k1: float, fx: float) -> None:
    cam = _camera(rvec=rvec, tvec=tvec, dist=[k1, 0, 0, 0, 0],
                  matrix=[[fx, 0, 640], [0, fx, 360], [0, 0, 1]])
    path = tmp_path_factory.mktemp("rt") / "calibration.toml"
    back = load_calibration(save_calibration(CameraGroup([cam]), path))[0]
    for attr in ("matrix", "dist", "rvec", "tvec"):
        np.testing.assert_array_equal(getattr(back, attr), getattr(cam, attr))
