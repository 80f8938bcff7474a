"""The MediaPipe detector on a real photograph and on synthetic videos; the detect step."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

import posekit
from posekit.cli.main import cli
from posekit.config.schema import DetectionConfig
from posekit.errors import ConfigError
from posekit.io.video import VideoDecodeError, read_frames, write_video
from posekit.pose2d.detectors import make_detector
from posekit.pose2d.table import Pose2D, read_pose2d, read_pose2d_header, write_pose2d
from posekit.skeletons import MEDIAPIPE_33, limb_joint_indices

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"


def _shipped_landmarks() -> Path:
    mp = pytest.importorskip("mediapipe")
    return Path(mp.__file__).parent / "modules" / "pose_landmark" / "pose_landmark_full.tflite"


@pytest.mark.parametrize("model", ["shipped", "task", "tflite"])
def test_mediapipe_on_a_real_photograph(model: str, request: pytest.FixtureRequest) -> None:
    """scikit-image's astronaut (a real NASA portrait, 512 x 512); positions hand-labelled.
    Through the shipped model, and through MediaPipe's Tasks API with the same weights as
    ``model_path``: a ``.task`` file (made by the ``shipped_task`` fixture) and the bare
    landmark ``.tflite``, which posekit bundles with the shipped person detector."""
    data = pytest.importorskip("skimage.data")
    image = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    path = {"shipped": None, "task": lambda: request.getfixturevalue("shipped_task"),
            "tflite": _shipped_landmarks}[model]
    detector = make_detector(DetectionConfig(model_path=str(path()) if path else None))
    try:
        xy, like = detector.process(image, 0.0)
    finally:
        detector.close()
    api = "(solutions API, " if model == "shipped" else "(Tasks API, "
    assert api in detector.model and detector.model.endswith("landmark smoothing off)"), \
        detector.model
    if path:
        shipped = make_detector(DetectionConfig())
        try:
            same, _ = shipped.process(image, 0.0)
        finally:
            shipped.close()
        # the same weights on the same first frame: the keypoints in view agree (those
        # below the frame's edge, guessed, differ by up to 4 px)
        seen = like > 0.9
        assert seen.sum() >= 11 and np.abs(xy - same)[seen].max() < 1.0
    at = {name: (xy[i], like[i]) for i, name in enumerate(MEDIAPIPE_33.keypoints)}
    labelled = {"nose": (222, 127), "left_eye": (246, 110), "right_eye": (200, 104),
                "left_shoulder": (305, 255), "right_shoulder": (112, 240)}
    for name, (x, y) in labelled.items():
        pos, conf = at[name]
        assert np.hypot(*(pos - (x, y))) < 20, (name, pos)
        assert conf > 0.9, (name, conf)


def test_detect_step_on_synthetic_videos_matches_ground_truth(tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(EXAMPLE, root)
    result = CliRunner().invoke(cli, ["-q", "detect", "-p", str(root), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    with np.load(root / "ground-truth" / "session1" / "squat.npz") as gt:
        truth2d, names = gt["points2d"], [str(n) for n in gt["camera_names"]]
    for ci, cam in enumerate(names):
        pose = read_pose2d(root / "session1" / "pose-2d" / f"squat-{cam}.h5")
        assert pose.keypoints == MEDIAPIPE_33.keypoints and pose.scorer == "posekit"
        assert pose.n_frames == truth2d.shape[1] and pose.frame_times is not None
        assert pose.detected().mean() >= 0.9
        mp = pytest.importorskip("mediapipe")
        assert pose.metadata["model"] == (f"mediapipe {mp.__version__} "
                                          "pose_landmark_full.tflite (solutions API, tracking, "
                                          "landmark smoothing off)")
        assert pose.metadata["posekit"] == posekit.__version__
        height = 1080 if cam != "cam2" else 720
        idx = limb_joint_indices(pose.keypoints)
        err = np.hypot(*(pose.xy[:, idx] - truth2d[ci][:, idx]).transpose(2, 0, 1))
        err = err[np.isfinite(err)]
        assert (err < 0.05 * height).mean() >= 0.8, (cam, np.median(err))
    again = CliRunner().invoke(cli, ["detect", "-p", str(root)])
    assert "1 skipped" in again.output


def _frames_late(pose: Pose2D, truth: np.ndarray) -> float:
    """How many frames the limb keypoints trail the projected truth: the robust slope
    ``d`` in ``detected(i) - truth(i) = bias - d * truth'(i)``."""
    from posekit.sync.geometry import huber_slope

    idx = limb_joint_indices(pose.keypoints)
    found, true = pose.xy[:, idx], truth[:, idx]
    vel = np.full_like(true, np.nan)
    vel[1:-1] = (true[2:] - true[:-2]) / 2
    resid = found - true
    ok = np.isfinite(resid).all(axis=-1) & np.isfinite(vel).all(axis=-1)
    resid = resid - np.median(np.where(ok[..., None], resid, np.nan)[ok], axis=0)
    return huber_slope(resid[ok], vel[ok])[0]


