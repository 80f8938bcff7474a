"""A calibration board that the ``[calibration]`` settings do not describe, through
``posekit calibrate``: the error names every camera and its video, says the board was
found in 0 frames, and says which settings to change (or what to check when there is no
board in view); no calibration, report or temporary file is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from videos_util import (
    EXAMPLE,
    EXAMPLE_BOARD,
    board_frames,
    config_text,
    empty_scene_frames,
    invoke,
    partial_files,
    write_frames,
    write_placeholders,
)

from posekit.calibration.board import Board
from posekit.io.video import iter_frames

N_FRAMES = 8
LEGACY = Board(size=(5, 8), square_length=0.12, marker_length=0.08, legacy=True, units="m")
NEW = Board(size=(6, 8), square_length=0.12, marker_length=0.08, units="m")

#: case: (printed board or None for an empty room, [calibration] lines, what the message
#: says for each camera after "board found in 0 of 8 frames (need 10). ")
CASES: dict[str, tuple[Board | None, str, str]] = {
    "wrong-dictionary": (
        EXAMPLE_BOARD, "board_marker_bits = 5",
        "markers of DICT_4X4_50 (ids up to 16) are seen, not DICT_5X5_50: set "
        "board_marker_bits = 4"),
    "wrong-squares": (
        EXAMPLE_BOARD, "board_size = [6, 8]",
        "board_size = [6, 8] finds no corners; [5, 7] finds"),
    "too-few-squares": (
        EXAMPLE_BOARD, "board_size = [4, 4]",
        "board_size = [4, 4] has 8 markers, fewer than the 17 seen: set board_size = [5, 7]"),
    "old-layout-printed": (
        LEGACY, "board_size = [5, 8]",
        "the board is found with the legacy (pre-OpenCV-4.6) layout: set legacy = true"),
    "new-layout-printed": (
        NEW, "board_size = [6, 8]\nlegacy = true",
        "the board is found with the new (OpenCV >= 4.6) layout: set legacy = false"),
    "checkerboard-configured": (
        EXAMPLE_BOARD, 'board_type = "checkerboard"\nboard_size = [9, 6]',
        'markers of DICT_4X4_50 (ids up to 16) are seen: it is a ChArUco board: set '
        'board_type = "charuco"'),
    "no-board-in-view": (
        None, "",
        "no ArUco markers of any dictionary (4x4 to 7x7, normal or inverted) and no "
        f"checkerboard found in {N_FRAMES} sampled frames: check that the board is in view, "
        "in focus and well lit"),
}


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One ``posekit calibrate`` over a project with one calibration folder per case
    (nesting = 2: ``<case>/calibration``, ``<case>/s1``), the board settings overridden in
    ``<case>/config.toml``; the committed example's real calibration videos (cut short)
    with a wrong dictionary in ``real-videos``; a board too large for its dictionary in
    ``impossible``."""
    root = tmp_path_factory.mktemp("bad-board") / "study"
    root.mkdir()
    (root / "config.toml").write_text(config_text(nesting=2), encoding="utf-8")
    for case, (printed, settings, _) in CASES.items():
        for i, cam in enumerate(("cam1", "cam2")):
            frames = (empty_scene_frames(N_FRAMES, seed=i) if printed is None
                      else board_frames(printed, N_FRAMES, seed=i))
            write_frames(root / case / "calibration" / f"calib-{cam}.mp4", frames)
        (root / case / "config.toml").write_text(f"[calibration]\n{settings}\n",
                                                 encoding="utf-8")
        write_placeholders(root / case / "s1" / "videos-raw", "t")
    for cam in ("cam1", "cam2"):
        frames = [frame for i, frame in enumerate(iter_frames(EXAMPLE / "calibration" /
                                                              f"calib-{cam}.mp4")) if i < 24]
        write_frames(root / "real-videos" / "calibration" / f"calib-{cam}.mp4", frames)
    (root / "real-videos" / "config.toml").write_text("[calibration]\nboard_marker_bits = 6\n",
                                                      encoding="utf-8")
    write_placeholders(root / "real-videos" / "s1" / "videos-raw", "t")
    (root / "impossible" / "calibration").mkdir(parents=True)
    for cam in ("cam1", "cam2"):
        write_frames(root / "impossible" / "calibration" / f"calib-{cam}.mp4",
                     board_frames(EXAMPLE_BOARD, 2))
    (root / "impossible" / "config.toml").write_text("[calibration]\nboard_size = [11, 10]\n",
                                                     encoding="utf-8")
    write_placeholders(root / "impossible" / "s1" / "videos-raw", "t")
    result = invoke("calibrate", "-p", root)
    assert result.exit_code == 1, result.output
    assert f"0 done, 0 skipped, {len(CASES) + 2} failed" in result.output, result.output
    return root, result.output


def _failure(output: str, case: str) -> str:
    at = output.index(f"FAILED {case}/calibration: ")
    return output[at:].split("\n  FAILED", 1)[0]


def _no_outputs(folder: Path) -> None:
    visible = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert all(name.startswith("calib-") for name in visible), visible
    assert partial_files(folder) == []


@pytest.mark.parametrize("case", list(CASES))
def test_board_not_found_names_each_video_and_the_fix(calibrated: tuple[Path, str],
                                                       case: str) -> None:
    root, output = calibrated
    text = _failure(output, case)
    assert text.startswith(f"FAILED {case}/calibration: board not found often enough with "), \
        text
    lines = text.splitlines()
    for cam in ("cam1", "cam2"):
        (line,) = [line for line in lines if line.startswith(f"  {cam} (calib-{cam}.mp4): ")]
        assert f"board found in 0 of {N_FRAMES} frames (need 10). " in line, line
        assert CASES[case][2] in line, line
    _no_outputs(root / case / "calibration")


def test_real_calibration_videos_with_a_wrong_dictionary(calibrated: tuple[Path, str]
                                                         ) -> None:
    root, output = calibrated
    text = _failure(output, "real-videos")
    for cam in ("cam1", "cam2"):
        assert (f"{cam} (calib-{cam}.mp4): board found in 0 of 24 frames (need 10). markers "
                "of DICT_4X4_50 (ids up to 16) are seen, not DICT_6X6_50: set "
                "board_marker_bits = 4") in text, text
    _no_outputs(root / "real-videos" / "calibration")


def test_a_board_its_dictionary_cannot_hold_names_the_config_file(
        calibrated: tuple[Path, str]) -> None:
    root, output = calibrated
    files = f"{root / 'config.toml'}, {root / 'impossible' / 'config.toml'}"  # both set it
    assert _failure(output, "impossible") == (
        f"FAILED impossible/calibration: {files}: [calibration] a 11 x 10 ChArUco board has "
        "55 markers, more than the 50 of DICT_4X4_50: check board_size and "
        "board_marker_dict_number")
    _no_outputs(root / "impossible" / "calibration")
