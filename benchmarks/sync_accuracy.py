"""Sync accuracy: recovered frame offsets against the truth.

1. Synthetic trials (``posekit.synthetic.sync_data.make_sync_trial``): 3-6 cameras,
   offsets drawn in ±3 s, 30 and 60 fps, 2D noise 2 px, 5 % outliers, 10 % dropouts,
   10-30 s clips, several seeds. Scored per non-reference camera: exact, off by one, worse;
   for the motion estimate alone and after the geometric refinement.
2. The real Pose2Sim demo trial (4 cameras, 100 frames at 60 fps, synchronised as
   recorded): MediaPipe 2D from posekit's detector (cached, ``--cache``; the model and the
   machine it was detected on are printed) and Pose2Sim's own
   OpenPose 2D shipped with the data (``--pose2d``), the lab's Qualisys calibration. The
   offsets of the unshifted data are printed with their evidence (per-camera median
   reprojection error at offset 0 and at the estimate); then cameras are shifted by known
   amounts (5, 12, 23 frames cut from their start, two cameras at once, the reference) and
   each recovered offset is scored *relative to the unshifted estimate* (estimate on the
   shifted data - estimate on the unshifted data - shift), since the recording itself
   need not be perfectly synchronised; the count of estimates equal to the shift itself
   (the recording taken as exactly synchronised) is printed too. For this method and, for
   comparison, the previous one (raw reprojection errors, no joint step). ``--curves``
   prints the error curves.
   ``--timing`` compares, view by view, the timing of the two detectors' keypoints
   (:func:`detector_timing`): no geometry involved, so it tells a detector's errors from
   the cameras' timing.
   Data path: ``--data`` or ``POSEKIT_DATA`` (default ``../shared/data``); skipped when
   absent.

Run: ``python benchmarks/sync_accuracy.py [--seeds 5] [--quick] [--skip-synthetic]
[--curves] [--timing]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import platform
import time
from pathlib import Path

import numpy as np
from study_parallel import cpu_name

from posekit.camera.model import CameraGroup
from posekit.pose2d.table import Pose2D
from posekit.sync.geometry import GeometrySync, geometry_offsets, refine_offsets
from posekit.sync.motion import motion_offsets
from posekit.sync.step import camera_confidence
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


REF = "cam01"
#: Frames cut from the start of one or two cameras' 2D (the clip has 100 frames).
CUTS: tuple[dict[str, int], ...] = (
    *({cam: k} for cam in ("cam02", "cam03", "cam04") for k in (5, 12, 23)),
    {"cam02": 5, "cam03": 12}, {"cam03": 23, "cam04": 5}, {"cam02": 12, "cam04": 23},
    {REF: 12},  # the reference cut: every other camera's offset drops by 12
)


def load_2d(demo: Path, source: str, cache: Path) -> dict[str, Pose2D]:
    """2D of the demo trial per camera: ``mediapipe`` (posekit's detector, cached under
    ``cache`` as the detection of 4 x 100 frames takes a minute) or ``openpose``
    (Pose2Sim's own BODY_25B detections shipped with the data)."""
    from posekit.pose2d.importers import import_openpose
    from posekit.pose2d.table import read_pose2d, write_pose2d

    cams = ("cam01", "cam02", "cam03", "cam04")
    if source == "openpose":
        return {c: import_openpose(demo / "reference" / "openpose_body25b_2d" / f"{c}_json",
                                   "body25b") for c in cams}
    from posekit.config.schema import DetectionConfig
    from posekit.pose2d.step import detect_video

    poses = {}
    provenance = cache / "provenance.txt"
    model = detector_model()
    for c in cams:
        path = cache / f"{c}.h5"
        if made_by(path, model):
            poses[c] = read_pose2d(path)
        else:
            poses[c] = detect_video(demo / "videos" / f"{c}.mp4", DetectionConfig(),
                                    progress=False)
            poses[c].metadata.setdefault("fps", 60.0)
            write_pose2d(poses[c], path)
            provenance.write_text(f"detected {time.strftime('%Y-%m-%d %H:%M')} on "
                                  f"{machine()}\n", encoding="utf-8")
    # the same code gives slightly different MediaPipe 2D on different machines, enough
    # to move a sub-frame estimate across half a frame: say which 2D these figures use
    said = provenance.read_text(encoding="utf-8").strip() if provenance.is_file() else \
        "detected on an unrecorded machine"
    model = poses[cams[0]].metadata.get("model", "model not recorded")
    print(f"\nMediaPipe 2D from {cache}: {model}, {said}")
    return poses


def detector_model() -> str:
    """The model string (with its settings) that posekit's default detector records."""
    from posekit.config.schema import DetectionConfig
    from posekit.pose2d.detectors import make_detector

    detector = make_detector(DetectionConfig())
    detector.close()
    return str(detector.model)


def made_by(path: Path, model: str) -> bool:
    """Whether the cached 2D file ``path`` exists and was detected by ``model`` (2D of an
    older default, e.g. with MediaPipe's landmark smoothing on, is detected again)."""
    from posekit.pose2d.table import read_pose2d_header

    header = read_pose2d_header(path)
    return header is not None and header[1].get("model") == model


def machine() -> str:
    """The CPU model, core count and Python version."""
    return f"{cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def estimate(poses: dict[str, Pose2D], group: CameraGroup, fps: float, new: bool = True
             ) -> GeometrySync:
    """The offsets ``posekit sync`` finds, with the confidence it writes to the sync file
    (``new``: this method; else the previous one, raw errors and no joint step)."""
    est = motion_offsets(poses, fps, max_lag_s=1.0)
    geo = geometry_offsets(poses, group, est.offsets, est.confidence, REF, int(fps),
                           debias=new, joint=new)
    return dataclasses.replace(geo, confidence=camera_confidence(est, geo, list(poses)))


