"""Cameras out of step by part of a frame: 3D accuracy with whole-frame offsets and with
the sync step's sub-frame offsets (``[triangulation] subframe``).

Free-running cameras are never exactly in step: each camera's frames fall somewhere between
two of the reference camera's. Synthetic trials (``posekit.synthetic.sync_data``: 4
cameras, 8 s, 2D noise 2 px, 5 % outliers, 10 % dropouts) are made with each non-reference
camera late by a random fraction of a frame, uniform in [-0.5, 0.5], on top of a whole-frame
offset within ±1 s; ``--fractions 0`` makes them in step (the control). For each trial the
sync step's estimate (motion, then geometry; lag range ±2 s) is triangulated three ways
through posekit's own triangulation (``stack_poses`` then ``reconstruct`` with the default
``[triangulation]`` settings):

- **whole**: the estimated whole-frame offsets (``subframe = false``);
- **sub-frame**: the estimated sub-frame offsets, 2D interpolated (``subframe = true``);
- **true sub-frame**: the true offsets, 2D interpolated (the best interpolation can do).

MPJPE (mm) against the true 3D on the reference camera's frames.

``--rendered DIR``: the same with a real detector instead: person videos rendered by
``posekit.synthetic`` (3 cameras of the demo's rig, 1080p-class, 30 fps, ``--seconds``
long; cam2 and cam3 late by +0.4 and -0.3 frame, or in step), MediaPipe 2D from posekit's
detector (``posekit detect``'s defaults), videos and 2D cached in DIR. MPJPE is then
dominated by how MediaPipe places joints, so the columns' differences are what counts.

``--rates FPS``: cameras at different frame rates instead. 3 cameras, 60 s, cam2 at FPS
(e.g. 29.97) and the others at 30 fps, each starting at a whole frame of the 30-fps clock
(known whole offsets, no sync step), 2D noise 2 px, frame times in whole milliseconds. cam2
goes on the 30-fps clock (``posekit.project.steps.on_reference_clock``) with its nearest
frame in each slot (``[triangulation] subframe = false``) or interpolated to each slot's
instant (the default); MPJPE of posekit's triangulation against the truth.

Run: ``python benchmarks/subframe_sync.py [--seeds N] [--fps 30 60] [--fractions 1 0]
[--rendered DIR [--seconds S]] [--rates FPS]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from posekit.camera.model import CameraGroup
from posekit.config.schema import DetectionConfig, TriangulationConfig
from posekit.pose2d.table import Pose2D, read_pose2d, write_pose2d
from posekit.sync.geometry import geometry_offsets
from posekit.sync.motion import motion_offsets
from posekit.synthetic.sync_data import SyncTrial, make_sync_trial
from posekit.triangulation.reconstruct import reconstruct
from posekit.triangulation.step import stack_poses

MOTIONS = ("march", "jump", "squat", "arm_raise_side")


def mpjpe(trial: SyncTrial, offsets: dict[str, float]) -> float:
    """MPJPE (mm) of the trial triangulated with continuous ``offsets`` (whole frames
    where they are integers)."""
    return triangulated_error(trial.poses, trial.group, offsets, trial.points3d,
                              trial.first_frame, trial.fps)


def triangulated_error(poses: dict[str, Pose2D], group: CameraGroup,
                       offsets: dict[str, float], points3d: np.ndarray, first_frame: int,
                       fps: float) -> float:
    """MPJPE (mm) of ``poses`` triangulated with continuous ``offsets`` against the truth
    ``points3d`` (row k: reference frame ``k + first_frame``; frames outside it are not
    scored)."""
    whole = {c: round(v) for c, v in offsets.items()}
    fractions = {c: v - whole[c] for c, v in offsets.items() if v != whole[c]}
    xy, scores, fnum = stack_poses(poses, whole, fractions)
    keypoints = list(next(iter(poses.values())).keypoints)
    rec = reconstruct(group, xy, scores, keypoints, TriangulationConfig(), fps,
                      mm_per_unit=1000.0)  # the synthetic rig is in metres
    rows = fnum - first_frame
    inside = (rows >= 0) & (rows < len(points3d))
    err = np.linalg.norm(rec.points[inside] - points3d[rows[inside]], axis=-1)
    return 1000.0 * float(np.nanmean(err))


def estimated(poses: dict[str, Pose2D], group: CameraGroup, fps: float, reference: str
              ) -> tuple[dict[str, int], dict[str, float]]:
    """The sync step's whole-frame and sub-frame offsets (lag range ±2 s)."""
    est = motion_offsets(poses, fps, max_lag_s=2.0)
    geo = geometry_offsets(poses, group, est.offsets, est.confidence, reference,
                           round(2 * fps))
    found = {c: float(geo.offsets[c]) for c in poses}
    for c, (value, _) in geo.subframe.items():
        if abs(value - geo.offsets[c]) <= 0.5:
            found[c] = value
    return geo.offsets, found


