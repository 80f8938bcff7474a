"""``[angles]`` / ``[angle_conventions]`` parsing: Anipose's forms, clear config errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from posekit.angles.definitions import angles_for, parse_angles, parse_definition
from posekit.config import load_config
from posekit.config.schema import DEFAULT_ANGLES, Config
from posekit.errors import ConfigError
from posekit.skeletons import BODY_25, BODY_25B, COCO_17, HALPE_26, MEDIAPIPE_33

KPS = ["hip", "knee", "ankle", "toe"]


def test_forms_and_output_names() -> None:
    defs = parse_angles({
        "knee": ["hip", "knee", "ankle"],
        "knee2": ["flex", "hip", "knee", "ankle"],
        "twist": ["axis", "hip", "knee", "ankle"],
        "plane": ["cross-axis", "hip", "knee", "ankle"],
        "leg": ["chain", "hip", "knee/", "ankle", "toe"],
    })
    assert [d.kind for d in defs] == ["flex", "flex", "axis", "cross-axis", "chain"]
    assert [d.columns for d in defs[:4]] == [["knee"], ["knee2"], ["twist"], ["plane"]]
    # Anipose's chain names: per joint <kp>_flex, <kp>_rot (not the last joint),
    # <kp>_abduct (first joint only); the chain's own name is not a column
    assert defs[4].columns == ["hip_flex", "hip_rot", "hip_abduct", "knee_flex", "knee_rot",
                               "ankle_flex"]
    assert defs[4].keypoints == ("hip", "knee", "ankle", "toe")
    assert defs[4].flip == (False, True, False, False)
    assert [d.wraps for d in defs] == [False, False, True, True, True]


@pytest.mark.parametrize(("entry", "message"), [
    (["hip", "knee"], r"\[angles\] bad: cannot read \['hip', 'knee'\]: use \[a, b, c\]"),
    (["hip", "knee", "ankle", "toe"], "cannot read"),
    (["axis", "hip", "knee"], "'axis' takes exactly 3 keypoints, got 2"),
    (["chain", "hip"], "a chain needs at least 2 keypoints"),
    (["hip", "hip", "ankle"], "the three keypoints must differ"),
    (["chain", "hip", "hip", "knee"], "cannot repeat a keypoint"),
    (["hip", "", "ankle"], "empty keypoint name"),
])
def test_malformed_entries_name_the_angle(entry: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_definition("bad", entry, "proj/config.toml")
    with pytest.raises(ConfigError, match=r"^proj/config\.toml: "):
        parse_definition("bad", entry, "proj/config.toml")


def test_unknown_keypoint_names_angle_keypoint_and_available() -> None:
    cfg = Config(angles={"knee": ["hip", "kne", "ankle"]})
    with pytest.raises(ConfigError) as info:
        angles_for(cfg, KPS, "p/config.toml")
    msg = str(info.value)
    assert msg.startswith("p/config.toml: [angles] knee: keypoint 'kne' is not in the 3D data")
    assert "available keypoints: hip, knee, ankle, toe" in msg


def test_conventions_are_checked() -> None:
    angles = {"knee": ["hip", "knee", "ankle"], "leg": ["chain", "hip", "knee", "ankle"]}
    (knee, _) = parse_angles(angles, {"knee": "flexion"})
    assert knee.convention == "flexion"
    with pytest.raises(ConfigError, match=r"\[angle_conventions\] elbow: no angle of that "
                                          "name in \\[angles\\] \\(defined: knee, leg\\)"):
        parse_angles(angles, {"elbow": "flexion"})
    with pytest.raises(ConfigError, match="three-point angles only, and leg is a 'chain'"):
        parse_angles(angles, {"leg": "flexion"})


def test_convention_values_are_validated_by_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[angle_conventions]\nknee = "flexed"\n')
    with pytest.raises(ConfigError, match=r"\[angle_conventions\] knee: Input should be "
                                          "'inner' or 'flexion'"):
        load_config([path])


def test_two_angles_writing_one_column_is_an_error() -> None:
    with pytest.raises(ConfigError, match="writes column 'hip_flex', as hip_flex does"):
        parse_angles({"hip_flex": ["a", "b", "c"], "leg": ["chain", "hip", "knee", "ankle"]})
    with pytest.raises(ConfigError, match="writes column 'time'"):
        parse_angles({"time": ["a", "b", "c"]})


def test_default_set_covers_the_joints_and_uses_mediapipe_names() -> None:
    cfg = Config()
    assert cfg.angles == DEFAULT_ANGLES
    for joint in ("knee", "hip", "elbow", "shoulder", "ankle", "trunk"):
        for side in ("left", "right"):
            assert f"{side}_{joint}" in cfg.angles
    used = {k for kps in cfg.angles.values() for k in kps}
    assert used <= set(MEDIAPIPE_33.keypoints)
    defs, skipped = angles_for(cfg, MEDIAPIPE_33.keypoints)
    assert len(defs) == len(DEFAULT_ANGLES) and not skipped


def test_default_angles_without_their_keypoints_are_skipped() -> None:
    """3D from another skeleton (no foot_index): the default ankle angles are skipped, the
    others kept; a user's own definition with a missing keypoint stays an error."""
    kps = [k for k in MEDIAPIPE_33.keypoints if "foot_index" not in k]
    defs, skipped = angles_for(Config(), kps)
    assert sorted(d.name for d in skipped) == ["left_ankle", "right_ankle"]
    assert "left_knee" in [d.name for d in defs]
    own = Config(angles={**DEFAULT_ANGLES, "left_ankle": ["left_knee", "left_ankle", "toe"]})
    with pytest.raises(ConfigError, match="left_ankle: keypoint 'toe'"):
        angles_for(own, kps)


@pytest.mark.parametrize("skeleton", [BODY_25, BODY_25B, HALPE_26])
def test_default_ankle_angles_use_the_big_toe_of_skeletons_without_foot_index(skeleton
                                                                             ) -> None:
    """OpenPose's and HALPE's 3D have no foot_index but a big toe: every default angle is
    computed, the ankles from knee, ankle and big toe."""
    defs, skipped = angles_for(Config(), skeleton.keypoints)
    assert not skipped and len(defs) == len(DEFAULT_ANGLES)
    ankle = {d.name: d.keypoints for d in defs}
    assert ankle["left_ankle"] == ("left_knee", "left_ankle", "left_big_toe")
    assert ankle["right_ankle"] == ("right_knee", "right_ankle", "right_big_toe")
    _, skipped = angles_for(Config(), COCO_17.keypoints)  # no foot keypoint at all
    assert sorted(d.name for d in skipped) == ["left_ankle", "right_ankle"]


def test_anipose_config_loads_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[angles]\n"
        'L_knee = ["L_hip", "L_knee", "L_ankle"]\n'
        'L_femur_rot = ["axis", "L_hip", "L_knee", "L_ankle"]\n'
        'L_leg_plane = ["cross-axis", "L_hip", "L_knee", "L_ankle"]\n'
        'L_leg = ["chain", "L_hip", "L_knee", "L_ankle/", "L_toe"]\n'
    )
    cfg = load_config([path])
    assert set(cfg.angles) == {"L_knee", "L_femur_rot", "L_leg_plane", "L_leg"}  # no defaults
    defs, _ = angles_for(cfg, ["L_hip", "L_knee", "L_ankle", "L_toe"])
    assert [c for d in defs for c in d.columns] == [
        "L_knee", "L_femur_rot", "L_leg_plane", "L_hip_flex", "L_hip_rot", "L_hip_abduct",
        "L_knee_flex", "L_knee_rot", "L_ankle_flex"]
