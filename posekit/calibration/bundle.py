"""Bundle adjustment of cameras and board poses (Levenberg-Marquardt with a Schur complement).

Unknowns: per camera its world → camera pose and, optionally, its intrinsics (fx, fy, cx,
cy and the free distortion coefficients); per frame the board → world pose. Camera 1's
pose is held fixed (it defines the world frame during the fit); the board's known square
size fixes the scale. Derivatives are exact: OpenCV's ``projectPoints`` and ``composeRT``
return their Jacobians. Board poses are eliminated per frame (6 x 6 blocks), so the
reduced system has only the cameras' parameters (at most ~15 per camera) and each
iteration costs one pass over the observations. A Huber loss bounds the pull of bad
corners; corners far off after convergence are dropped and the fit repeated.
Deterministic: no random sampling anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from posekit.camera.model import Camera

log = logging.getLogger(__name__)
FloatArray = NDArray[np.float64]
N_EXT = 6


@dataclass
class Observation:
    """Corners ``ids`` of the board in frame slot ``frame`` seen by camera ``camera``."""

    camera: int
    frame: int
    ids: NDArray[np.int64]
    pixels: FloatArray  # (k, 2)


@dataclass
class BundleResult:
    cameras: list[Camera]
    frame_rvecs: FloatArray  # (n_slots, 3) board → world
    frame_tvecs: FloatArray
    observations: list[Observation]  # kept after outlier rejection
    errors: list[FloatArray]  # per kept observation, per corner, px
    iterations: int
    rejected: int  # corners dropped as outliers


def _cam_vector(cam: Camera) -> FloatArray:
    k = cam.matrix
    return np.concatenate([cam.rvec, cam.tvec, [k[0, 0], k[1, 1], k[0, 2], k[1, 2]], cam.dist])


def _vector_cam(vec: FloatArray, like: Camera) -> Camera:
    mat = np.array([[vec[6], 0.0, vec[8]], [0.0, vec[7], vec[9]], [0.0, 0.0, 1.0]])
    return Camera(like.name, like.size, mat, vec[10:], vec[:3], vec[3:6], like.fisheye)


def _project(obj: FloatArray, rf: FloatArray, tf: FloatArray, cam: FloatArray, fisheye: bool,
             jacobian: bool) -> tuple[FloatArray, FloatArray | None, FloatArray | None]:
    """Pixels (k, 2) of board points ``obj`` and the Jacobians of the flattened pixels
    with respect to the frame's pose (2k, 6) and to the camera vector (2k, len(cam))."""
    r3, t3, *d = cv2.composeRT(rf, tf, cam[:3], cam[3:6])
    mat = np.array([[cam[6], 0.0, cam[8]], [0.0, cam[7], cam[9]], [0.0, 0.0, 1.0]])
    if fisheye:
        pts, jac = cv2.fisheye.projectPoints(obj.reshape(-1, 1, 3), r3, t3, mat, cam[10:14])
        if jac is not None:  # fisheye order: f(2) c(2) k(4) r(3) t(3) alpha → r t f c k
            jac = np.concatenate([jac[:, 8:14], jac[:, 0:8]], axis=1)
    else:
        pts, jac = cv2.projectPoints(obj, r3, t3, mat, cam[10:])
    pts = pts.reshape(-1, 2)
    if not jacobian:
        return pts, None, None
    dr3dr1, dr3dt1, dr3dr2, dr3dt2, dt3dr1, dt3dt1, dt3dr2, dt3dt2 = d
    jr, jt = jac[:, 0:3], jac[:, 3:6]
    j_frame = np.hstack([jr @ dr3dr1 + jt @ dt3dr1, jr @ dr3dt1 + jt @ dt3dt1])
    j_cam = np.hstack([jr @ dr3dr2 + jt @ dt3dr2, jr @ dr3dt2 + jt @ dt3dt2, jac[:, 6:]])
    return pts, j_frame, j_cam


