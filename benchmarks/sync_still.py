"""Sync on trials where a camera sees no movement: is it warned about, never a wrong
confident offset?

A camera whose view shows a person standing still while the others film the movement (a
frozen or wrong video, a detector following a bystander or a poster) has nothing to be in
step with. Synthetic trials (``posekit.synthetic.sync_data.make_sync_trial``, 30 fps,
offsets drawn in ±1 s, 2D noise 2 px, 5 % outliers, 10 % dropouts) with 3, 4 and 6
cameras and five clips (10-s and 4-s ``demo``, 3-s and 6-s ``jump``, 4-s
``arm_raise_side``), each made three ways:

- **still cam2**: cam2 sees a person standing perfectly still; cam2 must be warned about
  (confidence below ``LOW_CONFIDENCE``, as ``posekit sync`` writes it);
- **still reference**: cam1, the reference, sees the still person; every other camera's
  offset is measured against it, so every other camera must be warned about;
- **no still camera**: the same clips as they are (the control).

Per group, the cameras warned about, and the offsets that are wrong (off by one or more
frames) yet written with a confidence of ``LOW_CONFIDENCE`` or more (no warning): the
failure that matters. The estimate is ``posekit sync``'s (motion, then geometry with the
true calibration, ``camera_confidence``), lag range ``--max-lag`` seconds (default 10, the
default of ``[sync] max_lag_s``).

Run: ``python benchmarks/sync_still.py [--seeds 4] [--max-lag 10]``.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections import Counter

from posekit.sync.geometry import geometry_offsets
from posekit.sync.motion import motion_offsets
from posekit.sync.step import LOW_CONFIDENCE, camera_confidence
from posekit.synthetic.sync_data import make_sync_trial

CLIPS = (("demo", 10.0), ("demo", 4.0), ("jump", 3.0), ("jump", 6.0), ("arm_raise_side", 4.0))
FPS = 30.0
GROUPS = ("still cam2", "still reference", "no still camera")


def run(seeds: int, max_lag_s: float) -> None:
    counts: dict[str, Counter[str]] = {g: Counter() for g in GROUPS}
    start = time.perf_counter()
    trials = 0
    for n_cams, (motion, seconds), seed in itertools.product((3, 4, 6), CLIPS, range(seeds)):
        for group, still in zip(GROUPS, ("cam2", "cam1", None), strict=True):
            trial = make_sync_trial(n_cams=n_cams, fps=FPS, duration=seconds,
                                    max_offset_s=1.0, motion=motion, seed=seed,
                                    static_camera=still)
            est = motion_offsets(trial.poses, FPS, max_lag_s=max_lag_s)
            geo = geometry_offsets(trial.poses, trial.group, est.offsets, est.confidence,
                                   "cam1", round(max_lag_s * FPS))
            confidence = camera_confidence(est, geo, list(trial.poses))
            trials += 1
            for cam in trial.poses:
                if cam == "cam1":
                    continue
                # a still camera must be warned about; with a still reference, all of them
                role = "must warn" if still in (cam, "cam1") else "others"
                c = counts[group]
                c[f"{role}: cameras"] += 1
                warned = confidence[cam] < LOW_CONFIDENCE
                right = geo.offsets[cam] == trial.offsets[cam]
                c[f"{role}: warned"] += warned
                c[f"{role}: exact"] += right
                c[f"{role}: wrong, not warned"] += (not right) and (not warned)
    print(f"{trials} trials, lag range ±{max_lag_s:g} s, {time.perf_counter() - start:.0f} s\n")
    print("| trials | cameras | warned | exact | wrong and not warned |")
    print("| --- | --- | --- | --- | --- |")
    rows = (("still cam2", "must warn", "still cam2: cam2"),
            ("still cam2", "others", "still cam2: the moving cameras"),
            ("still reference", "must warn", "still reference: every other camera"),
            ("no still camera", "others", "no still camera: every camera"))
    for group, role, label in rows:
        c = counts[group]
        print(f"| {label} | {c[f'{role}: cameras']} | {c[f'{role}: warned']} | "
              f"{c[f'{role}: exact']} | {c[f'{role}: wrong, not warned']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--max-lag", type=float, default=10.0,
                        help="lag range searched, seconds either way")
    args = parser.parse_args()
    run(args.seeds, args.max_lag)


if __name__ == "__main__":
    main()
