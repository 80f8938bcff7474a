"""Small numerical helpers shared by the steps."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


#: axis length from which :func:`nanmedian` partitions instead of sorting
PARTITION_FROM = 256


def nanmedian(values: ArrayLike, axis: int, keepdims: bool = False) -> FloatArray:
    """``np.nanmedian(values, axis=axis, keepdims=keepdims)``, value for value, without its
    warning on all-NaN slices (they are NaN) and several times faster on short axes, where
    numpy goes through masked arrays: NaN sorts last, so the median is the middle of the
    first ``count`` sorted values (the mean of the two middle ones for an even count).
    Axes of ``PARTITION_FROM`` values or more are partitioned rather than sorted, slices
    with the same count together (:func:`_partitioned_nanmedian`)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim and values.shape[axis] >= PARTITION_FROM:
        return _partitioned_nanmedian(values, axis, keepdims)
    ranked = np.sort(values, axis=axis)
    count = np.expand_dims((~np.isnan(ranked)).sum(axis=axis), axis)
    lo = np.take_along_axis(ranked, np.maximum(count - 1, 0) // 2, axis=axis)
    hi = np.take_along_axis(ranked, np.minimum(count // 2, ranked.shape[axis] - 1), axis=axis)
    out = np.where(count > 0, (lo + hi) / 2.0, np.nan)
    return out if keepdims else np.squeeze(out, axis=axis)


def _partitioned_nanmedian(values: FloatArray, axis: int, keepdims: bool) -> FloatArray:
    """:func:`nanmedian` by partitioning: NaN becomes +inf (it then sits at or after the
    ``count`` non-NaN values, so the order statistics below ``count`` are theirs), and the
    slices with the same count share one ``np.partition`` at their two middle positions
    (2.8 -> 1.1 ms for 1800 frames of 12 keypoints' x and y, the sync's residuals)."""
    moved = np.moveaxis(values, axis, 0)
    flat = moved.reshape(moved.shape[0], -1)
    count = (~np.isnan(flat)).sum(axis=0)
    filled = np.where(np.isnan(flat), np.inf, flat)
    out = np.full(flat.shape[1], np.nan)
    for c in np.unique(count[count > 0]).tolist():
        cols = np.flatnonzero(count == c)
        lo, hi = (c - 1) // 2, c // 2
        part = np.partition(filled[:, cols], sorted({lo, hi}), axis=0)
        out[cols] = (part[lo] + part[hi]) / 2.0
    result = out.reshape(moved.shape[1:])
    return np.expand_dims(result, axis) if keepdims else result
