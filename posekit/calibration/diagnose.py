"""Why a calibration board is not found, and which ``[calibration]`` settings find it.

:func:`diagnose` runs one ArUco pass over a sample of frames with the configured bits' 1000-
marker dictionary (smaller ones are its prefixes) and reads the quads it rejects with the
other bit counts; the ChArUco board whose layout best fits the markers seen (one homography
per frame) is checked with :meth:`BoardDetector.detect`. Checkerboards are looked for with
``findChessboardCornersSB`` on frames of at most 960 px.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from posekit.calibration.board import DICT_SIZES, MARKER_BITS, Board, dictionary_id, to_gray

Gray = NDArray[np.uint8]
Grid = tuple[int, int]
_SCREEN_FRAMES, _MAX_SIZES = 8, 24  # frames (most markers first) and board sizes tried
_KEYS = {"board_type": "kind", "board_size": "size", "board_marker_bits": "marker_bits",
         "board_marker_dict_number": "dict_size", "board_marker_length": "marker_length",
         "legacy": "legacy", "inverted": "inverted"}  # [calibration] key: Board field


@dataclass(frozen=True)
class Diagnosis:
    """What a sample of frames shows of the configured ``board``: the corners it gives per
    frame (a checkerboard: its corner count where ``findChessboardCornersSB`` finds it), the
    variant that gives clearly more, if any, with its corners per frame and the ``[calibration]``
    settings (Anipose keys) that give it, and the ArUco markers seen per dictionary family."""

    board: Board
    suggested: Board | None
    corners_per_image: tuple[int, ...]
    suggested_corners_per_image: tuple[int, ...] | None
    settings: dict[str, object]
    message: str
    camera: str | None = None
    markers: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Markers:
    """Markers of one bit count in each frame (as ``ArucoDetector`` returns them)."""

    bits: int
    corners: list[Sequence[NDArray[np.float32]]]
    ids: list[NDArray[np.int32]]
    inverted: list[bool]  # per marker, all frames
    found: dict[str, int]  # markers seen per dictionary family, other bit counts included

    @property
    def counts(self) -> list[int]:
        return [len(i) for i in self.ids]

    @property
    def max_id(self) -> int:
        """Highest id of the board's block of ids: of the ids seen (in two frames if three
        frames have markers), the highest one at or below which at least half of the ids are
        seen; -1 if none. A board's ids run from 0, so a stray id far above them (a pattern
        in the background read as a marker, e.g. 612 beside a board of ids 0-43) is left out."""
        seen = Counter(int(i) for ids in self.ids for i in np.unique(ids))
        often = sorted(i for i, c in seen.items() if c > 1 and sum(n > 1 for n in self.counts) > 2)
        ids = often or sorted(seen)
        block = [i for k, i in enumerate(ids) if 2 * (k + 1) >= i + 1]
        return max(block or ids or [-1])


def _read(gray: Gray, quad: NDArray[np.float32], bits: int,
          dictionary: cv2.aruco.Dictionary) -> tuple[int, bool] | None:
    """(id, inverted) of the marker in ``quad`` if it is one of ``dictionary``, read as
    OpenCV reads markers (4 px cells, Otsu, 35 % border errors, 60 % correction)."""
    side = (bits + 2) * 4
    dst = np.array([[0, 0], [side - 1, 0], [side - 1, side - 1], [0, side - 1]], np.float32)
    hom = cv2.getPerspectiveTransform(quad.reshape(4, 2).astype(np.float32), dst)
    patch = cv2.warpPerspective(gray, hom, (side, side), flags=cv2.INTER_NEAREST)
    if patch.std() < 5.0:
        return None
    patch = cv2.threshold(patch, 125, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
    cells = patch.reshape(bits + 2, 4, bits + 2, 4).mean(axis=(1, 3)) > 127.5
    white = int(np.r_[cells[0], cells[-1], cells[1:-1, 0], cells[1:-1, -1]].sum())  # border
    limit = int(bits * bits * 0.35)
    if min(white, 4 * bits + 4 - white) > limit:
        return None
    ok, idx, _ = dictionary.identify((cells[1:-1, 1:-1] ^ (white > limit)).astype(np.uint8), 0.6)
    return (int(idx), white > limit) if ok else None


def _aruco_pass(grays: Sequence[Gray], bits: int) -> _Markers:
    """Markers of ``DICT_{bits}X{bits}_1000``; other bit counts' markers among its rejects."""
    params = cv2.aruco.DetectorParameters()
    params.detectInvertedMarker = True
    dicts = {b: cv2.aruco.getPredefinedDictionary(dictionary_id(b, 1000)) for b in MARKER_BITS}
    detector = cv2.aruco.ArucoDetector(dicts[bits], params)
    out = _Markers(bits, [], [], [], {f"DICT_{b}X{b}": 0 for b in MARKER_BITS})
    for gray in grays:
        corners, ids, rejected = detector.detectMarkers(gray)
        out.corners.append(corners)
        out.ids.append(np.zeros((0, 1), np.int32) if ids is None else ids)
        reads = (_read(gray, quad, bits, dicts[bits]) for quad in corners)
        out.inverted.extend(bool(read and read[1]) for read in reads)
        for b in MARKER_BITS:
            out.found[f"DICT_{b}X{b}"] += len(corners) if b == bits else sum(
                _read(gray, quad, b, dicts[b]) is not None for quad in rejected)
    return out


