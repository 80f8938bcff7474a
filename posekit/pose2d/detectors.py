"""2D keypoint detectors: a small protocol and a registry, MediaPipe BlazePose by default.

A detector turns one BGR frame (and its time, for trackers) into keypoint pixels and
likelihoods. Models are never downloaded: the default is BlazePose *full*, shipped inside
the mediapipe wheels posekit pins (0.10.14-0.10.21, legacy ``solutions`` API, video mode
with tracking). ``[detection] model_path`` points to a user's own model (e.g. BlazePose
heavy), a pose landmarker ``.task`` file or a bare landmark ``.tflite``, run with
MediaPipe's Tasks API.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from posekit.config.schema import DetectionConfig
from posekit.errors import ConfigError, PosekitError
from posekit.skeletons import MEDIAPIPE_33

FloatArray = NDArray[np.float64]
_SHIPPED = {1: "pose_landmark_full.tflite"}
_NAMES = {0: "lite", 1: "full", 2: "heavy"}


class Detector(Protocol):
    """What posekit needs from a 2D detector."""

    skeleton: str  # name in posekit.skeletons
    keypoints: tuple[str, ...]
    #: what ran, for the 2D files' metadata ("model"): library and version, model file
    model: str

    def process(self, image: NDArray[np.uint8], time_s: float
                ) -> tuple[FloatArray, FloatArray]:
        """Pixels (n_keypoints, 2) (NaN = not found) and likelihoods (n_keypoints,)."""
        ...

    def close(self) -> None:
        ...


#: What MediaPipe's C++ side writes straight to the process's stderr when it sets up its
#: models (the environment variables below do not reach its absl and TensorFlow Lite
#: loggers): notices, not problems. Each video would otherwise start with a handful.
NATIVE_NOISE = re.compile(
    r"XNNPACK delegate for CPU|absl::InitializeLog\(\)|inference_feedback_manager\.cc|"
    r"landmark_projection_calculator\.cc|gl_context\.cc|face_landmarker_graph\.cc|"
    r"task_runner\.cc.*GPU su")


#: set to 1 (``posekit -v`` does, for its worker processes too): MediaPipe's notices pass
NATIVE_NOTICES_VARIABLE = "POSEKIT_NATIVE_NOTICES"


@contextlib.contextmanager
def native_notices_left_out() -> Iterator[None]:
    """Inside the block, what is written to file descriptor 2 (C++ code included) goes
    to a temporary file; afterwards its lines are written back to stderr, except those
    matching :data:`NATIVE_NOISE`. Everything passes when :data:`NATIVE_NOTICES_VARIABLE`
    is 1 (``posekit -v``), and the block does nothing where stderr has no file
    descriptor."""
    if os.environ.get(NATIVE_NOTICES_VARIABLE) == "1":
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().decode("utf-8", "replace").splitlines()
                    if line.strip() and not NATIVE_NOISE.search(line)]
            if kept:
                sys.stderr.write("\n".join(kept) + "\n")


def _mediapipe() -> Any:
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ start-up chatter
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import mediapipe as mp
    except ImportError as exc:  # pragma: no cover - a hard dependency
        raise PosekitError(f"mediapipe is not installed ({exc}); pip install "
                           "'mediapipe>=0.10.14,<=0.10.21'") from None
    return mp


def _modules(mp: Any) -> Path:
    """The mediapipe package's folder of shipped models."""
    return Path(mp.__file__).parent / "modules"


def model_label(mp: Any, model: str, api: str, smooth: bool) -> str:
    """The ``model`` string of 2D detected by ``model`` (a file name) through ``api``,
    e.g. ``mediapipe 0.10.21 pose_landmark_full.tflite (solutions API, tracking, landmark
    smoothing off)``; :func:`smoothed_2d` reads it back."""
    return (f"mediapipe {mp.__version__} {model} ({api}, landmark smoothing "
            f"{'on' if smooth else 'off'})")


#: what :func:`model_label` writes, up to the API (older posekits wrote the same start)
_MODEL_LABEL = re.compile(r"^mediapipe \d+\.\d+\.\d+ .+ \((solutions|Tasks) API, ")


def smoothed_2d(model: str) -> bool:
    """Whether 2D whose ``model`` string is ``model`` had MediaPipe's landmark smoothing
    on: :func:`model_label` says "landmark smoothing off" when it was off; 2D detected
    before it said either (posekit before 2026-12-07) was smoothed. False for any other
    detector's or tool's string."""
    return bool(_MODEL_LABEL.match(model)) and "landmark smoothing off" not in model


def _to_arrays(landmarks: Any, width: int, height: int) -> tuple[FloatArray, FloatArray]:
    n = len(MEDIAPIPE_33.keypoints)
    xy, like = np.full((n, 2), np.nan), np.zeros(n)
    if landmarks:
        pts = np.array([[lm.x, lm.y, lm.visibility] for lm in landmarks], np.float64)
        xy[:] = pts[:, :2] * [width, height]
        like[:] = np.clip(pts[:, 2], 0.0, 1.0)
    return xy, like


