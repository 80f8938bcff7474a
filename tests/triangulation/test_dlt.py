"""Weighted DLT: exact on clean data, weights matter, degenerate points are NaN."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.synthetic.rig import make_rig
from posekit.triangulation.dlt import triangulate


@pytest.fixture(scope="module")
def rig():  # type: ignore[no-untyped-def]
    return make_rig(4, seed=3)


def _points(n: int = 500, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal([0.0, 0.0, 1.0], [0.4, 0.4, 0.5], (n, 3))


def test_clean_projections_triangulate_exactly(rig) -> None:  # type: ignore[no-untyped-def]
    pts = _points()
    np.testing.assert_allclose(triangulate(rig, rig.project(pts)), pts, atol=1e-7)
    np.testing.assert_allclose(triangulate(rig, rig.project(pts), refine=2), pts, atol=1e-7)


def test_shape_is_kept_and_nan_views_are_ignored(rig) -> None:  # type: ignore[no-untyped-def]
    pts = _points(60).reshape(3, 20, 3)
    pix = rig.project(pts)
    pix[0, 0, :5] = np.nan  # one camera misses some points: the others suffice
    pix[1:, 1, :3] = np.nan  # only one camera left: NaN
    out = triangulate(rig, pix)
    assert out.shape == (3, 20, 3)
    np.testing.assert_allclose(out[0], pts[0], atol=1e-7)
    assert np.isnan(out[1, :3]).all()
    np.testing.assert_allclose(out[1, 3:], pts[1, 3:], atol=1e-7)


def test_weights_downweight_a_bad_view(rig) -> None:  # type: ignore[no-untyped-def]
    pts = _points(200, seed=1)
    pix = rig.project(pts)
    pix[2] += 25.0  # camera 3 is badly off
    plain = np.linalg.norm(triangulate(rig, pix) - pts, axis=-1).mean()
    w = np.ones(pix.shape[:2])
    w[2] = 0.01
    weighted = np.linalg.norm(triangulate(rig, pix, weights=w) - pts, axis=-1).mean()
    zero = w.copy()
    zero[2] = 0.0
    exact = triangulate(rig, pix, weights=zero)
    assert weighted < 0.1 * plain
    np.testing.assert_allclose(exact, pts, atol=1e-7)


def test_depth_refinement_reduces_noise_error(rig) -> None:  # type: ignore[no-untyped-def]
    pts = _points(4000, seed=2)
    pix = rig.project(pts) + np.random.default_rng(0).normal(0, 2.0, (4, 4000, 2))
    err0 = np.linalg.norm(triangulate(rig, pix) - pts, axis=-1).mean()
    err1 = np.linalg.norm(triangulate(rig, pix, refine=1) - pts, axis=-1).mean()
    assert err1 <= err0


def test_all_nan_input_gives_nan_without_warnings(rig) -> None:  # type: ignore[no-untyped-def]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = triangulate(rig, np.full((4, 10, 2), np.nan))
    assert np.isnan(out).all()


def test_wrong_shape_is_an_error(rig) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="n_cams=4"):
        triangulate(rig, np.zeros((3, 10, 2)))
