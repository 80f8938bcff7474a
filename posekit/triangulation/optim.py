"""Spatiotemporal optimisation of a whole trial's 3D keypoints.

The unknowns are the 3D positions ``X`` (n_frames, n_kp, 3). The cost has three parts,
with Anipose's names and scales so that its settings carry over:

* reprojection: for every view, ``score × (f · (π(R X + t) − u))`` in pixels (``u`` the
  undistorted normalised detection, ``f`` the focal length), under a robust soft-L1 loss
  of scale ``reproj_error_threshold``; views further off than
  ``OUTLIER_FACTOR × reproj_error_threshold`` after the first iterations get no weight;
* smoothness: ``scale_smooth × Δⁿ X`` (n = ``n_deriv_smooth``, differences between
  consecutive frames, in millimetres) under a soft-L1 loss of scale ``smooth_delta``, plus
  ``scale_smooth_higher × Δⁿ⁺¹ X`` under one of scale ``smooth_delta_higher``: with
  n = 2, acceleration and jerk. The pair follows both slow postures and quick limb
  movements better than either term alone;
* segment lengths: ``scale_length × 100 × (|Xa − Xb| − L) / L`` (percent of the length)
  for strong constraints, ``scale_length_weak`` for weak ones; ``L`` is given or the
  median over the trial, re-estimated once from the optimised points.

It is minimised by iteratively reweighted Gauss-Newton. The normal matrix is a 3×3 block
per point, plus the smoothness band along time, plus the length couplings within a frame.
Without the couplings it is a banded matrix per keypoint, factorised in ``O(n_frames)``
(LAPACK banded Cholesky over all keypoints at once); that factorisation preconditions a
conjugate-gradient solve of the full system, which then converges in a few iterations. So
the cost is linear in the number of frames, and the whole trial is solved as one system:
no chunks, hence no seams. Very long recordings can be split into overlapping chunks
(``chunk_frames``) that are cross-faded, to bound memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from math import comb

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import cho_solve_banded, cholesky_banded

from posekit.numerics import nanmedian

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
#: Views whose error exceeds this many thresholds are ignored after the first iterations.
OUTLIER_FACTOR = 3.0
HARD = 3.0
#: ... or POINT_FACTOR times its point's median view error and TYPICAL_OUTLIER times the
#: trial's median view error (only where three or more views are used).
POINT_FACTOR = 4.0
TYPICAL_OUTLIER = 6.0
DEBUG = False
CG_ITER = 2
#: Gauss-Newton stops once the robust cost falls by less than this fraction in an iteration
#: (1e-3 gave the same accuracy on the benchmark, 1.5x slower).
REL_TOL = 1e-2
#: Iterations whose step is checked against the cost (later ones are small GN steps).
CHECKED_STEPS = 12


@dataclass
class OptimSettings:
    """Weights of the cost terms (module docstring), in Anipose's units."""

    scale_smooth: float = 4.0
    scale_smooth_higher: float = 0.0
    scale_length: float = 2.0
    scale_length_weak: float = 1.0
    reproj_error_threshold: float = 15.0
    n_deriv_smooth: int = 3
    smooth_delta: float = 0.5
    smooth_delta_higher: float = 0.15
    mm_per_unit: float = 1.0
    iterations: int = 12
    constraints: Sequence[tuple[int, int]] = ()
    constraints_weak: Sequence[tuple[int, int]] = ()
    lengths: dict[tuple[int, int], float] = field(default_factory=dict)
    chunk_frames: int = 0
    chunk_overlap: int = 60