class MediaPipePose:
    """BlazePose through the legacy ``solutions`` API (shipped model, tracking mode;
    MediaPipe's landmark smoothing as ``[detection] smooth_landmarks`` says)."""

    skeleton = "mediapipe33"
    keypoints = MEDIAPIPE_33.keypoints

    def __init__(self, cfg: DetectionConfig) -> None:
        mp = _mediapipe()
        model = _modules(mp) / "pose_landmark" / _SHIPPED.get(
            cfg.model_complexity, f"pose_landmark_{_NAMES[cfg.model_complexity]}.tflite")
        if not model.is_file():
            raise ConfigError(
                f"[detection] model_complexity = {cfg.model_complexity} "
                f"({_NAMES[cfg.model_complexity]}) needs {model.name}, which this mediapipe "
                f"{mp.__version__} wheel does not ship, and posekit never downloads models: "
                "use model_complexity = 1 (full, shipped) or set model_path to a copy you "
                f"have: {model.name} (as older mediapipe releases downloaded it) or a "
                "pose landmarker .task file")
        self.model = model_label(mp, model.name, "solutions API, tracking",
                                 cfg.smooth_landmarks)
        with native_notices_left_out():
            self._pose = mp.solutions.pose.Pose(
                static_image_mode=False, model_complexity=cfg.model_complexity,
                smooth_landmarks=cfg.smooth_landmarks, enable_segmentation=False,
                min_detection_confidence=cfg.min_detection_confidence,
                min_tracking_confidence=cfg.min_tracking_confidence)
            # the graph opens its models on threads of its own after this returns; a
            # blank frame through it waits for that (no person: no state carries over)
            self._pose.process(np.zeros((64, 64, 3), np.uint8))
        self._settled = False  # the landmark stage has run (its notice is out)

    def process(self, image: NDArray[np.uint8], time_s: float) -> tuple[FloatArray, FloatArray]:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        if self._settled:
            result = self._pose.process(rgb)
        else:
            with native_notices_left_out():
                result = self._pose.process(rgb)
            self._settled = result.pose_landmarks is not None
        marks = result.pose_landmarks.landmark if result.pose_landmarks else None
        return _to_arrays(marks, image.shape[1], image.shape[0])

    def close(self) -> None:
        self._pose.close()


#: With landmark smoothing off, the Tasks API is given frame times this far apart (ms)
#: instead of the video's: its smoothing filter weighs each new detection by the time
#: since the last one, so at 100 000 s per frame it passes every detection through as is
#: (tracking, which carries the person's region from frame to frame, does not depend on
#: time). Python's Tasks API has no switch for the filter.
UNSMOOTHED_SPACING_MS = 100_000_000


class MediaPipeTask:
    """A user's own pose landmarker ``.task`` file through MediaPipe's Tasks API, in
    video mode (tracking), or a bare BlazePose landmark ``.tflite`` (lite, full or heavy,
    as the legacy API ran them), bundled with the shipped person detector
    (:func:`task_bundle`). ``[detection] smooth_landmarks`` applies as for the shipped
    model: off, the frames are timed :data:`UNSMOOTHED_SPACING_MS` apart."""

    skeleton = "mediapipe33"
    keypoints = MEDIAPIPE_33.keypoints

    def __init__(self, cfg: DetectionConfig) -> None:
        mp = _mediapipe()
        path = Path(os.path.expanduser(str(cfg.model_path)))
        if not path.is_file():
            raise ConfigError(f"[detection] model_path = {cfg.model_path!r}: no such file "
                              "(posekit never downloads models; give the path of a pose "
                              "landmarker .task or BlazePose landmark .tflite file you have)")
        vision = mp.tasks.vision
        if path.suffix.lower() == ".tflite":  # a bare landmark model: bundled here
            try:
                stat = path.stat()
                base = mp.tasks.BaseOptions(model_asset_buffer=_bundled(
                    str(path.resolve()), stat.st_mtime_ns, stat.st_size))
            except Exception as exc:  # the flatbuffer readers' errors on other files vary
                raise ConfigError(f"[detection] model_path = {cfg.model_path!r}: not a "
                                  f"BlazePose landmark model ({exc}); give a pose "
                                  "landmarker .task file or a BlazePose landmark .tflite "
                                  "(pose_landmark_lite, _full or _heavy)") from None
        else:
            base = mp.tasks.BaseOptions(model_asset_path=str(path))
        options = vision.PoseLandmarkerOptions(
            base_options=base,
            running_mode=vision.RunningMode.VIDEO, num_poses=1,
            min_pose_detection_confidence=cfg.min_detection_confidence,
            min_tracking_confidence=cfg.min_tracking_confidence)
        try:
            with native_notices_left_out():
                self._landmarker = vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise ConfigError(f"[detection] model_path = {cfg.model_path!r}: MediaPipe "
                              f"cannot load it as a pose landmarker ({exc})") from None
        self.model = model_label(mp, path.name, "Tasks API, video mode", cfg.smooth_landmarks)
        self._mp = mp
        self._smooth = cfg.smooth_landmarks
        self._last_ms = -1
        self._settled = False  # the models have run (their set-up notices are out)

    def process(self, image: NDArray[np.uint8], time_s: float) -> tuple[FloatArray, FloatArray]:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        if self._smooth:
            ms = max(round(time_s * 1000), self._last_ms + 1)  # strictly increasing
        else:
            ms = self._last_ms + UNSMOOTHED_SPACING_MS
        self._last_ms = ms
        frame = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        if self._settled:
            result = self._landmarker.detect_for_video(frame, ms)
        else:
            with native_notices_left_out():
                result = self._landmarker.detect_for_video(frame, ms)
            self._settled = bool(result.pose_landmarks)
        marks = result.pose_landmarks[0] if result.pose_landmarks else None
        return _to_arrays(marks, image.shape[1], image.shape[0])

    def close(self) -> None:
        self._landmarker.close()


