"""Benchmark: joint-angle accuracy of ``posekit.angles`` against synthetic ground truth.

Two parts:

1. **Exact 3D.** Each motion of :mod:`posekit.synthetic.motions` (30 fps, seed 0), its
   landmarks turned 30° about z, moved and scaled to millimetres; posekit's default
   ``[angles]`` set computed on them and compared with the ground truth of
   :func:`posekit.synthetic.person.joint_angles` (and the trunk angles computed
   independently with ``three_point_angle``): the largest RMSE over the 12 angles. Knee
   and elbow are hinges in the synthetic body, so their ``flexion`` convention
   (180 − inner) is also compared with the generating ``knee_flexion`` /
   ``elbow_flexion`` parameters.
2. **posekit's own triangulation.** :func:`~posekit.synthetic.triangulation_data.
   make_triangulation_trial` (4 cameras, 30 fps) at ``noisy`` (2 px Gaussian noise) and
   ``corrupted`` (2 px noise + 5 % confident outliers, half jumps and half left/right swaps,
   + 10 % dropouts), reconstructed by :func:`posekit.triangulation.reconstruct.
   reconstruct` with the limb bones as strong and shoulder / hip width as weak length
   constraints (``mm_per_unit = 1000``: the rig is in metres). Angle RMSE (degrees) per
   side against the angles of the true 3D, then the mean of left and right (as
   ``triangulation_accuracy.py`` reports it) and the worst side; averaged over
   ``--seeds``. The ``+ lp`` columns are the same after ``[angles_filter]`` (6 Hz, order
   4) on the angle series.

Run from the repository root::

    python benchmarks/angle_accuracy.py              # 1000 frames, 3 seeds, 5 motions
    python benchmarks/angle_accuracy.py --quick      # 300 frames, 1 seed, 2 motions

The Markdown tables go to stdout and, with ``--out DIR``, to ``DIR/angle_accuracy.md``
(plus ``angle_accuracy.json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from posekit.angles.compute import compute_angles, lowpass_angles
from posekit.angles.definitions import angles_for
from posekit.config.schema import DEFAULT_ANGLES, Config, TriangulationConfig
from posekit.skeletons import MEDIAPIPE_33
from posekit.synthetic.motions import DEFAULT_DURATIONS, make_motion
from posekit.synthetic.person import joint_angles, three_point_angle
from posekit.synthetic.triangulation_data import make_triangulation_trial
from posekit.triangulation.reconstruct import reconstruct

KPS = list(MEDIAPIPE_33.keypoints)
SIDES = ("left", "right")
JOINTS = ("knee", "hip", "elbow", "shoulder", "ankle", "trunk")
STRONG = [[f"{s}_{a}", f"{s}_{b}"] for s in SIDES
          for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"),
                       ("knee", "ankle"))]
WEAK = [["left_shoulder", "right_shoulder"], ["left_hip", "right_hip"]]
FPS = 30.0


def rmse(est: np.ndarray, truth: np.ndarray) -> float:
    ok = np.isfinite(est) & np.isfinite(truth)
    return float(np.sqrt(np.mean((est[ok] - truth[ok]) ** 2))) if ok.any() else float("nan")


def truth_angles(points: np.ndarray) -> dict[str, np.ndarray]:
    """The default angles from the synthetic ground-truth code (not posekit.angles)."""
    out = joint_angles(points)
    i = KPS.index
    for side, other in (("left", "right"), ("right", "left")):
        out[f"{side}_trunk"] = three_point_angle(points[:, i(f"{side}_shoulder")],
                                                 points[:, i(f"{side}_hip")],
                                                 points[:, i(f"{other}_hip")])
    return out


def exact_3d(motions: list[str]) -> list[dict[str, Any]]:
    conv = {f"{s}_{j}": "flexion" for s in SIDES for j in ("knee", "elbow")}
    inner_defs, _ = angles_for(Config(), KPS)
    flex_defs, _ = angles_for(Config(angle_conventions=conv), KPS)
    turn = np.radians(30.0)
    rot = np.array([[np.cos(turn), -np.sin(turn), 0], [np.sin(turn), np.cos(turn), 0],
                    [0, 0, 1]])
    rows = []
    for name in motions:
        motion = make_motion(name, seed=0)
        sample = motion.sample(FPS)
        pts = 1000.0 * sample.landmarks @ rot.T + np.array([500.0, -200.0, 30.0])
        truth = truth_angles(sample.landmarks)
        got = compute_angles(pts, KPS, inner_defs)
        flex = compute_angles(pts, KPS, flex_defs)
        params = motion.pose_fn(sample.times).angles
        zero = np.zeros(len(sample.times))
        hinge = {j: max(rmse(flex[f"{s}_{j}"], params.get(f"{s}_{j}_flexion", zero))
                        for s in SIDES) for j in ("knee", "elbow")}
        rows.append({"motion": name, "frames": len(sample.times),
                     "max_rmse": max(rmse(got[k], truth[k]) for k in DEFAULT_ANGLES),
                     "knee_vs_param": hinge["knee"], "elbow_vs_param": hinge["elbow"]})
    return rows


def one_trial(level: str, motion: str, seed: int, frames: int) -> dict[str, Any]:
    trial = make_triangulation_trial(n_cams=4, n_frames=frames, fps=FPS, level=level,
                                     motion=motion, seed=seed)
    cfg = TriangulationConfig(constraints=STRONG, constraints_weak=WEAK)
    start = time.perf_counter()
    rec = reconstruct(trial.group, trial.xy, trial.scores, trial.keypoints, cfg, FPS,
                      mm_per_unit=1000.0)
    seconds = time.perf_counter() - start
    defs, _ = angles_for(Config(), KPS)
    est = compute_angles(rec.points, KPS, defs)
    low = lowpass_angles(est, {}, FPS, 6.0, 4)
    truth = compute_angles(trial.points3d, KPS, defs)
    out: dict[str, Any] = {"level": level, "motion": motion, "seed": seed,
                           "reconstruct_s": seconds}
    for joint in JOINTS:
        names = [f"{s}_{joint}" for s in SIDES]
        sides = [rmse(est[n], truth[n]) for n in names]
        err = np.abs(np.concatenate([est[n] - truth[n] for n in names]))
        err = err[np.isfinite(err)]
        out[joint] = {"mean": float(np.mean(sides)), "worst": max(sides),
                      "lp_mean": float(np.mean([rmse(low[n], truth[n]) for n in names])),
                      "median": float(np.median(err)), "p95": float(np.percentile(err, 95)),
                      "valid": float(np.mean([np.isfinite(est[n]).mean() for n in names]))}
    return out


def triangulated(levels: list[str], motions: list[str], seeds: list[int], frames: int
                 ) -> list[dict[str, Any]]:
    rows = []
    for level in levels:
        for motion in motions:
            runs = [one_trial(level, motion, seed, frames) for seed in seeds]
            row: dict[str, Any] = {"level": level, "motion": motion,
                                   "reconstruct_s": float(np.mean([r["reconstruct_s"]
                                                                   for r in runs]))}
            for joint in JOINTS:
                row[joint] = {k: float(np.mean([r[joint][k] for r in runs]))
                              for k in ("mean", "worst", "lp_mean", "median", "p95",
                                        "valid")}
                row[joint]["worst"] = max(r[joint]["worst"] for r in runs)
            rows.append(row)
    return rows


def tables(exact: list[dict[str, Any]], tri: list[dict[str, Any]], args: argparse.Namespace
           ) -> str:
    lines = [
        "## Angle accuracy (posekit.angles)", "",
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, Python "
        f"{platform.python_version()}, numpy {version('numpy')}, scipy {version('scipy')}", "",
        "### Exact 3D (RMSE, degrees)", "",
        "| motion | frames | default set: worst angle | knee flexion vs parameter "
        "| elbow flexion vs parameter |", "| --- | ---: | ---: | ---: | ---: |"]
    for r in exact:
        lines.append(f"| {r['motion']} | {r['frames']} | {r['max_rmse']:.2e} | "
                     f"{r['knee_vs_param']:.2e} | {r['elbow_vs_param']:.2e} |")
    lines += [
        "", f"### From posekit's triangulation: {args.frames} frames, 4 cameras, seeds "
        f"{args.seeds} (RMSE, degrees: mean of sides / worst side; + lp = 6 Hz angle "
        "low-pass)", "",
        "| level | motion | knee | hip | elbow | knee + lp | hip + lp | elbow + lp "
        "| shoulder | ankle | trunk |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in tri:
        main = " | ".join(f"{r[j]['mean']:.2f} / {r[j]['worst']:.2f}"
                          for j in ("knee", "hip", "elbow"))
        low = " | ".join(f"{r[j]['lp_mean']:.2f}" for j in ("knee", "hip", "elbow"))
        rest = " | ".join(f"{r[j]['mean']:.2f}" for j in ("shoulder", "ankle", "trunk"))
        lines.append(f"| {r['level']} | {r['motion']} | {main} | {low} | {rest} |")
    for level in dict.fromkeys(r["level"] for r in tri):
        sel = [r for r in tri if r["level"] == level]
        avg = " | ".join(f"{np.mean([r[j]['mean'] for r in sel]):.2f}"
                         for j in ("knee", "hip", "elbow"))
        lines.append(f"| {level} | **mean of motions** | {avg} | | | | | | |")
    lines += [
        "", "Absolute error, both sides pooled (degrees: median / 95th percentile), share of "
        "frames with an angle, reconstruct time:", "",
        "| level | motion | knee | hip | elbow | valid | reconstruct s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in tri:
        dist = " | ".join(f"{r[j]['median']:.2f} / {r[j]['p95']:.2f}"
                          for j in ("knee", "hip", "elbow"))
        valid = min(r[j]["valid"] for j in JOINTS)
        lines.append(f"| {r['level']} | {r['motion']} | {dist} | {valid:.1%} | "
                     f"{r['reconstruct_s']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--levels", nargs="+", default=["noisy", "corrupted"],
                        choices=["clean", "noisy", "corrupted"])
    parser.add_argument("--motions", nargs="+",
                        default=["demo", "squat", "march", "arm_raise_side", "jump"],
                        choices=sorted(DEFAULT_DURATIONS))
    parser.add_argument("--quick", action="store_true",
                        help="300 frames, seed 0, demo and squat")
    parser.add_argument("--out", type=Path, help="write the tables and a JSON file here")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.seeds, args.motions = 300, [0], ["demo", "squat"]
    exact = exact_3d(sorted(DEFAULT_DURATIONS))
    tri = triangulated(args.levels, args.motions, args.seeds, args.frames)
    text = tables(exact, tri, args)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "angle_accuracy.md").write_text(text)
        (args.out / "angle_accuracy.json").write_text(
            json.dumps({"exact": exact, "triangulated": tri}, indent=1))


if __name__ == "__main__":
    main()