@pytest.mark.parametrize("api", ["solutions", "tasks"])
def test_keypoints_are_not_delayed_unless_mediapipe_smoothing_is_asked_for(
        api: str, request: pytest.FixtureRequest) -> None:
    """MediaPipe's landmark smoothing is a causal filter: on the example squat it makes
    the keypoints trail the truth by about a quarter of a frame (0.24-0.38 per camera when
    measured, 0.24-0.36 through the Tasks API), which the default leaves out (-0.04 to
    +0.11; -0.07 to 0.00 through the Tasks API, whose frames are then timed far apart)."""
    from posekit.pose2d.step import detect_video

    task = request.getfixturevalue("shipped_task") if api == "tasks" else None
    with np.load(EXAMPLE / "ground-truth" / "session1" / "squat.npz") as gt:
        truth2d, names = gt["points2d"], list(gt["camera_names"])
    assert DetectionConfig().smooth_landmarks is False
    late = {}
    for ci, cam in enumerate(names):
        video = EXAMPLE / "session1" / "videos-raw" / f"squat-{cam}.mp4"
        late[cam] = [_frames_late(detect_video(
            video, DetectionConfig(smooth_landmarks=s, model_path=str(task) if task else None),
            progress=False), truth2d[ci]) for s in (False, True)]
    assert abs(np.mean([off for off, _ in late.values()])) < 0.1, late
    assert all(on - off > 0.15 for off, on in late.values()), late


def test_imported_2d_is_used_as_is(tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(EXAMPLE, root)
    out = root / "session1" / "pose-2d"
    keypoints = ("a", "b")
    for cam in ("cam1", "cam2", "cam3"):
        write_pose2d(Pose2D(keypoints, np.zeros((3, 2, 2)), np.ones((3, 2)), scorer="DLC"),
                     out / f"squat-{cam}.h5")
    (root / "session1" / "videos-raw" / "squat-cam1.mp4").touch()  # newer than the 2D
    result = CliRunner().invoke(cli, ["-q", "detect", "-p", str(root)])
    assert result.exit_code == 0, result.output
    assert read_pose2d(out / "squat-cam1.h5").scorer == "DLC"


def test_dlc_files_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (6, 33, 2))
    xy[2] = np.nan  # a frame without a person stays a row
    pose = Pose2D(MEDIAPIPE_33.keypoints, xy, rng.uniform(0.1, 1, (6, 33)),
                  frame_times=np.arange(6) / 30)
    for suffix in (".h5", ".csv"):
        back = read_pose2d(write_pose2d(pose, tmp_path / f"v{suffix}"))
        np.testing.assert_allclose(back.xy, pose.xy)
        np.testing.assert_allclose(back.likelihood, pose.likelihood)
        assert back.keypoints == pose.keypoints and back.likelihood[2].max() == 0
    assert read_pose2d(tmp_path / "v.h5").frame_times is not None
    import pandas as pd

    df = pd.read_hdf(tmp_path / "v.h5")  # what Anipose does
    assert list(df.columns.names) == ["scorer", "bodyparts", "coords"] and len(df) == 6


