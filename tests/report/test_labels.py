"""Labeled videos on the example project: they decode with OpenCV, keep their input's
frame count and size, and the 3D reprojection lands on the 2D ground truth."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import toml
from click.testing import CliRunner

from posekit.camera.toml_io import save_calibration
from posekit.cli.main import cli
from posekit.io.video import probe_video, write_video
from posekit.pose2d.table import write_pose2d
from posekit.project.layout import Project, Trial
from posekit.report.labels import label_2d, reprojections
from posekit.sync.step import CONVENTION
from posekit.synthetic.sync_data import make_sync_trial


def _decoded(path: object) -> tuple[int, tuple[int, int]]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened()
    n, size = 0, (0, 0)
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n, size = n + 1, (frame.shape[1], frame.shape[0])
    cap.release()
    return n, size


def test_label_3d_proj_cli_matches_the_inputs(example_trial: Trial) -> None:
    root = example_trial.session.project.root
    res = CliRunner().invoke(cli, ["label-3d-proj", "-p", str(root), "-t", "squat"])
    assert res.exit_code == 0, res.output
    assert "3 video(s) written" in res.output
    folder = example_trial.output_dir(example_trial.config.pipeline.videos_labeled_3d)
    for video in example_trial.videos.values():
        info = probe_video(video)
        assert _decoded(folder / f"{video.stem}.mp4") == (info.n_frames,
                                                          (info.width, info.height))
    again = CliRunner().invoke(cli, ["label-3d-proj", "-p", str(root)])
    assert "up to date" in again.output


def test_label_2d_one_camera_video(example_trial: Trial) -> None:
    written = label_2d(example_trial, overwrite=True)
    assert [p.name for p in written] == [f"{v.stem}.mp4" for v in example_trial.videos.values()]
    video = example_trial.videos["cam2"]
    info = probe_video(video)
    out = written[1]
    assert out.parent.name == example_trial.config.pipeline.videos_labeled_2d
    assert _decoded(out) == (info.n_frames, (info.width, info.height))
    first_in = next(iter(_frames(video)))
    first_out = next(iter(_frames(out)))
    assert np.abs(first_in.astype(int) - first_out).mean() > 0.05  # something was drawn


def _frames(path: object) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    ok, frame = cap.read()
    cap.release()
    assert ok
    return [frame]


def test_reprojection_lands_on_the_2d_truth(example_trial: Trial) -> None:
    root = example_trial.session.project.root
    truth = np.load(root / "ground-truth" / "session1" / "squat.npz")["points2d"]
    projected = reprojections(example_trial)
    for c, (xy, quality) in enumerate(projected.values()):
        assert xy.shape == truth[c].shape
        err = np.linalg.norm(xy - truth[c], axis=-1)
        assert np.nanmedian(err) < 2.0
        assert np.nanmin(quality) >= 0 and np.nanmax(quality) <= 1


def test_labeled_videos_drawn_in_parallel_are_the_same(example_trial: Trial,
                                                        tmp_path: Path) -> None:
    """`--jobs 2` draws the videos in two worker processes; the files are byte for byte
    those of `--jobs 1`. A trial whose videos cannot be prepared is named, and the
    command fails."""
    root = example_trial.session.project.root
    folder = example_trial.output_dir(example_trial.config.pipeline.videos_labeled_2d)
    runs = {}
    for jobs in ("1", "2"):
        res = CliRunner().invoke(cli, ["label-2d", "-p", str(root), "--overwrite",
                                       "--jobs", jobs])
        assert res.exit_code == 0, res.output
        assert "session1/squat: 3 video(s) written" in res.output
        runs[jobs] = {p.name: p.read_bytes() for p in sorted(folder.glob("*.mp4"))}
    assert len(runs["1"]) == 3 and runs["1"] == runs["2"]
    copy = tmp_path / "p"
    shutil.copytree(root, copy)
    (copy / "session1" / "pose-2d" / "squat-cam2.h5").unlink()
    res = CliRunner().invoke(cli, ["label-2d", "-p", str(copy), "--overwrite", "--jobs", "2"])
    assert res.exit_code != 0
    assert "squat-cam2.h5 is missing; run `posekit detect` first" in res.output
    assert "1 of 1 trial(s) failed" in res.output


def test_reprojection_is_at_each_frames_own_instant(tmp_path: Path) -> None:
    """cam2 and cam3 record 0.45 and -0.4 frame later than their whole-frame offsets say.
    With the sync file's sub-frame offsets (the default), each of their video frames gets
    the 3D of its own instant, so the reprojection lands on their noise-free 2D; with
    ``[triangulation] subframe = false`` each frame gets the 3D of the nearest whole
    reference frame, off by almost half a frame's movement."""
    truth = make_sync_trial(n_cams=3, fps=30.0, duration=3.0, offsets={"cam2": 5, "cam3": -3},
                            noise_px=0.0, outlier_rate=0.0, dropout_rate=0.0, motion="jump",
                            seed=0, fractions={"cam2": 0.45, "cam3": -0.4})
    errors: dict[str, dict[str, float]] = {}
    for setting in ("true", "false"):
        root = tmp_path / setting
        raw, pose2d = root / "s1" / "videos-raw", root / "s1" / "pose-2d"
        raw.mkdir(parents=True)
        (root / "config.toml").write_text(
            'nesting = 1\n[calibration]\nunits = "m"\n[triangulation]\n'
            f'cam_regex = "-(cam[0-9])$"\nsubframe = {setting}\n')
        for cam, pose in truth.poses.items():
            pose.metadata["fps"] = truth.fps
            write_pose2d(pose, pose2d / f"t-{cam}.h5")
            (raw / f"t-{cam}.mp4").touch()  # discovery only (not read by triangulate)
        save_calibration(truth.group, root / "calibration" / "calibration.toml")
        record = {"reference": "cam1", "convention": CONVENTION, "method": "test",
                  "offsets": truth.offsets, "subframe": {
                      c: v for c, v in truth.subframe_offsets.items() if c != "cam1"}}
        (root / "s1" / "sync").mkdir()
        (root / "s1" / "sync" / "t.toml").write_text(toml.dumps(record))
        result = CliRunner().invoke(cli, ["triangulate", "-p", str(root)])
        assert result.exit_code == 0, (result.output, result.stderr)
        for cam, pose in truth.poses.items():  # small stand-ins: only their length is read
            write_video(raw / f"t-{cam}.mp4",
                        [np.zeros((48, 64, 3), np.uint8)] * pose.n_frames, truth.fps)
        projected = reprojections(Project(root).trials()[0])
        errors[setting] = {}
        for cam, (xy, _) in projected.items():
            assert len(xy) == truth.poses[cam].n_frames
            err = np.linalg.norm(xy - truth.poses[cam].xy, axis=-1)
            errors[setting][cam] = float(np.nanmedian(err))
    print("median reprojection to the 2D, px:", errors)
    for cam in ("cam2", "cam3"):
        assert errors["true"][cam] < 0.3 * errors["false"][cam]
    assert errors["true"]["cam1"] < 1.0 and errors["false"]["cam1"] < 1.0


