"""diagnose(): which [calibration] settings find a board the configured ones miss."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from posekit.calibration.board import Board
from posekit.calibration.diagnose import Diagnosis, diagnose
from posekit.camera.model import Camera
from posekit.synthetic.charuco import BoardSpec, render_frame
from posekit.synthetic.rig import make_rig

log = logging.getLogger(__name__)

SIZE = (800, 600)  # frame width, height


def frames(printed: Board, n: int = 6, size: tuple[int, int] = SIZE, seed: int = 0
           ) -> list[np.ndarray]:
    """BGR frames of the printed board seen from varied viewpoints on a grey background."""
    rng = np.random.default_rng(seed)
    face = printed.draw(64, margin_px=32)
    h, w = face.shape
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    width, height = size
    out = []
    for _ in range(n):
        scale = rng.uniform(0.6, 0.8) * min(width, height) / max(w, h)
        angle = rng.uniform(-0.6, 0.6)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        centre = np.array([width, height]) * rng.uniform(0.45, 0.55, 2)
        dst = (src - [w / 2, h / 2]) * scale @ rot.T + centre
        dst += rng.normal(0, 0.04 * scale * max(w, h), dst.shape)  # perspective
        hom = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
        img = cv2.warpPerspective(face, hom, size, flags=cv2.INTER_AREA, borderValue=110)
        img = cv2.GaussianBlur(img, (3, 3), 0.7).astype(np.float64) * 0.8 + 20
        img = np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)
        out.append(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
    return out


def frontal_pose(camera: Camera, board: BoardSpec, distance: float,
                 tilt: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Board pose (rvec, tvec) facing ``camera`` ``distance`` m ahead, turned by ``tilt``."""
    rot = camera.rotation.T @ cv2.Rodrigues(np.array(tilt, float))[0]
    centre = camera.center + distance * camera.rotation.T[:, 2]
    tvec = centre - rot @ np.array([board.size[0] / 2, board.size[1] / 2, 0.0])
    return cv2.Rodrigues(rot)[0].ravel(), tvec


def check(diagnosis: Diagnosis, settings: dict[str, object], printed: Board) -> None:
    """The suggestion is ``settings``, it finds the printed board's corners, and the message
    names each key in TOML syntax."""
    log.info("%s", diagnosis.message)
    assert diagnosis.settings == settings
    assert diagnosis.suggested is not None and diagnosis.suggested_corners_per_image is not None
    assert min(diagnosis.suggested_corners_per_image) >= 0.9 * printed.n_corners
    assert sum(diagnosis.corners_per_image) < sum(diagnosis.suggested_corners_per_image)
    assert diagnosis.message.startswith(f"{diagnosis.camera}: ")
    for key, value in settings.items():
        toml = str(value).lower() if isinstance(value, bool) else repr(value).replace("'", '"')
        assert f"{key} = {toml}" in diagnosis.message


CONFIG = Board(size=(5, 7))


def test_correct_config_suggests_nothing() -> None:
    diagnosis = diagnose(CONFIG, frames(CONFIG), camera="cam1")
    assert diagnosis.suggested is None and diagnosis.suggested_corners_per_image is None
    assert diagnosis.settings == {}
    assert diagnosis.corners_per_image == (CONFIG.n_corners,) * 6
    assert diagnosis.markers == {"DICT_4X4": 6 * 17}
    assert diagnosis.message.startswith("cam1: the configured board (ChArUco 5 x 7")
    assert "its settings match the board" in diagnosis.message
    assert "missed" not in diagnosis.message


@pytest.mark.parametrize(("printed", "config", "settings"), [
    (Board(size=(5, 7), marker_bits=5), CONFIG, {"board_marker_bits": 5}),
    (Board(size=(11, 10), dict_size=100), Board(size=(10, 7)),
     {"board_size": [11, 10], "board_marker_dict_number": 100}),
    (Board(size=(12, 10), marker_bits=6, dict_size=250), Board(size=(10, 7)),
     {"board_size": [12, 10], "board_marker_bits": 6, "board_marker_dict_number": 100}),
], ids=["bits", "dict-size", "bits-and-dict-size"])
def test_wrong_dictionary(printed: Board, config: Board, settings: dict[str, object]) -> None:
    diagnosis = diagnose(config, frames(printed), camera="cam2")
    check(diagnosis, settings, printed)
    found = f"DICT_{printed.marker_bits}X{printed.marker_bits}"
    assert f"markers of {found}_" in diagnosis.message
    assert f"not {config.dictionary_name}" in diagnosis.message
    assert diagnosis.corners_per_image == (0,) * 6
    assert max(diagnosis.markers, key=diagnosis.markers.__getitem__) == found


@pytest.mark.parametrize(("printed", "config"), [
    (Board(size=(5, 8), legacy=True), Board(size=(5, 8))),
    (Board(size=(6, 8)), Board(size=(6, 8), legacy=True)),
], ids=["legacy-printed", "new-printed"])
def test_legacy_layout(printed: Board, config: Board) -> None:
    diagnosis = diagnose(config, frames(printed), camera="cam1")
    check(diagnosis, {"legacy": printed.legacy}, printed)
    assert ("legacy (pre-OpenCV-4.6) layout" if printed.legacy else "new (OpenCV >= 4.6)") \
        in diagnosis.message


