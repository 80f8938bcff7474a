"""Angle series from 3D keypoints, vectorised over frames.

Shapes: keypoint positions are ``(n_frames, 3)`` arrays (any length unit: angles do not
depend on it), angles come back as ``(n_frames,)`` arrays in degrees. NaN in → NaN out: a
frame where a keypoint the angle needs is NaN, or where the geometry leaves the angle
undefined (a zero-length segment, an axis along the world x axis for ``axis`` /
``cross-axis``, three collinear points for ``cross-axis``), is NaN, never a made-up 0.

The four forms are Anipose's (``compute_angles.py``), reproduced from their definitions:

- :func:`inner_angle` (``[a, b, c]``): angle at b between b→a and b→c, in [0, 180].
- :func:`axis_angle` (``["axis", a, b, c]``): with the axis z along b→a, x the world x
  axis made perpendicular to z and y = z × x, the direction of the vector c→b in the
  (x, y) plane, ``atan2(y, x)`` in (-180, 180].
- :func:`cross_axis_angle` (``["cross-axis", a, b, c]``): with z the normal
  (a − b) × (b − c) of the plane of the three points, x and y as above, the direction of
  a→c in that plane, in (-180, 180].
- :func:`chain_angles` (``["chain", k0, ..., kn]``): one frame per segment (z along the
  segment, x towards the next segment's bend, y = z × x) and, per joint, the extrinsic
  z-y-x Euler angles of the segment's frame relative to the previous one (the first
  relative to the world): y = flexion, z = rotation, x = abduction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from posekit.angles.definitions import AngleDefinition
from posekit.errors import PosekitError

FloatArray = NDArray[np.float64]

_EX = np.array([1.0, 0.0, 0.0])
_EY = np.array([0.0, 1.0, 0.0])
#: Vectors shorter than this (after normalising the inputs) count as zero: undefined.
_TINY = 1e-9


def _vec(x: ArrayLike) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.shape[-1] != 3:
        raise PosekitError(f"3D positions must have shape (n_frames, 3), got {arr.shape}")
    return arr


def _unit(v: FloatArray) -> FloatArray:
    """``v / |v|`` along the last axis; NaN where ``|v|`` is (nearly) zero."""
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > _TINY, v / norm, np.nan)


def _perp(v: ArrayLike, z: FloatArray) -> FloatArray:
    """The part of ``v`` perpendicular to the unit vectors ``z`` (n, 3)."""
    v = np.broadcast_to(np.asarray(v, dtype=np.float64), z.shape)
    return v - np.sum(v * z, axis=-1, keepdims=True) * z


def _wrap(deg: FloatArray) -> FloatArray:
    """Degrees wrapped to [-180, 180)."""
    return np.mod(deg + 180.0, 360.0) - 180.0


def inner_angle(a: ArrayLike, b: ArrayLike, c: ArrayLike) -> FloatArray:
    """Angle at ``b`` between b→a and b→c, degrees in [0, 180] (180 = straight).

    Computed as ``atan2(|u × v|, u · v)``, accurate near 0 and 180 too.
    """
    u = _unit(_vec(a) - _vec(b))
    v = _unit(_vec(c) - _vec(b))
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(u, v), axis=-1),
                                 np.sum(u * v, axis=-1)))


def _direction_about(vec: FloatArray, z: FloatArray) -> FloatArray:
    """Direction (degrees) of ``vec`` about the unit axis ``z``, from the world x axis
    made perpendicular to ``z`` (NaN where ``z`` is along the world x axis)."""
    x = _unit(_perp(_EX, z))
    y = np.cross(z, x)
    return np.degrees(np.arctan2(np.sum(vec * y, axis=-1), np.sum(vec * x, axis=-1)))


def axis_angle(a: ArrayLike, b: ArrayLike, c: ArrayLike) -> FloatArray:
    """Anipose's ``axis`` angle (module docstring), degrees in (-180, 180]."""
    pa, pb, pc = _vec(a), _vec(b), _vec(c)
    return _direction_about(pb - pc, _unit(pa - pb))


