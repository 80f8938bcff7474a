"""Printable calibration boards: the configured board at its true physical size on a page.

:func:`board_page` renders the page (black and white, a caption under the board saying what
it is and how long a printed square must measure); :func:`write_board` saves it as a PNG
(DPI stored) or a one-page PDF whose page is the paper size. An inverted checkerboard gets a
black frame a quarter square wide, the quiet zone ``cv2.findChessboardCorners`` needs when
detection inverts the image (ChArUco corners are found from markers: they need none).
"""

from __future__ import annotations

import logging
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, PngImagePlugin

from posekit.calibration.board import UNITS_PER_M, Board
from posekit.errors import ConfigError
from posekit.io.atomic import atomic_path

log = logging.getLogger(__name__)

PAPERS_MM: dict[str, tuple[float, float]] = {  # portrait width x height
    "A0": (841, 1189), "A1": (594, 841), "A2": (420, 594), "A3": (297, 420), "A4": (210, 297),
    "A5": (148, 210), "letter": (215.9, 279.4), "legal": (215.9, 355.6), "tabloid": (279.4, 431.8)}
FORMATS = (".png", ".pdf")
_FONT, _TEXT_MM, _MIN_TEXT_MM = cv2.FONT_HERSHEY_SIMPLEX, 2.5, 1.2  # caption height: wanted, least


@dataclass(frozen=True)
class PageInfo:
    """What :func:`board_page` drew. Lengths in mm are the printed (true) ones."""

    paper: str
    landscape: bool
    dpi: int
    page_mm: tuple[float, float]  # width, height
    page_px: tuple[int, int]
    square_px: int
    square_mm: float  # true printed square side, square_px * 25.4 / dpi (config: nominal)
    board_mm: tuple[float, float]  # printed board, with the frame of an inverted board
    board_origin_px: tuple[int, int]  # x, y of the top-left corner of the squares
    caption: tuple[str, ...]  # empty when there was no room for it


def square_mm(board: Board) -> float:
    """The board's square side in mm (``Board`` has checked its units)."""
    return board.square_length * 1000.0 / UNITS_PER_M[board.units]


def paper_size_mm(paper: str) -> tuple[float, float] | None:
    """(width, height) in mm of a paper name (portrait) or of "WxH"; None for "fit"."""
    key = paper.strip().lower()
    sizes: dict[str, tuple[float, float] | None] = {k.lower(): v for k, v in PAPERS_MM.items()}
    if key in (sizes | {"fit": None}):
        return sizes.get(key)
    m = re.fullmatch(r"(\d+(?:\.\d*)?)\s*[x×]\s*(\d+(?:\.\d*)?)\s*(?:mm)?", key)
    if m and float(m[1]) > 0 and float(m[2]) > 0:
        return float(m[1]), float(m[2])
    raise ConfigError(f'paper "{paper}": use one of {", ".join(PAPERS_MM)}, "WxH" in mm '
                      '(e.g. "300x400") or "fit"')


