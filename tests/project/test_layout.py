from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from posekit.errors import ConfigError, ProjectError
from posekit.project import Project, natural_key
from posekit.project.layout import split_camera
from posekit.project.steps import calibration_set


def test_anipose_project_is_discovered(anipose_project: Path) -> None:
    project = Project.open(anipose_project)
    sessions = project.sessions()
    assert [s.key for s in sessions] == ["2024-01-10", "2024-01-11"]
    trials = project.trials()
    assert [t.key for t in trials] == ["2024-01-10/run", "2024-01-10/walk", "2024-01-11/jump"]
    for trial in trials:
        assert trial.cameras == ["A", "B", "C"]
        assert trial.videos["B"].name == f"{trial.name}-camB.mp4"
        cs = calibration_set(trial)
        assert cs is not None and cs.owner == anipose_project
        assert list(cs.videos()) == ["A", "B", "C"]
        assert cs.output == anipose_project / "calibration" / "calibration.toml"


def test_filters(anipose_project: Path) -> None:
    project = Project.open(anipose_project)
    assert [t.name for t in project.trials(session="2024-01-10")] == ["run", "walk"]
    assert [t.key for t in project.trials(trial="j*")] == ["2024-01-11/jump"]


def test_cameras_in_natural_order(tmp_path: Path, make_file: Callable[..., Path]) -> None:
    make_file(tmp_path / "config.toml", "nesting = 0")
    for cam in ("cam10", "cam2", "cam1"):
        make_file(tmp_path / "videos-raw" / f"t1-{cam}.avi")
    (trial,) = Project.open(tmp_path).trials()
    assert trial.cameras == ["cam1", "cam2", "cam10"]
    assert sorted(["cam10", "cam2"], key=natural_key) == ["cam2", "cam10"]


def test_nesting_two_and_cascade(tmp_path: Path, make_file: Callable[..., Path]) -> None:
    make_file(tmp_path / "config.toml", "nesting = 2\n[triangulation]\nscale_smooth = 1")
    make_file(tmp_path / "subj1" / "config.toml", "[triangulation]\nscale_smooth = 2")
    make_file(tmp_path / "subj1" / "day1" / "config.toml", "[triangulation]\nscale_length = 9")
    make_file(tmp_path / "subj1" / "day1" / "config.walk.toml", "[triangulation]\noptim = false")
    make_file(tmp_path / "subj1" / "day1" / "videos-raw" / "walk-cam1.mp4")
    make_file(tmp_path / "subj1" / "day1" / "videos-raw" / "run-cam1.mp4")
    make_file(tmp_path / "subj2" / "day1" / "videos-raw" / "walk-cam1.mp4")
    make_file(tmp_path / "subj1" / "calibration" / "c-cam1.mp4")
    trials = {t.key: t for t in Project.open(tmp_path).trials()}
    assert list(trials) == ["subj1/day1/run", "subj1/day1/walk", "subj2/day1/walk"]
    walk = trials["subj1/day1/walk"].config.triangulation
    assert (walk.scale_smooth, walk.scale_length, walk.optim) == (2, 9, False)
    run = trials["subj1/day1/run"].config.triangulation
    assert (run.scale_smooth, run.scale_length, run.optim) == (2, 9, True)
    other = trials["subj2/day1/walk"].config.triangulation
    assert (other.scale_smooth, other.scale_length) == (1, 2.0)
    # calibration searched upward: subj1 has its own, subj2 has none
    cs = calibration_set(trials["subj1/day1/walk"])
    assert cs is not None and cs.owner == tmp_path / "subj1"
    assert calibration_set(trials["subj2/day1/walk"]) is None


