"""`posekit demo`, as the README runs it: the default synthetic project is written, every
available step runs on it, and the results are compared with the ground truth."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from posekit.cli.main import cli
from posekit.project import Project


def test_demo_command_runs_the_pipeline_offline_and_compares(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", str(target)])
    out = result.output
    assert result.exit_code == 0, out
    assert [t.key for t in Project.open(target).trials()] == ["session1/squat"]
    for step in ("calibrate", "detect", "sync", "triangulate", "angles"):
        assert f"{step}: 1 done" in out, out
    assert "calibration: focal error max" in out
    assert "detect (session1/squat): cam1 100 % of frames" in out
    assert "sync (session1/squat): offsets cam1 +0, cam2 +0, cam3 +0" in out
    assert (target / "calibration" / "calibration.toml").is_file()
    assert (target / "session1" / "sync" / "squat.toml").is_file()
    # the 3D is compared with the true landmarks (MediaPipe on the rendered person is a
    # few centimetres off the skeleton's joint centres; a broken pipeline is metres off)
    line = next(x for x in out.splitlines() if "triangulate (session1/squat): MPJPE" in x)
    mpjpe = float(line.split("MPJPE")[1].split("mm")[0])
    assert mpjpe < 60.0, line
    assert (target / "session1" / "pose-3d" / "squat.csv").is_file()
    assert "angles (session1/squat): RMSE knee" in out
    assert "ground truth:" in out
    index = target / "reports" / "index.html"
    assert f"report: {index}" in out
    assert "session1/squat" in index.read_text()
    page = (target / "reports" / "session1" / "squat.html").read_text()
    assert "World frame: camera 1 (cam1) at the origin" in page
    # how much of each image the board reached, and none of the person's keypoints outside
    assert "<th>image reached by the board</th>" in page
    for cam in ("cam1", "cam2", "cam3"):
        assert re.search(rf"<tr><td>{cam}</td><td>\d+\.\d %</td><td>0\.0 %</td>", page), cam
    again = CliRunner().invoke(cli, ["demo", str(target)])  # reuses the data
    assert again.exit_code == 0 and "Writing" not in again.output


def test_demo_refuses_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("x")
    result = CliRunner().invoke(cli, ["demo", str(tmp_path)])
    assert result.exit_code == 1 and "not a posekit demo" in result.output