def cross_axis_angle(a: ArrayLike, b: ArrayLike, c: ArrayLike) -> FloatArray:
    """Anipose's ``cross-axis`` angle (module docstring), degrees in (-180, 180]."""
    pa, pb, pc = _vec(a), _vec(b), _vec(c)
    normal = _unit(np.cross(pa - pb, pb - pc))
    return _direction_about(pc - pa, normal)


def _segment_frames(pts: FloatArray, flip: Sequence[bool]) -> list[FloatArray]:
    """Rotation matrices (n, 3, 3), columns x, y, z, of each segment of the chain ``pts``
    (n, m, 3): z along the segment; x towards the next segment (negated where that joint
    is flipped), or for the last segment any direction perpendicular to z (no output
    depends on it)."""
    m = pts.shape[1]
    frames = []
    for j in range(m - 1):
        z = _unit(pts[:, j + 1] - pts[:, j])
        if j < m - 2:
            x = _perp(pts[:, j + 2] - pts[:, j + 1], z) * (-1.0 if flip[j + 1] else 1.0)
        else:
            x = _perp(_EX, z)
            weak = np.linalg.norm(x, axis=-1) < 1e-5
            x[weak] = _perp(_EY, z[weak])
        x = _unit(x)
        frames.append(np.stack([x, np.cross(z, x), z], axis=-1))
    return frames


def _euler_zyx(rot: FloatArray) -> FloatArray:
    """Extrinsic z-y-x Euler angles (n, 3) = (about z, about y, about x) in degrees of
    rotation matrices (n, 3, 3), ``R = Rx(x) Ry(y) Rz(z)``, y in [-90, 90]."""
    r = rot + 0.0  # -0.0 → 0.0, so that atan2 gives 180 rather than -180 at the seam
    about_y = np.arcsin(np.clip(r[:, 0, 2], -1.0, 1.0))
    about_z = np.arctan2(0.0 - r[:, 0, 1], r[:, 0, 0])
    about_x = np.arctan2(0.0 - r[:, 1, 2], r[:, 2, 2])
    return np.degrees(np.stack([about_z, about_y, about_x], axis=-1)) + 0.0


def chain_angles(points: ArrayLike, names: Sequence[str],
                 flip: Sequence[bool] | None = None) -> dict[str, FloatArray]:
    """Anipose's ``chain`` angles of keypoints ``points`` (n_frames, m, 3), m >= 2.

    Joint ``i`` (``i = 0 .. m-2``, named ``names[i]``) is the rotation from segment
    ``i-1``'s frame to segment ``i``'s (segment ``-1`` being the world axes), as extrinsic
    z-y-x Euler angles. Returned columns, in this order per joint: ``<name>_flex`` (about
    y), ``<name>_rot`` (about z; not for the last joint, whose twist is undefined) and,
    for the first joint only, ``<name>_abduct`` (about x). For joints ``i >= 1`` the
    Euler branch is chosen so that the flexion equals the inner angle at ``names[i]``
    (negated where ``flip[i]``), as Anipose does.
    """
    pts = np.asarray(points, dtype=np.float64)
    m = pts.shape[1] if pts.ndim == 3 else 0
    if pts.ndim != 3 or pts.shape[2] != 3 or m < 2 or len(names) != m:
        raise PosekitError(f"chain points must be (n_frames, m >= 2, 3) with m names; got "
                           f"{pts.shape} and {len(names)} names")
    flips = [False] * m if flip is None else [bool(f) for f in flip]
    frames = _segment_frames(pts, flips)
    n = pts.shape[0]
    previous = np.broadcast_to(np.eye(3), (n, 3, 3))
    out: dict[str, FloatArray] = {}
    for i, frame in enumerate(frames):
        ang = _euler_zyx(np.einsum("nji,njk->nik", previous, frame))  # previous^T @ frame
        if i > 0:
            signed = inner_angle(pts[:, i - 1], pts[:, i], pts[:, i + 1]) \
                * (-1.0 if flips[i] else 1.0)
            other = ~np.isclose(signed, ang[:, 1])
            # the equivalent Euler triple (z + 180, 180 - y, x + 180); x is not reported
            ang[:, 0] += 180.0 * other
            ang[:, 1] = np.where(other, 180.0 - ang[:, 1], ang[:, 1])
            ang = _wrap(ang)
        out[f"{names[i]}_flex"] = ang[:, 1]
        if i != len(frames) - 1:
            out[f"{names[i]}_rot"] = ang[:, 0]
        if i == 0:
            out[f"{names[i]}_abduct"] = ang[:, 2]
        previous = frame
    return out