def test_long_recordings_keep_their_frame_times(tmp_path: Path) -> None:
    """20 000 frames (5.6 min at 60 fps): the frame times are kept, and the file is still
    one table to pandas. Kept as an HDF5 attribute, as before, more than 8 192 frames
    failed to write (HDF5ExtError: an attribute holds at most 64 KiB), so `posekit detect`
    could not write the 2D of any video longer than that."""
    import pandas as pd

    n = 20_000
    times = np.arange(n) / 60.0
    times[5000:] += 4 / 60.0  # dropped frames
    pose = Pose2D(MEDIAPIPE_33.keypoints, np.zeros((n, 33, 2)), np.ones((n, 33)),
                  frame_times=times, metadata={"fps": 60.0})
    back = read_pose2d(write_pose2d(pose, tmp_path / "long.h5"))
    assert back.frame_times is not None
    np.testing.assert_array_equal(back.frame_times, times)
    assert back.metadata == {"fps": 60.0} and back.n_frames == n
    assert len(pd.read_hdf(tmp_path / "long.h5")) == n  # what Anipose does


def test_the_header_of_a_2d_file_is_read_without_its_table(tmp_path: Path) -> None:
    """``read_pose2d_header``: frames and metadata of posekit's own ``.h5`` files (what
    the report and ``posekit summarize`` need per camera), None for the files it cannot
    answer for, which are then read whole."""
    n = 9_000
    pose = Pose2D(MEDIAPIPE_33.keypoints, np.zeros((n, 33, 2)), np.ones((n, 33)),
                  frame_times=np.arange(n) / 30.0,
                  metadata={"model": "mediapipe", "frames_with_person": n - 3})
    assert read_pose2d_header(write_pose2d(pose, tmp_path / "a.h5")) == (
        n, {"model": "mediapipe", "frames_with_person": n - 3})
    assert read_pose2d_header(write_pose2d(pose, tmp_path / "a.csv")) is None
    pose.to_dataframe().to_hdf(tmp_path / "dlc.h5", key="df_with_missing")  # another tool's
    assert read_pose2d_header(tmp_path / "dlc.h5") is None
    (tmp_path / "bad.h5").write_bytes((tmp_path / "a.h5").read_bytes()[:4000])
    assert read_pose2d_header(tmp_path / "bad.h5") is None
    assert read_pose2d_header(tmp_path / "missing.h5") is None


def test_truncated_video_names_the_frame(tmp_path: Path) -> None:
    frames = [np.full((64, 80, 3), i * 8, np.uint8) for i in range(30)]
    path = tmp_path / "v.avi"
    import posekit.io.video as video

    with video.video_writer(path, 30, (80, 64), fourcc="MJPG") as writer:
        for frame in frames:
            writer.write(frame)
    assert sum(1 for _ in read_frames(path)) == 30
    data = path.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoDecodeError, match=r"decoding stopped at frame \d+ of 30"):
        list(read_frames(cut))
    mp4 = write_video(tmp_path / "ok.mp4", frames, 30)
    times = [f.time_s for f in read_frames(mp4)]
    np.testing.assert_allclose(np.diff(times), 1 / 30, atol=1e-3)


def test_unshipped_model_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="never downloads"):
        make_detector(DetectionConfig(model_complexity=2))
    with pytest.raises(ConfigError, match="no such file"):
        make_detector(DetectionConfig(model_path="/nonexistent/pose_landmarker_heavy.task"))
    with pytest.raises(ConfigError, match="available backends"):
        make_detector(DetectionConfig(backend="openpose"))


def test_a_model_file_that_is_not_a_landmark_model_is_a_clear_error(tmp_path: Path) -> None:
    """The wheel's person detector is a TensorFlow Lite file but not a landmark model (it
    would load, then fail on the first frame); other bytes are not a model at all."""
    detector = _shipped_landmarks().parents[1] / "pose_detection" / "pose_detection.tflite"
    with pytest.raises(ConfigError, match=r"not a BlazePose landmark model \(it has 2 output "
                                          r"tensors where a BlazePose landmark model has 5"):
        make_detector(DetectionConfig(model_path=str(detector)))
    junk = tmp_path / "pose_landmark_heavy.tflite"
    junk.write_bytes(b"an interrupted download")
    with pytest.raises(ConfigError, match=r"model_path = '.*pose_landmark_heavy\.tflite': not a "
                                          r"BlazePose landmark model"):
        make_detector(DetectionConfig(model_path=str(junk)))