def test_swapped_board_size() -> None:
    diagnosis = diagnose(Board(size=(7, 5)), frames(CONFIG), camera="cam3")
    check(diagnosis, {"board_size": [5, 7]}, CONFIG)
    assert diagnosis.message == ("cam3: board_size = [7, 5] finds no corners; [5, 7] finds 24 "
                                 "corners per frame in 6 of 6 frames: set board_size = [5, 7]")


def test_board_size_from_highest_marker_id() -> None:
    printed = Board(size=(7, 9))
    diagnosis = diagnose(CONFIG, frames(printed), camera="cam1")
    check(diagnosis, {"board_size": [7, 9]}, printed)
    assert "has 17 markers, fewer than the 31 seen" in diagnosis.message


def test_a_stray_marker_in_the_background_does_not_set_the_board_size() -> None:
    """A pattern behind the board read as marker 612 of DICT_4X4_1000 in every frame (the
    real sleap-anipose 'side' camera shows one) is not taken for a board of 613 markers."""
    printed = Board(size=(7, 9))
    stray = cv2.aruco.generateImageMarker(
        cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_1000), 612, 48)
    images = frames(printed)
    for image in images:
        image[4:68, 4:68] = 235
        image[12:60, 12:60] = stray[..., None]
    diagnosis = diagnose(CONFIG, images, camera="cam1")
    check(diagnosis, {"board_size": [7, 9]}, printed)
    assert "has 17 markers, fewer than the 31 seen" in diagnosis.message


@pytest.mark.parametrize("inverted", [True, False])
def test_inverted_print(inverted: bool) -> None:
    printed = CONFIG.replace(inverted=inverted)
    diagnosis = diagnose(CONFIG.replace(inverted=not inverted), frames(printed), camera="cam1")
    check(diagnosis, {"inverted": inverted}, printed)
    assert ("printed inverted" if inverted else "not inverted") in diagnosis.message


def test_nothing_in_view() -> None:
    rng = np.random.default_rng(0)
    blank = [cv2.GaussianBlur(rng.integers(60, 200, (600, 800, 3), dtype=np.uint8), (9, 9), 3)
             for _ in range(5)]
    diagnosis = diagnose(CONFIG, blank, camera="cam4")
    assert diagnosis.suggested is None and diagnosis.settings == {} and not diagnosis.markers
    assert diagnosis.corners_per_image == (0,) * 5
    assert diagnosis.message.startswith("cam4: no ArUco markers of any dictionary")
    assert "no checkerboard found in 5 sampled frames" in diagnosis.message
    assert "check that the board is in view, in focus and well lit" in diagnosis.message


def test_checkerboard_printed_charuco_configured() -> None:
    printed = Board(kind="checkerboard", size=(6, 4))
    diagnosis = diagnose(Board(size=(7, 5)), frames(printed), camera="cam1")
    check(diagnosis, {"board_type": "checkerboard", "board_size": [6, 4]}, printed)
    assert "no ChArUco board is found, but a checkerboard of 6 x 4" in diagnosis.message


def test_checkerboard_of_another_size() -> None:
    printed = Board(kind="checkerboard", size=(6, 4))
    diagnosis = diagnose(printed.replace(size=(7, 5)), frames(printed), camera="cam1")
    check(diagnosis, {"board_size": [6, 4]}, printed)
    right = diagnose(printed.replace(size=(4, 6)), frames(printed))  # either orientation
    assert right.suggested is None and right.corners_per_image == (24,) * 6
    assert right.message.startswith("the configured board (checkerboard 4 x 6")


def test_charuco_printed_checkerboard_configured() -> None:
    diagnosis = diagnose(Board(kind="checkerboard", size=(9, 6)), frames(CONFIG), camera="cam1")
    check(diagnosis, {"board_type": "charuco", "board_size": [5, 7], "board_marker_bits": 4,
                      "board_marker_dict_number": 50, "board_marker_length": 18.75}, CONFIG)
    assert "it is a ChArUco board" in diagnosis.message
    assert "check board_square_side_length and board_marker_length" in diagnosis.message


def test_rendered_legacy_board_through_a_distorting_lens() -> None:
    """The synthetic renderer's frames: a real lens model, lighting, noise."""
    camera = make_rig(2, seed=0).cameras[0]
    spec = BoardSpec(squares_x=6, squares_y=8, square_length=0.12, marker_length=0.09,
                     legacy=True)
    images = [render_frame(camera, spec, frontal_pose(camera, spec, distance, tilt),
                           supersample=2, noise_sigma=2.0, seed=k)
              for k, (distance, tilt) in enumerate([(2.6, (0.3, 0.0, 0.2)),
                                                    (3.0, (0.0, -0.4, -0.3))])]
    config = Board(size=(6, 8), square_length=120, marker_length=90)
    diagnosis = diagnose(config, images, camera="cam1")
    check(diagnosis, {"legacy": True}, config.replace(legacy=True))
