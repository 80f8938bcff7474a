"""`posekit doctor`: the installation's real parts checked, and a failure said clearly."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from posekit import doctor
from posekit.cli.main import cli


def test_this_installation_can_run_the_pipeline() -> None:
    """The test environment is a supported one: every check passes on the real parts."""
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split(":")[0] for line in lines[:6]] == [
        "ok    Python", "ok    OpenCV", "ok    video", "ok    MediaPipe", "ok    Dask",
        "ok    NWB"]
    assert "pynwb 4" in result.output or "pynwb 3" in result.output
    assert "the ChArUco detector finds 24 of 24 corners on a drawn board" in result.output
    assert "10 frames decoded" in result.output
    assert "pose_landmark_full.tflite" in result.output
    assert "keypoints found on a rendered person" in result.output
    assert lines[-1].endswith("can run the pipeline here.")


def test_two_opencv_packages_are_named_with_the_fix() -> None:
    assert doctor.opencv_packages(["numpy", "opencv-contrib-python"]) is None
    problem = doctor.opencv_packages(["opencv-python", "OpenCV-Contrib-Python", "mediapipe"])
    assert problem is not None
    assert problem.startswith("opencv-contrib-python and opencv-python are both installed")
    assert "pip uninstall -y opencv-python &&" in problem


def test_a_broken_part_is_a_failed_check_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that raises (a broken install raises anything) is reported as failed, the
    other checks still run, and the command exits with status 1."""
    def broken() -> doctor.Check:
        raise ImportError("libGL.so.1: cannot open shared object file")

    monkeypatch.setattr(doctor, "CHECKS", (("OpenCV", broken),
                                           ("Python", doctor.CHECKS[0][1])))
    result = CliRunner().invoke(cli, ["doctor"])
    assert result.exit_code == 1
    assert "FAIL  OpenCV: ImportError: libGL.so.1: cannot open shared object file" \
        in result.output
    assert "ok    Python" in result.output
    assert "Error: OpenCV: see above for what to do" in result.output
