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
import toml

from posekit.camera.model import Camera, CameraGroup
from posekit.errors import CalibrationError
from posekit.io.atomic import write_text_atomic

_CAM_KEY = re.compile(r"^cam_(\d+)$")


def _plain(value: Any) -> Any:
    """Convert numpy scalars and arrays to plain Python for the TOML writer."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def calibration_from_dict(data: dict[str, Any], source: str = "calibration") -> CameraGroup:
    """Build a :class:`CameraGroup` from the parsed TOML tables."""
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
        raise CalibrationError(f"{source}: no [cam_N] tables found")
    numbered.sort(key=lambda item: item[0])
    cams = [Camera.from_dict(t, where=f"{source}: [cam_{i}]: ") for i, t in numbered]
    meta = data.get("metadata", {})
    return CameraGroup(cams, meta if isinstance(meta, dict) else {})


def load_calibration(path: str | os.PathLike[str]) -> CameraGroup:
    """Load an Anipose ``calibration.toml``; errors name the file and the table at fault."""
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(
            f"{path}: calibration file not found; run `posekit calibrate` or copy an "
            "Anipose calibration.toml there"
        )
    try:
        data = toml.loads(path.read_text(encoding="utf-8"))
    except (toml.TomlDecodeError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"{path}: not valid TOML ({exc})") from None
    return calibration_from_dict(data, source=str(path))


def calibration_to_dict(group: CameraGroup) -> dict[str, Any]:
    """The TOML tables of ``group`` (cameras as ``cam_0``, ``cam_1``, ... in order)."""
    out: dict[str, Any] = {f"cam_{i}": cam.to_dict() for i, cam in enumerate(group)}
    if group.metadata:
        out["metadata"] = dict(group.metadata)
    return _plain(out)


def save_calibration(group: CameraGroup, path: str | os.PathLike[str]) -> Path:
    """Write ``group`` as an Anipose ``calibration.toml`` atomically."""
    return write_text_atomic(path, toml.dumps(calibration_to_dict(group)))