def definition_angles(points: FloatArray, keypoints: Sequence[str],
                      definition: AngleDefinition) -> dict[str, FloatArray]:
    """The columns of one definition from points (n_frames, n_keypoints, 3)."""
    index = {k: i for i, k in enumerate(keypoints)}
    try:
        sel = points[:, [index[k] for k in definition.keypoints]]
    except KeyError as exc:
        raise PosekitError(f"angle {definition.name}: keypoint {exc.args[0]!r} is not in "
                           f"the 3D data ({', '.join(keypoints)})") from None
    if definition.kind == "chain":
        return chain_angles(sel, definition.keypoints, definition.flip)
    a, b, c = sel[:, 0], sel[:, 1], sel[:, 2]
    if definition.kind == "axis":
        return {definition.name: axis_angle(a, b, c)}
    if definition.kind == "cross-axis":
        return {definition.name: cross_axis_angle(a, b, c)}
    inner = inner_angle(a, b, c)
    return {definition.name: 180.0 - inner if definition.convention == "flexion" else inner}


def compute_angles(points: ArrayLike, keypoints: Sequence[str],
                   definitions: Sequence[AngleDefinition]) -> dict[str, FloatArray]:
    """Every column of ``definitions`` (in order) from 3D points (n_frames, n_kp, 3).

    Returns column name → (n_frames,) degrees; NaN where undefined (module docstring).
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[2] != 3 or pts.shape[1] != len(keypoints):
        raise PosekitError(f"3D points must be (n_frames, {len(keypoints)} keypoints, 3), "
                           f"got {pts.shape}")
    out: dict[str, FloatArray] = {}
    for definition in definitions:
        out.update(definition_angles(pts, keypoints, definition))
    return out


def lowpass_angles(columns: Mapping[str, FloatArray], circular: Mapping[str, bool],
                   fps: float, cutoff_hz: float, order: int) -> dict[str, FloatArray]:
    """Zero-phase Butterworth low-pass of each angle series (gaps stay NaN, runs too
    short to filter are kept as they are: :func:`~posekit.triangulation.filters.
    butterworth_3d`). Columns flagged ``circular`` (directions in (-180, 180]) are
    filtered as unit vectors (cos, sin) and turned back into angles, so that a series
    crossing ±180 is not smeared across the circle."""
    from posekit.triangulation.filters import butterworth_3d

    names = list(columns)
    if not names:
        return {}
    values = np.stack([columns[k] for k in names], axis=-1)  # (n, m)
    circ = np.array([bool(circular.get(k, False)) for k in names])
    rad = np.radians(values[:, circ])
    stacked = np.concatenate([values[:, ~circ], np.cos(rad), np.sin(rad)], axis=1)
    filtered = butterworth_3d(stacked, fps, cutoff_hz, order)
    n_lin, n_circ = int((~circ).sum()), int(circ.sum())
    out = np.empty_like(values)
    out[:, ~circ] = filtered[:, :n_lin]
    cos, sin = filtered[:, n_lin:n_lin + n_circ], filtered[:, n_lin + n_circ:]
    out[:, circ] = np.degrees(np.arctan2(sin, cos))
    return {k: out[:, j] for j, k in enumerate(names)}
