"""Triangulation on real footage: the Pose2Sim demo trial (4 cameras, 100 frames at 60 fps).

MediaPipe 2D from posekit's detector (cached, as detecting 4 x 100 frames takes a minute),
the lab's Qualisys calibration (millimetres), the cameras synchronised as recorded (or
offsets from ``--offsets cam03=-3``). Side by side on the same 2D:

* plain DLT of every detection scored >= 0.5 (what a tool without robust selection does),
* posekit without the optimiser (robust view selection + swap repair),
* posekit's full reconstruction with the limb bones as length constraints,
* aniposelib 0.8.0's ``triangulate_optim`` with Anipose's default weights, same constraints.

Reported: the median reprojection error per camera (px) over all detections scored >= 0.5
as labelled by the detector (the same views for every method), and over the views each
method used (posekit: the views that agree, after its left/right swap repair; a mirrored
detection then counts with its corrected label); thigh and shank length mean and standard
deviation (mm).

Data: ``--data`` or ``POSEKIT_DATA`` (default ``../shared/data``).
Run: ``python benchmarks/triangulation_real.py [--cache DIR] [--no-anipose]``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
from sync_accuracy import detector_model, made_by

from posekit.calibration.imports import import_calibration
from posekit.camera.model import CameraGroup
from posekit.config.schema import DetectionConfig, TriangulationConfig
from posekit.pose2d.table import Pose2D, read_pose2d, write_pose2d
from posekit.triangulation.dlt import triangulate
from posekit.triangulation.reconstruct import reconstruct

CAMS = ("cam01", "cam02", "cam03", "cam04")
SIDES = ("left", "right")
STRONG = [[f"{s}_{a}", f"{s}_{b}"] for s in SIDES
          for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"),
                       ("knee", "ankle"))]
WEAK = [["left_shoulder", "right_shoulder"], ["left_hip", "right_hip"]]
THRESHOLD = 0.5


def load_2d(demo: Path, cache: Path) -> dict[str, Pose2D]:
    from posekit.pose2d.step import detect_video

    cache.mkdir(parents=True, exist_ok=True)
    poses = {}
    model = detector_model()
    for cam in CAMS:
        path = cache / f"{cam}.h5"
        if not made_by(path, model):
            pose = detect_video(demo / "videos" / f"{cam}.mp4", DetectionConfig(),
                                progress=False)
            write_pose2d(pose, path)
        poses[cam] = read_pose2d(path)
    return poses


def stack(poses: dict[str, Pose2D], offsets: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    start = max(offsets.values())
    stop = min(offsets[c] + p.n_frames for c, p in poses.items())
    xy = np.stack([p.xy[start - offsets[c]:stop - offsets[c]] for c, p in poses.items()])
    sc = np.stack([p.likelihood[start - offsets[c]:stop - offsets[c]]
                   for c, p in poses.items()])
    return xy, sc


def camera_errors(group: CameraGroup, points: np.ndarray, xy: np.ndarray,
                  mask: np.ndarray) -> list[float]:
    proj = group.project(np.nan_to_num(points.reshape(-1, 3))).reshape(xy.shape)
    err = np.hypot(*np.moveaxis(proj - xy, -1, 0))
    err[:, ~np.isfinite(points).all(axis=-1)] = np.nan
    return [float(np.nanmedian(np.where(mask[c], err[c], np.nan))) for c in range(len(xy))]


def bones(points: np.ndarray, keypoints: list[str]) -> dict[str, tuple[float, float]]:
    idx = keypoints.index
    out = {}
    for seg, (a, b) in {"thigh": ("hip", "knee"), "shank": ("knee", "ankle")}.items():
        for s in SIDES:
            d = np.linalg.norm(points[:, idx(f"{s}_{a}")] - points[:, idx(f"{s}_{b}")], axis=-1)
            out[f"{s} {seg}"] = (float(np.nanmean(d)), float(np.nanstd(d)))
    return out


def anipose_optim(group: CameraGroup, xy: np.ndarray, keypoints: list[str]) -> np.ndarray:
    from aniposelib.cameras import Camera as ACamera
    from aniposelib.cameras import CameraGroup as AGroup

    warnings.filterwarnings("ignore", module="numba")  # aniposelib's object-mode fallback
    warnings.filterwarnings("ignore", message=".*Compilation is falling back.*")

    cg = AGroup([ACamera(name=c.name, size=c.size, matrix=c.matrix, dist=c.dist,
                         rvec=c.rvec, tvec=c.tvec) for c in group])
    idx = keypoints.index
    return np.asarray(cg.triangulate_optim(
        xy, constraints=[[idx(a), idx(b)] for a, b in STRONG],
        constraints_weak=[[idx(a), idx(b)] for a, b in WEAK], scale_smooth=2,
        scale_length=2, scale_length_weak=1, reproj_error_threshold=5, n_deriv_smooth=3,
        verbose=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path(os.environ.get("POSEKIT_DATA", "../shared/data")))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/posekit-bench/pose2sim-2d"))
    parser.add_argument("--offsets", nargs="*", default=[],
                        help="camera=frames offsets (default: all 0, as recorded)")
    parser.add_argument("--no-anipose", action="store_true")
    args = parser.parse_args()
    demo = args.data / "pose2sim-demo"
    if not demo.is_dir():
        print(f"real data not found at {demo}; nothing to do")
        return
    group = import_calibration(demo / "calibration" / "Calib.qca.txt").subset(list(CAMS))
    poses = load_2d(demo, args.cache)
    offsets = {c: 0 for c in CAMS}
    offsets.update({k: int(v) for k, v in (o.split("=") for o in args.offsets)})
    xy, sc = stack(poses, offsets)
    kps = list(poses[CAMS[0]].keypoints)
    seen = np.isfinite(xy).all(axis=-1) & (sc >= THRESHOLD)
    masked = np.where(seen[..., None], xy, np.nan)
    results: dict[str, tuple[np.ndarray, float, list[float] | None]] = {}
    start = time.perf_counter()
    results["plain DLT"] = (triangulate(group, masked), time.perf_counter() - start, None)
    for name, cfg in (("posekit, no optimiser", TriangulationConfig(optim=False)),
                      ("posekit full", TriangulationConfig(constraints=STRONG,
                                                           constraints_weak=WEAK))):
        start = time.perf_counter()
        rec = reconstruct(group, xy, sc, kps, cfg, 60.0)
        own = [float(np.nanmedian(np.where(rec.used[c], rec.view_errors[c], np.nan)))
               for c in range(len(CAMS))]
        results[name] = (rec.points, time.perf_counter() - start, own)
    if not args.no_anipose:
        start = time.perf_counter()
        results["aniposelib triangulate_optim"] = (anipose_optim(group, masked, kps),
                                                   time.perf_counter() - start, None)
    print(f"Pose2Sim demo, {xy.shape[1]} frames, offsets {offsets}, MediaPipe 2D "
          f"(score >= {THRESHOLD}), Qualisys calibration\n")
    print("| method | " + " | ".join(f"{c} px" for c in CAMS)
          + " | used views: " + " / ".join(CAMS) + " px | s |")
    print("| --- " * (len(CAMS) + 3) + "|")
    for name, (pts, secs, own) in results.items():
        allv = camera_errors(group, pts, xy, seen)
        usedv = " / ".join(f"{v:.1f}" for v in (allv if own is None else own))
        print(f"| {name} | " + " | ".join(f"{v:.1f}" for v in allv)
              + f" | {usedv} | {secs:.2f} |")
    print("\n| method | " + " | ".join(bones(results["plain DLT"][0], kps))
          + " |   (mean ± std, mm)")
    print("| --- " * 5 + "|")
    for name, (pts, _, _) in results.items():
        print(f"| {name} | " + " | ".join(f"{m:.0f} ± {s:.1f}"
                                          for m, s in bones(pts, kps).values()) + " |")


if __name__ == "__main__":
    main()
