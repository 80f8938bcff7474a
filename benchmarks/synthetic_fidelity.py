"""Benchmark: how faithful posekit's synthetic data is, judged by the real detectors.

1. Person videos vs MediaPipe. Each motion of :mod:`posekit.synthetic.motions` is rendered
   for rigs of 4 and 6 cameras (:func:`~posekit.synthetic.render_person.render_person_videos`)
   and the real BlazePose full model (MediaPipe legacy ``Pose``, video mode,
   ``model_complexity=1``, landmark smoothing as posekit's default ``[detection]
   smooth_landmarks``) runs on every decoded frame. Per camera: detection rate and, per
   joint group (shoulders, elbows, wrists, hips, knees, ankles; left and right pooled), the
   share of detected landmarks within 5 % of the image height of the projected ground truth
   and their median error in pixels. Rendering (with mp4 encoding) and MediaPipe are timed.
2. ChArUco corners vs OpenCV. Calibration videos of :mod:`posekit.synthetic.charuco`
   (Gaussian blur 0.6 px, noise 1.5 grey levels, mp4) and sharp, noise-free renders of the
   same board poses go through ``cv2.aruco.CharucoDetector``; corner errors against the
   projected truth are reported raw and after ``cv2.cornerSubPix``, for the default 5x7
   board and for a 6x8 board in the new and the legacy layout (the layouts differ only for
   an even number of rows).

Run from the repository root (all seeds are fixed, so reruns give the same accuracy figures)::

    python benchmarks/synthetic_fidelity.py              # full run, about 7 min on 2 cores
    python benchmarks/synthetic_fidelity.py --quick      # smoke run, short clips
    python benchmarks/synthetic_fidelity.py --cams 4 --motions squat jump --out /tmp/fid

The Markdown tables go to stdout and to ``<out>/synthetic_fidelity.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import mediapipe as mp
import numpy as np

from posekit.camera.model import Camera
from posekit.config.schema import DetectionConfig
from posekit.io.atomic import write_text_atomic
from posekit.io.video import iter_frames
from posekit.skeletons import MEDIAPIPE_33
from posekit.synthetic.charuco import BoardSpec, render_calibration_videos, render_frame
from posekit.synthetic.motions import make_motion
from posekit.synthetic.render_person import render_person_videos
from posekit.synthetic.rig import make_rig

MOTIONS = ("stand", "squat", "arm_raise_front", "arm_raise_side", "march", "jump")
#: Joint groups compared with MediaPipe: name → (left, right) landmark indices.
GROUPS = {g: [MEDIAPIPE_33.index(f"{side}_{g}") for side in ("left", "right")]
          for g in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")}
BOARDS = {
    "5x7 new (default)": BoardSpec(),
    "6x8 new": BoardSpec(squares_x=6, squares_y=8, square_length=0.08, marker_length=0.06),
    "6x8 legacy": BoardSpec(squares_x=6, squares_y=8, square_length=0.08, marker_length=0.06,
                            legacy=True),
}
SUBPIX_CRITERIA = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 100, 1e-4)  # as the tests
FPS = 30.0
CHARUCO_CAMS = 4


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def view_azimuth(cam: Camera) -> int:
    """Camera direction seen from the person (facing -y): 0 front, +90 left, ±180 back."""
    x, y = cam.center[:2]
    return round(float(np.degrees(np.arctan2(y, x)) + 270.0) % 360.0 - 180.0)


# -- 1. person videos vs MediaPipe -------------------------------------------------------
def run_mediapipe(path: Path, size: tuple[int, int]) -> tuple[list[np.ndarray | None], float]:
    """BlazePose landmarks (33, 2) in pixels per frame (None: no pose) and ms per frame."""
    width, height = size
    poses: list[np.ndarray | None] = []
    seconds = 0.0
    # as `posekit detect` runs it (landmark smoothing per [detection] smooth_landmarks)
    smooth = DetectionConfig().smooth_landmarks
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1,
                                smooth_landmarks=smooth) as pose:
        for frame in iter_frames(path):
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            start = time.perf_counter()
            result = pose.process(rgb)
            seconds += time.perf_counter() - start
            landmarks = result.pose_landmarks
            poses.append(None if landmarks is None else np.array(
                [[lm.x * width, lm.y * height] for lm in landmarks.landmark]))
    return poses, 1000.0 * seconds / max(len(poses), 1)


def camera_errors(poses: list[np.ndarray | None], truth: np.ndarray) -> dict[str, np.ndarray]:
    """Pixel errors (n_detections * 2,) per joint group against the truth (n_frames, 33, 2)."""
    found = [f for f, p in enumerate(poses) if p is not None]
    detected = np.array([p for p in poses if p is not None]).reshape(-1, 33, 2)
    return {g: np.linalg.norm(detected[:, idx] - truth[found][:, idx], axis=-1).ravel()
            for g, idx in GROUPS.items()}


def person_benchmark(out: Path, rigs: list[int], motions: list[str], duration: float,
                     seed: int) -> list[dict[str, Any]]:
    rows = []
    for n_cams in rigs:
        rig = make_rig(n_cams, seed=seed)
        for motion in motions:
            sample = make_motion(motion, duration=duration, seed=seed).sample(FPS)
            start = time.perf_counter()
            paths = render_person_videos(rig, sample.landmarks, out / f"{motion}-{n_cams}cam",
                                         FPS, seed=seed, times=sample.times)
            render_ms = 1000 * (time.perf_counter() - start) / (n_cams * len(sample.times))
            truth = np.load(paths["ground_truth"])["points2d"]
            for c, cam in enumerate(rig):
                poses, mp_ms = run_mediapipe(paths[cam.name], cam.size)
                assert len(poses) == truth.shape[1], f"{paths[cam.name]}: frames lost"
                rows.append({"rig": n_cams, "motion": motion, "cam": cam.name,
                             "view": view_azimuth(cam), "height": cam.size[1],
                             "size": f"{cam.size[0]}×{cam.size[1]}", "frames": len(poses),
                             "detected": float(np.mean([p is not None for p in poses])),
                             "errors": camera_errors(poses, truth[c]),
                             "render_ms": render_ms, "mp_ms": mp_ms})
                print(f"  {motion} {n_cams}-cam {cam.name}: {rows[-1]['detected']:.0%} detected",
                      flush=True)
    return rows


def within(errors: np.ndarray, height: int) -> float:
    return float(np.mean(errors < 0.05 * height)) if errors.size else float("nan")


def lowest(values: list[tuple[float, dict[str, Any]]]) -> str:
    """The smallest value and the video it comes from (unless all are equal)."""
    value, row = min(values, key=lambda v: v[0])
    where = "all" if value == max(v for v, _ in values) else f"{row['motion']} {row['cam']}"
    return f"{value:.0%} ({where})"


def person_tables(rows: list[dict[str, Any]]) -> str:
    detail = [[r["rig"], r["motion"], r["cam"], r["size"], f"{r['view']:+d}°",
               f"{r['detected']:.0%}"]
              + [f"{within(e, r['height']):.0%} / {np.median(e):.1f}" if e.size else "–"
                 for e in r["errors"].values()] for r in rows]
    summary, worst = [], []
    for n_cams in dict.fromkeys(r["rig"] for r in rows):
        sel = [r for r in rows if r["rig"] == n_cams]
        summary.append([n_cams, len(sel), sum(r["frames"] for r in sel),
                        f"{np.mean([r['detected'] for r in sel]):.1%}",
                        lowest([(r["detected"], r) for r in sel]),
                        f"{np.mean([r['render_ms'] for r in sel]):.1f}",
                        f"{np.mean([r['mp_ms'] for r in sel]):.1f}"])
        for g in GROUPS:
            shares = [(within(r["errors"][g], r["height"]), r) for r in sel]
            pooled = np.concatenate([r["errors"][g] for r in sel])
            worst.append([n_cams, g + "s", f"{np.mean([s for s, _ in shares]):.1%}",
                          lowest(shares), f"{np.median(pooled):.1f}",
                          f"{max(np.median(r['errors'][g]) for r in sel):.1f}"])
    return "\n\n".join([
        "### Person videos vs MediaPipe: summary per rig",
        md_table(["cams", "videos", "frames", "detected (mean)", "detected (min, where)",
                  "render + encode ms/frame", "MediaPipe ms/frame"], summary),
        "### Person videos vs MediaPipe: joint groups (within 5 % of the image height)",
        md_table(["cams", "joint group", "within 5 % (mean over videos)",
                  "within 5 % (min, where)", "median error px (all)",
                  "median error px (worst video)"], worst),
        "### Person videos vs MediaPipe: per camera\n\nView: camera azimuth seen from the "
        "person, 0° front, +90° the person's left, ±180° behind. Joint cells: share of "
        "detected landmarks within 5 % of the image height / median error in px.",
        md_table(["cams", "motion", "camera", "size", "view", "detected",
                  *(g + "s" for g in GROUPS)], detail)])


# -- 2. ChArUco corners vs OpenCV ----------------------------------------------------------
def corner_errors(image: np.ndarray, detector: cv2.aruco.CharucoDetector, truth: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, int]:
    """Raw and cornerSubPix errors (n, 2) of detected corners with a true position, and the
    number of detected corners without one (not visible by the truth)."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    corners, ids, _, _ = detector.detectBoard(gray)
    if ids is None:
        return np.zeros((0, 2)), np.zeros((0, 2)), 0
    refined = corners.astype(np.float32).reshape(-1, 1, 2).copy()
    cv2.cornerSubPix(gray, refined, (3, 3), (-1, -1), SUBPIX_CRITERIA)
    true = truth[ids.ravel()]
    ok = np.isfinite(true[:, 0])
    return (corners.reshape(-1, 2)[ok] - true[ok], refined.reshape(-1, 2)[ok] - true[ok],
            int((~ok).sum()))