class _Smoothness:
    """The smoothness term ``scale · Δⁿ X`` under a soft-L1 loss of scale ``delta`` on the
    norm of each keypoint's n-th difference: quadratic for the small derivatives of
    noise, linear for the large ones of real fast movements (a jump, a kick), which are
    thus not flattened. ``weights`` (n - order, k) are the current IRLS weights times
    ``scale²``."""

    def __init__(self, n: int, k: int, order: int, scale: float, delta: float) -> None:
        self.order = order if n > order else 0
        self.scale, self.delta = scale, delta
        self.coef = np.array([(-1.0) ** (self.order - m) * comb(self.order, m)
                              for m in range(self.order + 1)])
        self.weights = np.full((max(n - self.order, 0), k), scale**2)

    def differences(self, x: FloatArray) -> FloatArray:
        """n-th differences (n - order, k, 3)."""
        if not self.order:
            return np.zeros((0, *x.shape[1:]))
        return np.diff(x, n=self.order, axis=0)

    def update(self, x: FloatArray) -> None:
        mag = _norm3(self.differences(x)) * self.scale
        self.weights = self.scale**2 * _soft_l1_weight(mag, self.delta)

    def cost(self, x: FloatArray) -> float:
        mag = _norm3(self.differences(x)) * self.scale
        return float(np.sum(_soft_l1_cost(mag, self.delta)))

    def band(self, n: int) -> FloatArray:
        """Diagonals (order + 1, n, k) of Dᵀ W D: entry [j, i] is element (i + j, i)."""
        k = self.weights.shape[1]
        out = np.zeros((self.order + 1, n, k))
        rows = self.weights.shape[0]
        for j in range(self.order + 1):
            for m in range(self.order + 1 - j):
                # row r has D[r, r + m] = coef[m], D[r, r + m + j] = coef[m + j]
                out[j, m:m + rows] += self.coef[m] * self.coef[m + j] * self.weights
        return out


class _SmoothTerms:
    """The sum of one or more :class:`_Smoothness` terms (of different orders), with the
    same interface; ``order`` is the highest order (the band's half width)."""

    def __init__(self, terms: Sequence[_Smoothness]) -> None:
        self.terms = list(terms)
        self.order = max(t.order for t in self.terms)
        self._band: FloatArray | None = None
        self._wide: FloatArray | None = None  # the band repeated over xyz, for apply

    def update(self, x: FloatArray) -> None:
        for term in self.terms:
            term.update(x)
        self._band = self._wide = None

    def cost(self, x: FloatArray) -> float:
        return sum(term.cost(x) for term in self.terms)

    def apply(self, v: FloatArray) -> FloatArray:
        """Σ Dᵀ W D v for v (n, k, 3), from the band of the symmetric matrix (repeated
        over xyz: element-wise products on contiguous rows, no broadcasting over a
        trailing axis of 3, which numpy runs many times slower)."""
        n = v.shape[0]
        if self._wide is None or self._wide.shape[1] != n:
            self._wide = np.repeat(self.band(n), 3, axis=-1)
        wide = self._wide
        flat = v.reshape(n, -1)
        out: FloatArray = wide[0] * flat
        tmp = np.empty_like(flat)
        for j in range(1, min(wide.shape[0], n)):
            m = n - j  # element (i + j, i) = element (i, i + j)
            np.multiply(wide[j, :m], flat[:m], out=tmp[:m])
            out[j:] += tmp[:m]
            np.multiply(wide[j, :m], flat[j:], out=tmp[:m])
            out[:m] += tmp[:m]
        return out.reshape(v.shape)

    def band(self, n: int) -> FloatArray:
        """Diagonals (order + 1, n, k) of the summed Dᵀ W D (kept until the next update)."""
        if self._band is None or self._band.shape[1] != n:
            k = self.terms[0].weights.shape[1]
            out = np.zeros((self.order + 1, n, k))
            for term in self.terms:
                if not term.order:  # too few frames for this difference: no term
                    continue
                part = term.band(n)
                out[:part.shape[0]] += part
            self._band = out
        return self._band


#: Projections px, py, inverse depths, residuals rx, ry: (n, k, c) each (:func:`_project`).
Projected = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]


@dataclass
class _Problem:
    ext: FloatArray  # (c, 3, 4)
    focal: FloatArray  # (c,)
    xy: FloatArray  # (2, n, k, c) normalised x and y (0 where unseen)
    base: FloatArray  # (n, k, c) score weights (0 unused)
    pairs: NDArray[np.int64]  # (p, 2) constrained keypoints
    pair_scale: FloatArray  # (p,) 100 * scale / L ... set per length
    lengths: FloatArray  # (p,)
    smooth: _SmoothTerms
    # derived from the above, for the hot loop
    rot_products: tuple[FloatArray, ...] = field(init=False)  # :func:`_rotation_products`
    cam_matrix: FloatArray = field(init=False)  # (4, c * 3), :func:`_camera_matrix`
    focal_full: FloatArray = field(init=False)  # (n, k, c) the focal lengths, broadcast

    def __post_init__(self) -> None:
        self.rot_products = _rotation_products(self.ext)
        self.cam_matrix = _camera_matrix(self.ext)
        self.focal_full = np.broadcast_to(self.focal, self.base.shape).copy()


