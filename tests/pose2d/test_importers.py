"""Importers of 2D keypoints: OpenPose JSON folders, SLEAP analysis HDF5, DeepLabCut files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from posekit.cli.import2d import import_2d as import_2d_command
from posekit.errors import ConfigError, PosekitError
from posekit.pose2d.importers import (
    detect_format,
    import_2d,
    import_dlc,
    import_openpose,
    import_sleap,
    skeleton_mismatch,
)
from posekit.pose2d.table import Pose2D, read_pose2d, write_pose2d
from posekit.skeletons import BODY_25, BODY_25B, Skeleton

# An upright person facing the camera, pixels relative to the mid-hip (y down): the
# subject's left is on the image's right. Covers the names of every built-in body skeleton.
BODY = {
    "head_top": (0, -170), "head": (0, -170), "nose": (0, -140), "left_eye": (8, -148),
    "right_eye": (-8, -148), "left_ear": (16, -144), "right_ear": (-16, -144),
    "upper_neck": (0, -120), "neck": (0, -105), "left_shoulder": (40, -105),
    "right_shoulder": (-40, -105), "left_elbow": (50, -50), "right_elbow": (-50, -50),
    "left_wrist": (55, 0), "right_wrist": (-55, 0), "mid_hip": (0, 0), "left_hip": (20, 0),
    "right_hip": (-20, 0), "left_knee": (22, 80), "right_knee": (-22, 80),
    "left_ankle": (22, 160), "right_ankle": (-22, 160), "left_heel": (20, 168),
    "right_heel": (-20, 168), "left_big_toe": (30, 175), "right_big_toe": (-30, 175),
    "left_small_toe": (38, 172), "right_small_toe": (-38, 172),
}


def person(skel: Skeleton, at: tuple[float, float], conf: float = 0.8) -> np.ndarray:
    """(n_keypoints, 3) x, y, confidence of the body at ``at`` in ``skel``'s order."""
    xy = np.array([BODY[k] for k in skel.keypoints], float) + at
    c = conf - 0.01 * np.arange(len(skel))  # distinct confidences
    return np.column_stack([xy, c])


def write_frame(folder: Path, name: str, people: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"version": 1.3, "people": [
        {"person_id": [-1], "pose_keypoints_2d": p.ravel().tolist(), "face_keypoints_2d": [],
         "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": []} for p in people]}
    path = folder / name
    path.write_text(json.dumps(data))
    return path


def openpose_name(i: int) -> str:
    return f"walk_{i:012d}_keypoints.json"


