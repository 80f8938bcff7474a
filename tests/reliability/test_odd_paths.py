"""Spaces, accents, brackets and the two Unicode forms of an accented name in project,
session and trial names: every step runs and every output is found where it belongs."""

from __future__ import annotations

import os
import shutil
import time
import unicodedata
from pathlib import Path

import pytest
from videos_util import EXAMPLE, config_text, invoke, run_posekit, write_placeholders

from posekit.camera.toml_io import load_calibration
from posekit.io.video import iter_frames, write_video
from posekit.pose2d.table import read_pose2d
from posekit.project.layout import Project

SESSION, TRIAL = "séance 1", "marche rapide"
CAMERAS = ("cam1", "cam2", "cam3")
N_FRAMES = 15  # 0.5 s at 30 fps: enough for sync and triangulation


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


@pytest.fixture(scope="module")
def odd_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``my study/sujet é/``: the example's calibration videos and config, and session
    ``séance 1`` with trial ``marche rapide`` (the example squat's first half second), a
    per-trial config ``config.marche rapide.toml``; then ``posekit run-all``."""
    root = tmp_path_factory.mktemp("odd") / "my study" / "sujet é"
    root.mkdir(parents=True)
    (root / "config.toml").write_text(config_text(), encoding="utf-8")
    shutil.copytree(EXAMPLE / "calibration", root / "calibration")
    raw = root / SESSION / "videos-raw"
    for cam in CAMERAS:
        video = EXAMPLE / "session1" / "videos-raw" / f"squat-{cam}.mp4"
        frames = [frame for i, frame in enumerate(iter_frames(video)) if i < N_FRAMES]
        write_video(raw / f"{TRIAL}-{cam}.mp4", frames, 30.0)
    (root / SESSION / f"config.{TRIAL}.toml").write_text(
        "[detection]\nmin_detection_confidence = 0.5\n", encoding="utf-8")
    result = invoke("run-all", "-p", root, "--session", SESSION, "--trial", TRIAL, "--jobs",
                    "2")
    assert result.exit_code == 0, result.output
    return root


def test_run_all_writes_every_output_where_it_belongs(odd_study: Path) -> None:
    session = odd_study / SESSION
    assert load_calibration(odd_study / "calibration" / "calibration.toml").names == \
        list(CAMERAS)
    for cam in CAMERAS:
        pose = read_pose2d(session / "pose-2d" / f"{TRIAL}-{cam}.h5")
        assert pose.n_frames == N_FRAMES and pose.metadata["frames_with_person"] > 0
    for path in (session / "sync" / f"{TRIAL}.toml", session / "pose-3d" / f"{TRIAL}.csv",
                 session / "pose-3d" / f"{TRIAL}.quality.json",
                 session / "angles" / f"{TRIAL}.csv"):
        assert path.is_file() and path.stat().st_size > 0, path
    leftovers = [p for p in odd_study.rglob("*") if ".partial" in p.name]
    assert leftovers == []


def test_status_in_the_project_folder_sees_every_step_done(odd_study: Path) -> None:
    """``posekit status`` run from inside the folder (the default ``--project .``)."""
    run = run_posekit("status", cwd=odd_study)
    assert run.returncode == 0, run.stderr
    (row,) = [line for line in run.stdout.splitlines() if line.startswith(SESSION)]
    assert row.split() == [*SESSION.split(), *TRIAL.split(), ",".join(CAMERAS),
                           "done", "done", "done", "done", "done", "-"], run.stdout  # no report


def test_a_per_trial_config_with_a_space_is_read(odd_study: Path, tmp_path: Path) -> None:
    """Editing ``config.marche rapide.toml`` makes the trial's steps out of date."""
    root = Path(shutil.copytree(odd_study, tmp_path / "my study" / "sujet é"))
    override = root / SESSION / f"config.{TRIAL}.toml"
    later = time.time() + 5
    os.utime(override, (later, later))
    run = run_posekit("status", "-p", root)
    (row,) = [line for line in run.stdout.splitlines() if line.startswith(SESSION)]
    assert row.split()[-5:] == ["outdated"] * 4 + ["-"], run.stdout  # no report yet
    override.write_text("[detection]\nunknown_key = 1\n", encoding="utf-8")
    result = invoke("angles", "-p", root)
    assert result.exit_code == 1 and str(override) in result.output, result.output


def test_decomposed_accents_on_disk_match_typed_names(tmp_path: Path) -> None:
    """A session folder and a per-trial config written by macOS (decomposed accents) are
    found by names typed with composed accents, and by the exact name even when it holds
    pattern characters."""
    root = tmp_path / "study"
    root.mkdir()
    (root / "config.toml").write_text(config_text(), encoding="utf-8")
    write_placeholders(root / _nfd(SESSION) / "videos-raw", _nfd("pré test"))
    write_placeholders(root / "jour [1]" / "videos-raw", "essai")
    (root / _nfd(SESSION) / _nfd("config.pré test.toml")).write_text(
        "[detection]\n", encoding="utf-8")
    project = Project.open(root)
    (trial,) = project.trials(session=SESSION, trial="pré test")
    assert trial.name == "pré test" and trial.config_path.is_file()
    assert trial.config_path in trial.config_files
    assert [t.key for t in project.trials(session="jour [1]")] == ["jour [1]/essai"]
    run = run_posekit("status", "-p", root, "-s", SESSION)
    assert run.returncode == 0 and "pré test" in unicodedata.normalize("NFC", run.stdout), \
        run.stdout + run.stderr