def _project(prob: _Problem, x: FloatArray) -> Projected:
    """Normalised projections (px, py), inverse depths and residuals in pixels (rx, ry),
    each (n, k, c), of the points x (n, k, 3) in every camera.

    Separate (n, k, c) arrays rather than a trailing axis of 2 or 3: numpy runs
    element-wise work several times faster on contiguous arrays than when it broadcasts
    along a short last axis, and this runs on every point and view in each iteration.
    """
    n, k = x.shape[:2]
    homog = np.empty((n * k, 4))
    homog[:, :3] = x.reshape(-1, 3)
    homog[:, 3] = 1.0
    cam = (homog @ prob.cam_matrix).reshape(n, k, -1, 3)  # one BLAS product, with t
    z = cam[..., 2]
    inv = 1.0 / np.where(np.abs(z) > 1e-9, z, 1e-9)
    px, py = cam[..., 0] * inv, cam[..., 1] * inv
    rx = px - prob.xy[0]
    rx *= prob.focal_full
    ry = py - prob.xy[1]
    ry *= prob.focal_full
    return px, py, inv, rx, ry


def _camera_matrix(ext: FloatArray) -> FloatArray:
    """(4, c * 3): homogeneous points (m, 4) times it are the camera coordinates
    (m, c * 3) of every camera."""
    c = len(ext)
    return np.concatenate([ext[:, :, :3].transpose(2, 0, 1).reshape(3, c * 3),
                           ext[:, :, 3].reshape(1, c * 3)])


def _rotation_products(ext: FloatArray) -> tuple[FloatArray, ...]:
    """Per camera, ``Rᵀ A R`` for the parts of ``A`` (:func:`_reprojection`) as (c, 9)
    matrices: the factor of s (``A``'s diagonal 1, 1), of −s·px, of −s·py and of
    s·|p|²; then the rotations' rows (c, 3) for the gradient."""
    rot = ext[:, :, :3]

    def sym(i: int, j: int) -> FloatArray:
        m = np.einsum("ca,cb->cab", rot[:, i], rot[:, j])
        return (m + m.transpose(0, 2, 1)).reshape(len(rot), 9) / (2.0 if i == j else 1.0)

    return (sym(0, 0) + sym(1, 1), -sym(0, 2), -sym(1, 2), sym(2, 2),
            rot[:, 0].copy(), rot[:, 1].copy(), rot[:, 2].copy())