@pytest.fixture
def openpose_folder(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """Six BODY_25 frames and the expected xy / likelihood.

    0: two people, B (at x=300) with the higher total confidence; 1: B moved, A still there;
    2: nobody; 3: A far left and B near its last place, A more confident; 4: B with a
    zero-confidence keypoint and one at (0, 0); 5: B plus a person with no keypoints.
    """
    folder = tmp_path / "walk_json"
    a0, b0 = person(BODY_25, (100, 400), 0.6), person(BODY_25, (300, 400), 0.9)
    b1 = person(BODY_25, (305, 401), 0.9)
    a3, b3 = person(BODY_25, (90, 400), 0.95), person(BODY_25, (310, 402), 0.5)
    b4 = person(BODY_25, (312, 403), 0.9)
    b4[3, 2] = 0.0  # zero confidence (coordinates left as OpenPose writes them)
    b4[7] = (0.0, 0.0, 0.0)  # OpenPose's "not found"
    b4[9, :2] = 0.0  # at (0, 0) even with a confidence: missing
    empty = np.zeros((25, 3))
    b5 = person(BODY_25, (315, 404), 0.9)
    frames = [[a0, b0], [b1, person(BODY_25, (100, 400), 0.6)], [], [a3, b3], [b4],
              [empty, b5]]
    for i, people in enumerate(frames):
        write_frame(folder, openpose_name(i), people)
    (folder / "summary.json").write_text("{}")  # not a frame file: ignored
    picks = [b0, b1, None, b3, b4, b5]
    xy = np.full((6, 25, 2), np.nan)
    like = np.zeros((6, 25))
    for i, p in enumerate(picks):
        if p is not None:
            xy[i], like[i] = p[:, :2], p[:, 2]
    for k in (3, 7, 9):
        xy[4, k], like[4, k] = np.nan, 0.0
    return folder, xy, like


def test_openpose_folder_imports_exactly(openpose_folder: tuple[Path, np.ndarray, np.ndarray]
                                         ) -> None:
    folder, xy, like = openpose_folder
    pose = import_openpose(folder)
    assert pose.keypoints == BODY_25.keypoints
    assert pose.scorer == "openpose"
    assert pose.n_frames == 6
    np.testing.assert_array_equal(pose.xy, xy)
    np.testing.assert_array_equal(pose.likelihood, like)
    assert pose.detected().tolist() == [True, True, False, True, True, True]
    assert pose.metadata["skeleton"] == "body25"
    assert pose.metadata["frames_with_several_people"] == 3
    assert "skeleton_suspect" not in pose.metadata


def test_openpose_person_index(openpose_folder: tuple[Path, np.ndarray, np.ndarray]) -> None:
    folder, _, _ = openpose_folder
    first = import_openpose(folder, person=0)
    assert first.xy[0, 0, 0] == 100  # people[0] of frame 0 is A
    assert first.xy[3, 0, 0] == 90
    second = import_openpose(folder, person=1)
    assert second.detected().tolist() == [True, True, False, True, False, False]
    with pytest.raises(PosekitError, match="person must be 'best'"):
        import_openpose(folder, person="first")


def test_openpose_round_trip_through_dlc_files(
        openpose_folder: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path) -> None:
    folder, _, _ = openpose_folder
    pose = import_openpose(folder)
    for name in ("walk-camA.h5", "walk-camA.csv"):
        out = write_pose2d(pose, tmp_path / "pose-2d" / name)
        back = read_pose2d(out)
        assert back.keypoints == pose.keypoints
        assert back.scorer == "openpose"
        # .h5 is exact; pandas' CSV float parser may differ in the last bit
        rtol = 0 if name.endswith(".h5") else 1e-15
        np.testing.assert_allclose(back.xy, pose.xy, rtol=rtol, atol=0)
        np.testing.assert_allclose(back.likelihood, pose.likelihood, rtol=rtol, atol=0)
        assert import_2d(out).keypoints == pose.keypoints  # auto: DLC
    assert read_pose2d(tmp_path / "pose-2d" / "walk-camA.h5").metadata["format"] == "openpose"


def test_openpose_natural_order_and_missing_frame_files(tmp_path: Path, caplog:
                                                        pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "cam01_json"
    for i in (8, 9, 10, 12):  # unpadded numbers: 10 sorts after 9; no file for frame 11
        write_frame(folder, f"cam01.{i}.json", [person(BODY_25B, (10.0 * i, 300))])
    with caplog.at_level(logging.WARNING):
        pose = import_openpose(folder, skeleton="body25b")
    assert pose.n_frames == 5
    assert pose.xy[:, 0, 0].tolist()[:3] == [80, 90, 100]
    assert np.isnan(pose.xy[3]).all() and pose.xy[4, 0, 0] == 120
    assert pose.metadata["first_frame"] == 8
    assert pose.metadata["missing_frame_files"] == 1
    assert "1 frame number(s) between 8 and 12 have no file" in caplog.text


def test_wrong_skeleton_of_the_same_size_is_flagged(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "b25b"
    for i in range(12):
        write_frame(folder, openpose_name(i), [person(BODY_25B, (200 + i, 300))])
    with caplog.at_level(logging.WARNING):
        right = import_openpose(folder, skeleton="body25b")
    assert "do not look like" not in caplog.text
    with caplog.at_level(logging.WARNING):
        wrong = import_openpose(folder)  # default body25: same count, other order
    assert "do not look like the body25 skeleton" in caplog.text
    assert "body25b" in caplog.text
    assert wrong.metadata["skeleton_suspect"] is True
    mismatch = skeleton_mismatch(wrong)
    assert mismatch is not None and mismatch > 0.5
    assert skeleton_mismatch(right) is None  # body25b has no neck / mid_hip
    good = tmp_path / "b25"
    for i in range(12):
        write_frame(good, openpose_name(i), [person(BODY_25, (200 + i, 300))])
    assert skeleton_mismatch(import_openpose(good)) == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('{"version": 1.3}', "no 'people' list; not an OpenPose keypoints file"),
        ('{"people": [{"face_keypoints_2d": []}]}', "people[0] has no pose_keypoints_2d"),
        ('{"people": [{"pose_keypoints_2d": [1, 2, 0.5, 3]}]}',
         "not a flat list of x, y, confidence triplets (4 values)"),
        ('{"people": [{"pose_keypoints_2d": ["a", "b", "c"]}]}', "not numbers"),
        (json.dumps({"people": [{"pose_keypoints_2d": [1.0, 2.0, 0.5] * 17}]}),
         "people[0] has 17 keypoints but the body25 skeleton has 25; choose the skeleton of "
         "the model that made these files; skeletons with 17 keypoints: coco17"),
    ],
)
def test_openpose_errors_name_the_frame_file(tmp_path: Path, content: str,
                                             expected: str) -> None:
    folder = tmp_path / "json"
    write_frame(folder, openpose_name(0), [person(BODY_25, (0, 300))])
    bad = folder / openpose_name(1)
    bad.write_text(content)
    with pytest.raises(PosekitError) as info:
        import_openpose(folder)
    assert str(info.value).startswith(f"{bad}: ")
    assert expected in str(info.value)


def test_openpose_folder_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PosekitError, match="empty: no OpenPose JSON files"):
        import_openpose(empty)
    with pytest.raises(PosekitError, match="not a folder"):
        import_openpose(tmp_path / "missing")
    dup = tmp_path / "dup"
    write_frame(dup, "a_0001.json", [])
    write_frame(dup, "b_1.json", [])
    with pytest.raises(PosekitError, match=r"a_0001\.json and b_1\.json are both frame 1"):
        import_openpose(dup)
    nonum = tmp_path / "nonum"
    write_frame(nonum, "frame.json", [])
    with pytest.raises(PosekitError, match=r"frame\.json: no frame number in the file name"):
        import_openpose(nonum)
    with pytest.raises(ConfigError, match="unknown skeleton 'body99'"):
        import_openpose(nonum, skeleton="body99")


