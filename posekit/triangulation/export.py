"""3D pose files other tools read: Anipose pose-3d CSV, OpenSim TRC and C3D.

Shapes used throughout: ``points`` (n_frames, n_keypoints, 3) with NaN where a keypoint was
not triangulated (a point with any NaN coordinate counts as missing); per-point ``errors``
(mean reprojection error, px), ``ncams`` (cameras used) and ``scores`` (mean 2D score), each
(n_frames, n_keypoints); ``fnum`` (n_frames,) frame numbers of the reference camera.

* **Anipose CSV** (:func:`write_anipose_csv`, :func:`read_anipose_csv`): one row per frame;
  for each keypoint ``<kp>_x, <kp>_y, <kp>_z, <kp>_error, <kp>_ncams, <kp>_score``, then
  ``M_00 … M_22`` (row-major), ``center_0 … center_2`` (repeated on every row), then
  ``fnum``. Missing points have empty x/y/z/error/score fields and ``ncams`` 0. ``M`` and
  ``center`` mean ``aligned = raw @ M.T - center`` (see :mod:`posekit.triangulation.align`).
* **TRC** (:func:`write_trc`, :func:`read_trc`): OpenSim's tab-separated marker file. Five
  header lines (``PathFileType``; the eight metadata keys; their values; ``Frame#``, ``Time``
  and the marker names, each followed by two empty cells; ``X1 Y1 Z1 X2 …``) then one row
  per frame. A missing marker is three empty fields, which OpenSim reads as NaN; every row
  ends in a tab so that OpenSim's row-length check holds when the last marker is missing.
* **C3D** (:func:`write_c3d`, :func:`read_c3d`): float-format C3D via the ``c3d`` package;
  missing points are marked invalid (residual -1) as the C3D convention says.

Every writer goes through :func:`posekit.io.atomic.atomic_path`.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from posekit.errors import PosekitError
from posekit.io.atomic import atomic_path

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
PathLike = str | os.PathLike[str]

_CSV_FIELDS = ("x", "y", "z", "error", "ncams", "score")
_M_COLUMNS = [f"M_{i}{j}" for i in range(3) for j in range(3)]
_CENTER_COLUMNS = [f"center_{i}" for i in range(3)]
_TRC_KEYS = ("DataRate", "CameraRate", "NumFrames", "NumMarkers", "Units", "OrigDataRate",
             "OrigDataStartFrame", "OrigNumFrames")


# --------------------------------------------------------------------------------------------
# Input checks shared by the writers


def _points(path: PathLike, points: ArrayLike, keypoints: Sequence[str]) -> FloatArray:
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[-1] != 3:
        raise PosekitError(
            f"{path}: points must have shape (n_frames, n_keypoints, 3), got {pts.shape}"
        )
    if pts.shape[1] != len(keypoints):
        raise PosekitError(
            f"{path}: {len(keypoints)} keypoint names for {pts.shape[1]} keypoints in points"
        )
    if len(set(keypoints)) != len(keypoints):
        dups = sorted({k for k in keypoints if list(keypoints).count(k) > 1})
        raise PosekitError(f"{path}: keypoint names must be unique; repeated: {dups}")
    bad = [k for k in keypoints if not k or any(c in k for c in "\t\r\n")]
    if bad:
        raise PosekitError(
            f"{path}: keypoint names must be non-empty, without tabs or line breaks; "
            f"got {bad!r}"
        )
    # A point with any NaN coordinate is missing as a whole.
    return np.where(np.isfinite(pts).all(axis=-1, keepdims=True), pts, np.nan)


def _per_point(path: PathLike, name: str, values: ArrayLike, shape: tuple[int, ...]
               ) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != shape:
        raise PosekitError(f"{path}: {name} must have shape {shape}, got {arr.shape}")
    return arr


def _frame_numbers(path: PathLike, fnum: ArrayLike | None, n_frames: int, start: int
                   ) -> IntArray:
    if fnum is None:
        return np.arange(start, start + n_frames, dtype=np.int64)
    arr = np.asarray(fnum)
    if arr.shape != (n_frames,):
        raise PosekitError(f"{path}: fnum must have shape ({n_frames},), got {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
        raise PosekitError(f"{path}: fnum must hold whole frame numbers")
    return arr.astype(np.int64)


# --------------------------------------------------------------------------------------------
# Anipose pose-3d CSV


@dataclass(frozen=True)
class Points3D:
    """One trial's 3D result as stored in an Anipose pose-3d CSV (shapes: module docstring).

    ``M`` (3, 3) and ``center`` (3,) are the world-frame alignment already applied to
    ``points`` (identity and zeros when none was).
    """

    points: FloatArray
    errors: FloatArray
    ncams: IntArray
    scores: FloatArray
    keypoints: list[str]
    fnum: IntArray
    M: FloatArray = field(default_factory=lambda: np.eye(3))
    center: FloatArray = field(default_factory=lambda: np.zeros(3))


def write_anipose_csv(
    path: PathLike,
    points: ArrayLike,
    errors: ArrayLike,
    ncams: ArrayLike,
    scores: ArrayLike,
    keypoints: Sequence[str],
    fnum: ArrayLike,
    M: ArrayLike | None = None,
    center: ArrayLike | None = None,
) -> Path:
    """Write an Anipose pose-3d CSV (layout in the module docstring) and return its path.

    Where a point is missing, x/y/z/error/score are written empty (NaN) and ncams 0,
    whatever ``errors``/``ncams``/``scores`` hold there; NaN ``ncams`` count as 0.
    """
    keypoints = list(keypoints)
    pts = _points(path, points, keypoints)
    shape = pts.shape[:2]
    missing = np.isnan(pts[..., 0])
    err = np.where(missing, np.nan, _per_point(path, "errors", errors, shape))
    scr = np.where(missing, np.nan, _per_point(path, "scores", scores, shape))
    cams = np.nan_to_num(_per_point(path, "ncams", ncams, shape), nan=0.0)
    cams = np.where(missing, 0, np.rint(cams)).astype(np.int64)
    frames = _frame_numbers(path, fnum, shape[0], 0)
    rot = np.eye(3) if M is None else np.asarray(M, dtype=np.float64)
    ctr = np.zeros(3) if center is None else np.asarray(center, dtype=np.float64)
    if rot.shape != (3, 3) or ctr.shape != (3,):
        raise PosekitError(
            f"{path}: M must have shape (3, 3) and center (3,), got {rot.shape}, {ctr.shape}"
        )

    columns: dict[str, NDArray[np.generic]] = {}
    for k, name in enumerate(keypoints):
        for a, axis in enumerate("xyz"):
            columns[f"{name}_{axis}"] = pts[:, k, a]
        columns[f"{name}_error"] = err[:, k]
        columns[f"{name}_ncams"] = cams[:, k]
        columns[f"{name}_score"] = scr[:, k]
    for col, value in zip(_M_COLUMNS + _CENTER_COLUMNS, [*rot.ravel(), *ctr], strict=True):
        columns[col] = np.full(shape[0], value)
    columns["fnum"] = frames
    with atomic_path(path) as tmp:
        pd.DataFrame(columns).to_csv(tmp, index=False, lineterminator="\n")
    return Path(path)


def read_anipose_csv(path: PathLike) -> Points3D:
    """Read an Anipose pose-3d CSV (ours or Anipose's) into :class:`Points3D`.

    Keypoints are found from their ``<kp>_x/_y/_z`` columns, in file order; each needs its
    ``_error``, ``_ncams`` and ``_score`` columns too, and the file needs ``fnum``. Empty
    ``ncams`` (Anipose writes NaN below two cameras) read as 0. Files without any ``M_ij`` /
    ``center_i`` columns (older Anipose) get the identity and zeros; a partial set is an error.
    """
    try:
        df = pd.read_csv(path, float_precision="round_trip")
    except FileNotFoundError:
        raise PosekitError(f"{path}: file not found; run triangulation first") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise PosekitError(f"{path}: not a readable pose-3d CSV ({exc})") from None
    cols = [str(c) for c in df.columns]
    present = set(cols)
    keypoints = [c[:-2] for c in cols
                 if c.endswith("_x") and f"{c[:-2]}_y" in present and f"{c[:-2]}_z" in present]
    needed = [f"{k}_{f}" for k in keypoints for f in _CSV_FIELDS] + ["fnum"]
    lacking = [c for c in needed if c not in present]
    if not keypoints or lacking:
        what = ", ".join(lacking[:8]) + (" …" if len(lacking) > 8 else "")
        raise PosekitError(
            f"{path}: not an Anipose pose-3d CSV: "
            + (f"missing columns {what}" if keypoints else "no <keypoint>_x/_y/_z columns")
            + "; rewrite it with posekit triangulate"
        )
    alignment = [c for c in _M_COLUMNS + _CENTER_COLUMNS if c in present]
    if alignment and len(alignment) != 12:
        absent = [c for c in _M_COLUMNS + _CENTER_COLUMNS if c not in present]
        raise PosekitError(f"{path}: alignment columns incomplete, missing {', '.join(absent)}")
    try:
        def block(suffix: str) -> FloatArray:
            return df[[f"{k}_{suffix}" for k in keypoints]].to_numpy(dtype=np.float64)

        n = len(df)
        pts = df[[f"{k}_{a}" for k in keypoints for a in "xyz"]].to_numpy(dtype=np.float64)
        ncams = np.nan_to_num(block("ncams"), nan=0.0).astype(np.int64)
        fnum_f = df["fnum"].to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(fnum_f)):
            raise PosekitError(f"{path}: the fnum column has empty or non-numeric entries")
        rot, ctr = np.eye(3), np.zeros(3)
        if alignment and n:
            rot = df[_M_COLUMNS].iloc[0].to_numpy(dtype=np.float64).reshape(3, 3)
            ctr = df[_CENTER_COLUMNS].iloc[0].to_numpy(dtype=np.float64)
        result = Points3D(points=pts.reshape(n, len(keypoints), 3), errors=block("error"),
                          ncams=ncams, scores=block("score"), keypoints=keypoints,
                          fnum=fnum_f.astype(np.int64), M=rot, center=ctr)
    except (ValueError, TypeError) as exc:
        raise PosekitError(f"{path}: non-numeric values in a pose-3d CSV ({exc})") from None
    return result


# --------------------------------------------------------------------------------------------
# TRC (OpenSim markers)


class TRCData(NamedTuple):
    """Contents of a TRC file: ``points`` (n_frames, n_markers, 3), NaN where missing."""

    points: FloatArray
    keypoints: list[str]
    fps: float
    units: str
    fnum: IntArray
    times: FloatArray


def _rate(fps: float) -> str:
    return str(int(fps)) if float(fps).is_integer() else repr(float(fps))


def write_trc(
    path: PathLike,
    points: ArrayLike,
    keypoints: Sequence[str],
    fps: float,
    units: str = "m",
    fnum: ArrayLike | None = None,
    first_time: float | None = None,
    decimals: int = 6,
) -> Path:
    """Write an OpenSim TRC marker file and return its path.

    ``fnum`` are the ``Frame#`` values (default 1, 2, …). Times are ``fnum / fps`` (the
    Pose2Sim convention) or, with ``first_time``, ``first_time + (fnum - fnum[0]) / fps``.
    Coordinates are written with ``decimals`` decimals, in ``points``' own ``units`` (the
    string is written as given, e.g. ``"m"`` or ``"mm"``; nothing is converted).
    """
    keypoints = list(keypoints)
    pts = _points(path, points, keypoints)
    n_frames, n_markers = pts.shape[:2]
    if not np.isfinite(fps) or fps <= 0:
        raise PosekitError(f"{path}: fps must be a positive number, got {fps}")
    if not units or any(c.isspace() for c in units):
        raise PosekitError(f"{path}: units must be a word such as 'm' or 'mm', got {units!r}")
    frames = _frame_numbers(path, fnum, n_frames, 1)
    if first_time is None:
        times = frames / fps
    else:
        times = first_time + (frames - (frames[0] if n_frames else 0)) / fps

    header = [
        f"PathFileType\t4\t(X/Y/Z)\t{Path(path).name}",
        "\t".join(_TRC_KEYS),
        "\t".join([_rate(fps), _rate(fps), str(n_frames), str(n_markers), units, _rate(fps),
                   str(frames[0] if n_frames else 1), str(n_frames)]),
        "Frame#\tTime\t" + "".join(f"{k}\t\t\t" for k in keypoints),
        "\t\t" + "".join(f"X{i}\tY{i}\tZ{i}\t" for i in range(1, n_markers + 1)),
    ]
    table = pd.DataFrame(pts.reshape(n_frames, 3 * n_markers))
    table.insert(0, "time", [repr(float(t)) for t in times])
    table.insert(0, "frame", frames)
    table["end"] = ""  # trailing tab: row length stays fixed when the last marker is missing
    buf = io.StringIO()
    table.to_csv(buf, sep="\t", header=False, index=False, na_rep="",
                 float_format=f"%.{decimals}f", lineterminator="\n")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(header) + "\n" + buf.getvalue(), encoding="utf-8")
    return Path(path)


def _trc_header(path: PathLike, lines: list[str]) -> tuple[dict[str, str], list[str]]:
    if len(lines) < 5 or not lines[0].startswith("PathFileType"):
        raise PosekitError(f"{path}: not a TRC file (the first line must start with "
                           "PathFileType and five header lines must follow)")
    keys, values = lines[1].split(), lines[2].split()
    if len(keys) != len(values) or not {"DataRate", "NumMarkers", "Units"} <= set(keys):
        raise PosekitError(f"{path}: TRC header lines 2-3 must give DataRate, NumMarkers and "
                           "Units with one value per key")
    labels = [t.strip() for t in lines[3].split("\t") if t.strip()]
    if labels[:2] != ["Frame#", "Time"]:
        raise PosekitError(f"{path}: TRC line 4 must start with Frame# and Time")
    return dict(zip(keys, values, strict=True)), labels[2:]


def read_trc(path: PathLike) -> TRCData:
    """Read a TRC marker file; empty fields and ``nan`` read as NaN.

    Accepts rows with or without a trailing tab and a blank line before the data.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            head = [fh.readline().rstrip("\r\n") for _ in range(5)]
    except FileNotFoundError:
        raise PosekitError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise PosekitError(f"{path}: not a text TRC file") from None
    meta, markers = _trc_header(path, head)
    try:
        fps, n_markers = float(meta["DataRate"]), int(meta["NumMarkers"])
    except ValueError:
        raise PosekitError(f"{path}: DataRate/NumMarkers in the TRC header are not numbers"
                           ) from None
    if len(markers) != n_markers:
        raise PosekitError(f"{path}: NumMarkers says {n_markers} but line 4 names "
                           f"{len(markers)} markers")
    n_cols = 2 + 3 * n_markers
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            data = pd.read_csv(path, sep="\t", header=None, skiprows=5, names=range(n_cols + 1),
                               index_col=False, skip_blank_lines=True, dtype=np.float64,
                               encoding="utf-8", float_precision="round_trip",
                               quoting=csv.QUOTE_NONE)
    except (pd.errors.ParserWarning, pd.errors.ParserError, ValueError) as exc:
        raise PosekitError(f"{path}: TRC data rows must hold Frame#, Time and 3 values per "
                           f"marker ({exc})") from None
    if data[n_cols].notna().any():
        raise PosekitError(f"{path}: TRC data rows have more values than 3 per marker")
    arr = data.to_numpy()[:, :n_cols]
    if not np.isfinite(arr[:, :2]).all():
        raise PosekitError(f"{path}: every TRC data row needs a frame number and a time")
    if "NumFrames" in meta and meta["NumFrames"] != str(len(arr)):
        log.warning("%s: NumFrames says %s but the file has %d data rows; using the rows",
                    path, meta["NumFrames"], len(arr))
    pts = arr[:, 2:].reshape(len(arr), n_markers, 3)
    pts = np.where(np.isfinite(pts).all(axis=-1, keepdims=True), pts, np.nan)
    return TRCData(points=pts, keypoints=markers, fps=fps, units=meta["Units"],
                   fnum=arr[:, 0].astype(np.int64), times=arr[:, 1].copy())