def _caption(lines: list[str], max_w: float, dpi: int) -> NDArray[np.uint8]:
    """White block with the centred lines (a gap above them), at most ``max_w`` px wide;
    empty (0 x 0) when the text would be smaller than ``_MIN_TEXT_MM``."""
    (w1, h1), _ = max(cv2.getTextSize(t, _FONT, 1.0, 1) for t in lines)
    scale = min(_TEXT_MM / 25.4 * dpi / h1, 0.97 * max_w / w1)
    if scale * h1 < _MIN_TEXT_MM / 25.4 * dpi:
        return np.zeros((0, 0), np.uint8)
    thick = max(1, round(scale * h1 / 10))
    sizes = [cv2.getTextSize(t, _FONT, scale, thick)[0] for t in lines]
    text_h = max(h for _, h in sizes)
    pitch, gap = round(1.8 * text_h), round(max(1.5 * text_h, 2 / 25.4 * dpi))
    block = np.full((gap + pitch * len(lines), max(w for w, _ in sizes) + 2 * thick), 255, np.uint8)
    for i, (text, (w, _)) in enumerate(zip(lines, sizes, strict=True)):
        origin = ((block.shape[1] - w) // 2, gap + i * pitch + text_h)
        cv2.putText(block, text, origin, _FONT, scale, 0, thick, cv2.LINE_8)  # no grey
    return block


def board_page(board: Board, dpi: int = 300, paper: str = "A4", landscape: bool | None = None,
               margin_mm: float = 10) -> tuple[NDArray[np.uint8], PageInfo]:
    """The board at its true size centred on a ``paper`` page (:func:`paper_size_mm`; "fit":
    just the board, caption and margins), caption under it; ``landscape=None`` picks the
    orientation ("WxH" stays as given). :class:`ConfigError` if the board does not fit."""
    if dpi <= 0 or margin_mm < 0:
        raise ConfigError(f"dpi = {dpi} and margin = {margin_mm} mm: need dpi > 0, margin >= 0")
    nominal, to_px = square_mm(board), dpi / 25.4  # mm, px per mm
    square_px = round(nominal * to_px)
    marker_px = square_px * board.marker_length / board.square_length
    if square_px < 4 or (board.kind == "charuco" and marker_px < 2 * board.marker_bits + 4):
        raise ConfigError(f"at {dpi} dpi a {nominal:g} mm square is only {square_px} px, too "
                          "few to draw it: raise the dpi")
    true_mm = square_px / to_px
    if abs(true_mm / nominal - 1) > 0.005:
        log.warning("at %d dpi a square prints %.3f mm instead of %g mm (%.2f %% off): use "
                    "a higher dpi", dpi, true_mm, nominal, 100 * (true_mm / nominal - 1))
    frame = square_px // 4 if board.inverted and board.kind == "checkerboard" else 0
    face = board.draw(square_px, frame)
    (fh, fw), margin = face.shape, round(margin_mm * to_px)
    board_mm = (fw / to_px, fh / to_px)
    lines = [board.describe(), f"print at 100 % scale; measure a square: it must be "
             f"{true_mm:.4g} mm" + ("" if board.units == "mm" else
                                     f" ({board.square_length:g} {board.units})")]
    if (size := paper_size_mm(paper)) is None:  # "fit": board, full-size caption, margins
        cap = _caption(lines, np.inf, dpi)
        page_px = (max(fw, cap.shape[1]) + 2 * margin, fh + cap.shape[0] + 2 * margin)
    else:
        a, b = sorted(size)  # candidate (width, height) pages, preferred first:
        if landscape is None and paper.strip().lower() not in map(str.lower, PAPERS_MM):
            pages = [size]  # "WxH" stays as given
        elif landscape is not None:
            pages = [(b, a) if landscape else (a, b)]
        else:
            pages = [(b, a), (a, b)] if fw > fh else [(a, b), (b, a)]
        fits = []  # (room for the caption too?, page size in px, caption) per page that fits
        for px in [(round(pw * to_px), round(ph * to_px)) for pw, ph in pages]:
            if fw + 2 * margin <= px[0] and fh + 2 * margin <= px[1]:
                cap = _caption(lines, px[0] - 2 * margin, dpi)
                room = cap.size > 0 and fh + cap.shape[0] + 2 * margin <= px[1]
                fits.append((room, px, cap if room else cap[:0, :0]))
        if not fits:
            bw, bh = (v * nominal / true_mm for v in board_mm)  # as configured
            ok = [n for n, (a, b) in PAPERS_MM.items() if n[0] == "A" and
                  max(bw, bh) + 2 * margin_mm <= b and min(bw, bh) + 2 * margin_mm <= a]
            hint = "" if not ok else " (or turn it)" if ok[-1] == paper.strip().upper() else \
                f' (e.g. "{ok[-1]}")'
            raise ConfigError(
                f"the board ({board.describe()}) is {bw:.0f} x {bh:.0f} mm; it does not fit on "
                f"{paper} paper ({pages[0][0]:g} x {pages[0][1]:g} mm"
                f"{', either way round' if len(pages) > 1 else ''}) with {margin_mm:g} mm "
                f'margins: use a bigger paper{hint}, paper="fit" or smaller squares')
        _, page_px, cap = max(fits, key=lambda f: f[0])  # the first with room for all
    if cap.size == 0:
        log.warning("no room for the caption: a printed square must be %.4g mm", true_mm)
    (cap_h, cap_w), page = cap.shape, np.full((page_px[1], page_px[0]), 255, np.uint8)
    x0, y0, cx = (page_px[0] - fw) // 2, (page_px[1] - fh - cap_h) // 2, (page_px[0] - cap_w) // 2
    page[y0:y0 + fh, x0:x0 + fw] = face
    page[y0 + fh:y0 + fh + cap_h, cx:cx + cap_w] = cap
    info = PageInfo(paper, page_px[0] > page_px[1], dpi, (page_px[0] / to_px, page_px[1] / to_px),
                    page_px, square_px, true_mm, board_mm, (x0 + frame, y0 + frame),
                    tuple(lines) if cap.size else ())
    return page, info


def pdf_bytes(page: NDArray[np.uint8], dpi: int, title: str = "") -> bytes:
    """A one-page PDF showing a black-and-white image at ``dpi``: the page is the image's
    physical size; the image is stored losslessly (1 bit per pixel, Flate-compressed)."""
    h, w = page.shape
    pw, ph = w * 72 / dpi, h * 72 / dpi  # points
    data = zlib.compress(np.packbits(page >= 128, axis=1).tobytes(), 9)  # 1 = white
    draw = f"q {pw:.4f} 0 0 {ph:.4f} 0 0 cm /Im0 Do Q".encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pw:.4f} {ph:.4f}] /Resources "
            "<< /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>".encode(),
            f"<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray "
            f"/BitsPerComponent 1 /Filter /FlateDecode /Length {len(data)} >>\nstream\n"
            .encode() + data + b"\nendstream",
            f"<< /Length {len(draw)} >>\nstream\n".encode() + draw + b"\nendstream",
            f"<< /Title <feff{title.encode('utf-16-be').hex()}> /Producer (posekit) >>".encode()]
    out, offsets = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = "".join(f"{o:010d} 00000 n \n" for o in offsets)
    return bytes(out) + (f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n{xref}trailer\n<< "
                         f"/Size {len(objs) + 1} /Root 1 0 R /Info {len(objs)} 0 R >>\nstartxref"
                         f"\n{len(out)}\n%%EOF\n").encode()


