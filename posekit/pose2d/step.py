"""The ``detect`` pipeline step: every camera video of every trial → ``pose-2d/<video>.h5``.

Videos are independent, so they run in worker processes (``--jobs``, default one per CPU
core) across cameras *and* trials; each worker decodes on a background thread while the
detector works. A video whose 2D file exists and was not written by posekit (imported from
another detector) is used as is unless ``--overwrite``. A video in which no person is
found in any frame still gets its 2D file (every row empty, ``frames_with_person = 0`` in
its metadata) and a warning naming the trial and camera; a video that cannot be read fails
its trial with an error naming the camera and the file, and writes no 2D file.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from posekit import __version__
from posekit.config.schema import DetectionConfig
from posekit.errors import PosekitError
from posekit.io.video import probe_video, read_frames
from posekit.pose2d.detectors import make_detector
from posekit.pose2d.table import Pose2D, read_pose2d, write_pose2d
from posekit.project.layout import Trial
from posekit.project.steps import pose_2d_path

log = logging.getLogger(__name__)


def detect_video(video: str | os.PathLike[str], cfg: DetectionConfig,
                 position: int | None = None, progress: bool = True,
                 decode_threads: int = 0,
                 on_frame: Callable[[int], None] | None = None) -> Pose2D:
    """Run the configured detector on every frame of ``video``; frames without a person
    are NaN rows with likelihood 0, and ``metadata["frames_with_person"]`` counts the
    frames with one (0: nobody was seen). The metadata also names the ``model`` that ran
    (library, version, model file) and the ``posekit`` version, so that 2D detected on
    different set-ups can be told apart. ``on_frame`` is called with the number of frames
    done after each frame."""
    video = Path(video)
    info = probe_video(video)
    detector = make_detector(cfg)
    xy, like, times = [], [], []
    bar = tqdm(total=info.n_frames or None, desc=f"detect {video.name}", unit="frame",
               position=position, leave=False, disable=None if progress else True)
    try:
        with bar:
            for frame in read_frames(video, threads=decode_threads):
                pts, conf = detector.process(frame.image, frame.time_s)
                xy.append(pts)
                like.append(conf)
                times.append(frame.time_s)
                bar.update()
                if on_frame is not None:
                    on_frame(len(times))
    finally:
        detector.close()
    n_kp = len(detector.keypoints)
    pose = Pose2D(detector.keypoints,
                  np.array(xy).reshape(-1, n_kp, 2), np.array(like).reshape(-1, n_kp),
                  scorer="posekit", frame_times=np.array(times),
                  metadata={"detector": cfg.backend, "skeleton": detector.skeleton,
                            "model": getattr(detector, "model", cfg.backend),
                            "posekit": __version__, "video": video.name,
                            "fps": capture_rate(np.array(times), info.fps)})
    pose.metadata["frames_with_person"] = int(pose.detected().sum())
    return pose


def capture_rate(times: NDArray[np.float64], container_fps: float) -> float:
    """The rate a video's frames were captured at: one over the median interval of their
    timestamps (``times``, s). A container states the average rate over the whole clip
    instead, which dropped frames lower (a 30-fps camera that skipped 4 of 120 frames
    reads 29 fps) and which would then differ from the other cameras'; the gaps
    themselves are left empty on the camera's frame grid by sync and triangulation
    (:func:`posekit.pose2d.timing.on_frame_grid`).
    ``container_fps`` when it agrees within 0.1 % (all constant-rate videos) or when there
    are too few timestamps."""
    step = np.diff(times)
    step = step[np.isfinite(step) & (step > 0)]
    if step.size < 2:
        return float(container_fps)
    rate = float(1.0 / np.median(step))
    return float(container_fps) if abs(rate - container_fps) <= 1e-3 * rate else round(rate, 6)


def no_person_warning(label: str, video: Path, output: Path, n_frames: int) -> str:
    """The warning for a video in which the detector found no person in any frame
    (``label``: ``session/trial camera``)."""
    return (f"{label}: no person found in any of the {n_frames} frames of {video.name}; "
            f"{output.name} is written with no keypoints (metadata frames_with_person = 0). "
            "Check that the person is in this camera's view, lit and not too small, or "
            "lower [detection] min_detection_confidence and run `posekit detect --overwrite`")


def _job(video: str, output: str, cfg: dict[str, Any], position: int, progress: bool
         ) -> tuple[int, int, float]:
    """Worker: detect one video and write its 2D file (atomically)."""
    import cv2

    cv2.setNumThreads(1)  # one video per core: no oversubscription from OpenCV's own threads
    start = time.perf_counter()
    pose = detect_video(video, DetectionConfig(**cfg), position, progress, decode_threads=1)
    write_pose2d(pose, output)
    return pose.n_frames, int(pose.detected().sum()), time.perf_counter() - start


def is_imported(path: Path) -> bool:
    """Whether an existing 2D file came from another detector (not written by posekit)."""
    try:
        return read_pose2d(path).scorer != "posekit"
    except PosekitError:
        return False


def missing_model(trial: Trial) -> str | None:
    """The error for a trial whose ``[detection] model_path`` names no file, naming the
    config file that sets it; None when the model is there (or none is configured)."""
    from posekit.config.loader import read_toml

    model = trial.config.detection.model_path
    if not model or Path(os.path.expanduser(str(model))).is_file():
        return None
    files = [str(f) for f in trial.config_files
             if "model_path" in read_toml(f).get("detection", {})]
    where = f" (set in {files[-1]})" if files else ""
    return (f"[detection] model_path = {str(model)!r}{where}: no such file; give the path "
            "of a pose landmarker .task or BlazePose landmark .tflite file you have (posekit "
            "never downloads models), or remove model_path to use the model shipped with "
            "mediapipe")


def run_batch(trials: Sequence[Trial], overwrite: bool = False, jobs: int = 0,
              progress: bool = True) -> Iterator[tuple[Trial, str | None, float]]:
    """Detect every video of ``trials`` in parallel; yields (trial, error or None, seconds)
    per trial as its last video finishes."""
    tasks: list[tuple[Trial, str, Path, Path]] = []
    checked = []
    for trial in trials:
        problem = missing_model(trial)
        if problem is not None:  # one message for the trial, not one per camera
            yield trial, problem, 0.0
            continue
        checked.append(trial)
    trials = checked
    for trial in trials:
        for cam, video in trial.videos.items():
            out = pose_2d_path(trial, cam)
            if out.is_file() and not overwrite and is_imported(out):
                log.info("%s: %s holds imported 2D keypoints; used as is", trial.key, out.name)
                continue
            tasks.append((trial, cam, video, out))
    workers = max(1, min(len(tasks), jobs or os.cpu_count() or 1))
    tty = progress and sys.stderr.isatty()
    remaining = {t.key: sum(1 for task in tasks if task[0].key == t.key) for t in trials}
    errors: dict[str, list[str]] = {t.key: [] for t in trials}
    started: dict[str, float] = {}
    for trial in trials:
        if remaining[trial.key] == 0:
            yield trial, None, 0.0
    if not tasks:
        return
    context = multiprocessing.get_context("spawn")  # fork is unsafe with threaded libraries
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures: list[tuple[Future[tuple[int, int, float]], Trial, str]] = []
        for i, (trial, cam, video, out) in enumerate(tasks):
            started.setdefault(trial.key, time.perf_counter())
            cfg = trial.config.detection.model_dump()
            futures.append((pool.submit(_job, str(video), str(out), cfg, i % workers, tty),
                            trial, cam))
        for future, trial, cam in futures:
            try:
                n_frames, found, seconds = future.result()
                log.info("%s %s: person found in %d of %d frames (%.1f frames/s)", trial.key,
                         cam, found, n_frames, n_frames / max(seconds, 1e-9))
                if found == 0:
                    log.warning("%s", no_person_warning(f"{trial.key} {cam}", trial.videos[cam],
                                                        pose_2d_path(trial, cam), n_frames))
            except PosekitError as exc:
                errors[trial.key].append(f"{cam}: {exc}")
            except Exception as exc:  # a bug, or a worker that died: keep the others going
                errors[trial.key].append(f"{cam}: unexpected {type(exc).__name__}: {exc}")
            remaining[trial.key] -= 1
            if remaining[trial.key] == 0:
                message = "; ".join(errors[trial.key]) or None
                yield trial, message, time.perf_counter() - started[trial.key]