# --------------------------------------------------------------------------------------------
# C3D


class C3DData(NamedTuple):
    """Contents of a C3D file: ``points`` (n_frames, n_points, 3) and ``residuals``
    (n_frames, n_points), both NaN where a point is invalid."""

    points: FloatArray
    keypoints: list[str]
    fps: float
    units: str
    residuals: FloatArray
    first_frame: int


def write_c3d(
    path: PathLike,
    points: ArrayLike,
    keypoints: Sequence[str],
    fps: float,
    units: str = "mm",
    residuals: ArrayLike | None = None,
    first_frame: int = 1,
) -> Path:
    """Write a float-format C3D file (point data only) and return its path.

    Labels are the keypoint names (ASCII); ``POINT:UNITS`` is ``units`` as given (no
    conversion) and ``POINT:RATE`` is ``fps``. Missing points are invalid (residual -1).
    ``residuals`` (n_frames, n_keypoints, in ``units``; NaN = 0) are stored the C3D way, as
    an 8-bit multiple of ``|POINT:SCALE|``, which is chosen as the largest residual / 255, so
    their precision is about 0.4 % of the largest one; without them valid points get 0.
    """
    import c3d

    keypoints = list(keypoints)
    pts = _points(path, points, keypoints)
    n_frames, n_points = pts.shape[:2]
    if n_frames == 0 or n_points == 0:
        raise PosekitError(f"{path}: a C3D file needs at least one frame and one point")
    if not np.isfinite(fps) or fps <= 0:
        raise PosekitError(f"{path}: fps must be a positive number, got {fps}")
    if not all(k.isascii() for k in keypoints) or not units.isascii():
        raise PosekitError(f"{path}: C3D labels and units must be ASCII; rename the keypoints")
    res = (np.zeros(pts.shape[:2]) if residuals is None
           else np.nan_to_num(_per_point(path, "residuals", residuals, pts.shape[:2]), nan=0.0))
    res = np.clip(res, 0.0, None)
    top = float(res.max())
    # POINT:SCALE is a float32: a scale that underflows it would divide by zero
    scale = top / 255.0 if top / 255.0 >= np.finfo(np.float32).tiny else 1.0
    valid = ~np.isnan(pts[..., 0])

    data = np.zeros((n_frames, n_points, 5), dtype=np.float32)
    data[..., :3] = np.where(valid[..., None], pts, 0.0)
    data[..., 3] = np.where(valid, np.minimum(res, 255.0 * scale), -1.0)
    writer = c3d.Writer(point_rate=float(fps), point_scale=-scale, point_units=units)
    writer.set_point_labels(keypoints)
    writer.set_start_frame(int(first_frame))
    no_analog = np.zeros((0, 0), dtype=np.float32)
    writer.add_frames([(frame, no_analog) for frame in data])
    with atomic_path(path) as tmp, open(tmp, "wb") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # c3d warns that there is no analog data
        writer.write(fh)
    return Path(path)


def read_c3d(path: PathLike) -> C3DData:
    """Read the point data of a C3D file; invalid points (residual < 0) become NaN."""
    import c3d

    try:
        with open(path, "rb") as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "no analog data" and the like
            reader = c3d.Reader(fh)
            labels = [str(s).strip() for s in reader.point_labels]
            units_param = reader.get("POINT:UNITS")
            units = units_param.string_value.strip() if units_param is not None else ""
            frames = [pts for _, pts, _ in reader.read_frames(copy=True)]
            fps, first = float(reader.point_rate), int(reader.first_frame)
    except FileNotFoundError:
        raise PosekitError(f"{path}: file not found") from None
    except (OSError, ValueError, KeyError, AttributeError, struct.error) as exc:
        raise PosekitError(f"{path}: not a readable C3D file ({exc})") from None
    raw = (np.stack(frames).astype(np.float64) if frames
           else np.zeros((0, len(labels), 5)))
    valid = raw[..., 3] >= 0
    pts = np.where(valid[..., None], raw[..., :3], np.nan)
    return C3DData(points=pts, keypoints=labels, fps=fps, units=units,
                   residuals=np.where(valid, raw[..., 3], np.nan), first_frame=first)
