"""Printable calibration boards: true physical size, detectable, written as PNG and PDF."""

from __future__ import annotations

import logging
import re
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, PdfParser

from posekit.calibration.board import Board
from posekit.calibration.draw import board_page, paper_size_mm, write_board
from posekit.errors import ConfigError

A4_PT = (595.276, 841.890)  # 210 x 297 mm in points


def expected_corners(board: Board, origin: tuple[int, int], square_px: int) -> np.ndarray:
    """Pixel positions (pixel-centre convention) of every corner of a drawn board."""
    grid = board.object_points()[:, :2] / board.square_length
    if board.kind == "checkerboard":  # object points start at the first inner corner
        grid = grid + 1
    return np.asarray(origin) + grid * square_px - 0.5


@pytest.mark.parametrize("board", [Board(), Board(size=(8, 6)), Board(size=(8, 6), legacy=True),
                                   Board(inverted=True),
                                   Board(size=(7, 6), legacy=True, inverted=True,
                                         marker_bits=5, dict_size=100)],
                         ids=["default", "new", "legacy", "inverted", "legacy-inverted-5x5"])
def test_charuco_page_is_detected_at_the_right_place(board: Board) -> None:
    page, info = board_page(board, dpi=150)
    det = board.detector().detect(page)
    assert len(det) == board.n_corners
    want = expected_corners(board, info.board_origin_px, info.square_px)[det.ids]
    assert np.abs(det.corners - want).max() < 0.2
    assert len(info.caption) == 2 and board.describe() in info.caption[0]
    # the other layout is not found: the page really is the configured one (the layouts
    # differ only when the number of rows is even)
    if board.size[1] % 2 == 0:
        other = board.replace(legacy=not board.legacy)
        assert len(other.detector().detect(page)) < board.n_corners


@pytest.mark.parametrize("dpi", [100, 150, 300])
def test_square_size_matches_dpi(dpi: int) -> None:
    board = Board()
    page, info = board_page(board, dpi=dpi)
    assert info.square_px == round(25 / 25.4 * dpi)
    assert info.square_mm == pytest.approx(info.square_px * 25.4 / dpi)
    assert info.square_mm == pytest.approx(25, rel=0.005)
    det = board.detector().detect(page)
    pos = dict(zip(det.ids.tolist(), det.corners, strict=True))
    steps = [np.hypot(*(pos[i + 1] - pos[i])) for i in pos if i + 1 in pos and (i + 1) % 9]
    assert np.median(steps) == pytest.approx(info.square_px, abs=0.05)
    assert info.page_px == (round(297 / 25.4 * dpi), round(210 / 25.4 * dpi))  # landscape A4
    assert info.landscape and page.shape == info.page_px[::-1] and page.dtype == np.uint8


def test_units_are_converted_and_unknown_units_refused() -> None:
    mm = board_page(Board(), dpi=100)[1]
    cm = board_page(Board(square_length=2.5, marker_length=1.875, units="cm"), dpi=100)[1]
    inch = board_page(Board(size=(6, 4), square_length=1, marker_length=0.75, units="in"),
                      dpi=100)[1]
    assert cm.square_px == mm.square_px == 98 and inch.square_px == 100
    assert "25.4 mm (1 in)" in inch.caption[1]
    with pytest.raises(ConfigError, match="units"):
        board_page(Board(units="ft"))


def test_caption_is_under_the_board_and_does_not_touch_it() -> None:
    board = Board()
    page, info = board_page(board, dpi=150)
    x0, y0 = info.board_origin_px
    face = board.draw(info.square_px)
    h, w = face.shape
    assert np.array_equal(page[y0:y0 + h, x0:x0 + w], face)  # the board is intact
    below = page[y0 + h:]
    ink = np.nonzero((below < 128).any(axis=1))[0]
    assert len(ink) and ink[0] > 2 / 25.4 * 150  # text, starting >= 2 mm under the board
    assert (page[:y0] == 255).all()  # nothing above the board
    assert set(np.unique(page)) <= {0, 255}  # pure black and white prints sharply
    margin = round(10 / 25.4 * 150)
    ys, xs = np.nonzero(page < 128)
    assert ys.min() >= margin and xs.min() >= margin
    assert ys.max() < page.shape[0] - margin and xs.max() < page.shape[1] - margin
    assert abs((x0 + w / 2) - page.shape[1] / 2) <= 1  # centred


def test_checkerboard_found_by_opencv() -> None:
    board = Board(kind="checkerboard", size=(9, 6))
    page, info = board_page(board, dpi=100)
    found, corners = cv2.findChessboardCorners(page, (9, 6))
    assert found and len(corners) == 54
    assert not cv2.findChessboardCorners(page, (8, 6))[0]
    det = board.detector().detect(page)
    want = expected_corners(board, info.board_origin_px, info.square_px)
    assert len(det) == 54 and np.abs(det.corners - want).max() < 0.2
    inverted = board.replace(inverted=True)  # a black frame gives OpenCV its quiet zone
    assert len(inverted.detector().detect(board_page(inverted, dpi=100)[0])) == 54


