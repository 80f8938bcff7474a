"""Bad videos through ``posekit detect``, ``posekit run-all`` and ``posekit calibrate``:
every failure names the trial (or calibration folder), the camera and the file, says what
to do, and leaves no output and no temporary file for the failed camera; the other cameras
are done. A video of an empty scene is not an error: detect warns and writes a 2D file
marked as holding nobody."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import toml
from videos_util import (
    EXAMPLE,
    EXAMPLE_BOARD,
    SPOILERS,
    board_frames,
    config_text,
    copy_tree,
    drop_frames,
    empty_scene_frames,
    garbage,
    invoke,
    partial_files,
    run_posekit,
    write_frames,
    write_person_videos,
    write_placeholders,
)

from posekit.io.video import iter_frames
from posekit.pose2d.detectors import NATIVE_NOISE, NATIVE_NOTICES_VARIABLE
from posekit.pose2d.table import Pose2D, read_pose2d, write_pose2d
from posekit.project.layout import Project
from posekit.project.pipeline import run_all
from posekit.project.runner import run_step
from posekit.project.steps import pose_3d_path, read_trial_2d
from posekit.report.data import rigid_fit
from posekit.report.labels import reprojections
from posekit.skeletons import limb_joint_indices
from posekit.triangulation.export import read_anipose_csv

#: what the message says for each kind of bad video, besides the file's path
DETECT_SAYS = {
    "garbage": ("OpenCV cannot open this video (20000 bytes: not a video",
                "check that it plays in a video player, then copy it again"),
    "empty": ("the file is empty (0 bytes)", "copy the video from the camera"),
    "cut-short": ("OpenCV cannot open this video (it is cut short: the last",
                  "'mdat' box are missing", "copy it again from the camera"),
    "overwritten-middle": ("decoding stopped at frame", "of 8 (the file is truncated or "
                           "corrupt from there; re-export or re-copy the video)"),
    "frame-data-lost": ("decoding stopped at frame", "of 8 (the file is truncated or "
                        "corrupt from there; re-export or re-copy the video)"),
    "folder": ("is a folder, not a video file", "put the camera's video file there"),
    "dangling-link": ("video file not found: it is a link to /nonexistent-drive/",
                      "which does not exist (is the drive or share it points to connected?)"),
}
CALIBRATE_SAYS = {**DETECT_SAYS,
                  "folder": ("a folder named like a video, holding no images and no video",
                             "put the camera's calibration video (or its images) there")}
N_FRAMES = 8


def _video(root: Path, trial: str, cam: str = "cam1") -> Path:
    return root / "s1" / "videos-raw" / f"{trial}-{cam}.mp4"


@pytest.fixture(scope="module")
def bad_videos_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One session, one trial per kind of bad video: cam1's video spoiled, cam2's good;
    and a trial whose config points to a model file that does not exist."""
    root = tmp_path_factory.mktemp("bad-videos") / "study"
    root.mkdir()
    (root / "config.toml").write_text(config_text(), encoding="utf-8")
    raw = root / "s1" / "videos-raw"
    for case, spoil in SPOILERS.items():
        write_person_videos(raw, case, n_frames=N_FRAMES)
        spoil(_video(root, case))
    write_person_videos(raw, "missing-model", n_frames=N_FRAMES)
    (root / "s1" / "config.missing-model.toml").write_text(
        '[detection]\nmodel_path = "/nonexistent/pose_landmarker_heavy.task"\n',
        encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def detected(bad_videos_project: Path, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Path, str]:
    """``posekit detect`` over a copy of the project: (project, output)."""
    root = copy_tree(bad_videos_project, tmp_path_factory.mktemp("detect") / "study")
    result = invoke("detect", "-p", root, "--jobs", "2")
    assert result.exit_code == 1, result.output
    return root, result.output


@pytest.fixture(scope="module")
def ran_all(bad_videos_project: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[Path, str]:
    """``posekit run-all`` (the task graph) over a copy of the project."""
    root = copy_tree(bad_videos_project, tmp_path_factory.mktemp("run-all") / "study")
    result = invoke("run-all", "-p", root, "--jobs", "2")
    assert result.exit_code == 1, result.output
    return root, result.output


def _check_outputs(root: Path, trial: str, failed: tuple[str, ...] = ("cam1",)) -> None:
    """No 2D file and no temporary file for the failed cameras; the others' 2D files."""
    out = root / "s1" / "pose-2d"
    assert partial_files(out) == []
    for cam in ("cam1", "cam2"):
        assert (out / f"{trial}-{cam}.h5").is_file() == (cam not in failed), (trial, cam)


@pytest.mark.parametrize("case", list(SPOILERS))
def test_detect_names_trial_camera_video_and_fix(detected: tuple[Path, str], case: str
                                                 ) -> None:
    root, output = detected
    line = next((text for text in output.splitlines() if f"FAILED s1/{case}:" in text), "")
    assert line.startswith(f"  FAILED s1/{case}: cam1: {_video(root, case)}: "), output
    for words in DETECT_SAYS[case]:
        assert words in line, (case, line)
    assert "cam2" not in line
    _check_outputs(root, case)


@pytest.mark.parametrize("case", list(SPOILERS))
def test_run_all_names_trial_camera_video_and_fix(ran_all: tuple[Path, str], case: str
                                                  ) -> None:
    root, output = ran_all
    assert f"  FAILED s1/{case} cam1: {_video(root, case)}: " in output, output
    for words in DETECT_SAYS[case]:
        assert words in output, (case, output)
    assert f"s1/{case}: not run: detect s1/{case} cam1 failed" in output
    _check_outputs(root, case)


def test_config_pointing_to_a_missing_model_file(detected: tuple[Path, str],
                                                 ran_all: tuple[Path, str]) -> None:
    root, output = detected
    override = root / "s1" / "config.missing-model.toml"
    assert ("  FAILED s1/missing-model: [detection] model_path = "
            f"'/nonexistent/pose_landmarker_heavy.task' (set in {override}): no such file; "
            "give the path of a pose landmarker .task or BlazePose landmark .tflite file you "
            "have (posekit never downloads models), or remove model_path to use the model "
            "shipped with mediapipe\n"
            ) in output, output
    _check_outputs(root, "missing-model", failed=("cam1", "cam2"))
    root, output = ran_all  # one task per camera: each names the key and the missing file
    for cam in ("cam1", "cam2"):
        assert (f"  FAILED s1/missing-model {cam}: [detection] model_path = "
                "'/nonexistent/pose_landmarker_heavy.task': no such file") in output, output
    _check_outputs(root, "missing-model", failed=("cam1", "cam2"))


def test_video_deleted_after_discovery(tmp_path: Path) -> None:
    """A video removed between the scan of the project and its detection (another
    program, a drive unplugged): that camera fails, naming the file; the other is done."""
    root = tmp_path / "study"
    root.mkdir()
    (root / "config.toml").write_text(config_text(), encoding="utf-8")
    videos = write_person_videos(root / "s1" / "videos-raw", "walk", n_frames=4)
    project = Project.open(root)
    trials = project.trials()
    videos["cam1"].unlink()
    summary = run_step("detect", project, trials, progress=False, jobs=1)
    (result,) = summary.results
    assert result.status == "failed"
    assert result.message == (f"cam1: {videos['cam1']}: video file not found (moved, "
                              "renamed or deleted?); put the video back and run the step "
                              "again")
    _check_outputs(root, "walk")
    (detect,) = run_all(project, trials, overwrite=True, progress=False, steps=("detect",),
                        jobs=1)
    (result,) = detect.failed
    assert result.unit == "s1/walk cam1"
    assert result.message.startswith(f"{videos['cam1']}: video file not found (moved")
    _check_outputs(root, "walk")


def test_discovery_warns_about_a_folder_or_link_named_like_a_video(
        bad_videos_project: Path) -> None:
    """The camera stays in the trial (so that detect fails on it, loudly) and ``status``
    warns about it up front."""
    run = run_posekit("status", "-p", bad_videos_project)
    assert run.returncode == 0, run.stderr
    folder, link = _video(bad_videos_project, "folder"), _video(bad_videos_project,
                                                                "dangling-link")
    assert (f"WARNING: {folder}: named like a video of camera cam1 but is a folder; the "
            "steps that read it will fail until it is a video file") in run.stderr
    assert (f"WARNING: {link}: named like a video of camera cam1 but is a link to "
            "/nonexistent-drive/videos/take.mp4, which does not exist") in run.stderr
    rows = {line.split()[1]: line.split()[2] for line in run.stdout.splitlines()
            if line.startswith("s1 ")}
    assert rows["folder"] == rows["dangling-link"] == "cam1,cam2"


def test_hidden_macos_resource_files_are_not_videos(tmp_path: Path) -> None:
    """macOS leaves ``._<name>`` files beside each video it copies to a FAT/exFAT drive;
    they are not videos and must not become a trial."""
    root = tmp_path / "study"
    raw = root / "s1" / "videos-raw"
    raw.mkdir(parents=True)
    (root / "config.toml").write_text(config_text(), encoding="utf-8")
    write_placeholders(raw, "walk")
    for cam in ("cam1", "cam2"):
        garbage(raw / f"._walk-{cam}.mp4", n_bytes=4096)
    assert [t.name for t in Project.open(root).trials()] == ["walk"]


@pytest.fixture(scope="module")
def empty_scene_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trial "empty room": cam1 filmed the room with nobody in it; cam2 saw the person."""
    root = tmp_path_factory.mktemp("empty-scene") / "study"
    raw = root / "s1" / "videos-raw"
    raw.mkdir(parents=True)
    (root / "config.toml").write_text(config_text(), encoding="utf-8")
    write_person_videos(raw, "empty room", cameras=("cam2",), n_frames=N_FRAMES)
    write_frames(raw / "empty room-cam1.mp4", empty_scene_frames(N_FRAMES))
    return root


def _check_empty_scene_output(root: Path) -> None:
    out = root / "s1" / "pose-2d"
    nobody = read_pose2d(out / "empty room-cam1.h5")
    assert nobody.n_frames == N_FRAMES and not nobody.detected().any()
    assert nobody.metadata["frames_with_person"] == 0
    assert read_pose2d(out / "empty room-cam2.h5").metadata["frames_with_person"] > 0
    assert partial_files(out) == []


def test_detect_warns_about_an_empty_scene(empty_scene_project: Path, tmp_path: Path
                                           ) -> None:
    root = copy_tree(empty_scene_project, tmp_path / "study")
    run = run_posekit("detect", "-p", root, "--jobs", "1")
    assert run.returncode == 0, run.stderr
    assert "detect: 1 done, 0 skipped, 0 failed" in run.stdout
    assert (f"WARNING: s1/empty room cam1: no person found in any of the {N_FRAMES} frames "
            "of empty room-cam1.mp4; empty room-cam1.h5 is written with no keypoints "
            "(metadata frames_with_person = 0). Check that the person is in this camera's "
            "view") in run.stderr, run.stderr
    assert "cam2: no person" not in run.stderr
    _check_empty_scene_output(root)


def test_run_all_warns_about_an_empty_scene(empty_scene_project: Path, tmp_path: Path
                                            ) -> None:
    root = copy_tree(empty_scene_project, tmp_path / "study")
    run = run_posekit("run-all", "-p", root, "--jobs", "1", "--scheduler", "local")
    _check_empty_scene_output(root)
    assert (f"WARNING: s1/empty room cam1: no person found in any of the {N_FRAMES} "
            "frames of empty room-cam1.mp4") in run.stderr, run.stderr


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``posekit calibrate`` over a project with one calibration folder per kind of bad
    video (nesting = 2: ``<case>/calibration``, ``<case>/s1``): cam1's calibration video
    spoiled, cam2's a good video of the board."""
    root = tmp_path_factory.mktemp("bad-calibration") / "study"
    root.mkdir()
    (root / "config.toml").write_text(config_text(nesting=2), encoding="utf-8")
    frames = board_frames(EXAMPLE_BOARD)
    for case, spoil in SPOILERS.items():
        for cam in ("cam1", "cam2"):
            write_frames(root / case / "calibration" / f"calib-{cam}.mp4", frames)
        spoil(root / case / "calibration" / "calib-cam1.mp4")
        write_placeholders(root / case / "s1" / "videos-raw", "t")
    result = invoke("calibrate", "-p", root)
    assert result.exit_code == 1, result.output
    return root, result.output


@pytest.mark.parametrize("case", list(SPOILERS))
def test_calibrate_names_camera_video_and_fix(calibrated: tuple[Path, str], case: str
                                              ) -> None:
    root, output = calibrated
    folder = root / case / "calibration"
    video = folder / "calib-cam1.mp4"
    at = output.index(f"FAILED {case}/calibration: ")
    text = output[at:].split("\n  FAILED", 1)[0]
    if case in ("folder", "dangling-link"):  # not a recording: left out of the camera list
        assert text.startswith(f"FAILED {case}/calibration: {folder}: not every calibration "
                               f"recording can be read:\n  {video}: "), text
    else:
        assert text.startswith(f"FAILED {case}/calibration: cannot read the calibration "
                               f"recording of camera cam1: {video}: "), text
    for words in CALIBRATE_SAYS[case]:
        assert words in text, (case, text)
    assert "cam2" not in text
    visible = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert visible == ["calib-cam1.mp4", "calib-cam2.mp4"]  # no calibration, no report
    assert partial_files(folder) == []


def test_ffmpeg_does_not_flood_the_terminal_about_a_damaged_video(
        bad_videos_project: Path, tmp_path: Path) -> None:
    """FFmpeg reports every broken block of a damaged video on its own ("[mpeg4 @ 0x...]
    ac-tex damaged", dozens of lines); posekit's one message says it all, so those lines
    are left out unless asked for with -v (a real process: FFmpeg writes to the terminal
    itself)."""
    root = copy_tree(bad_videos_project, tmp_path / "study")
    # as a user's shell has it: importing posekit.io.video set it in this test process
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    args = ("detect", "-p", root, "--trial", "overwritten-middle")
    quiet = run_posekit(*args, env=env)
    assert quiet.returncode == 1
    assert "decoding stopped at frame" in quiet.stderr, quiet.stderr
    assert "@ 0x" not in quiet.stderr + quiet.stdout
    assert "OPENCV:FFMPEG" not in quiet.stderr + quiet.stdout
    verbose = run_posekit("-v", *args, "--overwrite", env=env)
    assert "[OPENCV:FFMPEG:16] " in verbose.stdout  # FFmpeg's errors, when asked for


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_mediapipe_setup_notices_stay_off_the_terminal(tmp_path: Path, jobs: str) -> None:
    """MediaPipe's C++ side writes notices to the terminal itself as it sets up its models
    ("Created TensorFlow Lite XNNPACK delegate", "Feedback manager requires a model ...",
    several per video); posekit leaves them out, in its own process and in worker
    processes alike, and shows them with -v."""
    root = tmp_path / "study"
    root.mkdir()
    (root / "config.toml").write_text(config_text(), encoding="utf-8")
    write_person_videos(root / "s1" / "videos-raw", "squat", n_frames=4)
    args = ("detect", "-p", root, "--jobs", jobs)
    # as a user's shell has it (an in-process `posekit -v` of another test may have set it)
    env = {k: v for k, v in os.environ.items() if k != NATIVE_NOTICES_VARIABLE}
    quiet = run_posekit(*args, env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert "squat cam1: person found in" in quiet.stderr  # posekit's own lines stay
    noise = [line for line in (quiet.stderr + quiet.stdout).splitlines()
             if NATIVE_NOISE.search(line)]
    assert noise == [], noise
    loud = run_posekit("-v", *args, "--overwrite", env=env)
    assert loud.returncode == 0, loud.stderr
    assert any(NATIVE_NOISE.search(line) for line in loud.stderr.splitlines()), loud.stderr


def _limb_errors(trial: Any, n_frames: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The example trial's 3D limb joints against the truth after one rigid fit: errors
    (n, k) in mm, which points were reconstructed, and the limb keypoints' indices."""
    est = read_anipose_csv(pose_3d_path(trial))
    assert list(est.fnum) == list(range(n_frames))
    table = pd.read_csv(EXAMPLE / "ground-truth" / "session1" / "squat-points3d.csv")
    truth = table.set_index("fnum").loc[est.fnum, [f"{k}_{a}" for k in est.keypoints
                                                   for a in "xyz"]]
    truth = truth.to_numpy().reshape(len(est.fnum), -1, 3)
    limbs = limb_joint_indices(est.keypoints)
    pts = est.points[:, limbs]
    ok = np.isfinite(pts).all(axis=-1)
    return np.linalg.norm(rigid_fit(pts, truth[:, limbs]) - truth[:, limbs], axis=-1) * 1000, \
        ok, limbs


def _example_with_cam2_dropping_frames(tmp_path: Path) -> tuple[Path, Path, list[Any]]:
    """The example project, its true calibration, cam2's trial video without frames 21 to
    24 (pictures and timestamps), after `posekit detect`: the root, that video and its
    original frames."""
    root = copy_tree(EXAMPLE, tmp_path / "p")
    video = root / "session1" / "videos-raw" / "squat-cam2.mp4"
    frames = list(iter_frames(video))
    write_frames(video, frames[:21] + frames[25:])
    drop_frames(video, after=20, missing=4)
    (root / "calibration" / "calibration.toml").write_bytes(
        (EXAMPLE / "ground-truth" / "calibration.toml").read_bytes())
    assert invoke("-q", "detect", "-p", root).exit_code == 0
    return root, video, frames


def test_a_camera_that_dropped_frames_stays_in_step(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """cam2 dropped 4 frames after frame 20 (the pictures are gone and its timestamps
    jump, as when a phone drops frames). Sync and triangulation place its frames by their
    times: offset 0, the frames after the gap triangulated as well as those before it, the
    4 missing ones from cam1 and cam3; sync and triangulate say which camera and where;
    the 3D reprojected onto cam2's video lands on the frames that show it."""
    root, _, frames = _example_with_cam2_dropping_frames(tmp_path)
    pose = read_pose2d(root / "session1" / "pose-2d" / "squat-cam2.h5")
    # the capture rate, not the container's average over the clip (28.15 fps)
    assert pose.metadata["fps"] == 30 and pose.n_frames == len(frames) - 4
    says = ("cam2: the frame times of squat-cam2.mp4 have 1 gap(s), 4 frame(s) missing "
            "(the largest 0.167 s instead of 0.033 s, after frame 20): the camera dropped "
            "frames or recorded at a variable rate; posekit places each frame at its time")
    for step in ("sync", "triangulate"):
        caplog.clear()
        assert invoke(step, "-p", root).exit_code == 0
        assert says in caplog.text, caplog.text
    record = toml.load(root / "session1" / "sync" / "squat.toml")
    assert record["offsets"] == {"cam1": 0, "cam2": 0, "cam3": 0}, record
    assert any(says in w for w in record["warnings"])
    quality = json.loads((root / "session1" / "pose-3d" / "squat.quality.json").read_text())
    assert any(says in w for w in quality["warnings"])

    trial = Project(root).trials()[0]
    err, ok, limbs = _limb_errors(trial, len(frames))
    before, missing, after = (np.nanmedian(err[a:b]) for a, b in ((0, 21), (21, 25), (25, None)))
    print(f"limb error median {before:.1f} / {missing:.1f} / {after:.1f} mm")
    assert after < 1.5 * before + 5 and before < 40, (before, missing, after)
    assert ok[21:25].mean() > 0.9 and missing < 60, (ok[21:25].mean(), missing)

    xy, _ = reprojections(trial)["cam2"]
    assert len(xy) == pose.n_frames
    seen = np.isfinite(pose.xy[:, limbs]).all(axis=-1) & np.isfinite(xy[:, limbs]).all(axis=-1)
    gap = np.linalg.norm(xy[:, limbs] - pose.xy[:, limbs], axis=-1)
    print(f"cam2 reprojection to its 2D after the gap {np.median(gap[21:][seen[21:]]):.1f} px")
    assert seen[21:].mean() > 0.8 and np.median(gap[21:][seen[21:]]) < 15, \
        np.median(gap[21:][seen[21:]])

    # [sync] frame_times = false: frame i is the i-th decoded frame, for wrong timestamps
    with (root / "config.toml").open("a") as config:
        config.write("\n[sync]\nframe_times = false\n")
    caplog.clear()
    assert invoke("sync", "-p", root, "--overwrite").exit_code == 0
    assert "frame times" not in caplog.text
    assert read_trial_2d(Project(root).trials()[0])["cam2"].n_frames == len(frames) - 4


def _assert_calibration_as_good_as_the_examples(root: Path) -> None:
    """Video offsets all 0, and the calibration within 0.5 degree and 1 % of the truth."""
    from posekit.camera.toml_io import load_calibration
    from posekit.synthetic.evaluate import compare_calibrations

    report = json.loads((root / "calibration" / "calibration_report.json").read_text())
    assert report["video_offsets"] == {"cam1": 0, "cam2": 0, "cam3": 0}, report
    err = compare_calibrations(load_calibration(root / "calibration" / "calibration.toml"),
                               load_calibration(EXAMPLE / "ground-truth" / "calibration.toml"),
                               estimated_units_per_m=1000.0)
    print(f"rotation max {err.rotation_deg.max():.2f} deg, focal max "
          f"{err.focal_pct.max():.2f} %")
    assert err.rotation_deg.max() < 0.5 and err.focal_pct.max() < 1.0


def test_a_calibration_video_that_dropped_frames_stays_in_step(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """cam2's calibration video dropped 4 frames after frame 20: the board's frames are
    placed by their times, so the calibration matches the same instants in every camera
    (video offsets 0) and is as close to the truth as the example's own."""
    root = copy_tree(EXAMPLE, tmp_path / "p")
    video = root / "calibration" / "calib-cam2.mp4"
    frames = list(iter_frames(video))
    write_frames(video, frames[:21] + frames[25:])
    drop_frames(video, after=20, missing=4)
    assert invoke("calibrate", "-p", root).exit_code == 0
    said = ("cam2: the frame times of calib-cam2.mp4 have 4 frame(s) missing (the camera "
            "dropped frames or recorded at a variable rate); its frames are placed by their "
            "times")
    assert said in caplog.text, caplog.text
    # kept in the calibration report (the trial reports list it)
    report = json.loads((root / "calibration" / "calibration_report.json").read_text())
    (warning,) = report["warnings"]
    assert warning.startswith(said) and warning in caplog.text
    _assert_calibration_as_good_as_the_examples(root)


def test_a_calibration_video_at_twice_the_rate_stays_in_step(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """cam2's calibration video at 60 fps among 30-fps ones (each picture shown twice, so
    its frame 2k is the 30-fps camera's frame k): the calibration is made at 30 fps, with
    cam2's frames nearest each 30-fps slot, and is as close to the truth as the
    example's own (frame by frame, cam2's frame i would be the others' frame i / 2)."""
    from posekit.io.video import write_video

    root = copy_tree(EXAMPLE, tmp_path / "p")
    video = root / "calibration" / "calib-cam2.mp4"
    frames = list(iter_frames(video))
    write_video(video, [f for f in frames for _ in range(2)], 60.0)
    assert invoke("calibrate", "-p", root).exit_code == 0
    assert ("cam2: calib-cam2.mp4 was recorded at 60.000 fps, the calibration is made at "
            f"30.000 fps: its frames are placed on that clock by their times (0 empty "
            f"frame(s), {len(frames)} frame(s) left out)") in caplog.text, caplog.text
    _assert_calibration_as_good_as_the_examples(root)


def test_a_trial_video_at_twice_the_rate_goes_through_the_pipeline(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """cam1's trial video (the reference) at 60 fps, each picture twice, among 30-fps
    cameras: detect, sync and triangulate process the trial at 30 fps, cam1's frames on
    that clock; offsets 0 and the 3D as close to the truth as from the 30-fps video."""
    from posekit.io.video import write_video

    root = copy_tree(EXAMPLE, tmp_path / "p")
    video = root / "session1" / "videos-raw" / "squat-cam1.mp4"
    frames = list(iter_frames(video))
    write_video(video, [f for f in frames for _ in range(2)], 60.0)
    (root / "calibration" / "calibration.toml").write_bytes(
        (EXAMPLE / "ground-truth" / "calibration.toml").read_bytes())
    for step in ("detect", "sync", "triangulate"):
        assert invoke(step, "-p", root).exit_code == 0
    assert ("cam1: recorded at 60 fps and the trial is processed at 30 fps, the rate of the "
            "trial's slowest camera: its frames are placed on that clock by their times (0 "
            f"empty frame(s) and {len(frames)} frame(s) left out over the clip)") in caplog.text
    record = toml.load(root / "session1" / "sync" / "squat.toml")
    assert record["offsets"] == {"cam1": 0, "cam2": 0, "cam3": 0} and record["fps"] == 30
    quality = json.loads((root / "session1" / "pose-3d" / "squat.quality.json").read_text())
    assert quality["fps"] == 30

    trial = Project(root).trials()[0]
    err, ok, _ = _limb_errors(trial, len(frames))
    print(f"limb error median {np.nanmedian(err):.1f} mm, {100 * ok.mean():.0f} % reconstructed")
    assert np.nanmedian(err) < 30 and ok.mean() > 0.95
    xy, _ = reprojections(trial)["cam1"]
    assert len(xy) == 2 * len(frames)
    # every frame of the 60-fps video gets the 3D of its own instant, also the frames the
    # 30-fps clock leaves out: those halfway between two of the trial's frames
    drawn = np.isfinite(xy).all(axis=-1).any(axis=-1)
    assert drawn.all(), np.flatnonzero(~drawn)
    halfway = np.linalg.norm(xy[1:-1:2] - (xy[:-2:2] + xy[2::2]) / 2, axis=-1)
    step = np.linalg.norm(xy[2::2] - xy[:-2:2], axis=-1)
    print(f"left-out frames: {np.nanmedian(halfway):.2f} px from halfway "
          f"(a frame's movement {np.nanmedian(step):.2f} px)")
    assert np.nanmedian(halfway) < 0.1 * np.nanmedian(step) + 0.05
    # whole frames only: a left-out frame gets its nearest slot's 3D (no flicker)
    (root / "session1" / "config.squat.toml").write_text("[triangulation]\nsubframe = false\n")
    whole, _ = reprojections(Project(root).trials()[0])["cam1"]
    assert np.isfinite(whole).all(axis=-1).any(axis=-1).all()
    np.testing.assert_allclose(whole[::2], xy[::2], atol=1e-9)
    nearest = np.minimum(np.nanmax(np.abs(whole[1:-1:2] - whole[:-2:2]), axis=(1, 2)),
                         np.nanmax(np.abs(whole[1:-1:2] - whole[2::2]), axis=(1, 2)))
    assert (nearest < 1e-9).all(), nearest


def test_imported_2d_gets_the_frame_times_of_its_video(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """2D from another tool (a DeepLabCut table: no frame times) of a camera that dropped
    frames: `posekit import-2d` into the session's pose-2d folder takes the frame times of
    the video named like the output, so sync still places the frames by time; 2D with
    another frame count than the video is an error naming both."""
    root, video, frames = _example_with_cam2_dropping_frames(tmp_path)
    pose_dir = root / "session1" / "pose-2d"
    for cam in ("cam1", "cam2"):  # as another tool would write them: no frame times
        pose = read_pose2d(pose_dir / f"squat-{cam}.h5")
        write_pose2d(Pose2D(pose.keypoints, pose.xy, pose.likelihood, "other-tool"),
                     tmp_path / f"{cam}.csv")
    (pose_dir / "squat-cam2.h5").unlink()

    result = invoke("import-2d", tmp_path / "cam2.csv", pose_dir / "squat-cam2.h5",
                    "-p", root)
    assert result.exit_code == 0, result.output
    assert f"Frame times from {video} (30 fps)." in result.output
    imported = read_pose2d(pose_dir / "squat-cam2.h5")
    assert imported.frame_times is not None and imported.n_frames == len(frames) - 4
    caplog.clear()
    assert invoke("sync", "-p", root).exit_code == 0
    assert "cam2: the frame times of squat-cam2.mp4 have 1 gap(s), 4 frame(s) missing" in \
        caplog.text, caplog.text
    assert toml.load(root / "session1" / "sync" / "squat.toml")["offsets"] == {
        "cam1": 0, "cam2": 0, "cam3": 0}

    result = invoke("import-2d", tmp_path / "cam1.csv", tmp_path / "other.h5",
                    "--video", video, "-p", root)
    assert result.exit_code != 0
    assert (f"{tmp_path / 'cam1.csv'}: {len(frames)} frames of 2D keypoints, but {video} has "
            f"{len(frames) - 4} frames: the 2D was not made from this video") in \
        result.output, result.output
    assert not (tmp_path / "other.h5").exists()