def _fit(board: Board, markers: _Markers, frames: Sequence[int]) -> int:
    """Marker corners one homography maps from ``board``'s layout to within 1/4 marker."""
    ids, points = np.ravel(board.cv_board.getIds()).tolist(), board.cv_board.getObjPoints()
    layout = {k: np.asarray(p, np.float32)[:, :2] for k, p in zip(ids, points, strict=True)}
    total = 0
    for i in frames:
        pairs = [(layout[k], c) for k, c in zip(markers.ids[i].ravel().tolist(),
                                                markers.corners[i], strict=True) if k in layout]
        if len(pairs) >= 3:
            src = np.concatenate([p for p, _ in pairs])
            dst = np.concatenate([c.reshape(4, 2) for _, c in pairs])
            side = float(np.median(np.linalg.norm(dst[::4] - dst[1::4], axis=1)))
            hom, inliers = cv2.findHomography(src, dst, cv2.RANSAC, 0.25 * side, maxIters=100)
            total += 0 if hom is None else int(inliers.sum())
    return total


def _best_charuco(board: Board, markers: _Markers) -> Board | None:
    """The ChArUco board whose layout fits the most markers: of the configured size,
    swapped, or of about max_id + 1 markers, legacy or not."""
    nx, ny = board.size if board.kind == "charuco" else (board.size[0] + 1, board.size[1] + 1)
    need = markers.max_id + 1
    top = need + max(3, need // 4)
    span = range(max(3, int(np.sqrt(need / 2))), int(np.sqrt(8 * top + 4)) + 1)
    near = ((a, b) for a in span for b in span if need <= a * b // 2 <= top
            and max(a, b) <= 4 * min(a, b) and {a, b} != {nx, ny})
    sizes = [(nx, ny), (ny, nx), *sorted(near, key=lambda s: (
        s[0] * s[1] // 2 - need, abs(s[0] - nx) + abs(s[1] - ny), s))]
    length = board.marker_length if board.kind == "charuco" else min(  # a guess from a
        board.marker_length, 0.75 * board.square_length)              # checkerboard config
    candidates = [Board("charuco", (a, b), board.square_length, length, markers.bits,
                        board.dict_size if board.kind == "charuco" and board.dict_size >= n
                        else min(s for s in DICT_SIZES if s >= n), legacy,
                        float(np.mean(markers.inverted)) > 0.5, board.units)
                  for a, b in sizes[:_MAX_SIZES] if (n := a * b // 2) <= max(DICT_SIZES)
                  for legacy in (board.legacy, not board.legacy)[:2 - b % 2]]
    least = max([2, *sorted(markers.counts, reverse=True)[_SCREEN_FRAMES - 1:_SCREEN_FRAMES]])
    frames = [i for i, c in enumerate(markers.counts) if c >= least]
    fits = [_fit(c, markers, frames) for c in candidates]
    return candidates[int(np.argmax(fits))] if max(fits) else None  # ties: the first


def _checkerboards(grays: Sequence[Gray], grid: Grid | None = None,
                   frames: Sequence[int] | None = None) -> list[Grid | None]:
    """Inner-corner grid (sorted) of the checkerboard in each frame (of ``frames``): of
    ``grid`` only, or of any size (``CALIB_CB_LARGER``, which at times adds a row)."""
    out: list[Grid | None] = []
    for i, gray in enumerate(grays):
        small = cv2.resize(gray, None, fx=(f := min(1.0, 960 / max(gray.shape))), fy=f,
                           interpolation=cv2.INTER_AREA)
        ok, _, meta = cv2.findChessboardCornersSBWithMeta(
            small, grid or (3, 3), flags=0 if grid else cv2.CALIB_CB_LARGER
        ) if frames is None or i in frames else (False, None, None)
        out.append((min(meta.shape), max(meta.shape)) if ok else None)
    return out


def _message(old: Board, new: Board | None, settings: dict[str, object], counts: Sequence[int],
             new_counts: Sequence[int], markers: _Markers | None) -> str:
    """The diagnosis in words, naming the ``[calibration]`` keys to set."""
    def finds(counts: Sequence[int]) -> str:
        hits = [c for c in counts if c]
        return f"{np.mean(hits):.3g} corners per frame in {len(hits)} of {n} frames" \
            if hits else "no corners"
    n, missed, size = len(counts), sum(1 for c in counts if not c), list(old.size)
    max_id, has = markers.max_id if markers else -1, old.size[0] * old.size[1] // 2
    kinds = ", ".join(f"{c} of {k}" for k, c in (markers.found if markers else {}).items() if c)
    if new is None:
        return (f"the configured board ({old.describe()}) is found: {finds(counts)}; its "
                "settings match the board" + (f". It is missed in {missed} of {n} sampled "
                "frames: check that it is in view, in focus and lit there" if missed else "")
                if missed < n else f"ArUco markers ({kinds}; ids up to {max_id}) are found in "
                f"{n} sampled frames but no ChArUco board near board_size = {size}, legacy or "
                "not, gives corners: check board_size, and that the board is a ChArUco board, "
                "in focus and large enough in the image" if kinds else "no ArUco markers of any "
                "dictionary (4x4 to 7x7, normal or inverted) and no checkerboard found in "
                f"{n} sampled frames: check that the board is in view, in focus and well lit, "
                "and large enough in the image")
    grid = f"a checkerboard of {new.size[0]} x {new.size[1]} inner corners is"
    seen = f"markers of {new.dictionary_name} (ids up to {max_id}) are seen"
    reasons = [text for wanted, text in (
        (new.kind != old.kind == "charuco", f"no ChArUco board is found, but {grid}"),
        (new.kind == old.kind == "checkerboard", f"board_size = {size} is not found, but {grid}"),
        (new.kind != old.kind == "checkerboard", f"{seen}: it is a ChArUco board"),
        (new.kind == old.kind == "charuco" and new.dictionary_name != old.dictionary_name,
         f"{seen}, not {old.dictionary_name}"),
        ("inverted" in settings, "the board is printed inverted (white markers on black)"
         if new.inverted else "the board is printed with black markers, not inverted"),
        ("legacy" in settings, "the board is found with the legacy (pre-OpenCV-4.6) layout"
         if new.legacy else "the board is found with the new (OpenCV >= 4.6) layout")) if wanted]
    if "board_size" in settings and new.kind == old.kind == "charuco":
        reasons.append(f"board_size = {size} has {has} markers, fewer than the {max_id + 1} seen"
                       if has <= max_id else f"board_size = {size} finds {finds(counts)}; "
                       f"{list(new.size)} finds {finds(new_counts)}")
    sets = ", ".join(f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v)}"
                     for k, v in settings.items()).replace("'", '"')
    tail = f" (finds {finds(new_counts)} instead of {finds(counts)})" * (
        "finds" not in reasons[-1]) + "; check board_square_side_length and " \
        "board_marker_length against the print" * (new.kind != old.kind == "checkerboard")
    return f"{'; '.join(reasons)}: set {sets}{tail}"


def diagnose(board: Board, images: Sequence[NDArray[np.uint8]],
             camera: str | None = None) -> Diagnosis:
    """What ``images`` (a sample of one camera's frames, BGR or grey) show of ``board``,
    and which ``[calibration]`` settings would find it; see :class:`Diagnosis`."""
    grays = [to_gray(image) for image in images]

    def _corners(board: Board, frames: Sequence[int]) -> tuple[int, ...]:  # BoardDetector's
        detector = board.detector()
        return tuple(len(detector.detect(g)) if i in frames else 0 for i, g in enumerate(grays))
    seen = _checkerboards(grays) if board.kind == "checkerboard" else [None] * len(grays)
    hits = _checkerboards(grays, board.corner_grid, [i for i, g in enumerate(seen) if g])
    counts = tuple(board.n_corners if hit else 0 for hit in hits)
    markers, new, new_counts = None, None, counts
    if not any(counts):
        markers = found = _aruco_pass(grays, board.marker_bits)
        bits = max(MARKER_BITS, key=lambda b: (found.found[f"DICT_{b}X{b}"], b == found.bits))
        markers = _aruco_pass(grays, bits) if bits != markers.bits else markers
        usable = [i for i, c in enumerate(markers.counts) if c >= 2]
        if board.kind == "charuco" and bits == board.marker_bits:
            counts = _corners(board, usable)
        if markers.max_id >= 0 and (new := _best_charuco(board, markers)) != board:
            new_counts = _corners(new, usable) if new else counts
        if new is None and not any(counts) and any(
                seen := seen if board.kind == "checkerboard" else _checkerboards(grays)):
            a, b = Counter(grid for grid in seen if grid).most_common(1)[0][0]
            new = Board("checkerboard", (b, a) if board.corner_grid[0] >= board.corner_grid[1]
                        else (a, b), board.square_length, units=board.units)
            hits = _checkerboards(grays, (a, b), [i for i, g in enumerate(seen) if g])
            new_counts = tuple(new.n_corners if hit else 0 for hit in hits)
    if new is None or new == board or sum(new_counts) < max(1.2 * sum(counts), sum(counts) + 4):
        new, settings = None, {}
    else:  # the [calibration] keys (Anipose names) that turn board into new
        keys = _KEYS if new.kind == "charuco" else ("board_type", "board_size")
        settings = {k: list(v) if isinstance(v := getattr(new, _KEYS[k]), tuple) else v
                    for k in keys if getattr(board, _KEYS[k]) != getattr(new, _KEYS[k])
                    or (new.kind != board.kind and "marker" in k)}
    message = _message(board, new, settings, counts, new_counts, markers)
    return Diagnosis(board, new, counts, new_counts if new else None, settings,
                     f"{camera}: {message}" if camera else message, camera,
                     {k: c for k, c in markers.found.items() if c} if markers else {})
