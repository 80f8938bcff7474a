"""World frame from the subject: Anipose's ``axes`` + ``reference_point`` alignment.

A config such as::

    [triangulation]
    axes = [["x", "hip_l", "hip_r"], ["z", "ankle", "knee"]]
    reference_point = "hip_l"

says: the x axis points from ``hip_l`` to ``hip_r``; the z axis points from ``ankle`` to
``knee``, made orthogonal to x; the remaining axis completes a right-handed frame; the origin
sits at ``hip_l``. Direction vectors are the NaN-aware median over frames of the per-frame
keypoint differences, so a moving subject gives its typical orientation.

Convention (the one Anipose writes in the ``M_ij`` / ``center_i`` columns of its pose-3d CSV)::

    aligned = points @ M.T - center

``M`` (3, 3) is a rotation whose *rows* are the new x, y and z axes expressed in the old
(calibration) frame, and ``center`` (3,) is the reference point's median position **in the
rotated frame** (``center == M @ c_old`` with ``c_old`` the reference point in the old frame,
up to the median being taken after rotation). Equivalently ``aligned = (points - c_old) @ M.T``.
The inverse is ``points = (aligned + center) @ M``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from posekit.errors import PosekitError

FloatArray = NDArray[np.float64]

_AXIS_INDEX = {"x": 0, "y": 1, "z": 2}
# Cyclic (first, second) pairs for which third = first × second is right-handed.
_CYCLIC = {(0, 1), (1, 2), (2, 0)}
_PARALLEL_SIN = 1e-6


def _as_points(points: ArrayLike) -> FloatArray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise PosekitError(
            f"3D points must have shape (n_frames, n_keypoints, 3), got {arr.shape}"
        )
    return arr


def _keypoint_index(name: str, keypoints: Sequence[str], what: str) -> int:
    try:
        return list(keypoints).index(name)
    except ValueError:
        raise PosekitError(
            f"{what} names keypoint {name!r}, which is not among the triangulated keypoints "
            f"({', '.join(keypoints)}); fix the name in the [triangulation] config"
        ) from None


def _parse_axis(spec: Sequence[str], keypoints: Sequence[str], i: int) -> tuple[int, int, int]:
    if isinstance(spec, str) or len(spec) != 3:
        raise PosekitError(
            f"triangulation.axes[{i}] must be [axis, from_keypoint, to_keypoint] such as "
            f'["x", "hip_l", "hip_r"], got {spec!r}'
        )
    letter, start, end = spec
    axis = _AXIS_INDEX.get(str(letter).lower())
    if axis is None:
        raise PosekitError(
            f"triangulation.axes[{i}] axis must be one of 'x', 'y', 'z', got {letter!r}"
        )
    what = f"triangulation.axes[{i}]"
    return axis, _keypoint_index(start, keypoints, what), _keypoint_index(end, keypoints, what)


def _seen(points: FloatArray) -> NDArray[np.bool_]:
    return np.isfinite(points).all(axis=-1)


def _median_difference(
    points: FloatArray, start: int, end: int, keypoints: Sequence[str], i: int
) -> FloatArray:
    """Median over frames of ``points[:, end] - points[:, start]`` (frames seeing both)."""
    seen = _seen(points)
    never = [keypoints[k] for k in (start, end) if not seen[:, k].any()]
    if never:
        raise PosekitError(
            f"triangulation.axes[{i}] uses keypoint(s) {', '.join(never)} that were never "
            "triangulated in this trial; choose keypoints that are visible"
        )
    both = seen[:, start] & seen[:, end]
    if not both.any():
        raise PosekitError(
            f"triangulation.axes[{i}]: keypoints {keypoints[start]} and {keypoints[end]} are "
            "never triangulated in the same frame; choose keypoints seen together"
        )
    diff = points[both, end] - points[both, start]
    vec: FloatArray = np.median(diff, axis=0)
    return vec


def alignment_from_keypoints(
    points: ArrayLike,
    keypoints: Sequence[str],
    axes: Sequence[Sequence[str]],
    reference_point: str,
) -> tuple[FloatArray, FloatArray]:
    """Rotation ``M`` (3, 3) and ``center`` (3,) that put the subject in a world frame.

    ``points`` is (n_frames, n_keypoints, 3) in the calibration frame, NaN where a keypoint
    was not triangulated (a point counts as seen only when all three coordinates are finite).
    ``axes`` holds two ``[letter, from_kp, to_kp]`` entries: the first axis points along the
    median of ``to_kp - from_kp``; the second is that median direction with its component
    along the first removed; the third is their cross product, ordered so that the frame is
    right-handed. ``reference_point`` becomes the origin: ``center`` is the median of its
    rotated positions, so its aligned median is exactly zero.

    Apply with :func:`apply_alignment`: ``aligned = points @ M.T - center`` — the meaning of
    Anipose's ``M_ij`` / ``center_i`` CSV columns (see the module docstring).

    Raises :class:`~posekit.errors.PosekitError` when a keypoint is unknown, the two entries
    use the same axis letter, a keypoint is never seen, or the two directions are (nearly)
    parallel or of zero length.
    """
    pts = _as_points(points)
    keypoints = list(keypoints)
    if pts.shape[1] != len(keypoints):
        raise PosekitError(
            f"{len(keypoints)} keypoint names for {pts.shape[1]} keypoints in the 3D points"
        )
    if isinstance(axes, str) or len(axes) != 2:
        raise PosekitError(
            "triangulation.axes must hold exactly two [axis, from_keypoint, to_keypoint] "
            f"entries, got {axes!r}"
        )
    a_axis, a_from, a_to = _parse_axis(axes[0], keypoints, 0)
    b_axis, b_from, b_to = _parse_axis(axes[1], keypoints, 1)
    if a_axis == b_axis:
        raise PosekitError(
            f"triangulation.axes entries both define axis {axes[0][0]!r}; give two different "
            "axes (for example 'x' and 'z')"
        )
    ref = _keypoint_index(reference_point, keypoints, "triangulation.reference_point")

    a_vec = _median_difference(pts, a_from, a_to, keypoints, 0)
    b_vec = _median_difference(pts, b_from, b_to, keypoints, 1)
    a_norm = float(np.linalg.norm(a_vec))
    b_norm = float(np.linalg.norm(b_vec))
    if a_norm == 0.0 or b_norm == 0.0:
        i = 0 if a_norm == 0.0 else 1
        raise PosekitError(
            f"triangulation.axes[{i}] has zero length: {axes[i][1]} and {axes[i][2]} are at "
            "the same place; choose two distinct keypoints"
        )
    a_unit = a_vec / a_norm
    b_perp = b_vec - a_unit * float(a_unit @ b_vec)
    if np.linalg.norm(b_perp) <= _PARALLEL_SIN * b_norm:
        raise PosekitError(
            f"triangulation.axes directions {axes[0][1]}→{axes[0][2]} and "
            f"{axes[1][1]}→{axes[1][2]} are parallel; choose keypoint pairs along "
            "different directions"
        )
    b_unit = b_perp / np.linalg.norm(b_perp)
    c_axis = 3 - a_axis - b_axis
    third = np.cross(a_unit, b_unit) if (a_axis, b_axis) in _CYCLIC else np.cross(b_unit, a_unit)

    rot = np.empty((3, 3))
    rot[a_axis], rot[b_axis], rot[c_axis] = a_unit, b_unit, third

    ref_seen = _seen(pts)[:, ref]
    if not ref_seen.any():
        raise PosekitError(
            f"triangulation.reference_point {reference_point!r} was never triangulated in this "
            "trial; choose a visible keypoint"
        )
    center: FloatArray = np.median(pts[ref_seen, ref] @ rot.T, axis=0)
    return rot, center


def apply_alignment(points: ArrayLike, M: ArrayLike, center: ArrayLike) -> FloatArray:
    """``points @ M.T - center`` for points of shape (..., 3); NaN stays NaN."""
    rot, ctr = _check_transform(M, center)
    pts = np.asarray(points, dtype=np.float64)
    if pts.shape[-1:] != (3,):
        raise PosekitError(f"3D points must end in a dimension of size 3, got {pts.shape}")
    out: FloatArray = pts @ rot.T - ctr
    return out


def undo_alignment(aligned: ArrayLike, M: ArrayLike, center: ArrayLike) -> FloatArray:
    """Inverse of :func:`apply_alignment`: ``(aligned + center) @ M`` (M a rotation)."""
    rot, ctr = _check_transform(M, center)
    pts = np.asarray(aligned, dtype=np.float64)
    if pts.shape[-1:] != (3,):
        raise PosekitError(f"3D points must end in a dimension of size 3, got {pts.shape}")
    out: FloatArray = (pts + ctr) @ rot
    return out


def _check_transform(M: ArrayLike, center: ArrayLike) -> tuple[FloatArray, FloatArray]:
    rot = np.asarray(M, dtype=np.float64)
    ctr = np.asarray(center, dtype=np.float64)
    if rot.shape != (3, 3) or ctr.shape != (3,):
        raise PosekitError(
            f"alignment needs M of shape (3, 3) and center of shape (3,), got {rot.shape} "
            f"and {ctr.shape}"
        )
    return rot, ctr
