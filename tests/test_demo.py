"""`posekit demo` end to end on a small synthetic project: every available step runs and
the comparison with the ground truth is printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from posekit.demo import run_demo
from posekit.synthetic.project import SyntheticProjectSpec


def test_demo_runs_the_pipeline_and_compares(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    spec = SyntheticProjectSpec(calibration_frames=60, trials=(("squat", "squat", 2.0),))
    root = run_demo(tmp_path / "demo", spec=spec)
    out = capsys.readouterr().out
    for step in ("calibrate", "detect", "sync", "triangulate", "angles"):
        assert f"{step}: 1 done" in out, out
    assert "calibration: focal error max" in out
    assert "detect (session1/squat): cam1 100 % of frames" in out
    assert "sync (session1/squat): offsets cam1 +0" in out
    assert (root / "calibration" / "calibration.toml").is_file()
    assert (root / "session1" / "sync" / "squat.toml").is_file()
    # the 3D is compared with the true landmarks (MediaPipe on the rendered person is a
    # few centimetres off the skeleton's joint centres; a broken pipeline is metres off)
    line = next(x for x in out.splitlines() if "triangulate (session1/squat): MPJPE" in x)
    mpjpe = float(line.split("MPJPE")[1].split("mm")[0])
    assert mpjpe < 60.0, line
    assert (root / "session1" / "pose-3d" / "squat.csv").is_file()
    assert "angles (session1/squat): RMSE knee" in out
