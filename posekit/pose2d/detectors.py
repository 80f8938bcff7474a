"""2D keypoint detectors: a small protocol and a registry, MediaPipe BlazePose by default.

A detector turns one BGR frame (and its time, for trackers) into keypoint pixels and
likelihoods. Models are never downloaded: the default is BlazePose *full*, shipped inside
the mediapipe wheels posekit pins (0.10.14-0.10.21, legacy ``solutions`` API, video mode
with tracking). ``[detection] model_path`` points to a user's own ``.task`` model (e.g.
BlazePose heavy) run with MediaPipe's Tasks API.
"""

from __future__ import annotations

import os
from collections.abc import Callable
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


def _mediapipe() -> Any:
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ start-up chatter
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import mediapipe as mp
    except ImportError as exc:  # pragma: no cover - a hard dependency
        raise PosekitError(f"mediapipe is not installed ({exc}); pip install "
                           "'mediapipe>=0.10.14,<=0.10.21'") from None
    return mp


def _to_arrays(landmarks: Any, width: int, height: int) -> tuple[FloatArray, FloatArray]:
    n = len(MEDIAPIPE_33.keypoints)
    xy, like = np.full((n, 2), np.nan), np.zeros(n)
    if landmarks:
        pts = np.array([[lm.x, lm.y, lm.visibility] for lm in landmarks], np.float64)
        xy[:] = pts[:, :2] * [width, height]
        like[:] = np.clip(pts[:, 2], 0.0, 1.0)
    return xy, like


class MediaPipePose:
    """BlazePose through the legacy ``solutions`` API (shipped model, tracking mode)."""

    skeleton = "mediapipe33"
    keypoints = MEDIAPIPE_33.keypoints

    def __init__(self, cfg: DetectionConfig) -> None:
        mp = _mediapipe()
        model = Path(mp.__file__).parent / "modules" / "pose_landmark" / _SHIPPED.get(
            cfg.model_complexity, f"pose_landmark_{_NAMES[cfg.model_complexity]}.tflite")
        if not model.is_file():
            raise ConfigError(
                f"[detection] model_complexity = {cfg.model_complexity} "
                f"({_NAMES[cfg.model_complexity]}) needs {model.name}, which this mediapipe "
                f"{mp.__version__} wheel does not ship, and posekit never downloads models: "
                "use model_complexity = 1 (full, shipped) or set model_path to your own "
                ".task model file")
        self.model = f"mediapipe {mp.__version__} {model.name} (solutions API, tracking)"
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=False, model_complexity=cfg.model_complexity,
            smooth_landmarks=True, enable_segmentation=False,
            min_detection_confidence=cfg.min_detection_confidence,
            min_tracking_confidence=cfg.min_tracking_confidence)

    def process(self, image: NDArray[np.uint8], time_s: float) -> tuple[FloatArray, FloatArray]:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        result = self._pose.process(rgb)
        marks = result.pose_landmarks.landmark if result.pose_landmarks else None
        return _to_arrays(marks, image.shape[1], image.shape[0])

    def close(self) -> None:
        self._pose.close()


class MediaPipeTask:
    """A user's own pose landmarker ``.task`` file through MediaPipe's Tasks API."""

    skeleton = "mediapipe33"
    keypoints = MEDIAPIPE_33.keypoints

    def __init__(self, cfg: DetectionConfig) -> None:
        mp = _mediapipe()
        path = Path(os.path.expanduser(str(cfg.model_path)))
        if not path.is_file():
            raise ConfigError(f"[detection] model_path = {cfg.model_path!r}: no such file "
                              "(posekit never downloads models; give the path of a .task "
                              "pose landmarker file you have)")
        vision = mp.tasks.vision
        options = vision.PoseLandmarkerOptions(
            base_options=mp.tasks.BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.VIDEO, num_poses=1,
            min_pose_detection_confidence=cfg.min_detection_confidence,
            min_tracking_confidence=cfg.min_tracking_confidence)
        try:
            self._landmarker = vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise ConfigError(f"[detection] model_path = {cfg.model_path!r}: MediaPipe "
                              f"cannot load it as a pose landmarker ({exc})") from None
        self.model = f"mediapipe {mp.__version__} {path.name} (Tasks API, video mode)"
        self._mp = mp
        self._last_ms = -1

    def process(self, image: NDArray[np.uint8], time_s: float) -> tuple[FloatArray, FloatArray]:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        ms = max(round(time_s * 1000), self._last_ms + 1)  # strictly increasing
        self._last_ms = ms
        result = self._landmarker.detect_for_video(
            self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb), ms)
        marks = result.pose_landmarks[0] if result.pose_landmarks else None
        return _to_arrays(marks, image.shape[1], image.shape[0])

    def close(self) -> None:
        self._landmarker.close()


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
