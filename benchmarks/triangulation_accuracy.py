"""Benchmark: posekit vs aniposelib 0.8.0 triangulation on synthetic 2D with 3D truth.

Data: :func:`posekit.synthetic.triangulation_data.make_triangulation_trial`: the ``demo``
motion (33 MediaPipe keypoints, 30 fps) seen by ``make_rig(n_cams)`` (4 cameras by
default, lens distortion), at three levels: ``clean``; ``noisy`` (2 px Gaussian noise);
``corrupted`` (2 px noise + 5 % outliers with the scores of good detections, half 20-150 px
jumps lasting 1-5 frames and half left/right swaps of whole frames for 1-10 frames, + 10 %
dropouts). Both libraries get the same 2D, in pixels, and the same calibration in
millimetres (the rig's translations x 1000, as Anipose projects usually are; ``--units m``
gives both the rig in metres instead); errors are always reported in mm.

Units matter to aniposelib: its DLT is the homogeneous SVD solution without
normalisation, which on inconsistent views (outliers) slides towards the point at
infinity far more often with coordinates of ~1000 (mm) than of ~1 (m); those far points
then seed ``optim_points``. Its other terms (pixels, relative lengths, smoothness scaled
by the mean frame-to-frame motion) do not depend on the units.

Methods, each timed on the whole trial in the same process:

- aniposelib ``triangulate`` (DLT); ``triangulate_ransac(min_cams=2)`` on the first
  ``--ransac-frames`` frames only, and only at the smallest ``--frames`` size (it runs at a
  few frames/s; points with fewer than 2 views are left NaN because 0.8.0 crashes on a
  point without any view); ``triangulate_optim`` as Anipose's ``triangulate.py`` calls it
  (DLT initialisation then ``optim_points``, no scores) with Anipose's default weights
  (:data:`ANIPOSE_DEFAULTS`, from ``DEFAULT_CONFIG`` in ``anipose/anipose.py``).
- posekit plain DLT (``posekit.triangulation.dlt.triangulate``; weighted by the scores when
  its signature takes ``weights``) and ``posekit.triangulation.reconstruct.reconstruct``
  with the same weights and constraints (``mm_per_unit`` given when it takes it; skipped,
  with a message, while that module does not import).

Every method sees 2D points whose score is below ``--score-threshold`` as missing, as
Anipose's ``triangulate.py`` does (``points[scores < score_threshold] = nan``). The
default is 0.5 for both libraries, not Anipose's default 0.8: the synthetic scores are
U(0.6, 1.0), so 0.8 would throw away half of the good detections at random.

Constraints (the same for both libraries): :data:`STRONG` (upper arm, forearm, thigh,
shank per side) and :data:`WEAK` (shoulder and hip width, and the three foot segments per
side).

Metrics: MPJPE (mean 3D error over all finite estimated points of the 33 keypoints, mm),
p95 of that error, the share of points left NaN, knee / hip / elbow 3-point angle RMSE
(degrees, RMSE per side, then the mean of left and right), bone-length std (mm, std over
frames of each of thigh / shank / upper arm / forearm per side, averaged over the 8),
frames/s (wall time of the call; aniposelib's JAX and numba code is warmed up first on a
small trial, so the figures include only per-shape compilation, as a real call would).

Run from the repository root::

    python benchmarks/triangulation_accuracy.py                 # 1000 + 10000 frames
    python benchmarks/triangulation_accuracy.py --quick         # 300 frames, noisy+corrupted
    python benchmarks/triangulation_accuracy.py --frames 1000 --levels noisy --cams 3
    python benchmarks/triangulation_accuracy.py --frames 10000 --levels noisy \
        --methods ani_optim pk_reconstruct pk_dlt ani_dlt    # one large case

The Markdown tables go to stdout and, with ``--out DIR``, to ``DIR/triangulation_accuracy.md``
(plus ``triangulation_accuracy.json`` with every figure).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import inspect
import io
import json
import os
import platform
import time
import traceback
import warnings
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from posekit.camera.model import CameraGroup
from posekit.synthetic.person import joint_angles, segment_lengths
from posekit.synthetic.triangulation_data import (
    LEVELS,
    TriangulationTrial,
    make_triangulation_trial,
)
from posekit.triangulation import dlt

#: Anipose's defaults for [triangulation] (``DEFAULT_CONFIG`` in lambdaloop/anipose,
#: anipose/anipose.py): the weights passed to ``optim_points`` by anipose/triangulate.py.
ANIPOSE_DEFAULTS: dict[str, float] = {
    "scale_smooth": 2, "scale_length": 2, "scale_length_weak": 1,
    "reproj_error_threshold": 5, "n_deriv_smooth": 3,
}
#: Anipose's default ``score_threshold`` (not used by default here, see the docstring).
ANIPOSE_SCORE_THRESHOLD = 0.8
SIDES = ("left", "right")
#: Strong length constraints: the limb bones.
STRONG: list[tuple[str, str]] = [
    (f"{s}_{a}", f"{s}_{b}") for s in SIDES
    for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))
]
#: Weak length constraints: shoulder and hip width, foot segments.
WEAK: list[tuple[str, str]] = [("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")] + [
    (f"{s}_{a}", f"{s}_{b}") for s in SIDES
    for a, b in (("ankle", "heel"), ("heel", "foot_index"), ("ankle", "foot_index"))
]
#: World units both libraries can work in → scale from the rig's metres.
UNITS = {"mm": 1000.0, "m": 1.0}
ANGLES = ("knee", "hip", "elbow")
BONES = ("thigh", "shank", "upper_arm", "forearm")
METHODS = {
    "ani_dlt": "aniposelib triangulate (DLT)",
    "ani_ransac": "aniposelib triangulate_ransac",
    "ani_optim": "aniposelib triangulate_optim",
    "pk_dlt": "posekit DLT",
    "pk_reconstruct": "posekit reconstruct",
}


# -- camera groups ----------------------------------------------------------------------
def scaled_group(group: CameraGroup, factor: float) -> CameraGroup:
    """``group`` with its world units multiplied by ``factor`` (translations scaled)."""
    cams = [dataclasses.replace(c, tvec=c.tvec * factor) for c in group]
    units = {1000.0: "mm", 1.0: "m"}.get(factor, f"{factor:g} per metre")
    return CameraGroup(cams, {**group.metadata, "units": units})


def to_aniposelib(group: CameraGroup) -> Any:
    """An aniposelib ``CameraGroup`` with the same cameras (same units)."""
    from aniposelib.cameras import Camera as AniCamera
    from aniposelib.cameras import CameraGroup as AniGroup
    from aniposelib.cameras import FisheyeCamera

    cams = [(FisheyeCamera if c.fisheye else AniCamera)(
        name=c.name, size=list(c.size), matrix=c.matrix.copy(), dist=c.dist.copy(),
        rvec=c.rvec.copy(), tvec=c.tvec.copy()) for c in group]
    return AniGroup(cams)


# -- metrics ----------------------------------------------------------------------------
def metrics(est: np.ndarray, truth: np.ndarray, seconds: float) -> dict[str, float]:
    """Accuracy of ``est`` (n, 33, 3) against ``truth`` (n, 33, 3), both mm."""
    fin = np.isfinite(est).all(axis=-1)
    err = np.linalg.norm(est - truth, axis=-1)[fin]
    out = {"mpjpe": float(err.mean()) if err.size else np.nan,
           "p95": float(np.percentile(err, 95)) if err.size else np.nan,
           "missing": float(1 - fin.mean()), "seconds": seconds,
           "fps": len(est) / seconds if seconds > 0 else np.nan}
    ang_t, ang_e = joint_angles(truth), joint_angles(est)
    for joint in ANGLES:
        rmse = []
        for s in SIDES:
            d = ang_e[f"{s}_{joint}"] - ang_t[f"{s}_{joint}"]
            d = d[np.isfinite(d)]
            rmse.append(float(np.sqrt(np.mean(d ** 2))) if d.size else np.nan)
        out[f"{joint}_rmse"] = float(np.mean(rmse))
    lengths = segment_lengths(est)
    stds = [np.nanstd(lengths[f"{s}_{b}"]) for s in SIDES for b in BONES
            if np.isfinite(lengths[f"{s}_{b}"]).any()]
    out["bone_std"] = float(np.mean(stds)) if stds else np.nan
    return out


# -- methods ----------------------------------------------------------------------------
def _thresholded(trial: TriangulationTrial, threshold: float) -> np.ndarray:
    xy = trial.xy.copy()
    xy[trial.scores < threshold] = np.nan
    return xy


def _indices(keypoints: tuple[str, ...], pairs: list[tuple[str, str]]) -> list[list[int]]:
    return [[keypoints.index(a), keypoints.index(b)] for a, b in pairs]


def ani_dlt(cg: Any, xy: np.ndarray) -> np.ndarray:
    c, n, k, _ = xy.shape
    return np.asarray(cg.triangulate(xy.reshape(c, n * k, 2))).reshape(n, k, 3)


def ani_ransac(cg: Any, xy: np.ndarray) -> np.ndarray:
    c, n, k, _ = xy.shape
    flat = xy.reshape(c, n * k, 2)
    ok = np.isfinite(flat[..., 0]).sum(axis=0) >= 2  # 0.8.0 crashes on unseen points
    out = np.full((n * k, 3), np.nan)
    if ok.any():
        with contextlib.redirect_stdout(io.StringIO()):
            p3d, _, _, _ = cg.triangulate_ransac(flat[:, ok], min_cams=2, progress=False)
        out[ok] = p3d
    return out.reshape(n, k, 3)


def ani_optim(cg: Any, xy: np.ndarray, keypoints: tuple[str, ...]) -> np.ndarray:
    with contextlib.redirect_stdout(io.StringIO()):
        return np.asarray(cg.triangulate_optim(
            xy, constraints=_indices(keypoints, STRONG),
            constraints_weak=_indices(keypoints, WEAK), **ANIPOSE_DEFAULTS))


def pk_dlt(group: CameraGroup, xy: np.ndarray, scores: np.ndarray) -> np.ndarray:
    fn: Callable[..., Any] = dlt.triangulate
    params = inspect.signature(fn).parameters
    for name in ("weights", "scores"):  # the weighted variant, when there is one
        if name in params:
            return np.asarray(fn(group, xy, **{name: scores}))
    return np.asarray(fn(group, xy))


def posekit_reconstruct() -> tuple[Callable[..., Any] | None, str]:
    """posekit's ``reconstruct`` and "", or None and why it is not available."""
    try:
        from posekit.triangulation.reconstruct import reconstruct
    except ImportError as exc:
        return None, f"posekit.triangulation.reconstruct does not import ({exc})"
    return reconstruct, ""