def charuco_benchmark(out: Path, n_frames: int, seed: int) -> list[list[Any]]:
    rig = make_rig(CHARUCO_CAMS, seed=seed)
    rows = []
    for label, board in BOARDS.items():
        start = time.perf_counter()
        folder = out / label.split(" (")[0].replace(" ", "-")
        paths, truth = render_calibration_videos(rig, board, folder, n_frames, FPS, seed)
        video_ms = 1000 * (time.perf_counter() - start) / (n_frames * len(rig))
        detector = cv2.aruco.CharucoDetector(board.make_board())
        for source in ("sharp render", "mp4 (blur 0.6, noise 1.5)"):
            raw, sub, stray, seconds = [], [], 0, 0.0
            for c, cam in enumerate(rig):
                if source == "sharp render":
                    t0 = time.perf_counter()
                    frames = [render_frame(cam, board, (truth.rvecs[f], truth.tvecs[f]))
                              for f in range(n_frames)]
                    seconds += time.perf_counter() - t0
                else:
                    frames = list(iter_frames(paths[c]))
                for f, image in enumerate(frames):
                    r, s, n = corner_errors(image, detector, truth.corners_2d[c, f])
                    raw.append(r)
                    sub.append(s)
                    stray += n
            raw_e, sub_e = np.concatenate(raw), np.concatenate(sub)
            dist, raw_dist = np.hypot(*sub_e.T), np.hypot(*raw_e.T)
            visible = int(np.isfinite(truth.corners_2d[..., 0]).sum())
            ms = 1000 * seconds / (n_frames * len(rig)) if seconds else video_ms
            rows.append([label, source, f"{len(dist)} / {visible}", stray,
                         f"{np.median(raw_dist):.3f}", "{:+.3f}, {:+.3f}".format(*raw_e.mean(0)),
                         f"{np.median(dist):.3f}", f"{np.percentile(dist, 95):.3f}",
                         f"{dist.max():.3f}", int((dist > 0.5).sum()),
                         "{:+.3f}, {:+.3f}".format(*sub_e.mean(0)),
                         f"{ms:.0f}"])
            print(f"  ChArUco {label}, {source}: median {np.median(dist):.3f} px", flush=True)
    return rows


