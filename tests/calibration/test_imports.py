"""Import of Qualisys (.qca.txt) and Anipose calibrations."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.calibration.imports import import_calibration, load_qualisys
from posekit.camera import save_calibration
from posekit.errors import CalibrationError

FX, FY = 1600.0, 1598.5  # px
CX, CY = 955.25, 541.75  # px, within the video image
LEFT, TOP = 8, 16  # the video image's offset on the sensor, px
DIST = [-0.05, 0.1, 0.001, -0.002, 0.01]  # OpenCV k1, k2, p1, p2, k3
# name, camera centre (mm), the point it looks at (mm), distortions
CAMS = [
    ("cam01", (0.0, -3000.0, 1000.0), (0.0, 0.0, 1000.0), [0.0] * 5),
    ("cam02", (2500.0, 1500.0, 2000.0), (100.0, -200.0, 900.0), DIST),
]


def _axes(centre: np.ndarray, target: np.ndarray) -> np.ndarray:
    """OpenCV camera axes (rows: right, down, forward) of a camera looking at target."""
    forward = (target - centre) / np.linalg.norm(target - centre)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    return np.array([right, np.cross(forward, right), forward])


def _qca(cams: list[tuple[str, tuple, tuple, list[float]]] = CAMS, drop: str = "") -> str:
    """Qualisys XML for ``cams``, written in Qualisys conventions; ``drop`` an attribute."""
    items = []
    for name, centre, target, (k1, k2, p1, p2, k3) in cams:
        rows = np.diag([1.0, -1.0, -1.0]) @ _axes(np.array(centre), np.array(target))
        rot = " ".join(f'r{i + 1}{j + 1}="{rows[i, j]!r}"' for i in range(3) for j in range(3))
        fov = f'left="{LEFT}" top="{TOP}" right="{LEFT + 1919}" bottom="{TOP + 1079}"'
        items.append(
            f'<camera active="1" serial="{name}" viewrotation="0">'
            f"<fov_video {fov}/>"
            f'<transform {rot} x="{centre[0]}" y="{centre[1]}" z="{centre[2]}"/>'
            f'<intrinsic focallength="9.3" focalLengthU="{FX * 64}" focalLengthV="{FY * 64}" '
            f'centerPointU="{(CX + LEFT) * 64}" centerPointV="{(CY + TOP) * 64}" skew="0" '
            f'radialDistortion1="{k1}" radialDistortion2="{k2}" radialDistortion3="{k3}" '
            f'tangentalDistortion1="{p1}" tangentalDistortion2="{p2}"/></camera>'
        )
    text = "<?xml version='1.0'?>\n<calibration><cameras>" + "".join(items)
    text += "</cameras></calibration>\n"
    return text.replace(f' {drop}="', ' dropped="') if drop else text


@pytest.fixture
def qca(tmp_path: Path) -> Path:
    path = tmp_path / "lab.qca.txt"
    path.write_text(_qca(), encoding="ascii")
    return path


def test_intrinsics_and_names(qca: Path) -> None:
    group = load_qualisys(qca)
    assert group.names == ["cam01", "cam02"]
    assert group.metadata["units"] == "mm"
    for cam, (_, _, _, dist) in zip(group, CAMS, strict=True):
        assert cam.size == (1920, 1080)
        np.testing.assert_allclose(cam.matrix, [[FX, 0, CX], [0, FY, CY], [0, 0, 1]])
        np.testing.assert_allclose(cam.dist, dist)


def test_extrinsics_give_opencv_pose(qca: Path) -> None:
    for cam, (_, centre, target, _) in zip(load_qualisys(qca), CAMS, strict=True):
        np.testing.assert_allclose(cam.center, centre, atol=1e-9)
        np.testing.assert_allclose(cam.rotation, _axes(np.array(centre), np.array(target)),
                                   atol=1e-12)


def test_known_points_project_to_expected_pixels(qca: Path) -> None:
    group = load_qualisys(qca)
    # cam01 at y = -3 m looks along +y; a point 0.5 m below its axis at 3 m depth.
    np.testing.assert_allclose(group["cam01"].project([0, 0, 500]), [CX, CY + FY / 6])
    np.testing.assert_allclose(group["cam01"].project([300, 0, 1000]), [CX + FX / 10, CY])
    # The looked-at point lands on the principal point whatever the distortion.
    for cam, (_, _, target, _) in zip(group, CAMS, strict=True):
        np.testing.assert_allclose(cam.project(target), [CX, CY], atol=1e-9)
    # Points above the target appear higher in the image (smaller v).
    assert group["cam02"].project([100, -200, 1200])[1] < CY


def test_projection_matches_opencv_with_distortion(qca: Path) -> None:
    cam = load_qualisys(qca)["cam02"]
    pts = np.random.default_rng(0).uniform(-800, 800, (50, 3)) + np.array([100, -200, 900])
    rvec, _ = cv2.Rodrigues(_axes(np.array(CAMS[1][1]), np.array(CAMS[1][2])))
    tvec = -_axes(np.array(CAMS[1][1]), np.array(CAMS[1][2])) @ np.array(CAMS[1][1])
    matrix = np.array([[FX, 0, CX], [0, FY, CY], [0, 0, 1]])
    ref, _ = cv2.projectPoints(pts, rvec, tvec, matrix, np.array(DIST))
    np.testing.assert_allclose(cam.project(pts), ref.reshape(-1, 2), atol=1e-6)


def test_round_trip_through_anipose_toml(qca: Path, tmp_path: Path) -> None:
    aniposelib = pytest.importorskip("aniposelib.cameras")
    group = import_calibration(qca)
    toml_path = save_calibration(group, tmp_path / "calibration.toml")
    pts = np.random.default_rng(1).uniform(-500, 500, (20, 3)) + np.array([0, 0, 1000])
    anipose = aniposelib.CameraGroup.load(str(toml_path))
    np.testing.assert_allclose(anipose.project(pts), group.project(pts), atol=1e-6)
    again = import_calibration(toml_path)
    assert again.names == group.names
    np.testing.assert_allclose(again.project(pts), group.project(pts), atol=1e-9)


@pytest.mark.parametrize(
    ("drop", "expected"),
    [("focalLengthV", r"'cam01'.*'focalLengthV'"), ("r23", r"'cam01'.*'r23'"),
     ("serial", "serial")],
)
def test_missing_attribute_names_file_and_camera(tmp_path: Path, drop: str,
                                                 expected: str) -> None:
    path = tmp_path / "broken.qca.txt"
    path.write_text(_qca(drop=drop), encoding="ascii")
    with pytest.raises(CalibrationError, match=rf"broken\.qca\.txt.*{expected}"):
        load_qualisys(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("not xml at all", "not a valid Qualisys XML"),
     ("<calibration><cameras/></calibration>", "no <cameras><camera>"),
     (_qca().replace('focalLengthU="', 'focalLengthU="x'), "not a number"),
     (_qca().replace('r11="', 'r11="3', 1), "'cam01'.*not a rotation matrix"),
     (_qca().replace('r11="', 'r11="-', 1), "'cam01'.*not a rotation matrix"),
     (_qca().replace('viewrotation="0"', 'viewrotation="90"'), "viewrotation")],
)
def test_malformed_files(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.qca.txt"
    path.write_text(text, encoding="ascii")
    with pytest.raises(CalibrationError, match=rf"bad\.qca\.txt.*{expected}"):
        import_calibration(path)


def test_dispatch_on_content_and_unknown_format(tmp_path: Path) -> None:
    xml = tmp_path / "export.txt"
    xml.write_text(_qca(), encoding="ascii")
    assert import_calibration(xml).names == ["cam01", "cam02"]
    other = tmp_path / "cams.json"
    other.write_text("{}", encoding="ascii")
    with pytest.raises(CalibrationError, match=r"cams\.json.*supported: Qualisys.*toml"):
        import_calibration(other)
    with pytest.raises(CalibrationError, match="not found"):
        import_calibration(tmp_path / "missing.qca.txt")


def test_install_calibration_replaces_only_with_overwrite_and_drops_the_old_report(
        tmp_path: Path) -> None:
    from posekit.calibration.imports import install_calibration
    from posekit.camera import load_calibration

    truth = Path(__file__).resolve().parents[2] / "example_project" / "ground-truth" / \
        "calibration.toml"
    output = tmp_path / "calibration" / "calibration.toml"
    group, removed = install_calibration(truth, output)
    assert removed == [] and load_calibration(output).names == group.names
    report = output.with_name("calibration_report.json")
    report.write_text("{}")
    with pytest.raises(CalibrationError, match="exists already; add --overwrite"):
        install_calibration(truth, output)
    assert report.is_file()
    _, removed = install_calibration(truth, output, overwrite=True)
    assert removed == [report] and not report.exists()