def pk_config(threshold: float) -> Any:
    from posekit.config.schema import TriangulationConfig

    # posekit's own defaults (its weights differ from Anipose's: the smoothness is robust)
    return TriangulationConfig(
        optim=True, constraints=[list(p) for p in STRONG],
        constraints_weak=[list(p) for p in WEAK], score_threshold=threshold)


# -- running ----------------------------------------------------------------------------
def timed(fn: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def warm_up(methods: list[str], threshold: float, n_cams: int) -> None:
    """Load and compile aniposelib's JAX / numba code (and posekit's) on a small trial."""
    trial = make_triangulation_trial(n_cams=n_cams, n_frames=40, level="noisy", seed=99)
    group = scaled_group(trial.group, 1000.0)
    cg = to_aniposelib(group)
    xy = _thresholded(trial, threshold)
    if "ani_dlt" in methods or "ani_optim" in methods:
        ani_dlt(cg, xy)
    if "ani_ransac" in methods:
        ani_ransac(cg, xy[:, :2])
    if "ani_optim" in methods:
        ani_optim(cg, xy, trial.keypoints)
    if "pk_dlt" in methods:
        pk_dlt(group, xy, trial.scores)
    reconstruct, _ = posekit_reconstruct()
    if "pk_reconstruct" in methods and reconstruct is not None:
        with contextlib.suppress(Exception):
            reconstruct(group, trial.xy, trial.scores, trial.keypoints, pk_config(threshold),
                        trial.fps)


def run_case(trial: TriangulationTrial, methods: list[str], threshold: float,
             ransac_frames: int, log: Callable[[str], None], units: str = "mm"
             ) -> dict[str, dict[str, Any]]:
    """Every method on one trial: method key → metrics (or {"skipped": why}). Both
    libraries work in ``units`` ("mm" or "m"); the metrics are in mm."""
    scale = UNITS[units]
    group = scaled_group(trial.group, scale)
    cg = to_aniposelib(group)
    truth = trial.points3d * 1000.0
    xy = _thresholded(trial, threshold)
    kp = trial.keypoints
    res: dict[str, dict[str, Any]] = {}

    def record(key: str, fn: Callable[[], np.ndarray], frames: slice | None = None) -> None:
        try:
            est, sec = timed(fn)
            est = est * (1000.0 / scale)
        except Exception as exc:  # report and go on: one method must not end the run
            res[key] = {"skipped": f"failed: {type(exc).__name__}: {exc}"}
            log(f"    {METHODS[key]}: FAILED ({type(exc).__name__}: {exc})")
            traceback.print_exc()
            return
        ref = truth if frames is None else truth[frames]
        res[key] = metrics(est, ref, sec)
        res[key]["frames"] = len(ref)
        log(f"    {METHODS[key]}: {sec:.2f} s, MPJPE {res[key]['mpjpe']:.2f} mm")

    if "ani_dlt" in methods:
        record("ani_dlt", lambda: ani_dlt(cg, xy))
    if "ani_ransac" in methods:
        if ransac_frames > 0:
            sub = slice(0, min(ransac_frames, trial.n_frames))
            record("ani_ransac", lambda: ani_ransac(cg, xy[:, sub]), sub)
        else:
            res["ani_ransac"] = {"skipped": "not run at this size"}
    if "ani_optim" in methods:
        record("ani_optim", lambda: ani_optim(cg, xy, kp))
    if "pk_dlt" in methods:
        record("pk_dlt", lambda: pk_dlt(group, xy, trial.scores))
    if "pk_reconstruct" in methods:
        reconstruct, why = posekit_reconstruct()
        if reconstruct is None:
            res["pk_reconstruct"] = {"skipped": why}
        else:
            cfg = pk_config(threshold)
            extra = ({"mm_per_unit": 1000.0 / scale} if "mm_per_unit"
                     in inspect.signature(reconstruct).parameters else {})
            record("pk_reconstruct", lambda: np.asarray(reconstruct(
                group, trial.xy, trial.scores, kp, cfg, trial.fps, **extra).points))
    return res


# -- reporting --------------------------------------------------------------------------
def _f(v: Any, fmt: str = ".1f") -> str:
    return "–" if v is None or not np.isfinite(v) else format(v, fmt)


def table(res: dict[str, dict[str, Any]], n_kp: int) -> list[str]:
    lines = ["| method | frames | MPJPE mm | p95 mm | missing % | knee ° | hip ° | elbow ° | "
             "bone std mm | frames/s | points/s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, m in res.items():
        if "skipped" in m:
            lines.append(f"| {METHODS[key]} | {m['skipped']} |" + " |" * 9)
            continue
        lines.append(
            f"| {METHODS[key]} | {m['frames']} | {_f(m['mpjpe'], '.2f')} | {_f(m['p95'])} | "
            f"{_f(100 * m['missing'], '.2f')} | {_f(m['knee_rmse'], '.2f')} | "
            f"{_f(m['hip_rmse'], '.2f')} | {_f(m['elbow_rmse'], '.2f')} | "
            f"{_f(m['bone_std'], '.2f')} | {_f(m['fps'], '.0f')} | "
            f"{_f(m['fps'] * n_kp, '.0f')} |")
    return lines


def ratios(res: dict[str, dict[str, Any]]) -> list[str]:
    pk, ani = res.get("pk_reconstruct", {}), res.get("ani_optim", {})
    if "mpjpe" not in pk or "mpjpe" not in ani:
        return []
    parts = []
    for key, label in (("mpjpe", "MPJPE"), ("p95", "p95"), *((f"{j}_rmse", j) for j in ANGLES),
                       ("bone_std", "bone std")):
        r = pk[key] / ani[key] if ani[key] > 0 else np.nan
        parts.append(f"{label} {_f(r, '.2f')}")
    speed = pk["fps"] / ani["fps"]
    return [f"posekit reconstruct / aniposelib optim: {', '.join(parts)} "
            f"(target ≤ 0.8); speed × {_f(speed, '.1f')} (target ≥ 20)"]


def header(args: argparse.Namespace) -> list[str]:
    def ver(pkg: str) -> str:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return "not installed"

    return [f"# Triangulation accuracy ({time.strftime('%Y-%m-%d %H:%M')})", "",
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}; aniposelib {ver('aniposelib')}, jax {ver('jax')}, "
            f"numpy {ver('numpy')}, scipy {ver('scipy')}, posekit {ver('posekit')}.",
            f"{args.cams} cameras, motion {args.motion}, seed {args.seed}, world units "
            f"{args.units}, score threshold "
            f"{args.score_threshold}; aniposelib optim weights {ANIPOSE_DEFAULTS} "
            "(Anipose's defaults).", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[1000, 10000],
                        help="trial sizes (frames)")
    parser.add_argument("--levels", nargs="+", choices=LEVELS, default=list(LEVELS))
    parser.add_argument("--cams", type=int, default=4)
    parser.add_argument("--motion", default="demo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument("--ransac-frames", type=int, default=200,
                        help="frames given to triangulate_ransac (smallest size only)")
    parser.add_argument("--score-threshold", type=float, default=0.5,
                        help=f"for every method (Anipose's default: {ANIPOSE_SCORE_THRESHOLD})")
    parser.add_argument("--units", choices=list(UNITS), default="mm",
                        help="world units of the calibration given to both libraries")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 300 frames, noisy and corrupted, RANSAC on 50")
    parser.add_argument("--out", type=Path, help="write the tables and a JSON file here")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.levels, args.ransac_frames = [300], ["noisy", "corrupted"], 50
    out: list[str] = header(args)
    print("\n".join(out), flush=True)

    def log(msg: str) -> None:
        print(msg, flush=True)

    reconstruct, why = posekit_reconstruct()
    if reconstruct is None and "pk_reconstruct" in args.methods:
        log(f"posekit rows skipped: {why}\n")
    with contextlib.suppress(ImportError):  # object-mode fallbacks in aniposelib 0.8.0
        from numba.core.errors import NumbaWarning
        warnings.simplefilter("ignore", NumbaWarning)
    warm_up(args.methods, args.score_threshold, args.cams)
    results: dict[str, Any] = {}
    smallest = min(args.frames)
    for n in args.frames:
        for level in args.levels:
            log(f"{n} frames, {level}:")
            trial = make_triangulation_trial(args.cams, n, level=level, motion=args.motion,
                                             seed=args.seed)
            res = run_case(trial, args.methods, args.score_threshold,
                           args.ransac_frames if n == smallest else 0, log, args.units)
            results[f"{n}/{level}"] = res
            block = ["", f"## {n} frames, {level} ({args.cams} cameras)", "",
                     *table(res, len(trial.keypoints))]
            if "pk_dlt" in res and "fps" in res["pk_dlt"]:
                pts = res["pk_dlt"]["fps"] * len(trial.keypoints)
                block += ["", f"posekit DLT: {pts:,.0f} points/s (target ≥ 100,000)"]
            if (rat := ratios(res)):
                block += ["", *rat]
            log("\n".join(block) + "\n")
            out += block
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "triangulation_accuracy.md").write_text("\n".join(out) + "\n")
        (args.out / "triangulation_accuracy.json").write_text(
            json.dumps(results, indent=1, default=float))
        log(f"written to {args.out}")


if __name__ == "__main__":
    main()
