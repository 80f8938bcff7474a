"""Import calibrations made by other tools as posekit :class:`CameraGroup` objects.

Supported formats:

- Qualisys Track Manager calibration exports (``*.qca.txt``, XML), see :func:`load_qualisys`.
- Anipose / FreeMoCap ``calibration.toml``, read as is by
  :func:`posekit.camera.toml_io.load_calibration`.

:func:`import_calibration` picks the reader from the file name (or, failing that, from the
first bytes of the file).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from posekit.camera.model import Camera, CameraGroup, matrix_to_rodrigues
from posekit.camera.toml_io import load_calibration
from posekit.errors import CalibrationError

#: Qualisys stores image positions and focal lengths in sub-pixels: 64 per pixel.
SUBPIXELS_PER_PIXEL = 64.0

#: Qualisys camera axes are x right, y up, z backwards (the camera looks along -z); OpenCV's
#: are x right, y down, z forwards: a half turn about x.
_QUALISYS_TO_OPENCV = np.diag([1.0, -1.0, -1.0])

_FOV = ("left", "top", "right", "bottom")
_TRANSFORM = (*(f"r{i}{j}" for i in (1, 2, 3) for j in (1, 2, 3)), "x", "y", "z")
_INTRINSIC = (
    "focalLengthU", "focalLengthV", "centerPointU", "centerPointV", "skew",
    "radialDistortion1", "radialDistortion2", "tangentalDistortion1",
    "tangentalDistortion2", "radialDistortion3",
)

SUPPORTED_FORMATS = (
    "Qualisys calibration export (.qca.txt or .xml) and "
    "Anipose / FreeMoCap calibration.toml (.toml)"
)


def _numbers(camera: ET.Element, tag: str, names: tuple[str, ...], where: str) -> list[float]:
    """The float attributes ``names`` of ``camera``'s child element ``<tag>``."""
    element = camera.find(tag)
    if element is None:
        raise CalibrationError(f"{where}: no <{tag}> element")
    values = []
    for name in names:
        text = element.get(name)
        if text is None:
            raise CalibrationError(f"{where}: <{tag}> lacks the attribute {name!r}")
        try:
            values.append(float(text))
        except ValueError:
            raise CalibrationError(
                f"{where}: <{tag} {name}={text!r}> is not a number"
            ) from None
    return values


def _parse_root(path: Path) -> ET.Element:
    if not path.is_file():
        raise CalibrationError(f"{path}: calibration file not found")
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise CalibrationError(f"{path}: not a valid Qualisys XML calibration ({exc})") from None
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read the file ({exc})") from None