# --------------------------------------------------------------------------------------------
# SLEAP


def write_sleap(path: Path, tracks: np.ndarray, nodes: list[str], **extra: np.ndarray) -> Path:
    """A SLEAP analysis file as SLEAP exports it: tracks (n_tracks, 2, n_nodes, n_frames)."""
    with h5py.File(path, "w") as h5:
        h5["tracks"] = tracks
        h5["node_names"] = np.array([n.encode() for n in nodes], dtype="S")
        h5["track_names"] = np.array([f"track_{i}".encode() for i in range(tracks.shape[0])],
                                     dtype="S")
        h5["video_path"] = b"/videos/mouse-camA.mp4"
        for key, value in extra.items():
            h5[key] = value
    return path


@pytest.fixture
def sleap_data() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """xy (n_tracks, n_frames, n_nodes, 2) and point scores (n_tracks, n_frames, n_nodes)."""
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 640, (2, 7, 3, 2))
    scores = rng.uniform(0.2, 1.0, (2, 7, 3))
    xy[1, 2, 1] = np.nan  # track 1, frame 2, node 1 missing
    xy[1, 4] = np.nan  # track 1 absent from frame 4
    scores[1, 2, 1] = np.nan
    scores[1, 4] = np.nan
    scores[1, 5, 2] = np.nan  # a user-labelled point: found, no score
    return xy, scores, ["snout", "left_ear", "right_ear"]