def rendered(folder: Path, seconds: float) -> None:
    """The ``--rendered`` study (module docstring)."""
    from posekit.pose2d.step import detect_video
    from posekit.synthetic.motions import make_motion, sample_cameras
    from posekit.synthetic.render_person import render_person_videos
    from posekit.synthetic.rig import make_rig

    fps = 30.0
    rig = make_rig(3, seed=0)
    print("| out of step | motion | true sub-frame offsets | estimated | whole mm | "
          "sub-frame mm | true sub-frame mm |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    rows = {1.0: [], 0.0: []}
    for scale in (1.0, 0.0):
        true = {"cam1": 0.0, "cam2": 0.4 * scale, "cam3": -0.3 * scale}
        for seed, motion_name in enumerate(MOTIONS):
            case = folder / f"{motion_name}-{'out' if scale else 'in'}"
            case.mkdir(parents=True, exist_ok=True)
            n = round(seconds * fps)
            motion = make_motion(motion_name, seconds + 1.0, seed=seed)
            samples = sample_cameras(motion, n, fps, [true[c] for c in rig.names])
            if not all((case / f"{c}.mp4").is_file() for c in rig.names):
                render_person_videos(rig, np.stack([s.landmarks for s in samples]), case,
                                     fps, seed=seed)
            poses = {}
            for cam in rig.names:
                cached = case / f"{cam}.h5"
                if not cached.is_file():
                    pose = detect_video(case / f"{cam}.mp4", DetectionConfig(),
                                        progress=False)
                    pose.metadata.setdefault("fps", fps)
                    write_pose2d(pose, cached)
                poses[cam] = read_pose2d(cached)
            whole, found = estimated(poses, rig, fps, rig.names[0])
            truth = samples[0].landmarks
            row = [triangulated_error(poses, rig, {c: float(o) for c, o in whole.items()},
                                      truth, 0, fps),
                   triangulated_error(poses, rig, found, truth, 0, fps),
                   triangulated_error(poses, rig, true, truth, 0, fps)]
            rows[scale].append(row)
            shown = ", ".join(f"{found[c]:+.2f}" for c in rig.names[1:])
            print(f"| {'yes' if scale else 'no'} | {motion_name} | {true['cam2']:+.1f}, "
                  f"{true['cam3']:+.1f} | {shown} | {row[0]:.1f} | {row[1]:.1f} | "
                  f"{row[2]:.1f} |", flush=True)
    print()
    for scale, label in ((1.0, "out of step"), (0.0, "in step")):
        r = np.array(rows[scale])
        print(f"rendered, MediaPipe 2D, {label}: mean MPJPE whole {r[:, 0].mean():.1f} mm, "
              f"sub-frame {r[:, 1].mean():.1f} mm, true sub-frame {r[:, 2].mean():.1f} mm")


def rates(seeds: int, odd_fps: float, seconds: float) -> None:
    """The ``--rates`` study (module docstring)."""
    from posekit.project.steps import on_reference_clock
    from posekit.skeletons import MEDIAPIPE_33
    from posekit.synthetic.motions import make_motion
    from posekit.synthetic.rig import make_rig

    clock = 30.0
    print(f"| motion | seed | {odd_fps:g}-fps camera: nearest frame mm | interpolated mm |")
    print("| --- | --- | --- | --- |")
    rows = []
    for motion_name in MOTIONS:
        for seed in range(seeds):
            rng = np.random.default_rng([seed, MOTIONS.index(motion_name), 7])
            rig = make_rig(3, seed=seed)
            # each camera starts at a whole frame of the clock: whole offsets, known
            start = {c: float(rng.integers(0, 30)) / clock for c in rig.names}
            fps = {c: odd_fps if c == "cam2" else clock for c in rig.names}
            motion = make_motion(motion_name, seconds + 3.0, seed=seed)
            poses = {}
            for cam in rig:
                times = start[cam.name] + np.arange(round(seconds * fps[cam.name])) \
                    / fps[cam.name]
                xy = cam.project(motion.landmarks(times))
                xy = xy + rng.normal(0, 2.0, xy.shape)
                poses[cam.name] = Pose2D(MEDIAPIPE_33.keypoints, xy,
                                         np.full(xy.shape[:2], 0.9),
                                         frame_times=np.round(times - start[cam.name], 3),
                                         metadata={"fps": fps[cam.name]})
            offsets = {c: round((start[c] - start["cam1"]) * clock) for c in rig.names}
            row = []
            for interpolate in (False, True):
                placed = on_reference_clock(poses, interpolate)
                n = min(p.n_frames + offsets[c] for c, p in placed.items())
                truth = motion.landmarks(start["cam1"] + np.arange(n) / clock)
                row.append(triangulated_error(placed, rig, {c: float(o) for c, o in
                                                            offsets.items()},
                                              truth, 0, clock))
            rows.append(row)
            print(f"| {motion_name} | {seed} | {row[0]:.2f} | {row[1]:.2f} |", flush=True)
    r = np.array(rows)
    print(f"\n{odd_fps:g} fps among {clock:g} ({seconds:g} s): mean MPJPE nearest frame "
          f"{r[:, 0].mean():.2f} mm, interpolated {r[:, 1].mean():.2f} mm; interpolated "
          f"better in {int((r[:, 1] < r[:, 0]).sum())} of {len(r)} trials")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--fps", type=float, nargs="+", default=[30.0, 60.0])
    parser.add_argument("--fractions", type=float, nargs="+", default=[1.0, 0.0],
                        help="scale of the random fractions (1: uniform in ±0.5 frame; 0: "
                        "cameras in step)")
    parser.add_argument("--rendered", type=Path, default=None,
                        help="run the rendered-video study instead, cached in this folder")
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="length of the rendered trials")
    parser.add_argument("--rates", type=float, default=None, metavar="FPS",
                        help="run the study of a camera at FPS among 30-fps cameras instead")
    args = parser.parse_args()
    if args.rates is not None:
        rates(args.seeds, args.rates, 60.0)
        return
    if args.rendered is not None:
        rendered(args.rendered, args.seconds)
        return
    print("| fps | out of step | motion | seed | offsets exact | sub-frame error (frames) | "
          "whole mm | sub-frame mm | true sub-frame mm |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    summary = []
    for fps in args.fps:
        for scale in args.fractions:
            rows = []
            for motion in MOTIONS:
                for seed in range(args.seeds):
                    rng = np.random.default_rng([seed, MOTIONS.index(motion)])
                    fractions = {f"cam{i}": scale * float(rng.uniform(-0.5, 0.5))
                                 for i in range(2, 5)}
                    trial = make_sync_trial(n_cams=4, fps=fps, duration=8.0, max_offset_s=1.0,
                                            motion=motion, seed=seed, fractions=fractions)
                    offsets, found = estimated(trial.poses, trial.group, fps, trial.reference)
                    true = trial.subframe_offsets
                    exact = sum(offsets[c] == round(true[c]) for c in true)
                    err = [found[c] - true[c] for c in true if c != trial.reference]
                    shown = " ".join(f"{e:+.2f}" if abs(e) < 10 else f"{e:+.0f}" for e in err)
                    row = (mpjpe(trial, {c: float(offsets[c]) for c in true}),
                           mpjpe(trial, found), mpjpe(trial, true))
                    rows.append(row)
                    print(f"| {fps:g} | {'±0.5' if scale else 'in step'} | {motion} | {seed} | "
                          f"{exact} / {len(true)} | {shown} | {row[0]:.1f} | {row[1]:.1f} | "
                          f"{row[2]:.1f} |", flush=True)
            r = np.array(rows)
            better = int((r[:, 1] < r[:, 0]).sum())
            summary.append(f"{fps:g} fps, {'out of step' if scale else 'in step'}: mean "
                           f"MPJPE whole {r[:, 0].mean():.1f} mm, sub-frame "
                           f"{r[:, 1].mean():.1f} mm, true sub-frame {r[:, 2].mean():.1f} mm; "
                           f"sub-frame better in {better} of {len(r)} trials, worse by more "
                           f"than 0.2 mm in {int((r[:, 1] > r[:, 0] + 0.2).sum())}")
    print()
    for line in summary:
        print(line)


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"({time.perf_counter() - start:.0f} s)")
