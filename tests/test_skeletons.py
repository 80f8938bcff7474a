"""Built-in skeletons, user-defined skeletons from config.toml, and their errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from posekit.config import load_config
from posekit.errors import ConfigError
from posekit.skeletons import (
    BODY_25,
    BODY_25B,
    COCO_17,
    HALPE_26,
    MEDIAPIPE_33,
    SKELETONS,
    Skeleton,
    get_skeleton,
    skeleton_from_config,
)

COUNTS = {"mediapipe33": 33, "coco17": 17, "body25": 25, "body25b": 25, "halpe26": 26}


def _mirror(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[len("left_"):]
    if name.startswith("right_"):
        return "left_" + name[len("right_"):]
    return name


@pytest.mark.parametrize(("name", "count"), COUNTS.items())
def test_registry_and_counts(name: str, count: int) -> None:
    skel = SKELETONS[name]
    assert skel.name == name
    assert len(skel.keypoints) == len(skel) == count
    assert len(set(skel.keypoints)) == count


@pytest.mark.parametrize("skel", SKELETONS.values(), ids=list(SKELETONS))
def test_bones_refer_to_keypoints_and_cover_them(skel: Skeleton) -> None:
    used = {kp for bone in skel.bones for kp in bone}
    assert used <= set(skel.keypoints)
    assert used == set(skel.keypoints), set(skel.keypoints) - used
    assert len({frozenset(b) for b in skel.bones}) == len(skel.bones), "duplicate bone"
    assert all(a != b for a, b in skel.bones)


@pytest.mark.parametrize("skel", SKELETONS.values(), ids=list(SKELETONS))
def test_names_are_snake_case_and_left_right_symmetric(skel: Skeleton) -> None:
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", kp) for kp in skel.keypoints)
    sided = [kp for kp in skel.keypoints if kp.startswith(("left_", "right_"))]
    assert all(_mirror(kp) in skel.keypoints for kp in sided)
    assert len(skel.left_right_pairs) == len(sided) // 2
    for left, right in skel.left_right_pairs:
        assert left.startswith("left_") and right == _mirror(left)
    bones = {frozenset(b) for b in skel.bones}
    for a, b in skel.bones:
        assert frozenset((_mirror(a), _mirror(b))) in bones, (a, b)


def test_detector_orders() -> None:
    # COCO order is the first 17 of BODY_25B and Halpe 26
    assert BODY_25B.keypoints[:17] == COCO_17.keypoints == HALPE_26.keypoints[:17]
    assert COCO_17.keypoints[:5] == ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
    # BODY_25B differs from BODY_25
    assert BODY_25.keypoints[:3] == ("nose", "neck", "right_shoulder")
    assert BODY_25.index("mid_hip") == 8 and BODY_25.index("left_eye") == 16
    assert BODY_25B.keypoints[17:19] == ("upper_neck", "head_top")
    assert BODY_25B.keypoints[19:] == BODY_25.keypoints[19:]  # feet: same order in both
    assert HALPE_26.keypoints[17:20] == ("head", "neck", "mid_hip")
    assert HALPE_26.keypoints[20:] == ("left_big_toe", "right_big_toe", "left_small_toe",
                                       "right_small_toe", "left_heel", "right_heel")
    assert MEDIAPIPE_33.index("left_hip") == 23


@pytest.mark.parametrize(("alias", "name"), [
    ("body25", "body25"), ("BODY_25B", "body25b"), ("COCO_17", "coco17"), ("coco", "coco17"),
    ("HALPE_26", "halpe26"), ("blazepose", "mediapipe33"), ("MediaPipe-33", "mediapipe33"),
])
def test_get_skeleton_by_name_and_alias(alias: str, name: str) -> None:
    assert get_skeleton(alias) is SKELETONS[name]
    assert skeleton_from_config(alias) is SKELETONS[name]


def test_unknown_skeleton_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError) as info:
        get_skeleton("body_26", {"my_rig": {"keypoints": ["a"]}})
    message = str(info.value)
    assert "unknown skeleton 'body_26'" in message
    for name in COUNTS:
        assert name in message
    assert "my_rig" in message


def test_user_defined_skeleton_from_config(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[skeletons.mouse]\n"
        'keypoints = ["snout", "left_ear", "right_ear", "tail_base"]\n'
        'bones = [["snout", "left_ear"], ["snout", "right_ear"], ["snout", "tail_base"]]\n'
        "[skeletons.dots]\n"
        'keypoints = ["a", "b"]\n'
    )
    cfg = load_config([path])
    mouse = get_skeleton("mouse", cfg.skeletons)
    assert mouse.name == "mouse"
    assert mouse.keypoints == ("snout", "left_ear", "right_ear", "tail_base")
    assert mouse.bones[0] == ("snout", "left_ear")
    assert mouse.left_right_pairs == (("left_ear", "right_ear"),)
    dots = get_skeleton("dots", cfg.skeletons)
    assert dots.bones == ()
    assert get_skeleton("body25", cfg.skeletons) is BODY_25  # built-ins still there


def test_user_defined_skeleton_takes_precedence() -> None:
    skel = get_skeleton("coco17", {"coco17": {"keypoints": ["x", "y"], "bones": [["x", "y"]]}})
    assert skel.keypoints == ("x", "y")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('keypoints = ["a", "b"]\nbones = [["a", "c"]]',
         "[skeletons.rig] bones: bone ['a', 'c'] names 'c', which is not one of "
         "the keypoints"),
        ('keypoints = ["a", "a"]', "[skeletons.rig] keypoints: keypoint 'a' is "
         "listed twice"),
        ("keypoints = []", "[skeletons.rig] keypoints: List should have at least 1 item"),
        ('bones = [["a", "b"]]', "[skeletons.rig] keypoints: this key is required here; add it"),
        ('keypoints = ["a", "b"]\nbones = [["a", "b", "c"]]', "[skeletons.rig] bones[0]"),
        ('keypoint = ["a"]', "keypoint: unknown key"),
    ],
)
def test_bad_user_skeleton_in_config_names_the_key(tmp_path: Path, text: str,
                                                  expected: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[skeletons.rig]\n" + text + "\n")
    with pytest.raises(ConfigError) as info:
        load_config([path])
    message = str(info.value)
    assert message.startswith(str(path))
    assert expected in message


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"keypoints": ["hip", "knee"], "bones": [["hip", "kne"]]},
         "[skeletons.leg] bones[0]: 'kne' is not one of the skeleton's keypoints, did you mean "
         "'knee'?"),
        ({"keypoints": ["hip", "hip"]}, "[skeletons.leg] keypoints: 'hip' listed twice"),
        ({"keypoints": []}, "[skeletons.leg] keypoints: the list is empty"),
        ({"keypoints": "hip"}, "[skeletons.leg] keypoints: must be a list of names"),
        ({"bones": []}, "[skeletons.leg] keypoints: missing"),
        ({"keypoints": ["hip"], "edges": []}, "[skeletons.leg] edges: unknown key"),
        ({"keypoints": ["hip", "knee"], "bones": [["hip"]]},
         "[skeletons.leg] bones[0]: a bone is a pair of keypoint names"),
        (42, "[skeletons.leg]: a skeleton is a name or a table"),
    ],
)
def test_skeleton_from_dict_errors(spec: object, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        skeleton_from_config(spec, name="leg")
    assert expected in str(info.value)


def test_skeleton_from_dict_and_spec() -> None:
    skel = skeleton_from_config({"keypoints": ["a", "b", "c"], "bones": [["a", "b"]]},
                                name="abc")
    assert skel == Skeleton("abc", ("a", "b", "c"), (("a", "b"),))
    assert skeleton_from_config(skel) is skel
    from posekit.config.schema import SkeletonSpec

    spec = SkeletonSpec(keypoints=["a", "b"], bones=[("a", "b")])
    assert skeleton_from_config(spec, name="ab").bones == (("a", "b"),)


def test_skeleton_class_rejects_inconsistent_definitions() -> None:
    with pytest.raises(ValueError, match="'z', which is not one of its keypoints"):
        Skeleton("bad", ("a", "b"), (("a", "z"),))
    with pytest.raises(ValueError, match="twice"):
        Skeleton("bad", ("a", "a"), ())
    with pytest.raises(KeyError, match="not in the coco17 skeleton"):
        COCO_17.index("neck")