def test_caption_fits_a_portrait_video(tmp_path: Path) -> None:
    """A caption wider than a narrow frame is drawn smaller, whole, not cut at the edge,
    with the colour key on the line below (its labels in their colours)."""
    from posekit.io.video import iter_frames
    from posekit.report.labels import ERROR_KEY, render_video

    source = tmp_path / "narrow.mp4"
    write_video(source, [np.zeros((640, 180, 3), np.uint8)] * 3, 30.0)
    target = render_video(source, tmp_path / "out.mp4", np.zeros((0, 1, 2)), np.zeros((0, 1)),
                          [], "s1/balance cam04 3D reprojected", ERROR_KEY)
    frame = next(iter(iter_frames(target))).astype(int)
    rows = frame[:40].max(axis=2)
    assert rows[:, :60].max() > 200  # the caption is drawn ...
    assert rows[:, -6:].max() < 60, rows[:, -6:].max()  # ... and ends inside the frame
    key = frame[:80]
    green = (key[..., 1] > 150) & (key[..., 2] < 80) & (key[..., 0] < 80)
    red = (key[..., 2] > 150) & (key[..., 1] < 80) & (key[..., 0] < 80)
    assert green.sum() > 5 and red.sum() > 5  # "0 px" in green, "20+ px" in red
    assert key.max(axis=2)[:, -6:].max() < 60