def test_sleap_analysis_file(tmp_path: Path, sleap_data: tuple[np.ndarray, np.ndarray,
                                                             list[str]]) -> None:
    xy, scores, nodes = sleap_data
    path = write_sleap(tmp_path / "mouse.analysis.h5", xy.transpose(0, 3, 2, 1), nodes,
                       point_scores=scores.transpose(0, 2, 1),
                       instance_scores=scores[..., 0],
                       tracking_scores=np.zeros((2, 7)))
    for track in (1, "track_1"):
        pose = import_sleap(path, track=track)
        assert pose.keypoints == tuple(nodes)
        assert pose.scorer == "sleap"
        np.testing.assert_array_equal(pose.xy, xy[1])
        expected = np.where(np.isfinite(scores[1]), scores[1], 1.0)
        expected[2, 1] = expected[4] = 0.0
        np.testing.assert_array_equal(pose.likelihood, expected)
        assert pose.metadata["track"] == "track_1"
        assert pose.metadata["video"] == "/videos/mouse-camA.mp4"
        assert pose.metadata["likelihood"] == "point_scores"
    assert pose.detected().sum() == 6
    np.testing.assert_array_equal(import_sleap(path).xy, xy[0])  # default: track 0
    auto = import_2d(path)
    assert auto.scorer == "sleap"
    assert detect_format(path) == "sleap"


def test_sleap_other_layouts_and_scores(tmp_path: Path, sleap_data: tuple[np.ndarray,
                                                                        np.ndarray,
                                                                        list[str]]) -> None:
    xy, scores, nodes = sleap_data
    # SLEAP's untransposed order (n_frames, n_nodes, 2, n_tracks), instance scores only
    inst = scores[..., 0]
    path = write_sleap(tmp_path / "asis.h5", xy.transpose(1, 2, 3, 0), nodes,
                       instance_scores=inst.T)
    pose = import_sleap(path, track=0)
    np.testing.assert_array_equal(pose.xy, xy[0])
    np.testing.assert_array_equal(pose.likelihood, np.repeat(inst[0][:, None], 3, axis=1))
    assert pose.metadata["likelihood"] == "instance_scores"
    # sleap-io's "standard" preset, described by the dims attributes; no scores at all
    path = write_sleap(tmp_path / "standard.h5", xy.transpose(1, 0, 2, 3), nodes)
    with h5py.File(path, "a") as h5:
        h5["tracks"].attrs["dims"] = json.dumps(["frame", "track", "node", "xy"])
    pose = import_sleap(path, track=1)
    np.testing.assert_array_equal(pose.xy, xy[1])
    np.testing.assert_array_equal(pose.likelihood, np.isfinite(xy[1]).all(-1).astype(float))