def _reprojection(prob: _Problem, x: FloatArray, fit: FloatArray, thr: float,
                  projected: Projected | None = None
                  ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Gauss-Newton blocks Σ w JᵀJ (n, k, 3, 3), gradients Σ w Jᵀr (n, k, 3) and errors
    (n, k, c) of the reprojection residuals at x, with view weights ``fit`` (n, k, c)
    times the soft-L1 weight of the error (scale ``thr``).

    For a pinhole view ``J = (f/z) [I₂ | −p] R`` with p the normalised projection, so
    ``JᵀJ = (f/z)² Rᵀ A R`` with ``A = [[1, 0, −px], [0, 1, −py], [−px, −py, |p|²]]``:
    the per-view work is on scalars, and the rotations are applied by a few matrix
    products over all points at once. ``projected``: :func:`_project` of x, when known.
    """
    px, py, inv, rx, ry = _project(prob, x) if projected is None else projected
    err = np.hypot(rx, ry)
    weight = fit * _soft_l1_weight(np.where(fit > 0, err, 0.0), thr)
    n, k, c = err.shape
    fz = prob.focal_full * inv
    s = weight * fz * fz  # (n, k, c)
    p_s, p_x, p_y, p_r, r0, r1, r2 = prob.rot_products
    m = n * k
    blocks = s.reshape(m, c) @ p_s
    blocks += (s * px).reshape(m, c) @ p_x
    blocks += (s * py).reshape(m, c) @ p_y
    blocks += (s * (px * px + py * py)).reshape(m, c) @ p_r
    gs = weight * fz
    gx, gy = gs * rx, gs * ry
    gz = -(px * gx + py * gy)
    grad = gx.reshape(m, c) @ r0
    grad += gy.reshape(m, c) @ r1
    grad += gz.reshape(m, c) @ r2
    return blocks.reshape(n, k, 3, 3), grad.reshape(n, k, 3), err


def _norm3(v: FloatArray) -> FloatArray:
    """Euclidean norm over the last axis of length 3 (as np.linalg.norm, bit for bit,
    several times faster: no reduction along a short axis)."""
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    return np.sqrt(x * x + y * y + z * z)


def _soft_l1_weight(err: FloatArray, scale: float) -> FloatArray:
    return 1.0 / np.sqrt(1.0 + (err / scale) ** 2)


def _soft_l1_cost(err: FloatArray, scale: float) -> FloatArray:
    return 2.0 * scale**2 * (np.sqrt(1.0 + (err / scale) ** 2) - 1.0)


def _length_terms(prob: _Problem, x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Residuals (n, p) and unit directions (n, p, 3) of the length constraints."""
    if len(prob.pairs) == 0:
        return np.zeros((x.shape[0], 0)), np.zeros((x.shape[0], 0, 3))
    d = x[:, prob.pairs[:, 0]] - x[:, prob.pairs[:, 1]]
    norm = _norm3(d)
    unit = d / np.maximum(norm, 1e-12)[..., None]
    return prob.pair_scale * (norm - prob.lengths), unit


def _cost(prob: _Problem, x: FloatArray, w_view: FloatArray, scale: float
          ) -> tuple[float, Projected]:
    """The robust cost at x, and :func:`_project` of x (reused by the next iteration)."""
    projected = _project(prob, x)
    err = np.hypot(projected[3], projected[4])
    reproj = np.sum(w_view * _soft_l1_cost(np.nan_to_num(err), scale))
    smooth = prob.smooth.cost(x)
    lres, _ = _length_terms(prob, x)
    return float(reproj + smooth + np.sum(lres**2)), projected


def _banded(blocks: FloatArray, smooth: _SmoothTerms) -> FloatArray:
    """Lower banded storage (u + 1, k * n * 3) of the per-keypoint normal matrices,
    variables ordered (keypoint, frame, xyz)."""
    n, k = blocks.shape[:2]
    order = smooth.order
    u = max(2, 3 * order)
    ab = np.zeros((u + 1, k, n, 3))
    band = smooth.band(n)  # (order + 1, n, k)
    ab[0] = blocks[..., [0, 1, 2], [0, 1, 2]].transpose(1, 0, 2) + band[0].T[:, :, None]
    ab[1, :, :, 0] = blocks[:, :, 1, 0].T
    ab[1, :, :, 1] = blocks[:, :, 2, 1].T
    ab[2, :, :, 0] = blocks[:, :, 2, 0].T
    for j in range(1, order + 1):
        ab[3 * j] += band[j].T[:, :, None]
    return ab.reshape(u + 1, -1)


def _matvec(blocks: FloatArray, prob: _Problem, coupling: FloatArray, v: FloatArray
            ) -> FloatArray:
    """Full normal matrix times v (n, k, 3); ``coupling`` (n, p, 3) holds the length
    residuals' gradients g, whose off-diagonal blocks are -g gᵀ."""
    out: FloatArray = np.einsum("nkij,nkj->nki", blocks, v)  # 4x faster than slices
    out += prob.smooth.apply(v)
    a, b = prob.pairs[:, 0], prob.pairs[:, 1]
    ga = np.sum(coupling * v[:, b], axis=-1, keepdims=True) * coupling
    gb = np.sum(coupling * v[:, a], axis=-1, keepdims=True) * coupling
    for p in range(len(a)):
        out[:, a[p]] -= ga[:, p]
        out[:, b[p]] -= gb[:, p]
    return out


def _solve(blocks: FloatArray, prob: _Problem, coupling: FloatArray, rhs: FloatArray,
           max_iter: int | None = None, tol: float = 1e-3) -> FloatArray:
    """Solve the normal equations by banded-Cholesky-preconditioned conjugate gradients."""
    n, k = rhs.shape[:2]
    chol = cholesky_banded(_banded(blocks, prob.smooth), lower=True, check_finite=False)

    def precond(r: FloatArray) -> FloatArray:
        z = cho_solve_banded((chol, True), np.moveaxis(r, 1, 0).reshape(-1),
                              check_finite=False)
        return np.moveaxis(z.reshape(k, n, 3), 0, 1)

    x = precond(rhs)
    max_iter = CG_ITER if max_iter is None else max_iter
    if len(prob.pairs) == 0 or max_iter == 0:
        return x
    r = rhs - _matvec(blocks, prob, coupling, x)
    z = precond(r)
    p = z.copy()
    rz = float(np.vdot(r, z))
    norm0 = float(np.sqrt(np.vdot(rhs, rhs))) or 1.0
    for _ in range(max_iter):
        if np.sqrt(np.vdot(r, r)) < tol * norm0:
            break
        ap = _matvec(blocks, prob, coupling, p)
        alpha = rz / float(np.vdot(p, ap))
        x += alpha * p
        r -= alpha * ap
        z = precond(r)
        rz_new = float(np.vdot(r, z))
        p = z + (rz_new / rz) * p
        rz = rz_new
    return x


def _median_lengths(x: FloatArray, pairs: NDArray[np.int64]) -> FloatArray:
    d = _norm3(x[:, pairs[:, 0]] - x[:, pairs[:, 1]])
    return nanmedian(np.where(np.isfinite(d), d, np.nan), axis=0)


def optimize(extrinsics: FloatArray, focal: FloatArray, xy: FloatArray, weights: FloatArray,
             init: FloatArray, settings: OptimSettings, suspect: BoolArray | None = None
             ) -> tuple[FloatArray, FloatArray]:
    """Optimised points (n_frames, n_kp, 3) and final view weights (c, n_frames, n_kp).

    ``xy`` (c, n_frames, n_kp, 2) normalised detections, ``weights`` (c, n_frames, n_kp)
    their scores (0 = not used), ``init`` (n_frames, n_kp, 3) a starting point with every
    keypoint that has any observation finite (e.g. robust DLT with gaps interpolated).
    Keypoints with no finite start value are returned NaN. ``suspect`` (n_frames, n_kp):
    points whose views disagree but are too few to tell which is wrong (two views); once
    the fit has settled, the view that disagrees more with it is dropped.
    """
    n = init.shape[0]
    size = settings.chunk_frames
    if size and n > size + settings.chunk_overlap:
        return _optimize_chunked(extrinsics, focal, xy, weights, init, settings, suspect)
    return _optimize(extrinsics, focal, xy, weights, init, settings, suspect)


def _optimize_chunked(extrinsics: FloatArray, focal: FloatArray, xy: FloatArray,
                      weights: FloatArray, init: FloatArray, settings: OptimSettings,
                      suspect: BoolArray | None) -> tuple[FloatArray, FloatArray]:
    n = init.shape[0]
    size = max(settings.chunk_frames, 8)
    overlap = min(max(settings.chunk_overlap, 4), size // 4)
    out = np.zeros(init.shape)
    total = np.zeros(n)
    w_out = np.zeros(weights.shape)
    start = 0
    while True:
        stop = min(n, start + size)
        pts, w = _optimize(extrinsics, focal, xy[:, start:stop], weights[:, start:stop],
                           init[start:stop], settings,
                           None if suspect is None else suspect[start:stop])
        ramp = np.ones(stop - start)
        if start > 0:
            ramp[:overlap] = np.linspace(0.0, 1.0, overlap + 2)[1:-1]
        if stop < n:
            ramp[-overlap:] = np.linspace(1.0, 0.0, overlap + 2)[1:-1]
        out[start:stop] += ramp[:, None, None] * pts
        total[start:stop] += ramp
        w_out[:, start:stop] = np.maximum(w_out[:, start:stop], w)
        if stop == n:
            break
        start = stop - overlap
    return out / total[:, None, None], w_out


def _optimize(extrinsics: FloatArray, focal: FloatArray, xy: FloatArray, weights: FloatArray,
              init: FloatArray, settings: OptimSettings, suspect: BoolArray | None = None
              ) -> tuple[FloatArray, FloatArray]:
    n, k = init.shape[:2]
    active = np.isfinite(init).all(axis=(0, 2))  # keypoints with a full start value
    x = np.where(np.isfinite(init), init, 0.0)
    # internal layout: (frame, keypoint, camera)
    base = np.where(np.isfinite(xy).all(axis=-1), np.nan_to_num(weights), 0.0)
    base[:, :, ~active] = 0.0
    base = np.ascontiguousarray(base.transpose(1, 2, 0))
    xy0 = np.ascontiguousarray(np.nan_to_num(xy).transpose(3, 1, 2, 0))
    order = int(settings.n_deriv_smooth)
    terms = [_Smoothness(n, k, order, settings.scale_smooth * settings.mm_per_unit,
                         settings.smooth_delta)]
    if settings.scale_smooth_higher > 0:
        terms.append(_Smoothness(n, k, order + 1,
                                 settings.scale_smooth_higher * settings.mm_per_unit,
                                 settings.smooth_delta_higher))
    smooth = _SmoothTerms(terms)
    pairs_l: list[tuple[int, int]] = []
    scales: list[float] = []
    fixed: list[float] = []
    for group, scale in ((settings.constraints, settings.scale_length),
                         (settings.constraints_weak, settings.scale_length_weak)):
        for a, b in group:
            if active[a] and active[b] and a != b and scale > 0:
                pairs_l.append((a, b))
                scales.append(scale)
                fixed.append(settings.lengths.get((a, b), settings.lengths.get((b, a), np.nan)))
    pairs = np.array(pairs_l, dtype=np.int64).reshape(-1, 2)
    scale_arr = np.array(scales)
    given = np.array(fixed, dtype=np.float64)
    lengths = np.where(np.isfinite(given), given, _median_lengths(x, pairs)) \
        if len(pairs) else np.zeros(0)
    ok = np.isfinite(lengths) & (lengths > 0)
    pairs, scale_arr, lengths, given = pairs[ok], scale_arr[ok], lengths[ok], given[ok]
    prob = _Problem(extrinsics, focal, xy0, base, pairs, 100.0 * scale_arr / lengths,
                    lengths, smooth)
    thr = float(settings.reproj_error_threshold)
    # keypoints without data still need a well-posed system: a tiny pull to the start
    damping = 1e-6 * (1.0 + float(np.max(focal)) ** 2 / 1e6)
    w_fit = base
    err = np.zeros(base.shape)
    last = np.inf
    projected: Projected | None = None  # _project(prob, x), when the line search made it
    for it in range(settings.iterations):
        if it >= 3:  # views far off the current fit are outliers from now on
            w_fit = np.where(err > HARD * thr, 0.0, base)
            # a view far off both its point's other views and the trial's typical error,
            # where at least two views remain
            typical = float(np.median(err[base > 0])) if (base > 0).any() else thr
            n_used = (w_fit > 0).sum(axis=-1)
            far = np.where(w_fit > 0, err, 0.0).max(axis=-1) > TYPICAL_OUTLIER * typical
            cand = np.nonzero(far & (n_used >= 3))
            if cand[0].size:
                e_c, w_c = err[cand], w_fit[cand]  # (m, c)
                ranked = np.sort(np.where(w_c > 0, e_c, np.inf), axis=-1)
                mid = (n_used[cand] - 1) // 2  # the (lower) median of the used views
                own = np.take_along_axis(ranked, mid[:, None], axis=-1)[:, 0]
                lim = np.maximum(POINT_FACTOR * own, TYPICAL_OUTLIER * typical)
                w_fit = w_fit.copy()
                w_fit[cand] = np.where(e_c > lim[:, None], 0.0, w_c)
            if suspect is not None and suspect.any():
                worse = np.argmax(np.where(base > 0, err, -1.0), axis=-1)  # (n, k)
                f_i, k_i = np.nonzero(suspect)
                w_fit[f_i, k_i, worse[f_i, k_i]] = 0.0
        blocks, grad, err = _reprojection(prob, x, w_fit, thr, projected)
        projected = None
        err = np.where(base > 0, err, 0.0)
        if it == 3 and len(pairs):  # re-estimate the unknown lengths from the fit
            lengths = np.where(np.isfinite(given), given, _median_lengths(x, pairs))
            prob.lengths = lengths
            prob.pair_scale = 100.0 * scale_arr / lengths
        if it > 0:
            smooth.update(x)
        lres, unit = _length_terms(prob, x)
        before = (float(np.sum(w_fit * _soft_l1_cost(err, thr))) + smooth.cost(x)
                  + float(np.sum(lres**2)))
        grad += smooth.apply(x)
        coupling = prob.pair_scale[None, :, None] * unit  # d residual / d Xa, (n, p, 3)
        if len(pairs):
            outer = coupling[..., :, None] * coupling[..., None, :]
            lgrad = lres[..., None] * coupling
            for p, (a, b) in enumerate(pairs):
                blocks[:, a] += outer[:, p]
                blocks[:, b] += outer[:, p]
                grad[:, a] += lgrad[:, p]
                grad[:, b] -= lgrad[:, p]
        blocks[..., [0, 1, 2], [0, 1, 2]] += damping
        step = _solve(blocks, prob, coupling, -grad)
        if it < CHECKED_STEPS:  # large early steps: halve while the robust cost goes up
            for _ in range(4):
                cost, projected = _cost(prob, x + step, w_fit, thr)
                if cost <= before:
                    break
                step *= 0.5
            else:
                break
        x = x + step
        if DEBUG:
            print(it, before, np.max(np.abs(step)))
        if it >= 4 and abs(last - before) < REL_TOL * before:
            break
        last = before
    x[:, ~active] = np.nan
    return x, w_fit.transpose(2, 0, 1)