def camera_errors(poses: dict[str, Pose2D], group: CameraGroup, offsets: dict[str, int]
                  ) -> dict[str, float]:
    """Median reprojection error (px) per camera, all cameras triangulated together
    (plain DLT, every frame, confident limb keypoints) at ``offsets``."""
    from posekit.sync.geometry import _valid
    from posekit.triangulation.dlt import triangulate

    xy = {c: _valid(p) for c, p in poses.items()}
    t0 = min(offsets[c] for c in xy)
    t1 = max(offsets[c] + len(xy[c]) for c in xy)
    k = next(iter(xy.values())).shape[1]
    pix = np.full((len(xy), t1 - t0, k, 2), np.nan)
    for i, c in enumerate(xy):
        pix[i, offsets[c] - t0: offsets[c] - t0 + len(xy[c])] = xy[c]
    sub = group.subset(list(xy))
    err = np.hypot(*(sub.project(triangulate(sub, pix)) - pix).transpose(3, 0, 1, 2))
    return {c: float(np.nanmedian(err[i])) for i, c in enumerate(xy)}


def print_curves(poses: dict[str, Pose2D], group: CameraGroup, fps: float) -> None:
    """The evidence on the unshifted data: error curves vs lag (two-view against the
    reference, raw and bias-removed) and the motion cross-correlation with the reference."""
    from posekit.sync.geometry import _valid, pair_error
    from posekit.sync.motion import motion_signal, normalized_xcorr

    lags = np.arange(-8, 9)
    xy = {c: _valid(p) for c, p in poses.items()}
    step = max(1, round(fps / 10))
    sig = {c: motion_signal(p, step) for c, p in poses.items()}
    print(f"\nError curves against {REF} (lag = candidate offset of the camera):")
    print("| camera | curve | " + " | ".join(f"{v:+d}" for v in lags) + " | best |")
    print("| --- | --- | " + " | ".join("---" for _ in lags) + " | --- |")
    for c in poses:
        if c == REF:
            continue
        for name, debias in (("raw px", False), ("bias-removed px", True)):
            e = np.array([pair_error(group, REF, c, xy[REF], xy[c], 0, int(o), debias)
                          for o in lags])
            print(f"| {c} | {name} | " + " | ".join(f"{v:.1f}" for v in e)
                  + f" | {lags[np.nanargmin(e)]:+d} |")
        lag, r, _ = normalized_xcorr(sig[REF], sig[c], 8, len(sig[c]) // 2)
        print(f"| {c} | motion r | " + " | ".join(f"{v:.2f}" for v in r)
              + f" | {lag[np.nanargmax(r)]:+d} |")


def view_lag(a: np.ndarray, b: np.ndarray, step: int = 2) -> tuple[float, float, int]:
    """How many frames keypoints ``a`` (frames, keypoints, 2) trail keypoints ``b`` of the
    same view: the robust slope ``d`` in ``a(i) - b(i) = bias - d * b'(i)`` (the sync's
    own :func:`~posekit.sync.geometry.huber_slope`), with ``b'`` the central-difference
    velocity over ``step`` frames and both sides centred per keypoint on their medians (so
    ``a(i)`` is about ``b(i - d)``); with its standard error and the number of
    observations."""
    from posekit.numerics import nanmedian
    from posekit.sync.geometry import huber_slope

    vel = np.full_like(b, np.nan)
    vel[step:-step] = (b[2 * step:] - b[:-2 * step]) / (2 * step)
    resid = a - b
    ok = np.isfinite(resid).all(axis=-1) & np.isfinite(vel).all(axis=-1)
    rc, vc = ((x - nanmedian(np.where(ok[..., None], x, np.nan), axis=0))[ok]
              for x in (resid, vel))
    d, se = huber_slope(rc, vc)
    return d, se, len(rc)


def detector_timing(demo: Path, cache: Path) -> None:
    """Per view, how many frames posekit's MediaPipe keypoints trail Pose2Sim's OpenPose
    ones (the 12 limb keypoints and the nose, confident in both). A per-frame detector has
    no time lag of its own, so a lag that differs between views means the detectors'
    errors differ with the direction of motion in those views; the relative column is
    what the geometry would see as a sub-frame offset if OpenPose's timing were exact."""
    from posekit.skeletons import LIMB_JOINTS

    mp, op = load_2d(demo, "mediapipe", cache), load_2d(demo, "openpose", cache)
    names = [f"{side}_{joint}" for side in ("left", "right") for joint in LIMB_JOINTS] + ["nose"]
    print("\nMediaPipe against OpenPose, view by view (frames; + = MediaPipe later):")
    print("| camera | MediaPipe trails OpenPose by | relative to " + REF + " | observations |")
    print("| --- | --- | --- | --- |")
    lags = {}
    for c in mp:
        m, o = mp[c], op[c]
        n = min(m.n_frames, o.n_frames)
        mi, oi = ([p.keypoints.index(k) for k in names] for p in (m, o))
        a, b = m.xy[:n, mi].copy(), o.xy[:n, oi].copy()
        a[m.likelihood[:n, mi] < 0.5], b[o.likelihood[:n, oi] < 0.3] = np.nan, np.nan
        lags[c] = view_lag(a, b)
    for c, (d, se, count) in lags.items():
        print(f"| {c} | {d:+.2f} ± {se:.2f} | {d - lags[REF][0]:+.2f} | {count} |")


def real(data: Path, sources: list[str], cache: Path, curves: bool, timing: bool = False
         ) -> None:
    from posekit.calibration.imports import import_calibration

    demo = data / "pose2sim-demo"
    if not demo.is_dir():
        print(f"\n(real data not found at {demo}; skipped)")
        return
    group = import_calibration(demo / "calibration" / "Calib.qca.txt")
    cache.mkdir(parents=True, exist_ok=True)
    fps = 60.0
    if timing:
        detector_timing(demo, cache)
    for source in sources:
        poses = load_2d(demo, source, cache)
        print(f"\n### Real trial, {source} 2D: {', '.join(poses)}, "
              f"{poses[REF].n_frames} frames at {fps:g} fps, Qualisys calibration")
        if curves:
            print_curves(poses, group, fps)
        for new in (True, False):
            start = time.perf_counter()
            base = estimate(poses, group, fps, new)
            at0 = camera_errors(poses, group, dict.fromkeys(poses, 0))
            at_est = camera_errors(poses, group, base.offsets)
            label = "this method" if new else "previous method (raw errors, no joint step)"
            print(f"\n{label}, unshifted data:")
            print("| camera | offset | sub-frame | confidence | median reproj. px at 0 | "
                  "at the offset |")
            print("| --- | --- | --- | --- | --- | --- |")
            for c in poses:
                sf = base.subframe.get(c)
                sub = f"{sf[0]:+.2f} ± {sf[1]:.2f}" if sf else "-"
                print(f"| {c} | {base.offsets[c]:+d} | {sub} | {base.confidence[c]:.2f} | "
                      f"{at0[c]:.1f} | {at_est[c]:.1f} |")
            print("\n| cut from start | camera | shift | estimated | relative error | "
                  "confidence |")
            print("| --- | --- | --- | --- | --- | --- |")
            exact = absolute = total = 0
            for cuts in CUTS:
                shifted = {c: shift_pose(p, cuts[c]) if c in cuts else p
                           for c, p in poses.items()}
                found = estimate(shifted, group, fps, new)
                label_cut = ", ".join(f"{c} {k}" for c, k in cuts.items())
                for c in poses:
                    if c == REF:
                        continue
                    shift = cuts.get(c, 0) - cuts.get(REF, 0)
                    rel = found.offsets[c] - base.offsets[c] - shift
                    exact += rel == 0
                    absolute += found.offsets[c] == shift  # the recording is synchronised
                    total += 1
                    print(f"| {label_cut} | {c} | {shift:+d} | {found.offsets[c]:+d} | "
                          f"{rel:+d} | {found.confidence[c]:.2f} |")
            print(f"\n{source}, {'this' if new else 'previous'} method: {exact} of {total} "
                  f"recovered exactly relative to the unshifted estimate, {absolute} of "
                  f"{total} equal to the shift itself (offset 0 as recorded) "
                  f"({time.perf_counter() - start:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", type=Path,
                        default=Path(os.environ.get("POSEKIT_DATA", "../shared/data")))
    parser.add_argument("--pose2d", choices=("mediapipe", "openpose", "both"), default="both",
                        help="2D of the real trial: posekit's MediaPipe detections or "
                             "Pose2Sim's OpenPose ones shipped with the data")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/posekit-sync-bench-2d"),
                        help="where the MediaPipe 2D of the real trial is cached")
    parser.add_argument("--curves", action="store_true",
                        help="print the error curves and motion correlation of the real "
                             "trial")
    parser.add_argument("--timing", action="store_true",
                        help="compare the timing of the two detectors' keypoints per view")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--skip-real", action="store_true")
    args = parser.parse_args()
    if not args.skip_synthetic:
        synthetic(args.seeds, args.quick)
    if not args.skip_real:
        sources = ["mediapipe", "openpose"] if args.pose2d == "both" else [args.pose2d]
        real(args.data, sources, args.cache, args.curves, args.timing)


if __name__ == "__main__":
    main()