#: output tensors of a BlazePose landmark model (landmarks, presence, segmentation,
#: heatmap, world landmarks)
BLAZEPOSE_OUTPUTS = 5


def task_bundle(landmarks: bytes) -> bytes:
    """A pose landmarker ``.task`` file's bytes, in memory: the mediapipe wheel's person
    detector with the BlazePose landmark model ``landmarks`` (the bytes of a ``.tflite``
    such as ``pose_landmark_full.tflite``, as the legacy API runs it). Each model gets the
    input normalisation metadata the Tasks API reads (the legacy graph sets it in its own
    configuration: [-1, 1] for the detector, [0, 1] for the landmarks)."""
    mp = _mediapipe()
    from mediapipe.tasks.python.metadata.metadata_writers import (
        metadata_writer,
        model_asset_bundle_utils,
        writer_utils,
    )

    def described(model: bytes, name: str, mean: float, std: float) -> bytes:
        buffer = bytearray(model)
        writer = metadata_writer.MetadataWriter.create(buffer).add_general_info(name)
        writer.add_image_input([mean], [std])
        for _ in writer_utils.get_output_tensor_types(buffer):
            writer.add_feature_output()
        return bytes(writer.populate()[0])

    outputs = len(writer_utils.get_output_tensor_types(landmarks))
    if outputs != BLAZEPOSE_OUTPUTS:
        raise ValueError(f"it has {outputs} output tensors where a BlazePose landmark model "
                         f"has {BLAZEPOSE_OUTPUTS}")
    detector = _modules(mp) / "pose_detection" / "pose_detection.tflite"
    out = io.BytesIO()
    with model_asset_bundle_utils.AlignZipFile(out, mode="w", alignment=4) as bundle:
        bundle.writestr("pose_detector.tflite",
                        described(detector.read_bytes(), "pose_detection", 127.5, 127.5))
        bundle.writestr("pose_landmarks_detector.tflite",
                        described(landmarks, "pose_landmark", 0.0, 255.0))
    return out.getvalue()


@functools.lru_cache(maxsize=2)
def _bundled(path: str, mtime_ns: int, size: int) -> bytes:
    """:func:`task_bundle` of the landmark file at ``path``, made once per process and
    file version (``mtime_ns`` and ``size`` key the cache; 0.4 s for the full model: a
    worker detecting many short videos would otherwise pay it for each)."""
    return task_bundle(Path(path).read_bytes())


def write_shipped_task(path: str | os.PathLike[str]) -> Path:
    """Write the wheel's shipped BlazePose full model as a pose landmarker ``.task`` file
    at ``path`` (:func:`task_bundle`; nothing is downloaded): the shipped weights through
    the Tasks API, for tests and benchmarks of the ``model_path`` path."""
    model = _modules(_mediapipe()) / "pose_landmark" / _SHIPPED[1]
    Path(path).write_bytes(task_bundle(model.read_bytes()))
    return Path(path)


def _mediapipe_factory(cfg: DetectionConfig) -> Detector:
    return MediaPipeTask(cfg) if cfg.model_path else MediaPipePose(cfg)


#: backend name → factory from the [detection] section
DETECTORS: dict[str, Callable[[DetectionConfig], Detector]] = {
    "mediapipe": _mediapipe_factory,
}


def make_detector(cfg: DetectionConfig) -> Detector:
    """The detector ``[detection] backend`` names."""
    try:
        factory = DETECTORS[cfg.backend]
    except KeyError:
        raise ConfigError(f'[detection] backend = "{cfg.backend}": available backends are '
                          f"{', '.join(DETECTORS)} (2D from other detectors: posekit "
                          "import-2d)") from None
    return factory(cfg)