def charuco_table(rows: list[list[Any]], n_frames: int) -> str:
    return (f"### ChArUco corners vs OpenCV CharucoDetector\n\n{CHARUCO_CAMS}-camera rig, "
            f"{n_frames} frames per camera. Corners: detected with a true position / visible "
            "by the truth; stray: detected but not visible by the truth. Errors in px, "
            "detection minus truth; bias = mean (x, y). Render ms/frame: sharp frames "
            "render_frame alone, mp4 render + encode (the first board's figure includes "
            "the per-camera set-up).\n\n" + md_table(
                ["board", "images", "corners", "stray", "raw median", "raw bias x, y",
                 "subpix median", "subpix p95", "subpix max", "subpix > 0.5 px",
                 "subpix bias x, y", "render ms/frame"], rows))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="working folder (default: a new temp dir)")
    parser.add_argument("--quick", action="store_true", help="short clips, few frames")
    parser.add_argument("--cams", type=int, nargs="+", default=[4, 6], help="rig sizes")
    parser.add_argument("--motions", nargs="+", default=list(MOTIONS), choices=MOTIONS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-charuco", action="store_true")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="synthetic_fidelity-"))
    duration, charuco_frames = (0.5, 12) if args.quick else (4.0, 100)
    start = time.perf_counter()
    print(f"working folder {out}", flush=True)
    parts = [
        "## Benchmark: synthetic fidelity",
        f"OpenCV {cv2.__version__}, mediapipe {mp.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPU cores. Person clips: "
        f"{duration:g} s at {FPS:g} fps ({int(duration * FPS) + 1} frames), seed {args.seed}; "
        "MediaPipe Pose video mode, model_complexity=1, landmark smoothing "
        f"{'on' if DetectionConfig().smooth_landmarks else 'off'}.",
        person_tables(person_benchmark(out / "person", args.cams, args.motions, duration,
                                       args.seed))]
    if not args.skip_charuco:
        parts.append(charuco_table(charuco_benchmark(out / "charuco", charuco_frames,
                                                     args.seed), charuco_frames))
    parts.append(f"Wall time {time.perf_counter() - start:.0f} s.")
    text = "\n\n".join(parts) + "\n"
    print(text)
    print(f"written to {write_text_atomic(out / 'synthetic_fidelity.md', text)}")


if __name__ == "__main__":
    main()
