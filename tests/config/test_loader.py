from __future__ import annotations

from pathlib import Path

import pytest

from posekit.config import Config, load_config, merge
from posekit.config.template import render_template
from posekit.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nesting = 2",
        'video_extension = "MOV"',
        '[triangulation]\ncam_regex = "-cam([A-Z])$"\nscale_smooth = 25\noptim = true',
        "[calibration]\nboard_size = [8, 11]\nboard_marker_dict_number = 1000",
        '[angles]\nknee = ["hip", "knee", "ankle"]',
        "[sync.offsets]\ncamA = 0\ncamB = -12",
        "[cameras.A]\noffset = [0, 0, 640, 480]",
        # Anipose keys posekit accepts without using them
        'model_folder = "/dlc/model"\n[filter]\nenabled = true\ntype = "viterbi"',
        "[manual_verification]\nmanually_verify = false\n[labeling]\nscheme = [[\"a\", \"b\"]]",
    ],
)
def test_valid_configs_load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    assert isinstance(load_config([path]), Config)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[triangulation]\nscale_smoth = 3", "[triangulation] scale_smoth: unknown key, "
         "did you mean scale_smooth?"),
        ("nestng = 1", "nestng: unknown key, did you mean nesting?"),
        ("[calibraton]\nboard_type = 'charuco'", "calibraton: unknown key, did you mean "
         "calibration?"),
        ("nesting = 'two'", "nesting: Input should be a valid integer"),
        ("[calibration]\nboard_size = [5, 'x']", "[calibration] board_size[1]: Input should "
         "be a valid integer"),
        ("[calibration]\nboard_type = 'circles'", "[calibration] board_type: Input should be "
         "'charuco' or 'checkerboard'"),
        ("[triangulation]\nscore_threshold = 1.5", "[triangulation] score_threshold: Input "
         "should be less than or equal to 1"),
        ("[angles]\nknee = 'hip'", "[angles] knee: Input should be a valid list"),
        ("[calibration\nboard_type = 'charuco'", "not valid TOML"),
    ],
)
def test_invalid_configs_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "session03" / "config.toml"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config([path])
    message = str(info.value)
    assert message.startswith(str(path))
    assert expected in message


def test_error_names_the_file_that_has_the_bad_key(tmp_path: Path) -> None:
    project = tmp_path / "config.toml"
    project.write_text("nesting = 1\n")
    session = tmp_path / "s1" / "config.toml"
    session.parent.mkdir()
    session.write_text("[triangulation]\nscale_lenght = 3\n")
    with pytest.raises(ConfigError, match=r"s1/config.toml: \[triangulation\] scale_lenght"):
        load_config([project, session])


def test_cascade_project_session_trial(tmp_path: Path) -> None:
    project = tmp_path / "config.toml"
    project.write_text(
        "[triangulation]\nscale_smooth = 5\nscale_length = 7\n"
        '[angles]\nknee = ["hip", "knee", "ankle"]\n[calibration]\nboard_size = [8, 11]\n'
    )
    session = tmp_path / "s1" / "config.toml"
    session.parent.mkdir()
    session.write_text('[triangulation]\nscale_smooth = 10\n[angles]\nelbow = ["s", "e", "w"]\n')
    trial = tmp_path / "s1" / "config.walk.toml"
    trial.write_text("[triangulation]\nscale_length = 1\n[calibration]\nboard_size = [5, 7]\n")
    cfg = load_config([project, session, trial])
    assert cfg.triangulation.scale_smooth == 10  # session overrides project
    assert cfg.triangulation.scale_length == 1  # trial overrides project
    assert set(cfg.angles) == {"knee", "elbow"}  # tables merge key by key
    assert cfg.calibration.board_size == (5, 7)  # lists are replaced whole
    assert load_config([project]).triangulation.scale_smooth == 5


def test_merge_does_not_mutate_inputs() -> None:
    base = {"a": {"b": 1}}
    merge(base, {"a": {"b": 2}})
    assert base == {"a": {"b": 1}}


def test_committed_template_matches_schema() -> None:
    committed = (REPO / "config_template.toml").read_text(encoding="utf-8")
    assert committed == render_template(), "regenerate config_template.toml from the schema"


def test_template_loads_to_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(render_template())
    assert load_config([path]) == Config()


def test_template_documents_every_key() -> None:
    text = render_template()
    for name, field in Config.model_fields.items():
        ann = field.annotation
        sub = getattr(ann, "model_fields", None)
        if sub:
            assert f"[{name}]" in text
            for key in sub:
                documented = f"{key} =" in text or f"[{name}.{key}]" in text
                assert documented, f"[{name}] {key} missing from template"
        else:
            assert name in text
