"""Malformed ``calibration.toml`` files: loading names the file, the ``[cam_N]`` table and
the key and says what to do; sync and triangulate fail for the trial with that message
and leave no output (and no temporary file) behind."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import toml
from trials_util import FPS, build, one_line, partials, posekit, synthetic_trial

from posekit.camera.toml_io import calibration_to_dict, load_calibration
from posekit.errors import CalibrationError

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project" / "ground-truth" / \
    "calibration.toml"
FIX_HINT = "posekit calibrate"


def example() -> dict[str, Any]:
    """The example project's calibration (cam1, cam2, cam3) as TOML tables."""
    return toml.loads(EXAMPLE.read_text())


def _set(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    if value is _DROP:
        del out["cam_1"][key]
    else:
        out["cam_1"][key] = value
    return out


_DROP = object()
K = [[1500.0, 0.0, 640.0], [0.0, 1500.0, 360.0], [0.0, 0.0, 1.0]]

# (id, key, value written to [cam_1], words the message must contain)
BAD_VALUES = [
    ("matrix-2x3", "matrix", [[1500.0, 0.0, 640.0], [0.0, 1500.0, 360.0]],
     ["matrix: must be 3 rows of 3 numbers", "got 2 x 3"]),
    ("matrix-ragged", "matrix", [[1500.0, 0.0, 640.0], [0.0, 1500.0], [0.0, 0.0, 1.0]],
     ["matrix: must be 3 rows of 3 numbers", "got 3 rows of 2/3 values"]),
    ("matrix-fx-zero", "matrix", [[0.0, 0.0, 640.0], [0.0, 1500.0, 360.0], [0.0, 0.0, 1.0]],
     ["matrix: focal lengths fx = matrix[0][0] = 0", "singular"]),
    ("matrix-fy-negative", "matrix", [[1500.0, 0.0, 640.0], [0.0, -1.0, 360.0],
                                      [0.0, 0.0, 1.0]],
     ["fy = matrix[1][1] = -1 must be positive"]),
    ("matrix-last-row", "matrix", [[1500.0, 0.0, 640.0], [0.0, 1500.0, 360.0],
                                   [0.0, 0.0, 0.0]],
     ["matrix: is not an intrinsic matrix: the last row must be [0, 0, 1]"]),
    ("matrix-text", "matrix", "identity", ["matrix: must be 3 rows of 3 numbers",
                                           "got a str ('identity')"]),
    ("distortions-3", "distortions", [0.1, 0.01, 0.0],
     ["distortions: must be pinhole: 5 values (k1, k2, p1, p2, k3) or 4", "got 3 values"]),
    ("distortions-empty", "distortions", [], ["distortions: must be pinhole", "got 0 values"]),
    ("rotation-2", "rotation", [0.1, 0.2],
     ["rotation: must be 3 numbers (a Rodrigues vector, not a 3 x 3 matrix)",
      "got 2 values"]),
    ("rotation-3x3", "rotation", [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
     ["rotation: must be 3 numbers (a Rodrigues vector", "got 3 x 3"]),
    ("translation-4", "translation", [0.0, 1.0, 5.0, 1.0],
     ["translation: must be 3 numbers, got 4 values"]),
    ("translation-inf", "translation", [0.0, float("inf"), 5.0],
     ["translation: contains NaN or infinite values"]),
    ("size-negative", "size", [-1280, 720], ["size: must be [width, height] in whole pixels"]),
    ("size-3", "size", [1280, 720, 3], ["size: must be [width, height] in pixels",
                                        "got 3 values"]),
    ("name-empty", "name", "", ["name: must be the camera's name as in the video file names"]),
    ("fisheye-text", "fisheye", "yes", ["fisheye: must be true or false"]),
    ("missing-translation", "translation", _DROP,
     ["missing key(s) translation", "every [cam_N] table needs name, size, matrix"]),
]


@pytest.mark.parametrize(("key", "value", "needles"), [b[1:] for b in BAD_VALUES],
                         ids=[b[0] for b in BAD_VALUES])
def test_bad_value_names_file_table_and_key(tmp_path: Path, key: str, value: Any,
                                            needles: list[str]) -> None:
    path = tmp_path / "calibration.toml"
    path.write_text(toml.dumps(_set(example(), key, value)))
    with pytest.raises(CalibrationError) as info:
        load_calibration(path)
    message = str(info.value)
    assert message.startswith(f"{path}: [cam_1]: "), message
    for needle in needles:
        assert needle in message, (needle, message)
    assert FIX_HINT in message


@pytest.mark.parametrize(("line", "key"), [
    ("matrix = [ [ nan, 0.0, 604.1,], [ 0.0, 1232.7, 369.9,], [ 0.0, 0.0, 1.0,],]", "matrix"),
    ("distortions = [ -0.21, nan, 0.0, 0.0, 0.0,]", "distortions"),
    ("rotation = [ 0.95, inf, -1.52,]", "rotation"),
], ids=["matrix-nan", "distortions-nan", "rotation-inf"])
def test_nan_and_inf_written_in_toml(tmp_path: Path, line: str, key: str) -> None:
    """``nan`` and ``inf`` are valid TOML floats: the loader must still refuse them."""
    lines = EXAMPLE.read_text().splitlines()
    start = lines.index("[cam_1]")
    row = next(i for i in range(start, len(lines)) if lines[i].startswith(f"{key} ="))
    lines[row] = line
    path = tmp_path / "calibration.toml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CalibrationError) as info:
        load_calibration(path)
    message = str(info.value)
    assert message.startswith(f"{path}: [cam_1]: {key}: contains NaN or infinite values")
    assert FIX_HINT in message


@pytest.mark.parametrize(("text", "needles"), [
    ("[cam_0\nname = 'A'\n", ["not valid TOML", "correct the syntax"]),
    ("this is not a calibration\n", ["not valid TOML"]),
    ("", ["no [cam_N] tables found"]),
    ("[camera]\nname = 'A'\n", ["unexpected table [camera]", "[cam_0], [cam_1]"]),
], ids=["unclosed-table", "prose", "empty", "wrong-table"])
def test_not_a_calibration_file(tmp_path: Path, text: str, needles: list[str]) -> None:
    path = tmp_path / "calibration.toml"
    path.write_text(text)
    with pytest.raises(CalibrationError) as info:
        load_calibration(path)
    assert str(info.value).startswith(f"{path}: ")
    for needle in needles:
        assert needle in str(info.value)


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "calibration.toml"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(CalibrationError, match=r"not valid TOML .*not UTF-8"):
        load_calibration(path)


def test_duplicate_names_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "calibration.toml"
    path.write_text(toml.dumps(_set(example(), "name", "cam1")))
    with pytest.raises(CalibrationError) as info:
        load_calibration(path)
    assert str(info.value).startswith(f"{path}: duplicate camera name(s) in calibration: "
                                      "['cam1']")


def test_valid_variants_still_load(tmp_path: Path) -> None:
    """TOML 1.0 arrays mixing integers and floats (hand-edited files) and Pose2Sim's four
    pinhole distortion coefficients are fine."""
    text = EXAMPLE.read_text().replace(
        "matrix = [ [ 1228.3532820772452, 0.0, 604.1793721834597,]",
        "matrix = [ [ 1228, 0, 604.1793721834597,]")
    assert "[ 1228, 0, 604" in text
    path = tmp_path / "calibration.toml"
    path.write_text(text)
    group = load_calibration(path)
    assert group["cam2"].matrix[0, 0] == 1228.0
    data = _set(example(), "distortions", [-0.2, 0.07, 0.0, 0.0])
    path.write_text(toml.dumps(data))
    np.testing.assert_array_equal(load_calibration(path)["cam2"].dist,
                                  [-0.2, 0.07, 0.0, 0.0, 0.0])


# --------------------------------------------------------------------------------------------
# end to end: the trial fails with the loader's message, nothing is written


@pytest.mark.parametrize("step", ["sync", "triangulate"])
@pytest.mark.parametrize(("key", "value", "needle"), [
    ("matrix", [[1500.0, 0.0, 640.0], [0.0, 1500.0, 360.0]], "[cam_1]: matrix: must be 3 rows"),
    ("matrix", [[0.0, 0.0, 640.0], [0.0, 1500.0, 360.0], [0.0, 0.0, 1.0]],
     "[cam_1]: matrix: focal lengths fx"),
    ("distortions", [0.1, 0.01, 0.0], "[cam_1]: distortions: must be pinhole"),
    ("rotation", [0.1, 0.2], "[cam_1]: rotation: must be 3 numbers"),
    ("translation", [0.0, float("nan"), 5.0], "[cam_1]: translation: contains NaN"),
    ("translation", _DROP, "[cam_1]: missing key(s) translation"),
], ids=["matrix-2x3", "fx-zero", "distortions-3", "rotation-2", "translation-nan",
        "no-translation"])
def test_step_fails_cleanly_on_bad_calibration(tmp_path: Path, step: str, key: str,
                                               value: Any, needle: str) -> None:
    truth = synthetic_trial(n_frames=45)
    project = build(tmp_path / "p", truth.poses, None)
    project.calibration.write_text(
        toml.dumps(_set(calibration_to_dict(truth.group), key, value)))
    result = posekit(step, "-p", project.root)
    message = one_line(result.output)
    assert result.exit_code == 1, result.output
    assert f"{step}: 0 done, 0 skipped, 1 failed" in message
    assert f"FAILED s1/t: {project.calibration.resolve()}: {needle}" in message
    assert FIX_HINT in message
    assert "Traceback" not in result.output and "unexpected" not in message
    assert project.written(step) == [] and partials(project.root) == []


def test_step_fails_cleanly_on_invalid_toml(tmp_path: Path) -> None:
    truth = synthetic_trial(n_frames=45)
    project = build(tmp_path / "p", truth.poses, None, fps=FPS)
    project.calibration.write_text("[cam_0]\nname = 'cam1'\nsize = [1280, 720\n")
    for step in ("sync", "triangulate"):
        result = posekit(step, "-p", project.root)
        message = one_line(result.output)
        assert result.exit_code == 1
        assert f"FAILED s1/t: {project.calibration.resolve()}: not valid TOML" in message
        assert project.written(step) == [] and partials(project.root) == []


def test_calibration_of_another_camera_set_up(tmp_path: Path) -> None:
    """Well-formed, right camera names, wrong geometry (another rig): no 3D point agrees
    with the 2D, so nothing is written."""
    from posekit.synthetic.rig import make_rig

    truth = synthetic_trial(n_frames=45)
    project = build(tmp_path / "p", truth.poses, make_rig(3, seed=7))
    project.write_sync({"cam1": 0, "cam2": 0, "cam3": 0})
    result = posekit("triangulate", "-p", project.root)
    message = one_line(result.output)
    assert result.exit_code == 1
    assert ("FAILED s1/t: no 3D point could be reconstructed: the cameras' "
            "detections never agree on a position; check that the calibration is of this "
            "camera set-up and the offsets") in message
    assert project.written("triangulate") == [] and partials(project.root) == []
