from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from posekit.cli.main import cli
from posekit.config import load_config


def test_status_lists_every_trial_and_camera(anipose_project: Path) -> None:
    result = CliRunner().invoke(cli, ["status", "--project", str(anipose_project)])
    assert result.exit_code == 0, result.output
    assert "2 session(s), 3 trial(s)" in result.output
    lines = result.output.splitlines()
    for session, trial in [("2024-01-10", "run"), ("2024-01-10", "walk"),
                           ("2024-01-11", "jump")]:
        row = next(line for line in lines if line.split()[:2] == [session, trial])
        assert row.split()[2] == "A,B,C"


def test_status_points_to_the_calibration_s_warnings(anipose_project: Path) -> None:
    """The trials that use a calibration inherit its problems: status names the count and
    where they are; a report older than the calibration (another calibration's) says
    nothing."""
    import json
    import os
    import shutil

    folder = anipose_project / "calibration"
    truth = Path(__file__).resolve().parents[2] / "example_project" / "ground-truth"
    shutil.copy(truth / "calibration.toml", folder / "calibration.toml")
    report = folder / "calibration_report.json"
    report.write_text(json.dumps({"warnings": ["A: the board reached only 35 %", "B: ..."]}))
    result = CliRunner().invoke(cli, ["status", "-p", str(anipose_project)])
    assert result.exit_code == 0, result.output
    assert (f"calibration: 2 warning(s) from posekit calibrate, in "
            f"{folder / 'calibration_report.md'} (`posekit report` shows them on the "
            "calibration's page)") in result.output
    older = (folder / "calibration.toml").stat().st_mtime - 60
    os.utime(report, (older, older))
    result = CliRunner().invoke(cli, ["status", "-p", str(anipose_project)])
    assert "warning(s) from posekit calibrate" not in result.output


def test_config_error_is_a_clean_message(anipose_project: Path) -> None:
    (anipose_project / "2024-01-11" / "config.toml").write_text("[triangulation]\noptm = 1\n")
    result = CliRunner().invoke(cli, ["status", "-p", str(anipose_project)])
    assert result.exit_code == 1
    assert "2024-01-11/config.toml: [triangulation] optm: unknown key, did you mean optim?" \
        in result.output
    assert "Traceback" not in result.output


def test_step_without_its_inputs_fails_per_trial_with_a_hint(anipose_project: Path) -> None:
    result = CliRunner().invoke(cli, ["angles", "-p", str(anipose_project)])
    assert result.exit_code == 1
    assert "angles: 0 done, 0 skipped, 3 failed" in result.output
    assert "run.csv is missing; run `posekit triangulate` first" in result.output


def test_no_trials_is_an_error_with_a_hint(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("nesting = 1\n")
    result = CliRunner().invoke(cli, ["run-all", "-p", str(tmp_path)])
    assert result.exit_code == 1
    assert "no trials found" in result.output


def test_init_writes_a_valid_config_and_refuses_to_overwrite(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["init", str(tmp_path / "newproj")])
    assert result.exit_code == 0, result.output
    config = tmp_path / "newproj" / "config.toml"
    assert load_config([config]).project == "newproj"
    # what to do next, with the project's own paths
    root = tmp_path / "newproj"
    assert f"{root / '<session>' / 'videos-raw'}, named <trial>-<camera>.mp4" in result.output
    assert f"one calibration recording per camera in {root / 'calibration'}" in result.output
    assert f"`posekit run-all -p {root}`" in result.output
    again = runner.invoke(cli, ["init", str(tmp_path / "newproj")])
    assert again.exit_code == 1 and "already exists" in again.output


def test_help_does_not_import_heavy_modules() -> None:
    code = ("import sys; from posekit.cli.main import cli; "
            "heavy = [m for m in ('cv2', 'mediapipe', 'pandas', 'scipy') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_console_script_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "posekit", "--version"], capture_output=True,
                         text=True, check=True)
    assert "posekit" in out.stdout


def test_a_failure_names_its_unit_once() -> None:
    from posekit.cli.common import failure_line

    assert failure_line("s1/t", "trial s1/t: no 3D point") == "FAILED s1/t: no 3D point"
    assert failure_line("s1/t", "s1/t: no angle") == "FAILED s1/t: no angle"
    assert failure_line("s1/t", "trial s1/tt: other") == "FAILED s1/t: trial s1/tt: other"
