"""Calibration boards (ChArUco and checkerboard) and their detection in images.

A :class:`Board` is built from ``[calibration]`` with Anipose's key names. Detection uses
the current OpenCV API (``cv2.aruco.CharucoDetector``, OpenCV >= 4.7) and then refines
every corner with ``cv2.cornerSubPix``: OpenCV 4.7-4.11's CharucoDetector returns corners
shifted by about +0.5 px, the refinement removes that bias (pinned by a test against
rendered frames with known corners), so no OpenCV version change can bias a calibration.

Corner ids: ChArUco corners are numbered row by row from the board's top-left as OpenCV
numbers them; checkerboard corners in the order ``cv2.findChessboardCorners`` returns.
Board frame: board units (``[calibration] units``), x along the columns, y down the rows,
z into the board, origin at the top-left corner of the squares (ChArUco) or at the first
inner corner (checkerboard).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from posekit.config.schema import CalibrationConfig
from posekit.errors import ConfigError

FloatArray = NDArray[np.float64]
DICT_SIZES = (50, 100, 250, 1000)
#: board length units and how many of them make a metre
UNITS_PER_M = {"mm": 1000.0, "cm": 100.0, "m": 1.0, "in": 1000.0 / 25.4}
MARKER_BITS = (4, 5, 6, 7)
_SUBPIX_CRITERIA = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 40, 1e-3)
_MAX_REFINE_SHIFT = 2.0  # px; a corner that cornerSubPix moves further is dropped
_CHECKER_SEARCH_PX = 1000  # longest side of the image searched for a checkerboard


def dictionary_id(bits: int, size: int) -> int:
    """The ``cv2.aruco.DICT_{bits}X{bits}_{size}`` constant."""
    return int(getattr(cv2.aruco, f"DICT_{bits}X{bits}_{size}"))


@dataclass(frozen=True)
class Detection:
    """Corners found in one image: ids (k,) and pixel positions (k, 2), plus the number
    of ArUco markers seen (0 for checkerboards), which diagnoses failed detections."""

    ids: NDArray[np.int64]
    corners: FloatArray
    n_markers: int = 0

    @classmethod
    def empty(cls, n_markers: int = 0) -> Detection:
        return cls(np.zeros(0, np.int64), np.zeros((0, 2)), n_markers)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Board:
    """A printed calibration board.

    ``size`` counts squares along the board's width and height for a ChArUco board (as
    ``cv2.aruco.CharucoBoard``) and *inner corners* for a checkerboard (as Anipose and
    ``cv2.findChessboardCorners``). Lengths are in ``units``.
    """

    kind: Literal["charuco", "checkerboard"] = "charuco"
    size: tuple[int, int] = (10, 7)
    square_length: float = 25.0
    marker_length: float = 18.75
    marker_bits: int = 4
    dict_size: int = 50
    legacy: bool = False
    inverted: bool = False
    units: str = "mm"

    def __post_init__(self) -> None:
        prefix = "[calibration] "
        nx, ny = self.size
        if self.kind not in ("charuco", "checkerboard"):
            raise ConfigError(f'{prefix}board_type = "{self.kind}": use "charuco" or '
                              '"checkerboard"')
        if min(nx, ny) < 2:
            raise ConfigError(f"{prefix}board_size = {list(self.size)}: need at least 2 x 2")
        if self.units not in UNITS_PER_M:
            raise ConfigError(f'{prefix}units = "{self.units}": use one of '
                              f"{', '.join(UNITS_PER_M)}")
        if self.square_length <= 0:
            raise ConfigError(f"{prefix}board_square_side_length must be positive")
        if self.kind == "checkerboard":
            return
        if self.marker_bits not in MARKER_BITS:
            raise ConfigError(f"{prefix}board_marker_bits = {self.marker_bits}: use one of "
                              f"{', '.join(map(str, MARKER_BITS))}")
        if self.dict_size not in DICT_SIZES:
            raise ConfigError(f"{prefix}board_marker_dict_number = {self.dict_size}: use one "
                              f"of {', '.join(map(str, DICT_SIZES))}")
        if not 0 < self.marker_length < self.square_length:
            raise ConfigError(
                f"{prefix}board_marker_length = {self.marker_length} must be smaller than "
                f"board_square_side_length = {self.square_length} (both in {self.units})")
        if nx * ny // 2 > self.dict_size:
            raise ConfigError(
                f"{prefix}a {nx} x {ny} ChArUco board has {nx * ny // 2} markers, more than "
                f"the {self.dict_size} of DICT_{self.marker_bits}X{self.marker_bits}_"
                f"{self.dict_size}: check board_size and board_marker_dict_number")

    @classmethod
    def from_config(cls, cfg: CalibrationConfig) -> Board:
        """The board described by a ``[calibration]`` section."""
        return cls(kind=cfg.board_type, size=(int(cfg.board_size[0]), int(cfg.board_size[1])),
                   square_length=float(cfg.board_square_side_length),
                   marker_length=float(cfg.board_marker_length),
                   marker_bits=int(cfg.board_marker_bits),
                   dict_size=int(cfg.board_marker_dict_number), legacy=bool(cfg.legacy),
                   inverted=bool(cfg.inverted), units=cfg.units)

    def replace(self, **changes: object) -> Board:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    # -- geometry -------------------------------------------------------------------------
    @property
    def corner_grid(self) -> tuple[int, int]:
        """Inner corners along the width and the height."""
        nx, ny = self.size
        return (nx - 1, ny - 1) if self.kind == "charuco" else (nx, ny)

    @property
    def n_corners(self) -> int:
        cols, rows = self.corner_grid
        return cols * rows

    def object_points(self) -> FloatArray:
        """(n_corners, 3) corner positions in the board frame, in ``units``, z = 0."""
        cols = self.corner_grid[0]
        ids = np.arange(self.n_corners)
        offset = 1.0 if self.kind == "charuco" else 0.0
        return np.stack([(ids % cols + offset) * self.square_length,
                         (ids // cols + offset) * self.square_length,
                         np.zeros(ids.size)], axis=1)

    def neighbour_pairs(self) -> NDArray[np.int64]:
        """(k, 2) ids of corners one square apart (along rows and columns)."""
        cols, rows = self.corner_grid
        grid = np.arange(self.n_corners).reshape(rows, cols)
        return np.concatenate([np.stack([grid[:, :-1].ravel(), grid[:, 1:].ravel()], 1),
                               np.stack([grid[:-1].ravel(), grid[1:].ravel()], 1)])

    @property
    def dictionary_name(self) -> str:
        return f"DICT_{self.marker_bits}X{self.marker_bits}_{self.dict_size}"

    def describe(self) -> str:
        """One line for messages and reports."""
        nx, ny = self.size
        u = self.units
        inv = ", inverted" if self.inverted else ""
        if self.kind == "checkerboard":
            return (f"checkerboard {nx} x {ny} inner corners, {self.square_length:g} {u} "
                    f"squares{inv}")
        layout = "legacy (pre-4.6) layout" if self.legacy else "new layout"
        if ny % 2:
            layout = "legacy and new layouts alike (odd number of rows)"
        return (f"ChArUco {nx} x {ny} squares, {self.square_length:g} {u} squares, "
                f"{self.marker_length:g} {u} markers, {self.dictionary_name}, {layout}{inv}")

    # -- OpenCV objects -------------------------------------------------------------------
    @cached_property
    def cv_board(self) -> cv2.aruco.CharucoBoard:
        """The OpenCV ChArUco board (ChArUco boards only)."""
        if self.kind != "charuco":
            raise ValueError("a checkerboard has no ChArUco board object")
        dictionary = cv2.aruco.getPredefinedDictionary(
            dictionary_id(self.marker_bits, self.dict_size))
        board = cv2.aruco.CharucoBoard(self.size, self.square_length, self.marker_length,
                                       dictionary)
        board.setLegacyPattern(self.legacy)
        return board

    def detector(self) -> BoardDetector:
        """A detector for this board (not thread-safe: one per thread)."""
        return BoardDetector(self)

    def draw(self, square_px: int, margin_px: int = 0) -> NDArray[np.uint8]:
        """The printed face as a grey image with ``square_px`` pixels per square."""
        nx, ny = self.size
        if self.kind == "charuco":
            size = (nx * square_px + 2 * margin_px, ny * square_px + 2 * margin_px)
            img = self.cv_board.generateImage(size, marginSize=margin_px, borderBits=1)
        else:
            cells = np.indices((ny + 1, nx + 1)).sum(axis=0) % 2
            img = np.where(cells == 0, 0, 255).astype(np.uint8)
            img = np.kron(img, np.ones((square_px, square_px), np.uint8))
            img = cv2.copyMakeBorder(img, margin_px, margin_px, margin_px, margin_px,
                                     cv2.BORDER_CONSTANT, value=255)
        return 255 - img if self.inverted else img


def to_gray(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """BGR or grey uint8 image → grey."""
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def refine_corners(gray: NDArray[np.uint8], corners: FloatArray, half_window: int,
                   max_shift: float = _MAX_REFINE_SHIFT) -> tuple[FloatArray, NDArray[np.bool_]]:
    """``cv2.cornerSubPix`` with a ``(2 * half_window + 1)``² window; returns the refined
    corners and a mask of those that moved less than ``max_shift`` px (the others are
    unreliable)."""
    if len(corners) == 0:
        return corners, np.zeros(0, bool)
    pts = np.ascontiguousarray(corners, np.float32).reshape(-1, 1, 2)
    cv2.cornerSubPix(gray, pts, (half_window, half_window), (-1, -1), _SUBPIX_CRITERIA)
    refined = pts.reshape(-1, 2).astype(np.float64)
    keep = np.hypot(*(refined - corners).T) < max_shift
    height, width = gray.shape[:2]
    keep &= (refined >= 0).all(1) & (refined[:, 0] < width) & (refined[:, 1] < height)
    return refined, keep


def _spacing(ids: NDArray[np.int64], corners: FloatArray, cols: int) -> float:
    """Pixel distance between detected corners one square apart: the smaller of the
    medians along the rows and along the columns (NaN if no neighbours were found)."""
    pos = {int(i): p for i, p in zip(ids, corners, strict=True)}
    rows = [np.hypot(*(pos[i + 1] - p)) for i, p in pos.items()
            if (i + 1) % cols and i + 1 in pos]
    columns = [np.hypot(*(pos[i + cols] - p)) for i, p in pos.items() if i + cols in pos]
    medians = [float(np.median(d)) for d in (rows, columns) if d]
    return min(medians) if medians else float("nan")


class BoardDetector:
    """Finds a board's corners in images; keeps OpenCV's detector objects between calls."""

    def __init__(self, board: Board) -> None:
        self.board = board
        if board.kind == "charuco":
            params = cv2.aruco.DetectorParameters()
            params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_NONE
            charuco_params = cv2.aruco.CharucoParameters()
            charuco_params.tryRefineMarkers = True
            self._charuco = cv2.aruco.CharucoDetector(board.cv_board, charuco_params, params)

    def detect(self, image: NDArray[np.uint8]) -> Detection:
        """Corners of the board in a BGR or grey image, refined to sub-pixel accuracy."""
        gray = to_gray(image)
        if self.board.inverted:
            gray = cv2.bitwise_not(gray)
        if self.board.kind == "checkerboard":
            return self._detect_checkerboard(gray)
        corners, ids, _marker_corners, marker_ids = self._charuco.detectBoard(gray)
        n_markers = 0 if marker_ids is None else len(marker_ids)
        if ids is None or len(ids) == 0:
            return Detection.empty(n_markers)
        ids = ids.ravel().astype(np.int64)
        corners = corners.reshape(-1, 2).astype(np.float64)
        # cornerSubPix must not reach the markers' edges: keep the window inside the white
        # rim between a corner and the neighbouring markers (7/8 of its width).
        rim = (self.board.square_length - self.board.marker_length) / 2 / self.board.square_length
        spacing = _spacing(ids, corners, self.board.corner_grid[0])
        half = 2 if not np.isfinite(spacing) else int(np.clip(0.875 * rim * spacing, 2, 8))
        refined, keep = refine_corners(gray, corners, half)
        return Detection(ids[keep], refined[keep], n_markers)

    def _detect_checkerboard(self, gray: NDArray[np.uint8]) -> Detection:
        # the search runs on a copy at most 1000 px wide (OpenCV's search takes seconds on
        # full-HD frames without a board); the corners are refined at full resolution
        scale = min(1.0, _CHECKER_SEARCH_PX / max(gray.shape[:2]))
        small = gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale,
                                                     interpolation=cv2.INTER_AREA)
        flags = (cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
                 | cv2.CALIB_CB_FAST_CHECK)
        found, corners = cv2.findChessboardCorners(small, self.board.corner_grid, flags=flags)
        if not found:  # the sector-based detector finds boards the classic one misses
            found, corners = cv2.findChessboardCornersSB(small, self.board.corner_grid)
        if not found:
            return Detection.empty()
        corners = (corners.reshape(-1, 2).astype(np.float64) + 0.5) / scale - 0.5
        ids = np.arange(len(corners), dtype=np.int64)
        spacing = _spacing(ids, corners, self.board.corner_grid[0])
        half = int(np.clip(0.3 * spacing, 2, 11)) if np.isfinite(spacing) else 5
        refined, keep = refine_corners(gray, corners, half, max(_MAX_REFINE_SHIFT, half))
        if not keep.all():  # a checkerboard is all or nothing
            return Detection.empty()
        return Detection(ids, refined)
