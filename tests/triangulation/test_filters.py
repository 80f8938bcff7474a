"""Tests of the 2D and 3D temporal filters on signals with a known truth."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.signal import butter, sosfiltfilt

from posekit.triangulation.filters import (
    butterworth_3d,
    interpolate_gaps,
    median_filter_2d,
    median_filter_3d,
)

# Any NaN warning (all-NaN slice, invalid value, ...) is a failure in this module.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

FloatArray = NDArray[np.float64]


def step_with_spike(n: int = 30, spike_at: int = 8) -> FloatArray:
    """(n,) signal: 0 then 10 from frame n // 2, with a single spike of 50 at ``spike_at``."""
    signal = np.where(np.arange(n) < n // 2, 0.0, 10.0)
    signal[spike_at] = 50.0
    return signal


def noisy_sines(seed: int = 0, n: int = 500, fps: float = 100.0) -> tuple[FloatArray, FloatArray]:
    """(truth, noisy), both (n, 4, 3): slow sinusoids per series plus white noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fps
    freq = rng.uniform(0.5, 2.0, size=(4, 3))
    phase = rng.uniform(0, 2 * np.pi, size=(4, 3))
    truth = np.sin(2 * np.pi * freq * t[:, None, None] + phase)
    return truth, truth + rng.normal(0.0, 0.1, size=truth.shape)


def with_holes(values: FloatArray, seed: int, share: float = 0.2) -> FloatArray:
    rng = np.random.default_rng(seed)
    out = values.copy()
    out[rng.random(values.shape) < share] = np.nan
    return out


def rms(a: FloatArray) -> float:
    return float(np.sqrt(np.nanmean(a**2)))


# ----------------------------------------------------------------------------- 2D


def test_median_2d_replaces_spike_by_median() -> None:
    x = step_with_spike()
    xy = np.stack([x, -x], axis=-1)[:, None]  # (n, 1, 2)
    scores = np.full(xy.shape[:-1], 0.9)
    out, out_scores = median_filter_2d(xy, scores, 5)
    clean = np.where(np.arange(len(x)) < len(x) // 2, 0.0, 10.0)
    np.testing.assert_array_equal(out[:, 0, 0], clean)
    np.testing.assert_array_equal(out[:, 0, 1], -clean)
    np.testing.assert_array_equal(out_scores, scores)


def test_median_2d_jump_removal_drops_only_the_spike() -> None:
    x = step_with_spike(spike_at=8)
    xy = np.stack([x, x], axis=-1)[:, None]
    scores = np.full(xy.shape[:-1], 0.9)
    out, out_scores = median_filter_2d(xy, scores, 5, max_jump_px=5.0)
    assert np.isnan(out[8]).all() and out_scores[8, 0] == 0.0
    keep = np.arange(len(x)) != 8
    np.testing.assert_array_equal(out[keep], xy[keep])  # raw values kept, not smoothed
    np.testing.assert_array_equal(out_scores[keep], scores[keep])


def test_median_2d_keeps_missing_missing_and_invents_nothing() -> None:
    rng = np.random.default_rng(1)
    xy = with_holes(rng.normal(100, 3, size=(40, 5, 2)), seed=2, share=0.4)
    xy[:, 3] = np.nan  # one keypoint never detected
    scores = np.where(np.isnan(xy[..., 0]), 0.0, 0.8)
    for jump in (None, 10.0):
        out, _ = median_filter_2d(xy, scores, 7, max_jump_px=jump)
        assert np.isnan(out[np.isnan(xy)]).all()
    out, _ = median_filter_2d(xy, scores, 7)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(xy))


def test_median_2d_window_one_is_identity_and_short_arrays_work() -> None:
    xy = np.array([[[1.0, 2.0]], [[3.0, np.nan]]])
    scores = np.array([[1.0], [0.5]])
    out, _ = median_filter_2d(xy, scores, 1)
    np.testing.assert_array_equal(out, xy)
    out, _ = median_filter_2d(xy, scores, 9)  # window longer than the array
    np.testing.assert_array_equal(out, [[[2.0, 2.0]], [[2.0, np.nan]]])


def test_median_2d_does_not_modify_inputs() -> None:
    xy = np.array([[[0.0, 0.0]], [[50.0, 50.0]], [[0.0, 0.0]]])
    scores = np.ones((3, 1))
    xy0, scores0 = xy.copy(), scores.copy()
    median_filter_2d(xy, scores, 3, max_jump_px=1.0)
    np.testing.assert_array_equal(xy, xy0)
    np.testing.assert_array_equal(scores, scores0)


@pytest.mark.parametrize(("xy_shape", "scores_shape", "window", "jump", "match"), [
    ((10, 2, 3), (10, 2), 3, None, "xy must be"),
    ((10, 2, 2), (10, 3), 3, None, "scores must have shape"),
    ((10, 2, 2), (10, 2), 4, None, "odd positive"),
    ((10, 2, 2), (10, 2), 0, None, "odd positive"),
    ((10, 2, 2), (10, 2), 3, -1.0, "max_jump_px"),
])
def test_median_2d_rejects_bad_input(xy_shape: tuple[int, ...], scores_shape: tuple[int, ...],
                                     window: int, jump: float | None, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        median_filter_2d(np.zeros(xy_shape), np.zeros(scores_shape), window, max_jump_px=jump)


# ----------------------------------------------------------------------------- 3D median


def test_median_3d_removes_spike_and_keeps_step() -> None:
    x = step_with_spike()
    points = np.repeat(x[:, None, None], 3, axis=2)  # (n, 1, 3)
    out = median_filter_3d(points, 5)
    clean = np.where(np.arange(len(x)) < len(x) // 2, 0.0, 10.0)
    np.testing.assert_array_equal(out[:, 0], np.repeat(clean[:, None], 3, axis=1))


def test_median_3d_ignores_nan_and_handles_short_arrays() -> None:
    points = np.array([1.0, np.nan, 3.0, 100.0])[:, None, None]
    out = median_filter_3d(points, 3)
    np.testing.assert_array_equal(out[:, 0, 0], [1.0, np.nan, 51.5, 51.5])
    single = median_filter_3d(np.ones((1, 2, 3)), 11)
    np.testing.assert_array_equal(single, np.ones((1, 2, 3)))
    assert median_filter_3d(np.ones((0, 2, 3)), 5).shape == (0, 2, 3)


# ----------------------------------------------------------------------------- gaps


def test_interpolate_fills_short_gap_exactly_on_linear_signal() -> None:
    truth = np.arange(20.0)[:, None, None] * np.array([1.0, -2.0, 0.5])  # (20, 1, 3)
    points = truth.copy()
    points[5:8] = np.nan  # gap of 3 frames
    filled, mask = interpolate_gaps(points, max_gap=3, return_mask=True)
    np.testing.assert_allclose(filled, truth, rtol=0, atol=1e-12)
    expected = np.zeros(points.shape, dtype=bool)
    expected[5:8] = True
    np.testing.assert_array_equal(mask, expected)
    assert np.isnan(points[5:8]).all()  # the input is left alone


def test_interpolate_leaves_long_and_edge_gaps() -> None:
    points = np.arange(40.0)[:, None, None] * np.ones((1, 2, 3))
    points[10:20] = np.nan  # gap of 10 frames
    points[:3] = np.nan  # leading
    points[-4:] = np.nan  # trailing
    points[25:27, 1] = np.nan  # short gap on keypoint 1 only
    filled, mask = interpolate_gaps(points, max_gap=5, return_mask=True)
    assert np.isnan(filled[10:20]).all()
    assert np.isnan(filled[:3]).all() and np.isnan(filled[-4:]).all()
    np.testing.assert_allclose(filled[25:27, 1], np.arange(25.0, 27.0)[:, None] * np.ones(3))
    np.testing.assert_array_equal(mask, np.isnan(points) & ~np.isnan(filled))
    assert mask.sum() == 2 * 3


def test_interpolate_all_nan_and_no_gap_settings() -> None:
    points = np.full((15, 2, 3), np.nan)
    points[:, 0] = 1.0
    points[7, 0] = np.nan
    np.testing.assert_array_equal(interpolate_gaps(points, 0), points)
    out = interpolate_gaps(points, 4)
    assert np.isnan(out[:, 1]).all()
    np.testing.assert_array_equal(out[:, 0], np.ones((15, 3)))
    with pytest.raises(ValueError, match="max_gap"):
        interpolate_gaps(points, -1)
    with pytest.raises(ValueError, match="max_gap"):
        interpolate_gaps(points, 2.5)  # type: ignore[call-overload]


# ----------------------------------------------------------------------------- Butterworth


def test_butterworth_reduces_noise_on_sinusoids() -> None:
    truth, noisy = noisy_sines()
    smooth = butterworth_3d(noisy, fps=100.0, cutoff_hz=6.0)
    assert rms(smooth - truth) < 0.4 * rms(noisy - truth)


def test_butterworth_filters_runs_separately_and_keeps_gaps() -> None:
    truth, noisy = noisy_sines(seed=3)
    points = noisy.copy()
    points[200:230, 1] = np.nan
    points[:5, 2, 0] = np.nan
    smooth = butterworth_3d(points, fps=100.0, cutoff_hz=6.0, order=2)
    np.testing.assert_array_equal(np.isnan(smooth), np.isnan(points))
    sos = butter(2, 6.0 / 50.0, output="sos")
    np.testing.assert_allclose(smooth[:200, 1], sosfiltfilt(sos, points[:200, 1], axis=0))
    np.testing.assert_allclose(smooth[230:, 1], sosfiltfilt(sos, points[230:, 1], axis=0))
    assert rms(smooth - truth) < 0.5 * rms(points - truth)


def test_butterworth_leaves_runs_shorter_than_its_padding() -> None:
    rng = np.random.default_rng(4)
    points = rng.normal(size=(40, 1, 3))
    points[[1, 17]] = np.nan  # runs of 1, 15 (= the padding for order 4) and 22 frames
    out = butterworth_3d(points, fps=30.0, cutoff_hz=5.0)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(points))
    np.testing.assert_array_equal(out[:17], points[:17])
    assert not np.allclose(out[18:], points[18:])
    short = rng.normal(size=(15, 2, 3))  # the whole array is shorter than the padding
    np.testing.assert_array_equal(butterworth_3d(short, 30.0, 5.0), short)
    assert butterworth_3d(np.ones((0, 2, 3)), 30.0, 5.0).shape == (0, 2, 3)
    # Longer than the padding of order 4, but not of order 8 (27 frames): left as is.
    np.testing.assert_array_equal(butterworth_3d(points[18:], 30.0, 5.0, order=8), points[18:])


@pytest.mark.parametrize(("fps", "cutoff", "order", "match"), [
    (100.0, 50.0, 4, "Nyquist"),
    (100.0, 80.0, 4, "Nyquist"),
    (100.0, 0.0, 4, "cutoff_hz"),
    (0.0, 5.0, 4, "fps"),
    (100.0, 5.0, 0, "order"),
])
def test_butterworth_rejects_bad_settings(fps: float, cutoff: float, order: int,
                                          match: str) -> None:
    with pytest.raises(ValueError, match=match):
        butterworth_3d(np.zeros((50, 1, 3)), fps, cutoff, order)


# ----------------------------------------------------------------------------- contract


ShapeKeeping = Callable[[FloatArray], FloatArray]
SHAPE_KEEPING: dict[str, ShapeKeeping] = {
    "median_3d": lambda p: median_filter_3d(p, 5),
    "butterworth": lambda p: butterworth_3d(p, 60.0, 8.0),
    "median_2d": lambda p: median_filter_2d(p[..., :2], np.ones(p.shape[:-1]), 5)[0],
}


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 40), share=st.floats(0.0, 1.0))
def test_missing_pattern_contract(seed: int, n: int, share: float) -> None:
    """NaN in ⇔ NaN out for the smoothers; interpolation only fills, and says where."""
    rng = np.random.default_rng(seed)
    points = with_holes(rng.normal(size=(n, 3, 3)), seed, share)
    before = points.copy()
    for name, func in SHAPE_KEEPING.items():
        out = func(points)
        expected = np.isnan(points[..., :2] if name == "median_2d" else points)
        np.testing.assert_array_equal(np.isnan(out), expected, err_msg=name)
    filled, mask = interpolate_gaps(points, 3, return_mask=True)
    assert not np.isnan(filled[~np.isnan(points)]).any()
    np.testing.assert_array_equal(filled[~mask], points[~mask])
    np.testing.assert_array_equal(mask, np.isnan(points) & ~np.isnan(filled))
    np.testing.assert_array_equal(points, before)  # no function wrote into its input