def load_qualisys(path: str | os.PathLike[str]) -> CameraGroup:
    """Load a Qualisys Track Manager calibration export (``.qca.txt``, XML).

    One camera per ``<camera>`` element, named by its ``serial`` attribute, in file order.
    The conversion to OpenCV conventions is:

    - image size ``(right - left + 1, bottom - top + 1)`` of ``<fov_video>``;
    - ``fx, fy = focalLengthU / 64, focalLengthV / 64``, skew ``= skew / 64`` and
      ``cx, cy = centerPointU / 64 - left, centerPointV / 64 - top`` (Qualisys works in
      sub-pixels of 1/64 px on the full sensor; the video image starts at ``left, top``);
    - distortions ``(k1, k2, p1, p2, k3)`` are ``radialDistortion1``, ``radialDistortion2``,
      ``tangentalDistortion1``, ``tangentalDistortion2``, ``radialDistortion3`` unchanged
      (they act on normalised image coordinates, so they have no unit to convert);
    - ``<transform>`` is the camera pose in the world: ``x, y, z`` is the camera centre
      ``C`` and the rows of ``Rq = [[r11, r12, r13], ...]`` are the Qualisys camera axes in
      world coordinates (``Rq`` turns world into camera directions). Qualisys cameras look
      along their -z axis with y up, so world → OpenCV camera is
      ``R = diag(1, -1, -1) @ Rq`` and ``t = -R @ C``.

    Translations stay in millimetres, the Qualisys unit (the group's metadata says
    ``units = "mm"``); posekit's ``[calibration] units`` default is also mm.

    Raises:
        CalibrationError: the file is missing, not XML, has no cameras, a camera lacks an
            element or attribute, a value is not numeric or the rotation is not a rotation.
            The message names the file and the camera.
    """
    path = Path(path)
    root = _parse_root(path)
    elements = root.findall("./cameras/camera")
    if not elements:
        raise CalibrationError(
            f"{path}: no <cameras><camera> elements; not a Qualisys calibration export"
        )
    names: list[str] = []
    fov, pose, intrinsic = [], [], []
    for index, element in enumerate(elements):
        serial = element.get("serial")
        where = f"{path}: camera {serial!r}" if serial else f"{path}: <camera> #{index + 1}"
        if not serial:
            raise CalibrationError(f"{where} lacks the attribute 'serial' (the camera name)")
        rotation = element.get("viewrotation", "0").strip()
        if rotation not in ("0", ""):
            raise CalibrationError(
                f"{where}: viewrotation={rotation!r} is not supported; export the calibration "
                "with the camera's view rotation set to 0"
            )
        names.append(serial)
        fov.append(_numbers(element, "fov_video", _FOV, where))
        pose.append(_numbers(element, "transform", _TRANSFORM, where))
        intrinsic.append(_numbers(element, "intrinsic", _INTRINSIC, where))

    fov_a, pose_a, intr_a = np.array(fov), np.array(pose), np.array(intrinsic)
    left, top = fov_a[:, 0], fov_a[:, 1]
    sizes = (fov_a[:, 2:4] - fov_a[:, 0:2] + 1).astype(int)
    fx, fy, cu, cv, skew = (intr_a[:, :5] / SUBPIXELS_PER_PIXEL).T
    matrices = np.zeros((len(names), 3, 3))
    matrices[:, 0, 0], matrices[:, 0, 1], matrices[:, 0, 2] = fx, skew, cu - left
    matrices[:, 1, 1], matrices[:, 1, 2], matrices[:, 2, 2] = fy, cv - top, 1.0
    dists = intr_a[:, 5:]

    rq = pose_a[:, :9].reshape(-1, 3, 3)
    error = np.abs(np.einsum("nji,njk->nik", rq, rq) - np.eye(3)).max(axis=(1, 2))
    for name, err, det in zip(names, error, np.linalg.det(rq), strict=True):
        if not (err < 1e-3 and det > 0):
            raise CalibrationError(
                f"{path}: camera {name!r}: <transform> r11..r33 is not a rotation matrix "
                f"(|R^T R - I| = {err:.3g}, det R = {det:.3g})"
            )
    rotations = _QUALISYS_TO_OPENCV @ rq
    tvecs = -np.einsum("nij,nj->ni", rotations, pose_a[:, 9:])

    try:
        cameras = [
            Camera(name, (int(s[0]), int(s[1])), k, d, matrix_to_rodrigues(r), t)
            for name, s, k, d, r, t in zip(
                names, sizes, matrices, dists, rotations, tvecs, strict=True
            )
        ]
        return CameraGroup(cameras, {"units": "mm", "source": "qualisys"})
    except CalibrationError as exc:
        raise CalibrationError(f"{path}: {exc}") from None


def import_calibration(path: str | os.PathLike[str]) -> CameraGroup:
    """Load a calibration made by another tool, choosing the reader from the file.

    ``*.qca.txt``, ``*.qca`` and ``*.xml`` files (or any file whose content starts with
    ``<``) are read as Qualisys exports (:func:`load_qualisys`, translations in mm);
    ``*.toml`` files as Anipose / FreeMoCap ``calibration.toml`` (units as written).

    Raises:
        CalibrationError: the file is missing, of an unsupported format, or malformed.
    """
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".toml"):
        return load_calibration(path)
    if name.endswith((".qca.txt", ".qca", ".xml")):
        return load_qualisys(path)
    if not path.is_file():
        raise CalibrationError(f"{path}: calibration file not found")
    try:
        with path.open("rb") as handle:
            head = handle.read(256).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read the file ({exc})") from None
    if head.startswith(b"<"):
        return load_qualisys(path)
    raise CalibrationError(
        f"{path}: unrecognised calibration format; supported: {SUPPORTED_FORMATS}"
    )


def install_calibration(source: str | os.PathLike[str], output: Path, overwrite: bool = False
                        ) -> tuple[CameraGroup, list[Path]]:
    """Import ``source`` (:func:`import_calibration`) as the calibration ``output``
    (a project's ``calibration.toml``), written atomically. An existing calibration is
    replaced only with ``overwrite``, and then the report files ``posekit calibrate`` left
    beside it are removed, since they would pass for the new one's. Returns the cameras
    and the report files removed.

    Raises:
        CalibrationError: ``source`` cannot be read, or ``output`` exists and
            ``overwrite`` is false.
    """
    from posekit.calibration.report import REPORT_FILES
    from posekit.camera.toml_io import save_calibration
    from posekit.io.atomic import mark_complete, marked_incomplete

    group = import_calibration(source)
    if output.is_file() and not marked_incomplete(output) and not overwrite:
        raise CalibrationError(
            f"{output} exists already; add --overwrite to replace it with {Path(source).name} "
            "(then `posekit calibrate --overwrite` would make it from the calibration "
            "recordings again, if there are any)")
    save_calibration(group, output)
    mark_complete([output])  # a marker a killed calibrate left no longer applies
    stale = [p for p in (output.with_name(n) for n in REPORT_FILES) if p.is_file()]
    for path in stale:
        path.unlink()
    return group, stale