def _format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(f'cannot write a board to "{path.name}": use a file name ending in '
                          f"{' or '.join(FORMATS)}")
    return suffix


def save_board_page(board: Board, page: NDArray[np.uint8], info: PageInfo,
                    path: str | Path) -> Path:
    """Write a page from :func:`board_page` to ``path`` (.png with its DPI stored, or a
    one-page .pdf whose page is the paper size) atomically; returns the path."""
    path = Path(path)
    suffix = _format(path)
    title = f"posekit calibration board: {board.describe()}; square {info.square_mm:.4g} mm"
    with atomic_path(path) as tmp:
        if suffix == ".pdf":
            tmp.write_bytes(pdf_bytes(page, info.dpi, title))
        else:
            meta = PngImagePlugin.PngInfo()
            meta.add_text("Description", title)
            Image.fromarray(page).save(tmp, "PNG", dpi=(info.dpi, info.dpi), pnginfo=meta)
    return path


def write_board(board: Board, path: str | Path, dpi: int = 300, paper: str = "A4",
                landscape: bool | None = None, margin_mm: float = 10) -> Path:
    """Render :func:`board_page` and write it with :func:`save_board_page`; an unsupported
    file name is refused before anything is rendered."""
    _format(Path(path))
    page, info = board_page(board, dpi, paper, landscape, margin_mm)
    return save_board_page(board, page, info, path)
