"""Bad configuration, through the loader and through the CLI: unknown or mistyped keys
(with the closest valid key), values of the wrong type, files that are not TOML or not
UTF-8, [angles] naming keypoints the 3D lacks (with close names), and the cascade (the
message names the session or trial file at fault). tests/config/test_loader.py has the
basic cases; these are the rest of the catalogue (/work/notes/catalogue-R4.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from posekit.angles.definitions import angles_for
from posekit.cli.main import cli
from posekit.config import load_config
from posekit.errors import ConfigError
from posekit.triangulation.export import write_anipose_csv

KEYPOINTS = ["left_hip", "left_knee", "left_ankle", "right_hip", "right_knee", "right_ankle"]


def project(tmp_path: Path, config: str = "", session: str | None = None,
            trial: str | None = None) -> Path:
    """A project (nesting 1) with one session ``s1`` and one trial ``walk`` (two empty
    videos: discovery only), and the config files given."""
    root = tmp_path / "study"
    raw = root / "s1" / "videos-raw"
    raw.mkdir(parents=True)
    for cam in ("camA", "camB"):
        (raw / f"walk-{cam}.mp4").touch()
    (root / "config.toml").write_text("nesting = 1\n" + config, encoding="utf-8")
    if session is not None:
        (root / "s1" / "config.toml").write_text(session, encoding="utf-8")
    if trial is not None:
        (root / "s1" / "config.walk.toml").write_text(trial, encoding="utf-8")
    return root


def cli_error(root: Path, *args: str) -> str:
    """The CLI's output for a failing ``posekit status`` (or ``args``): exit status 1."""
    result = CliRunner().invoke(cli, [*(args or ("status",)), "-p", str(root)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    return result.output


def load_error(*paths: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(list(paths))
    return str(info.value)


# -- unknown and mistyped keys ------------------------------------------------------------

UNKNOWN_KEYS = [
    ("[filter3d]\ncutof_hz = 3\n", "[filter3d] cutof_hz: unknown key, did you mean cutoff_hz?"),
    ("[triangulation]\nOptim = true\n", "[triangulation] Optim: unknown key, did you mean optim?"),
    ('[cameras.A]\noffst = [0, 0, 640, 480]\n',
     "[cameras.A] offst: unknown key, did you mean offset?"),
    ('[skeletons.mine]\nkeypoints = ["a", "b"]\nbone = [["a", "b"]]\n',
     "[skeletons.mine] bone: unknown key, did you mean bones?"),
    ('cam_regex = "-cam([A-Z])$"\n',
     "cam_regex: unknown key at the top level (before any [table] header); cam_regex "
     "belongs in [triangulation], move it there"),
    ("[triangulation]\nboard_size = [10, 7]\n",
     "[triangulation] board_size: unknown key in [triangulation]; board_size belongs in "
     "[calibration], move it there"),
    ("[sync]\nzzz = 1\n",
     "[sync] zzz: unknown key (valid keys: enabled, max_lag_s, offsets, frame_times)"),
]


@pytest.mark.parametrize(("text", "expected"), UNKNOWN_KEYS)
def test_unknown_key_names_file_key_and_the_fix(tmp_path: Path, text: str,
                                                expected: str) -> None:
    root = project(tmp_path, text)
    message = load_error(root / "config.toml")
    assert message == f"{root / 'config.toml'}: {expected}"
    assert f"Error: {root / 'config.toml'}: {expected}" in cli_error(root)


# -- values of the wrong type -------------------------------------------------------------

WRONG_TYPES = [
    ('[calibration]\nboard_marker_bits = "4"\n', "[calibration] board_marker_bits: Input "
     "should be a valid integer (got '4'); write the value without quotes; for example "
     "board_marker_bits = 4"),
    ("[calibration]\nboard_marker_length = true\n", "[calibration] board_marker_length: Input "
     "should be a valid number (got True); for example board_marker_length = 18.75"),
    ('[triangulation]\noptim = "yes"\n', "[triangulation] optim: Input should be a valid "
     "boolean (got 'yes'); write the value without quotes; for example optim = true"),
    ("[calibration]\nboard_size = [10.0, 7]\n", "[calibration] board_size[0]: Input should be "
     "a valid integer (got 10.0); for example board_size = [10, 7]"),
    ("[calibration]\nboard_size = [10, 7, 5]\n", "[calibration] board_size: Tuple should have "
     "at most 2 items after validation, not 3 (got [10, 7, 5]); for example board_size = "
     "[10, 7]"),
    ("project = 2024\n", 'project: Input should be a valid string (got 2024); put the value '
     'in quotes ("...")'),
    ("[filter3d]\ncutoff_hz = nan\n", "[filter3d] cutoff_hz: Input should be a finite number "
     "(got nan); for example cutoff_hz = 6.0"),
    ('triangulation = "yes"\n', "triangulation: Input should be a table (got 'yes'); write "
     "it as a [triangulation] table of key = value lines"),
    ('[triangulation]\nformats = ["csv", "fbx"]\n', "[triangulation] formats[1]: Input should "
     "be 'csv', 'trc', 'c3d' or 'nwb' (got 'fbx'); for example formats = [\"csv\", \"trc\", "
     "\"c3d\"]"),
    ('[sync.offsets]\ncamA = "3"\n', "[sync.offsets] camA: Input should be a valid integer "
     "(got '3'); write the value without quotes"),
    ('[skeletons.mine]\nkeypoints = ["hip", " knee"]\n', "[skeletons.mine] keypoints: keypoint "
     "' knee': a name must not be empty, start or end with a space, or hold tabs or line "
     "breaks (the 3D exports could not keep it)"),
]


@pytest.mark.parametrize(("text", "expected"), WRONG_TYPES)
def test_wrong_type_names_file_key_value_and_the_fix(tmp_path: Path, text: str,
                                                     expected: str) -> None:
    root = project(tmp_path, text)
    message = load_error(root / "config.toml")
    assert message.startswith(f"{root / 'config.toml'}: {expected}")
    assert expected in cli_error(root)


def test_every_problem_of_a_file_is_listed(tmp_path: Path) -> None:
    root = project(tmp_path, '[triangulation]\noptim = "no"\nscale_smoth = 2\n')
    lines = load_error(root / "config.toml").splitlines()
    assert len(lines) == 2
    assert all(line.startswith(str(root / "config.toml")) for line in lines)


# -- not TOML, not UTF-8 ------------------------------------------------------------------


def test_invalid_toml_gives_line_column_and_the_line(tmp_path: Path) -> None:
    root = project(tmp_path, '[triangulation]\ncam_regex = "-cam([A-Z])$\n')
    expected = (f"{root / 'config.toml'}: not valid TOML: Illegal character '\\n' (at line 3, "
                "column 26): 'cam_regex = \"-cam([A-Z])$'; correct the TOML syntax there "
                "(key = value, strings in quotes, [table] headers)")
    assert load_error(root / "config.toml") == expected
    assert f"Error: {expected}" in cli_error(root)


def test_config_that_is_not_utf8_gives_the_line(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "config.toml").write_bytes(b"nesting = 1\n# caf\xe9 (Latin-1)\n")
    expected = (f"{root / 'config.toml'}: line 2: config file is not UTF-8 text (byte 0xe9); "
                "save it with the UTF-8 encoding")
    assert load_error(root / "config.toml") == expected
    assert expected in cli_error(root)


def test_windows_editor_files_load(tmp_path: Path) -> None:
    """A UTF-8 byte-order mark and CRLF line ends (Notepad) are fine."""
    root = project(tmp_path)
    (root / "config.toml").write_bytes(
        b'\xef\xbb\xbfnesting = 1\r\n[triangulation]\r\ncam_regex = "-(cam[A-Z])$"\r\n')
    assert load_config([root / "config.toml"]).triangulation.cam_regex == "-(cam[A-Z])$"
    result = CliRunner().invoke(cli, ["status", "-p", str(root)])
    assert result.exit_code == 0, result.output
    assert "walk" in result.output


@pytest.mark.parametrize("value", ["9" * 5000, "[" * 3000 + "]" * 3000])
def test_absurd_values_are_a_config_error(tmp_path: Path, value: str) -> None:
    root = project(tmp_path, f"[sync.offsets]\ncamA = {value}\n")
    assert load_error(root / "config.toml") == (
        f"{root / 'config.toml'}: cannot read this TOML file: a number has too many digits or "
        "arrays are nested too deeply; correct the value")
    cli_error(root)


# -- the cascade ----------------------------------------------------------------------------


def test_bad_key_in_a_session_config_names_that_file(tmp_path: Path) -> None:
    root = project(tmp_path, session="[triangulation]\nscale_lenght = 3\n")
    session = root / "s1" / "config.toml"
    expected = f"{session}: [triangulation] scale_lenght: unknown key, did you mean scale_length?"
    assert load_error(root / "config.toml", session) == expected
    assert f"Error: {expected}" in cli_error(root)


def test_bad_value_in_a_trial_config_names_that_file(tmp_path: Path) -> None:
    root = project(tmp_path, session="[triangulation]\nscale_length = 3\n",
                   trial='[filter3d]\nenabled = "true"\n')
    trial = root / "s1" / "config.walk.toml"
    expected = (f"{trial}: [filter3d] enabled: Input should be a valid boolean (got 'true'); "
                "write the value without quotes; for example enabled = false")
    assert load_error(root / "config.toml", root / "s1" / "config.toml", trial) == expected
    assert f"Error: {expected}" in cli_error(root)


def test_session_may_complete_a_table_the_project_starts(tmp_path: Path) -> None:
    """A session file giving only ``bones`` of a skeleton the project defines is fine."""
    root = project(tmp_path, '[skeletons.mine]\nkeypoints = ["hip", "knee", "ankle"]\n',
                   session='[skeletons.mine]\nbones = [["hip", "knee"]]\n')
    cfg = load_config([root / "config.toml", root / "s1" / "config.toml"])
    assert cfg.skeletons["mine"].bones == [("hip", "knee")]


def test_problem_seen_only_once_merged_names_the_file_that_sets_the_key(tmp_path: Path
                                                                         ) -> None:
    root = project(tmp_path, '[skeletons.mine]\nkeypoints = ["hip", "knee", "ankle"]\n',
                   session='[skeletons.mine]\nbones = [["hip", "kne"]]\n')
    session = root / "s1" / "config.toml"
    assert load_error(root / "config.toml", session) == (
        f"{session}: [skeletons.mine] bones: bone ['hip', 'kne'] names 'kne', which is not one "
        "of the keypoints (got [['hip', 'kne']])")


def test_required_key_missing_from_the_whole_cascade(tmp_path: Path) -> None:
    root = project(tmp_path, session='[skeletons.mine]\nbones = [["hip", "knee"]]\n')
    session = root / "s1" / "config.toml"
    assert load_error(root / "config.toml", session) == (
        f"{session}: [skeletons.mine] keypoints: this key is required here; add it")


# -- [angles] naming keypoints the 3D does not have ----------------------------------------


def write_pose3d(root: Path) -> None:
    n = 4
    points = np.random.default_rng(0).normal(size=(n, len(KEYPOINTS), 3))
    shape = points.shape[:2]
    out = root / "s1" / "pose-3d"
    out.mkdir(parents=True)
    write_anipose_csv(out / "walk.csv", points, np.ones(shape), np.full(shape, 2),
                      np.ones(shape), KEYPOINTS, np.arange(n))


def test_angle_with_an_unknown_keypoint_suggests_close_names(tmp_path: Path) -> None:
    root = project(tmp_path, '[angles]\nknee = ["left_hip", "left_kne", "left_ankle"]\n')
    cfg = load_config([root / "config.toml"])
    with pytest.raises(ConfigError) as info:
        angles_for(cfg, KEYPOINTS, str(root / "config.toml"))
    expected = (f"{root / 'config.toml'}: [angles] knee: keypoint 'left_kne' is not in the 3D "
                f"data; available keypoints: {', '.join(KEYPOINTS)}; correct the name in "
                "[angles] (did you mean 'left_knee'?)")
    assert str(info.value) == expected
    write_pose3d(root)
    output = cli_error(root, "angles")
    assert expected in output


def test_angle_error_names_the_session_file_that_defines_it(tmp_path: Path) -> None:
    root = project(tmp_path, session='[angles]\nhip = ["left_hip", "left_knee", "Left_Ankle"]\n')
    session = root / "s1" / "config.toml"
    files = [root / "config.toml", session]
    with pytest.raises(ConfigError) as info:
        angles_for(load_config(files), KEYPOINTS, "config files", config_files=files)
    message = str(info.value)
    assert message.startswith(f"{session}: [angles] hip: keypoint 'Left_Ankle' is not in the ")
    assert message.endswith("(did you mean 'left_ankle'?)")
    write_pose3d(root)
    output = cli_error(root, "angles")
    assert f"{session}: [angles] hip: keypoint 'Left_Ankle'" in output, output  # that file alone
