"""The calibrate step through the CLI: outputs, re-runs, diagnosis, image folders, tools."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from posekit.camera.model import CameraGroup
from posekit.camera.toml_io import load_calibration, save_calibration
from posekit.cli.main import cli
from posekit.io.video import iter_frames
from posekit.project.layout import Project
from posekit.project.steps import CalibrationSet

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"


def _copy(dest: Path, config_extra: str = "") -> Path:
    dest.mkdir(parents=True)
    text = (EXAMPLE / "config.toml").read_text()
    (dest / "config.toml").write_text(text.replace("[calibration]\n",
                                                   "[calibration]\n" + config_extra))
    shutil.copytree(EXAMPLE / "calibration", dest / "calibration")
    shutil.copytree(EXAMPLE / "session1", dest / "session1")
    return dest


def test_calibrate_writes_calibration_and_report_then_skips(tmp_path: Path) -> None:
    root = _copy(tmp_path / "p")
    result = CliRunner().invoke(cli, ["-q", "calibrate", "-p", str(root)])
    assert result.exit_code == 0, result.output
    folder = root / "calibration"
    group = load_calibration(folder / "calibration.toml")
    assert group.names == ["cam1", "cam2", "cam3"]
    for name in ("calibration_report.md", "calibration_report.json",
                 "calibration_coverage.png"):
        assert (folder / name).stat().st_size > 0
    report = (folder / "calibration_report.md").read_text()
    assert "Board-distance check" in report and "| cam3 |" in report
    assert not list(folder.glob("*.tmp*")) and not list(folder.glob(".*"))
    again = CliRunner().invoke(cli, ["calibrate", "-p", str(root)])
    assert again.exit_code == 0 and "1 skipped" in again.output


def test_a_calibration_is_made_before_any_trial_is_filmed(tmp_path: Path) -> None:
    root = _copy(tmp_path / "p")
    shutil.rmtree(root / "session1")
    result = CliRunner().invoke(cli, ["-q", "calibrate", "-p", str(root)])
    assert result.exit_code == 0, result.output
    assert load_calibration(root / "calibration/calibration.toml").names == [
        "cam1", "cam2", "cam3"]
    status = CliRunner().invoke(cli, ["status", "-p", str(root)])
    assert "calibration: calibrate done (no trial uses it yet)" in status.output
    assert "No trials found" in status.output
    run_all = CliRunner().invoke(cli, ["run-all", "-p", str(root)])
    assert run_all.exit_code == 1 and "run `posekit calibrate`" in run_all.output
    shutil.rmtree(root / "calibration")
    nothing = CliRunner().invoke(cli, ["calibrate", "-p", str(root)])
    assert nothing.exit_code == 1
    assert "nor a 'calibration' folder to calibrate" in nothing.output


def test_wrong_board_fails_with_a_diagnosis(tmp_path: Path) -> None:
    root = _copy(tmp_path / "p")
    text = (root / "config.toml").read_text().replace("board_marker_bits = 4",
                                                      "board_marker_bits = 5")
    (root / "config.toml").write_text(text)
    result = CliRunner().invoke(cli, ["calibrate", "-p", str(root)])
    assert result.exit_code == 1
    assert "board_marker_bits = 4" in result.output, result.output
    assert "cam1" in result.output and not (root / "calibration/calibration.toml").exists()


def test_camera_folders_of_images_are_calibration_sources(tmp_path: Path) -> None:
    root = _copy(tmp_path / "p")
    calib = root / "calibration"
    for video in sorted(calib.glob("calib-cam*.mp4")):
        folder = calib / video.stem.split("-")[1]
        folder.mkdir()
        for i, frame in enumerate(iter_frames(video)):
            cv2.imwrite(str(folder / f"frame{i}.png"), frame)
        video.unlink()
    sources = CalibrationSet(Project.open(root), root).videos()
    assert list(sources) == ["cam1", "cam2", "cam3"]
    assert all(p.is_dir() for p in sources.values())
    result = CliRunner().invoke(cli, ["-q", "calibrate", "-p", str(root)])
    assert result.exit_code == 0, result.output
    assert load_calibration(calib / "calibration.toml").names == ["cam1", "cam2", "cam3"]
    # an image that cannot be read (a copy that failed) is named, with what to do
    empty = calib / "cam2" / "frame7.png"
    empty.write_bytes(b"")
    result = CliRunner().invoke(cli, ["-q", "calibrate", "-p", str(root), "--overwrite"])
    assert result.exit_code == 1
    assert (f"{empty}: cannot read this image (0 bytes: empty, damaged or not an image); "
            "copy it again, or remove it together with the images taken at the same moment "
            "by the other cameras") in " ".join(result.output.split())


def test_one_camera_is_a_clear_error(tmp_path: Path) -> None:
    root = _copy(tmp_path / "p")
    for video in ("calib-cam2.mp4", "calib-cam3.mp4"):
        (root / "calibration" / video).unlink()
    result = CliRunner().invoke(cli, ["calibrate", "-p", str(root)])
    assert result.exit_code == 1 and "at least two cameras" in result.output


def test_calibration_videos_without_a_camera_name_are_named(tmp_path: Path) -> None:
    """Videos that cam_regex finds no camera in are not silently dropped: the error (fewer
    than two cameras left) or a warning names them and says what to do."""
    root = _copy(tmp_path / "p")
    folder = root / "calibration"
    for video in ("calib-cam2.mp4", "calib-cam3.mp4"):
        (folder / video).rename(folder / video.replace("-cam", "_"))
    result = CliRunner().invoke(cli, ["calibrate", "-p", str(root)])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "calib_2.mp4, calib_3.mp4: no camera name found in these names by cam_regex" in text
    assert "rename them" in text and "[triangulation] cam_regex" in text
    (folder / "calib_2.mp4").rename(folder / "calib-cam2.mp4")
    cs = CalibrationSet(Project.open(root), root)
    assert [p.name for p in cs.unmatched_videos()] == ["calib_3.mp4"]
    assert list(cs.videos()) == ["cam1", "cam2"]


def test_draw_board_and_import(tmp_path: Path) -> None:
    root = _copy(tmp_path / "p")
    out = tmp_path / "board.png"
    result = CliRunner().invoke(cli, ["calibrate", "draw-board", str(out), "-p", str(root),
                                      "--paper", "A0", "--dpi", "50"])
    assert result.exit_code == 0, result.output
    assert "must be 120.00 mm" in result.output or "must be 119." in result.output
    image = cv2.imread(str(out), cv2.IMREAD_GRAYSCALE)
    assert image is not None and image.shape[0] > image.shape[1]
    truth = EXAMPLE / "ground-truth" / "calibration.toml"
    result = CliRunner().invoke(cli, ["calibrate", "import", str(truth), "-p", str(root)])
    assert result.exit_code == 0, result.output
    imported = load_calibration(root / "calibration" / "calibration.toml")
    np.testing.assert_allclose(imported["cam2"].matrix, load_calibration(truth)["cam2"].matrix)


def test_an_imported_calibration_survives_overwrite(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """A project whose calibration was imported (no calibration recordings): `run-all
    --overwrite` keeps the file, says so, and the steps after it run."""
    root = _copy(tmp_path / "p")
    shutil.rmtree(root / "calibration")
    truth = EXAMPLE / "ground-truth" / "calibration.toml"
    result = CliRunner().invoke(cli, ["calibrate", "import", str(truth), "-p", str(root)])
    assert result.exit_code == 0, result.output
    imported = (root / "calibration" / "calibration.toml").read_bytes()
    for _ in range(2):  # the second time: nothing was left looking half-written
        again = CliRunner().invoke(cli, ["calibrate", "-p", str(root), "--overwrite"])
        assert again.exit_code == 0, again.output
        assert "calibrate: 1 done, 0 skipped, 0 failed" in again.output
        assert "calibration: no calibration recordings in" in caplog.text
        assert "so the calibration.toml there (imported, or made from recordings since " \
               "removed) is kept as it is" in " ".join(caplog.text.split())
        caplog.clear()
    assert (root / "calibration" / "calibration.toml").read_bytes() == imported
    status = CliRunner().invoke(cli, ["status", "-p", str(root)])
    assert status.output.splitlines()[3].split()[3] == "done", status.output


def test_an_imported_calibration_stays_done_when_the_config_changes(tmp_path: Path) -> None:
    """Nothing can remake an imported calibration, so editing config.toml after the import
    (as everyone does) leaves it done: `status` says so and a second `run-all` skips every
    step, instead of redoing calibrate and every step after it on every run."""
    root = _copy(tmp_path / "p")
    shutil.rmtree(root / "calibration")
    truth = EXAMPLE / "ground-truth" / "calibration.toml"
    assert CliRunner().invoke(cli, ["calibrate", "import", str(truth), "-p", str(root)]
                              ).exit_code == 0
    imported = (root / "calibration" / "calibration.toml").read_bytes()
    config = root / "config.toml"
    config.write_text(config.read_text() + "\n# edited after the import\n")
    first = CliRunner().invoke(cli, ["run-all", "-p", str(root)])
    assert first.exit_code == 0, first.output
    status = CliRunner().invoke(cli, ["status", "-p", str(root)])
    assert status.output.splitlines()[3].split()[3:] == ["done"] * 5 + ["-"], status.output
    second = CliRunner().invoke(cli, ["run-all", "-p", str(root)])
    assert second.exit_code == 0, second.output
    for step in ("calibrate", "detect", "sync", "triangulate", "angles"):
        assert f"{step}: 0 done, 1 skipped, 0 failed" in second.output, second.output
    assert (root / "calibration" / "calibration.toml").read_bytes() == imported


def test_importing_over_a_calibration_needs_overwrite_and_takes_its_report_along(
        tmp_path: Path) -> None:
    """A calibration is never replaced by mistake; replaced on purpose, the report files
    of the old one (which the trial reports would show as this one's) are removed."""
    output = tmp_path / "calibration" / "calibration.toml"
    truth = EXAMPLE / "ground-truth" / "calibration.toml"
    first = CliRunner().invoke(cli, ["calibrate", "import", str(truth), "-o", str(output)])
    assert first.exit_code == 0, first.output
    made = output.read_bytes()
    reports = [output.with_name(n) for n in ("calibration_report.json",
                                              "calibration_report.md",
                                              "calibration_coverage.png")]
    for path in reports:  # as a calibration from board recordings leaves them
        path.write_text("the report of the calibration that was there")
    other = tmp_path / "lab.toml"
    group = load_calibration(truth)
    save_calibration(CameraGroup([replace(c, name=f"lab{i}") for i, c in enumerate(group)],
                                 group.metadata), other)
    refused = CliRunner().invoke(cli, ["calibrate", "import", str(other), "-o", str(output)])
    assert refused.exit_code == 1
    assert f"{output} exists already; add --overwrite to replace it with lab.toml" \
        in " ".join(refused.output.split())
    assert output.read_bytes() == made and all(p.is_file() for p in reports)
    done = CliRunner().invoke(cli, ["calibrate", "import", str(other), "-o", str(output),
                                    "--overwrite"])
    assert done.exit_code == 0, done.output
    assert load_calibration(output).names == ["lab0", "lab1", "lab2"]
    assert not any(p.exists() for p in reports)
    assert ("Removed calibration_report.json, calibration_report.md, calibration_coverage.png "
            "beside it: they described the calibration it replaced.") in done.output


def test_a_camera_folder_named_as_its_camera_is_named_once(tmp_path: Path) -> None:
    """`back/*.jpg` is camera `back`: the diagnosis says `back:`, not `back (back):`."""
    from posekit.calibration.board import Board
    from posekit.calibration.detect import CameraDetections
    from posekit.calibration.step import check_boards
    from posekit.errors import CalibrationError

    folder = tmp_path / "back"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"frame{i}.png"), np.full((48, 64), 128, np.uint8))
    empty = CameraDetections("back", folder, (64, 48), np.full((3, 24, 2), np.nan),
                             np.zeros(3, np.int64))
    with pytest.raises(CalibrationError) as error:
        check_boards({"back": empty}, Board(size=(5, 7)), 6, 10)
    assert "\n  back: board found in 0 of 3 frames (need 10). " in str(error.value)
