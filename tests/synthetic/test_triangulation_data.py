"""Synthetic synchronised 2D keypoints with 3D truth for the triangulation benchmark."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.skeletons import MEDIAPIPE_33
from posekit.synthetic.motions import make_motion
from posekit.synthetic.triangulation_data import (
    SCORE_RANGE,
    TriangulationTrial,
    make_triangulation_trial,
)


@pytest.fixture(scope="module")
def corrupted() -> TriangulationTrial:
    return make_triangulation_trial(n_frames=1500, level="corrupted", seed=3)


@pytest.fixture(scope="module")
def noisy() -> TriangulationTrial:
    return make_triangulation_trial(n_frames=1500, level="noisy", seed=3)


def _expected(trial: TriangulationTrial) -> np.ndarray:
    """Exact projections of the truth, NaN outside the image."""
    out = []
    for cam in trial.group:
        xy = cam.project(trial.points3d)
        w, h = cam.size
        inside = (xy[..., 0] >= 0) & (xy[..., 0] < w) & (xy[..., 1] >= 0) & (xy[..., 1] < h)
        out.append(np.where(inside[..., None], xy, np.nan))
    return np.stack(out)


def test_shapes_and_fields(corrupted: TriangulationTrial) -> None:
    t = corrupted
    assert t.xy.shape == (4, 1500, 33, 2)
    assert t.scores.shape == t.outliers.shape == t.swapped.shape == (4, 1500, 33)
    assert t.points3d.shape == (1500, 33, 3)
    assert t.keypoints == MEDIAPIPE_33.keypoints
    assert (t.n_cams, t.n_frames, t.fps, t.level) == (4, 1500, 30.0, "corrupted")
    assert t.group.names == ["cam1", "cam2", "cam3", "cam4"]
    assert np.isfinite(t.points3d).all()
    # Missing detections are NaN in both coordinates with score 0.
    nan = np.isnan(t.xy)
    assert np.array_equal(nan[..., 0], nan[..., 1])
    assert np.all(t.scores[~t.observed] == 0)


def test_clean_level_projects_exactly() -> None:
    t = make_triangulation_trial(n_cams=3, n_frames=200, level="clean", seed=5)
    np.testing.assert_allclose(t.xy, _expected(t), atol=1e-9)
    assert t.observed.mean() > 0.99
    assert not t.outliers.any()
    lo, hi = SCORE_RANGE
    assert np.all((t.scores[t.observed] >= lo) & (t.scores[t.observed] <= hi))


def test_noisy_level_has_only_noise(noisy: TriangulationTrial) -> None:
    err = noisy.xy - _expected(noisy)
    ok = np.isfinite(err).all(axis=-1)
    assert ok.mean() > 0.98
    assert abs(np.std(err[ok]) - 2.0) < 0.05
    assert np.abs(err[ok]).max() < 2.0 * 6
    assert not noisy.outliers.any()


def test_corruption_rates(corrupted: TriangulationTrial, noisy: TriangulationTrial) -> None:
    obs = corrupted.observed
    share = corrupted.outliers.sum() / obs.sum()
    assert 0.04 < share < 0.06
    assert 0.015 < corrupted.swapped.sum() / obs.sum() < 0.035
    assert 0.015 < corrupted.jumps.sum() / obs.sum() < 0.035
    assert not (corrupted.outliers & ~obs).any()
    # Dropouts: about 10 % of the detections the noisy level has (same seed, same view).
    dropped = 1 - obs.sum() / noisy.observed.sum()
    assert 0.08 < dropped < 0.12
    # Outliers have the scores of good detections.
    good = obs & ~corrupted.outliers
    assert corrupted.scores[corrupted.outliers].min() >= SCORE_RANGE[0]
    assert abs(corrupted.scores[corrupted.outliers].mean()
               - corrupted.scores[good].mean()) < 0.02


def test_jumps_and_swaps_are_what_they_claim(corrupted: TriangulationTrial) -> None:
    t = corrupted
    exact = _expected(t)
    dist = np.linalg.norm(t.xy - exact, axis=-1)
    good = t.observed & ~t.outliers
    assert np.nanmax(dist[good]) < 15  # noise only (2 px sigma)
    jumps = dist[t.jumps]
    assert jumps.min() > 20 - 12 and jumps.max() < 150 + 12 and np.median(jumps) > 50
    # A swapped detection is (noisily) the projection of its left/right partner.
    perm = np.arange(33)
    for left, right in MEDIAPIPE_33.left_right_pairs:
        i, j = t.keypoints.index(left), t.keypoints.index(right)
        perm[i], perm[j] = j, i
    partner = exact[:, :, perm]
    c, f, k = np.nonzero(t.swapped)
    err = np.linalg.norm(t.xy[c, f, k] - partner[c, f, k], axis=-1)
    assert err.max() < 15
    # Swaps cover whole frames (all pairs of a camera-frame) in runs of 1-10 frames.
    frames = t.swapped.any(axis=2)
    paired = perm != np.arange(33)
    sw = t.swapped[frames][:, paired]
    ob = t.observed[frames][:, paired]
    assert np.array_equal(sw, ob)
    assert not t.swapped[..., ~paired].any()  # the nose has no partner
    for cam_frames in frames:
        edges = np.diff(np.concatenate([[0], cam_frames.astype(int), [0]]))
        runs = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
        assert len(runs) >= 1 and runs.max() <= 2 * 10  # adjacent runs may touch


def test_deterministic_and_seeded() -> None:
    a = make_triangulation_trial(n_frames=300, level="corrupted", seed=7)
    b = make_triangulation_trial(n_frames=300, level="corrupted", seed=7)
    c = make_triangulation_trial(n_frames=300, level="corrupted", seed=8)
    np.testing.assert_array_equal(a.xy, b.xy)
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.outliers, b.outliers)
    np.testing.assert_array_equal(a.swapped, b.swapped)
    np.testing.assert_array_equal(a.points3d, b.points3d)
    assert not np.array_equal(np.nan_to_num(a.xy), np.nan_to_num(c.xy))


def test_long_trials_stretch_the_motion() -> None:
    short = make_triangulation_trial(n_frames=100, level="clean", seed=0)
    np.testing.assert_allclose(short.points3d,
                               make_motion("demo", seed=0).landmarks(np.arange(100) / 30))
    long = make_triangulation_trial(n_cams=2, n_frames=3000, level="clean", seed=0)
    np.testing.assert_allclose(
        long.points3d, make_motion("demo", 100.0, seed=0).landmarks(np.arange(3000) / 30))
    # It keeps moving to the end (no frozen last pose after the default 21 s).
    late = long.points3d[2000:]
    assert np.ptp(late[:, MEDIAPIPE_33.index("left_wrist"), 2]) > 0.3


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="level"):
        make_triangulation_trial(level="dirty")
    with pytest.raises(ValueError, match="motion"):
        make_triangulation_trial(motion="dance")
    with pytest.raises(ValueError):
        make_triangulation_trial(n_frames=0)
    with pytest.raises(ValueError):
        make_triangulation_trial(outlier_rate=1.5)