def _huber_weights(err: FloatArray, delta: float) -> FloatArray:
    return np.where(err <= delta, 1.0, delta / np.maximum(err, 1e-300))


def _huber_cost(err: FloatArray, delta: float) -> float:
    return float(np.sum(np.where(err <= delta, err**2, 2 * delta * err - delta**2)))


class _Problem:
    def __init__(self, obj: FloatArray, cams: list[Camera], obs: list[Observation],
                 free: NDArray[np.bool_], delta: float) -> None:
        self.obj, self.cams, self.obs, self.delta = obj, cams, obs, delta
        self.fisheye = [c.fisheye for c in cams]
        self.free = free  # (n_cams, n_cam_params)
        self.n_free = int(free.sum())

    def errors(self, cvec: list[FloatArray], fr: FloatArray, ft: FloatArray) -> list[FloatArray]:
        out = []
        for o in self.obs:
            pts, _, _ = _project(self.obj[o.ids], fr[o.frame], ft[o.frame], cvec[o.camera],
                                 self.fisheye[o.camera], False)
            out.append(np.hypot(*(pts - o.pixels).T))
        return out

    def cost(self, cvec: list[FloatArray], fr: FloatArray, ft: FloatArray) -> float:
        return sum(_huber_cost(e, self.delta) for e in self.errors(cvec, fr, ft))

    def step(self, cvec: list[FloatArray], fr: FloatArray, ft: FloatArray, lam: float
             ) -> tuple[FloatArray, FloatArray]:
        """One damped Gauss-Newton step: (camera deltas (n_free,), frame deltas (n, 6))."""
        n_frames = len(fr)
        n_cp = self.free.shape[1]
        u = np.zeros((len(cvec), n_cp, n_cp))
        gc = np.zeros((len(cvec), n_cp))
        v = np.zeros((n_frames, 6, 6))
        gf = np.zeros((n_frames, 6))
        w_blocks = []
        for o in self.obs:
            pts, jf, jc = _project(self.obj[o.ids], fr[o.frame], ft[o.frame], cvec[o.camera],
                                   self.fisheye[o.camera], True)
            assert jf is not None and jc is not None
            res = pts - o.pixels
            w = np.repeat(_huber_weights(np.hypot(*res.T), self.delta), 2)
            r = res.ravel()
            jcw = jc.T * w
            u[o.camera] += jcw @ jc
            gc[o.camera] += jcw @ r
            v[o.frame] += (jf.T * w) @ jf
            gf[o.frame] += (jf.T * w) @ r
            w_blocks.append(jcw @ jf)
        damp = 1.0 + lam
        u_d = u.copy()
        idx = np.arange(n_cp)
        u_d[:, idx, idx] = u[:, idx, idx] * damp + 1e-12
        v_d = v.copy()
        v_d[:, np.arange(6), np.arange(6)] = v[:, np.arange(6), np.arange(6)] * damp + 1e-12
        v_inv = np.linalg.inv(v_d)
        # reduced camera system (all camera parameters, then the free ones selected)
        n_c = len(cvec)
        s = np.zeros((n_c, n_cp, n_c, n_cp))
        s[np.arange(n_c), :, np.arange(n_c), :] = u_d
        rhs = -gc.copy()
        by_frame: dict[int, list[tuple[int, FloatArray]]] = {}
        for o, wb in zip(self.obs, w_blocks, strict=True):
            by_frame.setdefault(o.frame, []).append((o.camera, wb))
        for f, blocks in by_frame.items():
            for c1, wb1 in blocks:
                y1 = wb1 @ v_inv[f]
                rhs[c1] += y1 @ gf[f]
                for c2, wb2 in blocks:
                    s[c1, :, c2, :] -= y1 @ wb2.T
        mask = self.free.ravel()
        s_free = s.reshape(n_c * n_cp, n_c * n_cp)[np.ix_(mask, mask)]
        full = np.zeros(n_c * n_cp)
        if self.n_free:
            full[mask] = np.linalg.solve(s_free, rhs.ravel()[mask])
        full = full.reshape(n_c, n_cp)
        acc = -gf.copy()
        for o, wb in zip(self.obs, w_blocks, strict=True):
            acc[o.frame] -= wb.T @ full[o.camera]
        df = np.einsum("fij,fj->fi", v_inv, acc)
        return full, df