def test_board_too_big_says_sizes_and_what_to_do() -> None:
    board = Board(square_length=40, marker_length=30)  # 400 x 280 mm
    with pytest.raises(ConfigError) as err:
        board_page(board, paper="A4")
    msg = str(err.value)
    assert "400 x 280 mm" in msg and "A4 paper (297 x 210 mm, either way round)" in msg
    assert "bigger paper" in msg and '"A2"' in msg and "smaller squares" in msg
    with pytest.raises(ConfigError, match=r"250 x 175 mm.*A4 paper \(210 x 297 mm\).*turn it"):
        board_page(Board(), dpi=100, landscape=False)  # forced portrait is honoured
    page = board_page(board, dpi=50, paper="A2")[0]
    assert len(board.detector().detect(page)) == board.n_corners


def test_paper_sizes_fit_and_orientation() -> None:
    assert paper_size_mm("a3") == (297, 420) and paper_size_mm("Letter") == (215.9, 279.4)
    assert paper_size_mm("300x200") == (300, 200) and paper_size_mm("fit") is None
    with pytest.raises(ConfigError, match="letter"):
        paper_size_mm("B4")
    board = Board(size=(4, 6), square_length=30, marker_length=22)  # taller than wide
    assert not board_page(board, dpi=50)[1].landscape
    assert board_page(board, dpi=50, paper="400x300")[1].page_px == (787, 591)  # as given
    page, info = board_page(board, dpi=100, paper="fit", margin_mm=5)
    assert info.board_mm == pytest.approx((120, 180), rel=0.005)
    assert info.page_mm[1] < 180 + 10 + 15 and info.page_mm[0] >= 120 + 10
    assert len(board.detector().detect(page)) == board.n_corners


def test_rounding_error_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    board = Board(square_length=10, marker_length=7.5)
    with caplog.at_level(logging.WARNING):
        _, info = board_page(board, dpi=100)  # 39.37 px -> 39 px = 9.906 mm
    assert info.square_px == 39 and info.square_mm == pytest.approx(9.906)
    assert "9.906 mm instead of 10 mm" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        board_page(Board(), dpi=300)
    assert "instead of" not in caplog.text
    with pytest.raises(ConfigError, match="raise the dpi"):
        board_page(Board(), dpi=10)


def test_png_stores_dpi(tmp_path: Path) -> None:
    path = write_board(Board(), tmp_path / "board.png", dpi=200)
    page = board_page(Board(), dpi=200)[0]
    with Image.open(path) as im:
        assert im.info["dpi"] == pytest.approx((200, 200), abs=0.01)
        assert np.array_equal(np.asarray(im.convert("L")), page)
        assert "ChArUco 10 x 7" in im.info["Description"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board.png"]  # no temporary left


def _pdf_image(raw: bytes) -> np.ndarray:
    """The page image of a PDF written by write_board (1-bit DeviceGray, Flate)."""
    head = re.search(rb"/Width (\d+) /Height (\d+) .*?/Length (\d+) >>\nstream\n", raw)
    assert head is not None
    w, h, n = map(int, head.groups())
    bits = np.frombuffer(zlib.decompress(raw[head.end():head.end() + n]), np.uint8)
    return np.unpackbits(bits.reshape(h, -1), axis=1)[:, :w] * np.uint8(255)


@pytest.mark.parametrize("landscape", [True, False])
def test_pdf_page_is_a4(tmp_path: Path, landscape: bool) -> None:
    board = Board(size=(7, 5))
    path = write_board(board, tmp_path / "board.PDF", dpi=150, landscape=landscape)
    raw = path.read_bytes()
    assert raw.startswith(b"%PDF-") and raw.rstrip().endswith(b"%%EOF")
    pdf = PdfParser.PdfParser(str(path))  # checks the xref table and trailer
    assert len(pdf.pages) == 1
    box = pdf.read_indirect(pdf.pages[0])[b"MediaBox"]
    size = (box[2] - box[0], box[3] - box[1])
    assert size == pytest.approx(A4_PT[::-1] if landscape else A4_PT, abs=1.0)
    title = re.search(rb"/Title <feff([0-9a-f]*)>", raw)
    assert title and "ChArUco 7 x 5" in bytes.fromhex(title[1].decode()).decode("utf-16-be")
    image = _pdf_image(raw)  # stored losslessly, so the printed board is still detected
    assert np.array_equal(image, board_page(board, dpi=150, landscape=landscape)[0])
    assert len(board.detector().detect(image)) == board.n_corners


def test_other_suffix_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.png or \.pdf"):
        write_board(Board(), tmp_path / "board.jpg")
    assert list(tmp_path.iterdir()) == []
