"""The optimiser's building blocks against their textbook definitions: the smoothness
operator against explicit difference matrices, the Gauss-Newton blocks and gradient against
a numerical Jacobian of the reprojection residuals."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.spatial.transform import Rotation

from posekit.triangulation.optim import (
    _Problem,
    _project,
    _reprojection,
    _Smoothness,
    _SmoothTerms,
)


def _difference_matrix(n: int, order: int) -> sp.csr_matrix:
    d = sp.eye(n, format="csr")
    for _ in range(order):
        d = (d[1:] - d[:-1]).tocsr()
    return d


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 40])
def test_smoothness_operator_is_the_sum_of_dt_w_d(n: int) -> None:
    rng = np.random.default_rng(n)
    k = 3
    terms = _SmoothTerms([_Smoothness(n, k, 2, 2.8, 0.5), _Smoothness(n, k, 3, 4.0, 0.15)])
    if n > 3:
        terms.update(rng.normal(size=(n, k, 3)) * 10)  # robust weights differ per entry
    v = rng.normal(size=(n, k, 3))
    expected = np.zeros_like(v)
    for term in terms.terms:
        if not term.order:  # fewer frames than the difference needs: no term
            continue
        d = _difference_matrix(n, term.order)
        dv = (d @ v.reshape(n, -1)).reshape(-1, k, 3) * term.weights[..., None]
        expected += (d.T @ dv.reshape(dv.shape[0], -1)).reshape(v.shape)
    np.testing.assert_allclose(terms.apply(v), expected, rtol=1e-12, atol=1e-12)
    # the band the preconditioner factorises is the same matrix
    band = terms.band(n)
    dense = np.zeros((n, n, k))
    for j in range(band.shape[0]):
        for i in range(n - j):
            dense[i + j, i] = dense[i, i + j] = band[j, i]
    np.testing.assert_allclose(np.einsum("abk,bkx->akx", dense, v), expected,
                               rtol=1e-12, atol=1e-12)


def _problem(n: int, k: int, c: int, rng: np.random.Generator) -> tuple[_Problem, np.ndarray]:
    ext = np.zeros((c, 3, 4))
    for i in range(c):
        ext[i, :, :3] = Rotation.from_rotvec(rng.normal(size=3) * 0.4).as_matrix()
        ext[i, :, 3] = rng.normal(size=3) * 0.3 + [0.0, 0.0, 5.0]
    focal = rng.uniform(800, 1200, size=c)
    x = rng.normal(size=(n, k, 3))
    xy = rng.normal(size=(2, n, k, c)) * 0.1
    base = rng.uniform(0.5, 1.0, size=(n, k, c))
    smooth = _SmoothTerms([_Smoothness(n, k, 2, 1.0, 0.5)])
    prob = _Problem(ext, focal, xy, base, np.zeros((0, 2), np.int64), np.zeros(0),
                    np.zeros(0), smooth)
    return prob, x


def test_projection_matches_a_pinhole_camera() -> None:
    rng = np.random.default_rng(0)
    prob, x = _problem(4, 3, 3, rng)
    px, py, inv, rx, ry = _project(prob, x)
    cam = np.einsum("cij,nkj->nkci", prob.ext[:, :, :3], x) + prob.ext[:, :, 3]
    np.testing.assert_allclose(px, cam[..., 0] / cam[..., 2], rtol=1e-12)
    np.testing.assert_allclose(py, cam[..., 1] / cam[..., 2], rtol=1e-12)
    np.testing.assert_allclose(inv, 1 / cam[..., 2], rtol=1e-12)
    np.testing.assert_allclose(rx, (px - prob.xy[0]) * prob.focal, rtol=1e-12)
    np.testing.assert_allclose(ry, (py - prob.xy[1]) * prob.focal, rtol=1e-12)


def test_gauss_newton_blocks_and_gradient_match_a_numerical_jacobian() -> None:
    rng = np.random.default_rng(1)
    n, k, c = 3, 2, 4
    prob, x = _problem(n, k, c, rng)
    thr = 1e12  # the soft-L1 weight is 1: plain weighted least squares
    blocks, grad, _ = _reprojection(prob, x, prob.base, thr)

    def residuals(p: np.ndarray) -> np.ndarray:  # (n, k, c, 2)
        _, _, _, rx, ry = _project(prob, p)
        return np.stack([rx, ry], axis=-1)

    r0 = residuals(x)
    jac = np.zeros((n, k, c, 2, 3))
    h = 1e-6
    for axis in range(3):
        step = np.zeros_like(x)
        step[..., axis] = h
        jac[..., axis] = (residuals(x + step) - residuals(x - step)) / (2 * h)
    w = prob.base[..., None, None]
    np.testing.assert_allclose(blocks, np.einsum("nkcri,nkcrj->nkij", w * jac, jac),
                               rtol=1e-6, atol=1e-6 * np.abs(blocks).max())
    np.testing.assert_allclose(grad, np.einsum("nkcri,nkcr->nki", w * jac, r0),
                               rtol=1e-6, atol=1e-6 * np.abs(grad).max())