def _solve(problem: _Problem, cvec: list[FloatArray], fr: FloatArray, ft: FloatArray,
           max_iter: int) -> tuple[list[FloatArray], FloatArray, FloatArray, int]:
    lam = 1e-3
    cost = problem.cost(cvec, fr, ft)
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        dcam, dframe = problem.step(cvec, fr, ft, lam)
        new_c = [c + d for c, d in zip(cvec, dcam, strict=True)]
        new_r, new_t = fr + dframe[:, :3], ft + dframe[:, 3:]
        new_cost = problem.cost(new_c, new_r, new_t)
        if new_cost < cost:
            gain = (cost - new_cost) / max(cost, 1e-300)
            cvec, fr, ft, cost = new_c, new_r, new_t, new_cost
            lam = max(lam / 4, 1e-9)
            if gain < 1e-10:
                break
        else:
            lam *= 8
            if lam > 1e8:
                break
    return cvec, fr, ft, it


def bundle_adjust(object_points: FloatArray, cameras: Sequence[Camera], frame_rvecs: FloatArray,
                  frame_tvecs: FloatArray, observations: list[Observation], *,
                  refine_intrinsics: bool = True,
                  distortion_free: Sequence[bool] = (True,) * 5,
                  max_iter: int = 100, outlier_px: float = 1.0) -> BundleResult:
    """Refine cameras (camera 0's pose fixed) and board poses from board observations.

    ``observations`` refer to cameras by index and to frames by row of ``frame_rvecs``.
    After a first fit, corners off by more than ``max(outlier_px, 5 x robust sigma)`` are
    dropped and the fit repeated.
    """
    cams = list(cameras)
    cvec = [_cam_vector(c) for c in cams]
    n_cp = len(cvec[0])
    free = np.zeros((len(cams), n_cp), bool)
    free[:, :N_EXT] = True
    free[0, :N_EXT] = False
    if refine_intrinsics:
        free[:, N_EXT:N_EXT + 4] = True
        n_dist = n_cp - N_EXT - 4
        free[:, N_EXT + 4:] = np.asarray(distortion_free, bool)[:n_dist]
    fr, ft = frame_rvecs.astype(float).copy(), frame_tvecs.astype(float).copy()
    obs = list(observations)
    total_iter, rejected = 0, 0
    delta = 2.0
    for round_ in range(3):
        problem = _Problem(object_points, cams, obs, free, delta)
        cvec, fr, ft, its = _solve(problem, cvec, fr, ft, max_iter)
        total_iter += its
        errors = problem.errors(cvec, fr, ft)
        flat = np.concatenate(errors)
        sigma = 1.4826 * float(np.median(flat)) / 0.8326  # Rayleigh median → sigma per axis
        threshold = max(outlier_px, 5 * sigma * 1.4142)
        log.debug("bundle round %d: %d iterations, median %.3f px, threshold %.2f px",
                  round_, its, np.median(flat), threshold)
        bad = int((flat > threshold).sum())
        if bad == 0 or round_ == 2:
            break
        kept = []
        for o, e in zip(obs, errors, strict=True):
            ok = e <= threshold
            if ok.sum() >= 4:
                kept.append(Observation(o.camera, o.frame, o.ids[ok], o.pixels[ok]))
        rejected += int(sum(len(o.ids) for o in obs) - sum(len(o.ids) for o in kept))
        obs = kept
        delta = max(3 * sigma * 1.4142, 0.5)
    final = [_vector_cam(v, c) for v, c in zip(cvec, cams, strict=True)]
    # the last round ended without dropping anything: ``errors`` are those of ``obs``
    return BundleResult(final, fr, ft, obs, errors, total_iter, rejected)