def test_calibration_folders_are_found_without_trials(
    tmp_path: Path, make_file: Callable[..., Path]
) -> None:
    make_file(tmp_path / "config.toml", "nesting = 2")
    make_file(tmp_path / "calibration" / "c-cam1.mp4")
    make_file(tmp_path / "subj1" / "calibration" / "c-cam1.mp4")
    make_file(tmp_path / "subj2" / "day1" / "calibration" / "c-cam1.mp4")
    make_file(tmp_path / "subj2" / "day1" / "videos-raw" / "calibration" / "x.mp4")
    make_file(tmp_path / "subj2" / "day1" / "extra" / "calibration" / "c-cam1.mp4")  # too deep
    project = Project.open(tmp_path)
    assert project.trials() == []
    assert project.calibration_owners() == [tmp_path, tmp_path / "subj1",
                                            tmp_path / "subj2" / "day1"]
    assert project.calibration_owners("subj2/*") == [tmp_path / "subj2" / "day1"]
    assert project.calibration_owners("subj1") == [tmp_path / "subj1"]


def test_nesting_any_depth(tmp_path: Path, make_file: Callable[..., Path]) -> None:
    make_file(tmp_path / "config.toml", "nesting = -1")
    make_file(tmp_path / "a" / "videos-raw" / "t-cam1.mp4")
    make_file(tmp_path / "b" / "c" / "d" / "videos-raw" / "t-cam1.mp4")
    assert [s.key for s in Project.open(tmp_path).sessions()] == ["a", "b/c/d"]


def test_per_session_config_changes_pipeline_folder(
    tmp_path: Path, make_file: Callable[..., Path]
) -> None:
    make_file(tmp_path / "config.toml", "nesting = 1")
    make_file(tmp_path / "s1" / "config.toml", '[pipeline]\nvideos_raw = "raw"')
    make_file(tmp_path / "s1" / "raw" / "t-cam1.mp4")
    make_file(tmp_path / "s2" / "videos-raw" / "t-cam1.mp4")
    assert [t.key for t in Project.open(tmp_path).trials()] == ["s1/t", "s2/t"]


def test_non_matching_and_non_video_files_are_ignored(
    tmp_path: Path, make_file: Callable[..., Path], caplog: pytest.LogCaptureFixture
) -> None:
    make_file(tmp_path / "config.toml", "nesting = 0")
    make_file(tmp_path / "videos-raw" / "t-cam1.mp4")
    make_file(tmp_path / "videos-raw" / "notes.mp4")
    make_file(tmp_path / "videos-raw" / "t-cam2.txt")
    (trial,) = Project.open(tmp_path).trials()
    assert trial.cameras == ["cam1"]
    assert "notes.mp4: no camera name found" in caplog.text


def test_two_videos_for_one_camera_is_an_error(
    tmp_path: Path, make_file: Callable[..., Path]
) -> None:
    make_file(tmp_path / "config.toml", "nesting = 0")
    make_file(tmp_path / "videos-raw" / "t-cam1.mp4")
    make_file(tmp_path / "videos-raw" / "t-cam1.avi")
    with pytest.raises(ProjectError, match="trial 't' has two videos for camera 'cam1'"):
        Project.open(tmp_path).trials()


def test_missing_config_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="posekit init"):
        Project.open(tmp_path)


@pytest.mark.parametrize(
    ("stem", "regex", "expected"),
    [
        ("walk-camA", "-cam([A-Z])$", ("walk", "A")),
        ("cam1_trial 3", r"^(cam\d+)_", ("trial 3", "cam1")),
        ("walk-cam12", "-(cam[A-Za-z0-9]+)$", ("walk", "cam12")),
        ("walk", "-cam([A-Z])$", None),
    ],
)
def test_split_camera(stem: str, regex: str, expected: tuple[str, str] | None) -> None:
    assert split_camera(stem, regex) == expected


@pytest.mark.parametrize(("regex", "message"), [("-cam[A-Z]$", "has no group"),
                                                 ("-cam([A-Z]$", "invalid regular expression")])
def test_bad_cam_regex(regex: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        split_camera("walk-camA", regex)
