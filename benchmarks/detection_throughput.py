"""Detection throughput: posekit's detect pipeline against the raw MediaPipe model.

Measures, on the same frames:

1. raw model: ``MediaPipePose.process`` on frames already decoded into memory (the
   model's own rate, nothing else);
2. pipeline, one video: ``posekit.pose2d.step.detect_video`` + writing the DeepLabCut
   ``.h5`` (decode on a background thread, detect, write), as the ``detect`` step runs it;
3. pipeline, two videos at once: the ``detect`` step's batch runner with ``jobs=2`` on two
   copies of the video, in worker processes.

Run: ``python benchmarks/detection_throughput.py [--video V] [--frames N]``. Without
``--video`` a synthetic 1280x720 person video is rendered first (posekit.synthetic).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import mediapipe as mp

from posekit.config.schema import DetectionConfig
from posekit.io.video import iter_frames, probe_video
from posekit.pose2d.detectors import MediaPipePose
from posekit.pose2d.step import detect_video
from posekit.pose2d.table import write_pose2d


def synthetic_video(folder: Path, n_frames: int) -> Path:
    from posekit.synthetic.motions import make_motion
    from posekit.synthetic.render_person import render_person_videos
    from posekit.synthetic.rig import make_rig

    rig = make_rig(2, seed=0).subset(["cam2"])  # 1280 x 720
    sample = make_motion("demo", duration=n_frames / 30).sample(30.0, n_frames)
    paths = render_person_videos(rig, sample.landmarks, folder, 30.0, times=sample.times)
    return paths["cam2"]


def raw_rate(video: Path, cfg: DetectionConfig) -> float:
    frames = list(iter_frames(video))
    detector = MediaPipePose(cfg)
    detector.process(frames[0], 0.0)  # warm-up
    start = time.perf_counter()
    for i, frame in enumerate(frames):
        detector.process(frame, i / 30)
    rate = len(frames) / (time.perf_counter() - start)
    detector.close()
    return rate


def pipeline_rate(video: Path, cfg: DetectionConfig, out: Path) -> float:
    start = time.perf_counter()
    pose = detect_video(video, cfg, progress=False)
    write_pose2d(pose, out)
    return pose.n_frames / (time.perf_counter() - start)


def parallel_rate(video: Path, folder: Path, jobs: int) -> float:
    """Two copies of the video as two cameras of one trial, run by the detect step."""
    from posekit.pose2d.step import run_batch
    from posekit.project.layout import Project

    root = folder / "project"
    raw = root / "s1" / "videos-raw"
    raw.mkdir(parents=True)
    (root / "config.toml").write_text('nesting = 1\n[triangulation]\ncam_regex = "-(cam[0-9])$"\n')
    for cam in ("cam1", "cam2"):
        shutil.copy(video, raw / f"t-{cam}{video.suffix}")
    trials = Project.open(root).trials()
    n = 2 * probe_video(video).n_frames
    start = time.perf_counter()
    for _, error, _ in run_batch(trials, overwrite=True, jobs=jobs, progress=False):
        assert error is None, error
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=None)
    parser.add_argument("--frames", type=int, default=300, help="synthetic video length")
    args = parser.parse_args()
    cfg = DetectionConfig()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        video = args.video or synthetic_video(folder / "video", args.frames)
        info = probe_video(video)
        raw_rate(video, cfg)  # first run loads caches; measured runs follow
        raw = raw_rate(video, cfg)
        one = pipeline_rate(video, cfg, folder / "one.h5")
        two = parallel_rate(video, folder, jobs=2)
    print(f"video: {video.name} {info.width}x{info.height}, {info.n_frames} frames; "
          f"OpenCV {cv2.__version__}, mediapipe {mp.__version__}")
    print("| measure | frames/s | vs raw model |")
    print("| --- | --- | --- |")
    print(f"| raw model (decoded frames in memory) | {raw:.1f} | 100 % |")
    print(f"| pipeline, one video (decode + detect + write) | {one:.1f} | "
          f"{100 * one / raw:.0f} % |")
    print(f"| pipeline, two videos in parallel (jobs = 2) | {two:.1f} | "
          f"{two / one:.2f} x one video |")


if __name__ == "__main__":
    main()
