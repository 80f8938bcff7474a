"""posekit.numerics.nanmedian against numpy's, value for value."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from posekit.numerics import nanmedian


@pytest.mark.parametrize("shape", [(7, 5, 3), (1, 4), (600, 2), (2, 601, 3)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_same_values_as_numpy(shape: tuple[int, ...], keepdims: bool) -> None:
    rng = np.random.default_rng(len(shape))
    values = rng.normal(size=shape)
    values[rng.random(shape) < 0.3] = np.nan
    values[0] = np.nan  # an all-NaN slice along every axis but the first
    values.flat[1] = np.inf
    for axis in range(-len(shape), len(shape)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanmedian(values, axis=axis, keepdims=keepdims)
        np.testing.assert_array_equal(nanmedian(values, axis, keepdims), expected)


def test_all_nan_is_nan_without_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(nanmedian(np.full((4, 2), np.nan), 0)).all()
