"""3D keypoints as an NWB file (Neurodata Without Borders) with the ndx-pose extension, the
format DANDI and NWB-based neuroscience pipelines read pose from.

Optional: it needs ``pynwb`` and ``ndx-pose`` (``pip install "posekit[nwb]"``). The file
holds one ``PoseEstimation`` (``processing/behavior/PoseEstimation``) with a
``PoseEstimationSeries`` per keypoint: (n_frames, 3) positions stored in the calibration's
unit with the NWB ``conversion`` to metres, NaN where a point was not reconstructed, the
mean 2D score of the views used as ``confidence`` (0 where none), and the times of the
reference camera's frames (frame / fps, seconds); a ``Skeleton`` with the keypoints as
nodes and the bones as edges (``processing/behavior/Skeletons``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from posekit import __version__
from posekit.errors import ConfigError, PosekitError
from posekit.io.atomic import atomic_path

#: metres per calibration unit (the NWB ``conversion`` of the stored positions)
METRES_PER_UNIT = {"mm": 1e-3, "cm": 1e-2, "m": 1.0, "in": 0.0254}
#: the packages the NWB export needs
PACKAGES = ("pynwb", "ndx_pose")


def check_available() -> None:
    """Raise a :class:`ConfigError` saying how to install what the NWB export needs, when
    it is not installed (before any work is done)."""
    missing = [name for name in PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(
            f'[triangulation] formats includes "nwb", which needs {" and ".join(missing)} '
            '(not installed): pip install "posekit[nwb]", or leave "nwb" out of formats')


def write_nwb(
    path: str | os.PathLike[str],
    points: ArrayLike,
    keypoints: Sequence[str],
    fps: float,
    units: str,
    fnum: ArrayLike,
    scores: ArrayLike,
    bones: Sequence[tuple[int, int]],
    session_description: str,
    session_start: dt.datetime,
    reference_frame: str,
) -> Path:
    """Write the 3D keypoints to an NWB file at ``path`` (atomically) and return its path.

    ``points``: (n_frames, n_keypoints, 3) in ``units`` (NaN = not reconstructed);
    ``fnum``: the reference camera's frame numbers (n_frames,), times are ``fnum / fps``;
    ``scores``: (n_frames, n_keypoints) in 0..1 (NaN = none); ``bones``: index pairs;
    ``session_start``: when the recording started (timezone-aware); ``reference_frame``:
    where the origin and axes are, in words. The file's identifier is derived from the
    data, so the same 3D gives the same identifier.
    """
    check_available()
    from ndx_pose import PoseEstimation, PoseEstimationSeries, Skeleton, Skeletons
    from pynwb import NWBHDF5IO, NWBFile

    pts = np.asarray(points, dtype=np.float64)
    conf = np.nan_to_num(np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0), nan=0.0)
    frames = np.asarray(fnum, dtype=np.int64)
    names = list(keypoints)
    if pts.ndim != 3 or pts.shape[1:] != (len(names), 3) or len(frames) != len(pts) \
            or conf.shape != pts.shape[:2] or len(pts) == 0:
        raise PosekitError(f"{path}: NWB export needs (n_frames > 0, {len(names)}, 3) points "
                           f"with a frame number and a score each; got {pts.shape}")
    if len(names) > 256:  # ndx-pose stores the skeleton's edges as 8-bit indices
        raise PosekitError(f"{path}: NWB export holds at most 256 keypoints, not {len(names)}")
    if units not in METRES_PER_UNIT:
        raise PosekitError(f"{path}: unknown unit {units!r} (one of {list(METRES_PER_UNIT)})")
    if session_start.tzinfo is None:
        raise PosekitError(f"{path}: the session start time needs a time zone")
    digest = hashlib.sha256(pts.tobytes() + frames.tobytes() + "\0".join(names).encode())
    nwb = NWBFile(session_description=session_description,
                  identifier=str(uuid.uuid5(uuid.NAMESPACE_URL,
                                            f"posekit:{digest.hexdigest()}")),
                  session_start_time=session_start)
    skeleton = Skeleton(name="posekit", nodes=names,
                        edges=np.array(list(bones), dtype=np.uint8).reshape(-1, 2))
    contiguous = bool(np.all(np.diff(frames) == 1))
    timing: dict[str, object] = (
        {"starting_time": float(frames[0]) / fps, "rate": float(fps)} if contiguous
        else {"timestamps": frames / fps})
    series = [PoseEstimationSeries(
        name=name, description=f"3D position of {name}", data=pts[:, k],
        unit="meters", conversion=METRES_PER_UNIT[units], reference_frame=reference_frame,
        confidence=conf[:, k],
        confidence_definition="mean 2D detection score of the camera views used for the "
                              "point (0: not reconstructed)",
        **timing) for k, name in enumerate(names)]
    estimation = PoseEstimation(
        name="PoseEstimation", pose_estimation_series=series,
        description="3D keypoints triangulated from several cameras by posekit",
        scorer="posekit", source_software="posekit", source_software_version=__version__,
        skeleton=skeleton)
    behavior = nwb.create_processing_module(name="behavior",
                                            description="posekit's 3D keypoints")
    behavior.add(Skeletons(skeletons=[skeleton]))
    behavior.add(estimation)
    with atomic_path(path) as tmp, NWBHDF5IO(str(tmp), "w") as io:
        io.write(nwb)
    return Path(path)


def read_nwb_points(path: str | os.PathLike[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(keypoints, points (n_frames, n_keypoints, 3) in metres, times in seconds) of an NWB
    file written by :func:`write_nwb`."""
    check_available()
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(path), "r") as io:
        estimation = io.read().processing["behavior"]["PoseEstimation"]
        names = list(estimation.skeleton.nodes[:])
        series = [estimation.pose_estimation_series[name] for name in names]
        points = np.stack([s.data[:] * s.conversion for s in series], axis=1)
        times = np.asarray(series[0].get_timestamps(), dtype=np.float64)
    return names, points, times
