"""``posekit doctor``: is this installation able to run the pipeline, offline?

Each check uses the real part (OpenCV's ChArUco detector on a drawn board, a video written
and decoded again, MediaPipe's shipped model on a rendered person) and says what to do when
it fails: the usual breakages of this field's tools are an OpenCV build without ArUco, two
OpenCV packages overwriting each other's ``cv2``, and a mediapipe release without the model.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

#: the Python versions posekit is tested with (README)
PYTHONS = ((3, 10), (3, 12))
#: the packages that each install their own ``cv2``
OPENCV_PACKAGES = ("opencv-python", "opencv-contrib-python", "opencv-python-headless",
                   "opencv-contrib-python-headless")


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``ok`` False means the pipeline cannot run as installed."""

    name: str
    ok: bool
    detail: str


def _python() -> Check:
    version = sys.version_info[:2]
    ok = PYTHONS[0] <= version <= PYTHONS[1]
    return Check("Python", ok, f"{platform.python_version()} on {platform.system()}"
                 + ("" if ok else "; posekit is tested with Python 3.10 to 3.12: use one of "
                    "those for a new virtual environment"))


def opencv_packages(installed: Iterable[str]) -> str | None:
    """The problem with the OpenCV packages ``installed`` (distribution names), if any:
    more than one installs ``cv2``, and whichever was installed last wins, so the ArUco
    module comes and goes with unrelated upgrades."""
    found = sorted({n.lower() for n in installed} & set(OPENCV_PACKAGES))
    if len(found) <= 1:
        return None
    return (f"{' and '.join(found)} are both installed and overwrite each other's cv2; "
            "keep opencv-contrib-python alone: pip uninstall -y "
            + " ".join(n for n in found if n != "opencv-contrib-python")
            + " && pip install --force-reinstall --no-deps opencv-contrib-python")


def _opencv() -> Check:
    import cv2
    import numpy as np

    from posekit.calibration.board import Board

    names = [d.metadata["Name"] for d in importlib.metadata.distributions()
             if d.metadata["Name"]]
    clash = opencv_packages(names)
    if not hasattr(cv2, "aruco") or not hasattr(cv2.aruco, "CharucoDetector"):
        return Check("OpenCV", False, f"{cv2.__version__} without the ArUco module's "
                     "ChArUco detector (OpenCV 4.7 or later, contrib build): pip install "
                     "opencv-contrib-python" + (f"; {clash}" if clash else ""))
    board = Board(size=(5, 7))
    image = board.draw(48, margin_px=24)
    corners = len(board.detector().detect(np.asarray(image, np.uint8)))
    ok = corners == board.n_corners and clash is None
    return Check("OpenCV", ok, f"{cv2.__version__}, NumPy {np.__version__}; the ChArUco "
                 f"detector finds {corners} of {board.n_corners} corners on a drawn board"
                 + (f"; {clash}" if clash else ""))


def _video() -> Check:
    import numpy as np

    from posekit.io.video import iter_frames, probe_video, video_writer

    with tempfile.TemporaryDirectory(prefix="posekit-doctor-") as tmp:
        path = Path(tmp) / "check.mp4"
        with video_writer(path, 30.0, (64, 48)) as writer:  # as labeled videos are written
            for i in range(10):
                writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
        info = probe_video(path)
        frames = sum(1 for _ in iter_frames(path))
    ok = frames == 10
    return Check("video", ok, f"an mp4 of 10 frames written and read back: {frames} frames "
                 f"decoded ({info.width}x{info.height}, {info.fps:g} fps)"
                 + ("" if ok else "; OpenCV's FFmpeg does not decode mp4 here: reinstall "
                    "opencv-contrib-python from PyPI"))


def _mediapipe() -> Check:
    from posekit.config.schema import DetectionConfig
    from posekit.pose2d.detectors import MediaPipePose
    from posekit.synthetic.motions import generate_motion
    from posekit.synthetic.render_person import render_person_frame
    from posekit.synthetic.rig import make_rig

    detector = MediaPipePose(DetectionConfig())  # the shipped model; errors say what to do
    try:
        camera = make_rig(1, seed=0)[0]
        landmarks = generate_motion("squat", 1.0).landmarks[0]
        image = render_person_frame(camera, landmarks)
        _, score = detector.process(image, 0.0)  # BGR, as decoded videos are
    finally:
        detector.close()
    seen = int((score > 0.5).sum())
    return Check("MediaPipe", seen >= 20, f"{detector.model}: {seen} of {len(score)} keypoints "
                 "found on a rendered person" + ("" if seen >= 20 else
                                                 "; reinstall mediapipe==0.10.21"))


def _dask() -> Check:
    try:
        import distributed
    except ImportError:
        return Check("Dask", True, "distributed not installed: needed only for run-all "
                     "--scheduler (pip install 'dask[distributed]')")
    return Check("Dask", True, f"distributed {distributed.__version__} (run-all --scheduler)")


def _nwb() -> Check:
    try:
        import ndx_pose  # noqa: F401
        import pynwb
    except ImportError:
        return Check("NWB", True, "pynwb or ndx-pose not installed: needed only for the NWB "
                     "export ([triangulation] formats = [..., \"nwb\"]; pip install "
                     "\"posekit[nwb]\")")
    return Check("NWB", True, f"pynwb {pynwb.__version__} with ndx-pose "
                 "([triangulation] formats = [..., \"nwb\"])")


CHECKS: tuple[tuple[str, Callable[[], Check]], ...] = (
    ("Python", _python), ("OpenCV", _opencv), ("video", _video), ("MediaPipe", _mediapipe),
    ("Dask", _dask), ("NWB", _nwb))


def run_checks() -> list[Check]:
    """Every check, in order; one that raises is a failed check with the error's text."""
    out = []
    for name, check in CHECKS:
        try:
            out.append(check())
        except Exception as exc:  # a broken install raises anything; report it, go on
            out.append(Check(name, False, f"{type(exc).__name__}: {exc}"))
    return out
