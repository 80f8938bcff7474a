"""Sync accuracy: recovered frame offsets against the truth.

1. Synthetic trials (``posekit.synthetic.sync_data.make_sync_trial``): 3-6 cameras,
   offsets drawn in ±3 s, 30 and 60 fps, 2D noise 2 px, 5 % outliers, 10 % dropouts,
   10-30 s clips, several seeds. Scored per non-reference camera: exact, off by one, worse;
   for the motion estimate alone and after the geometric refinement.
2. The real Pose2Sim demo trial (4 cameras, synchronised as recorded): MediaPipe 2D from
   posekit's detector, then cameras shifted by known amounts (frames cut from their start),
   offsets estimated with the lab's Qualisys calibration. Data path: ``--data`` or
   ``POSEKIT_DATA`` (default ``../shared/data``); skipped when absent.

Run: ``python benchmarks/sync_accuracy.py [--seeds 5] [--quick]``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from pathlib import Path

import numpy as np

from posekit.sync.geometry import refine_offsets
from posekit.sync.motion import motion_offsets
from posekit.synthetic.sync_data import make_sync_trial, shift_pose


def score(est: dict[str, int], truth: dict[str, int]) -> tuple[int, int, int]:
    errs = [abs(est[c] - truth[c]) for c in truth if c != "cam1"]
    return sum(e == 0 for e in errs), sum(e == 1 for e in errs), sum(e > 1 for e in errs)


def synthetic(seeds: int, quick: bool) -> None:
    cams, rates, durations = ((3, 6), (30.0,), (10.0,)) if quick else \
        ((3, 4, 6), (30.0, 60.0), (10.0, 20.0, 30.0))
    print("| cameras | fps | clip s | trials | motion: exact / ±1 / worse | "
          "motion + geometry: exact / ±1 / worse | s per trial |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    total = np.zeros((2, 3), int)
    for n, fps, dur in itertools.product(cams, rates, durations):
        counts = np.zeros((2, 3), int)
        start = time.perf_counter()
        for seed in range(seeds):
            trial = make_sync_trial(n_cams=n, fps=fps, duration=dur, seed=seed)
            est = motion_offsets(trial.poses, fps, max_lag_s=10.0)
            refined, _, _ = refine_offsets(trial.poses, trial.group, est.offsets,
                                           est.confidence, "cam1", int(10 * fps))
            counts[0] += score(est.offsets, trial.offsets)
            counts[1] += score(refined, trial.offsets)
        total += counts
        per = (time.perf_counter() - start) / seeds
        print(f"| {n} | {fps:g} | {dur:g} | {seeds} | {' / '.join(map(str, counts[0]))} | "
              f"{' / '.join(map(str, counts[1]))} | {per:.2f} |")
    for name, row in zip(("motion", "motion + geometry"), total, strict=True):
        print(f"\n{name}: {row[0]} of {row.sum()} cameras exact "
              f"({100 * row[0] / row.sum():.1f} %), {row[1]} off by one, {row[2]} worse")


def real(data: Path) -> None:
    from posekit.calibration.imports import import_calibration
    from posekit.config.schema import DetectionConfig
    from posekit.pose2d.step import detect_video

    demo = data / "pose2sim-demo"
    if not demo.is_dir():
        print(f"\n(real data not found at {demo}; skipped)")
        return
    group = import_calibration(demo / "calibration" / "Calib.qca.txt")
    poses = {c: detect_video(demo / "videos" / f"{c}.mp4", DetectionConfig(), progress=False)
             for c in group.names}
    fps = float(poses["cam01"].metadata["fps"])
    print(f"\nReal trial: {', '.join(group.names)}, {poses['cam01'].n_frames} frames at "
          f"{fps:g} fps, MediaPipe 2D, Qualisys calibration")
    print("| cut from start (frames) | true offsets | motion | motion + geometry |")
    print("| --- | --- | --- | --- |")
    for cuts in ({"cam02": 7}, {"cam02": 5, "cam03": 12, "cam04": 20}, {"cam04": 31},
                 {"cam02": 15, "cam03": 3}):
        shifted = {c: shift_pose(p, cuts[c]) if c in cuts else p for c, p in poses.items()}
        truth = {c: cuts.get(c, 0) for c in poses}
        est = motion_offsets(shifted, fps, max_lag_s=1.0)
        refined, _, _ = refine_offsets(shifted, group, est.offsets, est.confidence, "cam01",
                                       int(fps))
        fmt = lambda d: ", ".join(f"{c} {v:+d}" for c, v in d.items())  # noqa: E731
        print(f"| {fmt(cuts)} | {fmt(truth)} | {fmt(est.offsets)} | {fmt(refined)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", type=Path,
                        default=Path(os.environ.get("POSEKIT_DATA", "../shared/data")))
    args = parser.parse_args()
    synthetic(args.seeds, args.quick)
    real(args.data)


if __name__ == "__main__":
    main()
