"""Robust view selection and left/right swap repair."""

from __future__ import annotations

import numpy as np

from posekit.skeletons import MEDIAPIPE_33
from posekit.synthetic.rig import make_rig
from posekit.triangulation.dlt import focal_lengths, normalize_points
from posekit.triangulation.robust import repair_swaps, select_views, symmetric_pairs

RIG = make_rig(4, seed=5)
EXT = np.stack([cam.extrinsics[:3] for cam in RIG])
FOCAL = focal_lengths(RIG)


def _setup(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pts = rng.normal([0.0, 0.0, 1.0], [0.3, 0.3, 0.4], (n, 3))
    return pts, RIG.project(pts) + rng.normal(0, 1.0, (4, n, 2))


def test_outlier_views_are_dropped() -> None:
    pts, pix = _setup(300)
    bad = np.zeros((4, 300), dtype=bool)
    bad[1, :100] = True
    bad[3, 100:150] = True
    rng = np.random.default_rng(1)
    pix[bad] += rng.uniform(60, 200, (int(bad.sum()), 2)) * rng.choice([-1, 1], (int(bad.sum()), 2))
    xy = normalize_points(RIG, pix)
    out, used = select_views(EXT, FOCAL, xy, np.ones((4, 300)), threshold=10.0)
    assert not used[bad].any()
    assert used[~bad].mean() > 0.99
    assert np.linalg.norm(out - pts, axis=-1).max() < 0.02  # metres: 2 cm at 1 px noise


def test_points_with_too_few_views_are_nan_not_errors() -> None:
    _, pix = _setup(20)
    pix[1:, :5] = np.nan  # one view only
    pix[:, 5:8] = np.nan  # no view
    out, used = select_views(EXT, FOCAL, normalize_points(RIG, pix), np.ones((4, 20)), 10.0)
    assert np.isnan(out[:8]).all() and np.isfinite(out[8:]).all()
    assert used[:, 5:8].sum() == 0


def test_symmetric_pairs_of_mediapipe() -> None:
    pairs = symmetric_pairs(MEDIAPIPE_33.keypoints)
    names = {(MEDIAPIPE_33.keypoints[a], MEDIAPIPE_33.keypoints[b]) for a, b in pairs}
    assert ("left_knee", "right_knee") in names and ("left_eye_inner", "right_eye_inner") in names
    assert len(pairs) == 16  # every MediaPipe landmark but the nose has a mirror


def test_swapped_detections_are_exchanged_back() -> None:
    kps = MEDIAPIPE_33.keypoints
    rng = np.random.default_rng(2)
    n = 40
    # a standing person: left side at +x, right side at -x
    base = rng.normal(0.0, 0.05, (len(kps), 3)) + np.array([0.0, 0.0, 1.0])
    for i, name in enumerate(kps):
        if name.startswith("left"):
            base[i, 0] += 0.2
        elif name.startswith("right"):
            base[i, 0] -= 0.2
    pts = base + rng.normal(0, 0.01, (n, 1, 3))
    pix = RIG.project(pts)  # (4, n, k, 2)
    pairs = symmetric_pairs(kps)
    left = [a for a, _ in pairs]
    right = [b for _, b in pairs]
    swapped = pix.copy()
    swapped[2, 10:15, left], swapped[2, 10:15, right] = pix[2, 10:15, right], pix[2, 10:15, left]
    xy = normalize_points(RIG, swapped.reshape(4, -1, 2)).reshape(swapped.shape)
    fixed, mask = repair_swaps(EXT, FOCAL, xy, pts, pairs, threshold=10.0)
    truth = normalize_points(RIG, pix.reshape(4, -1, 2)).reshape(pix.shape)
    np.testing.assert_allclose(fixed, truth, atol=1e-9)
    assert mask[2, 10:15].all() and mask.sum() == 5 * len(pairs)


def test_symmetric_pairs_of_other_naming_schemes() -> None:
    names = ["Nose", "LHip", "RHip", "LeftKnee", "RightKnee", "mouth_left", "mouth_right", "Neck"]
    assert symmetric_pairs(names) == [(1, 2), (3, 4), (5, 6)]
