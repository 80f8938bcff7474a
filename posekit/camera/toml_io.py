"""Read and write Anipose-format ``calibration.toml`` files.

The format has one ``[cam_N]`` table per camera (``name``, ``size``, ``matrix``,
``distortions``, ``rotation`` as a Rodrigues vector, ``translation``, optional ``fisheye``)
and an optional ``[metadata]`` table. aniposelib, Anipose, FreeMoCap, Pose2Sim and sleap-io
read it. posekit orders cameras by the number in ``cam_N`` (``cam_10`` after ``cam_2``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from posekit.camera.model import Camera, CameraGroup
from posekit.errors import CalibrationError
from posekit.io.tomlfile import TOMLDecodeError, parse_toml, plain, write_toml_atomic

_CAM_KEY = re.compile(r"^cam_(\d+)$")
#: What a bad calibration file's message ends with.
FIX = ("correct that value, or make the file again (`posekit calibrate --overwrite`, or "
       "`posekit calibrate import` from the tool that calibrated)")
#: Distortion coefficients posekit reads: OpenCV's (k1, k2, p1, p2[, k3]) for pinhole
#: cameras, (k1, k2, k3, k4) for fisheye ones; longer OpenCV vectors whose extra terms are
#: all zero are accepted too.
PINHOLE_DIST = (4, 5, 8, 12, 14)
FISHEYE_DIST = (4,)
_CAMERA_KEYS = ("name", "size", "matrix", "distortions", "rotation", "translation")


def _numbers(value: Any) -> NDArray[np.float64] | None:
    """``value`` as a float array when it is a (nested) list of numbers, else None."""
    def ok(v: Any) -> bool:
        if isinstance(v, list):
            return all(ok(x) for x in v)
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if not isinstance(value, list) or not ok(value):
        return None
    try:
        return np.asarray(value, dtype=np.float64)
    except ValueError:  # ragged nesting
        return None


def _shape_text(value: Any) -> str:
    """How a malformed list looks, for messages: ``2 x 3``, ``3 values``, ``ragged``."""
    if not isinstance(value, list):
        return f"a {type(value).__name__} ({value!r:.40})"
    if value and all(isinstance(v, list) for v in value):
        lengths = sorted({len(v) for v in value})
        if len(lengths) == 1:
            return f"{len(value)} x {lengths[0]}"
        return f"{len(value)} rows of {'/'.join(map(str, lengths))} values"
    return f"{len(value)} values"


def _check_camera(table: dict[str, Any], where: str) -> None:
    """Raise a :class:`CalibrationError` naming the key when a ``[cam_N]`` table of an
    Anipose calibration is malformed (``where``: ``"<file>: [cam_N]"``)."""
    def bad(key: str, problem: str) -> CalibrationError:
        return CalibrationError(f"{where}: {key}: {problem}; {FIX}")

    missing = [k for k in _CAMERA_KEYS if k not in table]
    if missing:
        raise CalibrationError(
            f"{where}: missing key(s) {', '.join(missing)}; every [cam_N] table needs "
            f"{', '.join(_CAMERA_KEYS)}; {FIX}")
    name = table["name"]
    if not isinstance(name, (str, int)) or isinstance(name, bool) or not str(name).strip():
        raise bad("name", f"must be the camera's name as in the video file names (e.g. "
                          f"\"cam1\"), got {name!r}")
    fisheye = table.get("fisheye", False)
    if not isinstance(fisheye, bool):
        raise bad("fisheye", f"must be true or false, got {fisheye!r}")
    shapes = {"size": ((2,), "[width, height] in pixels"),
              "matrix": ((3, 3), "3 rows of 3 numbers, [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]"),
              "rotation": ((3,), "3 numbers (a Rodrigues vector, not a 3 x 3 matrix)"),
              "translation": ((3,), "3 numbers")}
    values: dict[str, NDArray[np.float64]] = {}
    for key in (*shapes, "distortions"):
        arr = _numbers(table[key])
        if arr is None or arr.ndim == 0:
            expected = shapes[key][1] if key in shapes else "a list of numbers"
            raise bad(key, f"must be {expected}, got {_shape_text(table[key])}")
        if key in shapes and arr.shape != shapes[key][0]:
            raise bad(key, f"must be {shapes[key][1]}, got {_shape_text(table[key])}")
        if not np.isfinite(arr).all():
            raise bad(key, f"contains NaN or infinite values ({table[key]!r:.80})")
        values[key] = arr
    if (values["size"] <= 0).any() or (values["size"] % 1 != 0).any():
        raise bad("size", f"must be [width, height] in whole pixels, got {table['size']!r}")
    k = values["matrix"]
    if k[0, 0] <= 0 or k[1, 1] <= 0:
        raise bad("matrix", f"focal lengths fx = matrix[0][0] = {k[0, 0]:g} and fy = "
                            f"matrix[1][1] = {k[1, 1]:g} must be positive (a zero one makes "
                            "the matrix singular)")
    if not np.allclose(k[2], (0.0, 0.0, 1.0)) or abs(k[1, 0]) > 1e-9:
        raise bad("matrix", "is not an intrinsic matrix: the last row must be [0, 0, 1] and "
                            f"matrix[1][0] zero, got {k.tolist()}")
    dist = values["distortions"]
    allowed = FISHEYE_DIST if fisheye else PINHOLE_DIST
    if dist.ndim != 1 or dist.size not in allowed:
        model = ("fisheye: 4 values (k1, k2, k3, k4)" if fisheye else
                 "pinhole: 5 values (k1, k2, p1, p2, k3) or 4 (k1, k2, p1, p2)")
        raise bad("distortions", f"must be {model}, got {_shape_text(table['distortions'])}"
                                 " (write zeros for terms the lens model does not use)")


def calibration_from_dict(data: dict[str, Any], source: str = "calibration") -> CameraGroup:
    """Build a :class:`CameraGroup` from the parsed TOML tables.

    Every ``[cam_N]`` table is checked key by key: the :class:`CalibrationError` names
    ``source``, the table and the key, and says what to do."""
    numbered: list[tuple[int, dict[str, Any]]] = []
    for key, table in data.items():
        if key == "metadata":
            continue
        match = _CAM_KEY.match(key)
        if match is None or not isinstance(table, dict):
            raise CalibrationError(
                f"{source}: unexpected table [{key}]; expected [cam_0], [cam_1], ... and "
                "[metadata]"
            )
        numbered.append((int(match.group(1)), table))
    if not numbered:
        raise CalibrationError(f"{source}: no [cam_N] tables found; an Anipose "
                               "calibration.toml has one [cam_N] table per camera")
    numbered.sort(key=lambda item: item[0])
    cams = []
    for i, table in numbered:
        where = f"{source}: [cam_{i}]"
        _check_camera(table, where)
        try:
            cams.append(Camera.from_dict(table, where=f"{where}: "))
        except CalibrationError as exc:
            raise CalibrationError(f"{exc}; {FIX}") from None
    meta = data.get("metadata", {})
    try:
        return CameraGroup(cams, meta if isinstance(meta, dict) else {})
    except CalibrationError as exc:  # duplicate names
        raise CalibrationError(f"{source}: {exc}; give every [cam_N] its own name") from None


def _parse(path: Path, text: str) -> dict[str, Any]:
    """The TOML tables of ``text``, read as TOML 1.0 (arrays may mix integers and floats;
    ``nan`` and ``inf`` are read, and refused later by the camera checks)."""
    try:
        return parse_toml(text)
    except (TOMLDecodeError, ValueError, RecursionError) as exc:
        raise CalibrationError(
            f"{path}: not valid TOML ({exc}); correct the syntax there, or make the file "
            "again (`posekit calibrate --overwrite`)") from None


def load_calibration(path: str | os.PathLike[str]) -> CameraGroup:
    """Load an Anipose ``calibration.toml``; errors name the file, the table and the key
    at fault."""
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(
            f"{path}: calibration file not found; run `posekit calibrate` or copy an "
            "Anipose calibration.toml there"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CalibrationError(f"{path}: not valid TOML (not UTF-8 text); is this a "
                               "calibration.toml? make it again with `posekit calibrate "
                               "--overwrite`") from None
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    return calibration_from_dict(_parse(path, text), source=str(path))


def calibration_to_dict(group: CameraGroup) -> dict[str, Any]:
    """The TOML tables of ``group`` (cameras as ``cam_0``, ``cam_1``, ... in order)."""
    out: dict[str, Any] = {f"cam_{i}": cam.to_dict() for i, cam in enumerate(group)}
    if group.metadata:
        out["metadata"] = dict(group.metadata)
    result: dict[str, Any] = plain(out)
    return result


def save_calibration(group: CameraGroup, path: str | os.PathLike[str]) -> Path:
    """Write ``group`` as an Anipose ``calibration.toml`` atomically."""
    return write_toml_atomic(path, calibration_to_dict(group))