def test_sleap_errors(tmp_path: Path, sleap_data: tuple[np.ndarray, np.ndarray,
                                                      list[str]]) -> None:
    xy, _, nodes = sleap_data
    path = write_sleap(tmp_path / "m.h5", xy.transpose(0, 3, 2, 1), nodes)
    with pytest.raises(PosekitError, match=r"m.h5: track 2 does not exist; this file has 2 "
                                           r"track\(s\), numbered from 0 \(track_0, track_1\)"):
        import_sleap(path, track=2)
    with pytest.raises(PosekitError, match="no track 'mouse'"):
        import_sleap(path, track="mouse")
    bad = write_sleap(tmp_path / "bad.h5", xy.transpose(0, 3, 2, 1), ["a", "b"])
    with pytest.raises(PosekitError, match=r"bad\.h5: 'tracks' has shape .* but "
                                           r"node_names lists 2 nodes"):
        import_sleap(bad)
    with h5py.File(tmp_path / "nonodes.h5", "w") as h5:
        h5["tracks"] = np.zeros((1, 2, 3, 4))
    with pytest.raises(PosekitError, match=r"nonodes\.h5: no 'node_names' dataset"):
        import_sleap(tmp_path / "nonodes.h5")
    with h5py.File(tmp_path / "other.h5", "w") as h5:
        h5["x"] = np.zeros(3)
    with pytest.raises(PosekitError, match=r"other\.h5: no 'tracks' dataset"):
        import_sleap(tmp_path / "other.h5")
    with pytest.raises(PosekitError, match="SLEAP analysis file not found"):
        import_sleap(tmp_path / "none.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(PosekitError, match=r"junk\.h5: cannot read this HDF5 file"):
        import_2d(tmp_path / "junk.h5")


# --------------------------------------------------------------------------------------------
# DeepLabCut and dispatch


def test_dlc_files_and_skeleton_selection(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    names = ("tail", "nose", "left_eye", "right_eye")
    pose = Pose2D(names, rng.uniform(0, 100, (4, 4, 2)), rng.uniform(0.1, 1, (4, 4)),
                  scorer="DLC_resnet50_mouseJan1shuffle1_1000")
    for suffix in (".h5", ".csv"):
        path = write_pose2d(pose, tmp_path / f"m{suffix}")
        assert detect_format(path) == "dlc"
        got = import_2d(path)
        assert got.scorer == pose.scorer and got.keypoints == names
        np.testing.assert_allclose(import_dlc(path).xy, pose.xy, rtol=1e-15, atol=0)
        face = Skeleton("face", ("nose", "left_eye", "right_eye"), (("nose", "left_eye"),))
        sub = import_2d(path, skeleton=face)
        assert sub.keypoints == face.keypoints
        np.testing.assert_allclose(sub.xy, pose.xy[:, 1:], rtol=1e-15, atol=0)
        with pytest.raises(PosekitError, match=r"keypoint\(s\) neck, right_shoulder, .*\(22 in "
                                               r"all\) of the body25 skeleton are not in "
                                               r"this file \(it has: tail, nose, left_eye, "):
            import_2d(path, skeleton=BODY_25)


def test_import_2d_dispatch_and_errors(openpose_folder: tuple[Path, np.ndarray, np.ndarray],
                                       tmp_path: Path) -> None:
    folder, xy, _ = openpose_folder
    assert detect_format(folder) == "openpose"
    np.testing.assert_array_equal(import_2d(folder).xy, xy)
    np.testing.assert_array_equal(import_2d(folder, format="openpose", skeleton="body25").xy,
                                  xy)
    with pytest.raises(PosekitError, match="OpenPose JSON is read per folder; give the folder"):
        import_2d(folder / openpose_name(0))
    with pytest.raises(PosekitError, match="unknown 2D format 'alphapose'"):
        import_2d(folder, format="alphapose")
    with pytest.raises(PosekitError, match=r"nothing\.h5: not found"):
        import_2d(tmp_path / "nothing.h5")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(PosekitError, match=r"x\.txt: cannot tell the format"):
        import_2d(tmp_path / "x.txt")
    with pytest.raises(PosekitError, match="is a folder; a sleap file is a single file"):
        import_2d(folder, format="sleap")


# --------------------------------------------------------------------------------------------
# CLI


def test_cli_converts_and_reports(openpose_folder: tuple[Path, np.ndarray, np.ndarray],
                                  tmp_path: Path) -> None:
    folder, xy, _ = openpose_folder
    out = tmp_path / "pose-2d" / "walk-camA.h5"
    result = CliRunner().invoke(import_2d_command, [str(folder), str(out)])
    assert result.exit_code == 0, result.output
    assert "6 frames, 25 keypoints" in result.output
    assert "Detected in 5/6 frames (83.3 %)" in result.output
    np.testing.assert_array_equal(read_pose2d(out).xy, xy)


def test_cli_user_skeleton_and_errors(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.toml").write_text(
        '[skeletons.stick]\nkeypoints = ["top", "bottom"]\nbones = [["top", "bottom"]]\n')
    folder = tmp_path / "json"
    for i in range(3):
        write_frame(folder, f"{i}.json", [np.array([[10.0, 5, 0.9], [10, 50 + i, 0.8]])])
    out = tmp_path / "stick.csv"
    runner = CliRunner()
    result = runner.invoke(import_2d_command, [str(folder), str(out), "--skeleton", "stick",
                                               "-p", str(project)])
    assert result.exit_code == 0, result.output
    assert read_pose2d(out).keypoints == ("top", "bottom")
    result = runner.invoke(import_2d_command, [str(folder), str(out)])
    assert result.exit_code == 1
    assert "has 2 keypoints but the body25 skeleton has 25" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(import_2d_command, [str(folder), str(out), "--skeleton", "nope"])
    assert result.exit_code == 1 and "unknown skeleton 'nope'" in result.output
    result = runner.invoke(import_2d_command, [str(folder), str(tmp_path / "out.txt")])
    assert result.exit_code == 2 and "must end in .h5 or .csv" in result.output
