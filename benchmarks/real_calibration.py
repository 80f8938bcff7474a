"""Benchmark: posekit's calibration on real recordings (no ground truth, consistency checks).

The data are not part of the project (see the README of the data folder); give its path with
``--data`` or ``POSEKIT_DATA`` (default ``/work/shared/data``).

1. ``sleap-anipose-charuco/``: 4 cameras (back, mid, side, top), 21 synchronised ChArUco
   images each (1280x1024), board from its ``board.toml`` (8 x 11 squares, 24 mm, DICT_4X4_1000).
   posekit ``detect_all`` on the image folders + ``calibrate``; aniposelib 0.8.0
   ``detect_images`` on the same files (same order) + ``calibrate_rows``. Per camera: posekit's
   bundle reprojection median / p95, and for both tools the same "triangulated px" (posekit's
   corners of every image seen by >= 2 cameras triangulated with the tool's cameras and
   reprojected, median) and the board-distance check (triangulated neighbouring corners
   against the 24 mm squares).
2. ``pose2sim-demo/calibration/intrinsics/``: 7 checkerboard photos per camera (4x7 inner
   corners, 60 mm squares). posekit ``detect_all`` + ``calibrate_intrinsics`` per camera; focal
   lengths compared with the lab's Qualisys calibration (``Calib.qca.txt``). Both board
   orientations are tried. A second set of rows uses a benchmark-side detector: OpenCV's
   classic search at full resolution and ``cornerSubPix`` with posekit's window but no limit
   on how far a corner may move (posekit drops a board when one corner moves further than
   its limit), to show what that limit costs.

Run from the repository root::

    python benchmarks/real_calibration.py --out /tmp/realcal [--data DIR] [--skip-anipose]

The Markdown tables go to stdout and to ``<out>/real_calibration.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import toml

from posekit.calibration.board import Board
from posekit.calibration.calibrate import board_distance_check, calibrate
from posekit.calibration.detect import CameraDetections, detect_all, image_files, source_info
from posekit.calibration.imports import import_calibration
from posekit.calibration.intrinsics import calibrate_intrinsics
from posekit.camera.model import CameraGroup
from posekit.camera.toml_io import load_calibration
from posekit.config.schema import CalibrationConfig
from posekit.errors import CalibrationError
from posekit.io.atomic import write_text_atomic
from posekit.triangulation.dlt import triangulate

SLEAP_CAMS = ("back", "mid", "side", "top")
P2S_CAMS = ("cam01", "cam02", "cam03", "cam04")
CB_FLAGS = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_FAST_CHECK
SUBPIX = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_COUNT, 40, 1e-3)  # as posekit's


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def triangulated_px(group: CameraGroup, dets: dict[str, CameraDetections]) -> list[float]:
    """Median reprojection error (px) per camera of corners triangulated from >= 2 views."""
    n_frames = max(d.n_frames for d in dets.values())
    pts2d = np.stack([dets[c].padded(n_frames) for c in group.names])
    err = np.linalg.norm(group.project(triangulate(group, pts2d)) - pts2d, axis=-1)
    return [float(np.nanmedian(e)) for e in err]


# -- 1. ChArUco, 4 cameras -------------------------------------------------------------
def sleap_board(root: Path) -> tuple[Board, CalibrationConfig]:
    spec = toml.loads((root / "board.toml").read_text())
    cfg = CalibrationConfig(board_size=(spec["board_x"], spec["board_y"]),
                            board_square_side_length=spec["square_length"],
                            board_marker_length=spec["marker_length"],
                            board_marker_bits=spec["marker_bits"],
                            board_marker_dict_number=spec["dict_size"], units="mm")
    return Board.from_config(cfg), cfg


def aniposelib_charuco(root: Path, board: Board, out: Path) -> dict[str, Any]:
    from aniposelib.boards import CharucoBoard
    from aniposelib.cameras import CameraGroup as AniGroup

    ani_board = CharucoBoard(*board.size, square_length=board.square_length,
                             marker_length=board.marker_length, marker_bits=board.marker_bits,
                             dict_size=board.dict_size)
    cgroup = AniGroup.from_names(list(SLEAP_CAMS))
    np.random.seed(0)  # aniposelib resamples points with numpy's global generator
    with contextlib.redirect_stdout(io.StringIO()):  # calibrate_rows prints unconditionally
        start = time.perf_counter()
        rows = [ani_board.detect_images([str(p) for p in image_files(root / c)])
                for c in SLEAP_CAMS]
        for cam, name in zip(cgroup.cameras, SLEAP_CAMS, strict=True):
            cam.set_size(source_info(root / name)[1])
        mid = time.perf_counter()
        error = cgroup.calibrate_rows(rows, ani_board, verbose=False)
        end = time.perf_counter()
    cgroup.dump(str(out / "sleap-aniposelib.toml"))
    return {"group": load_calibration(out / "sleap-aniposelib.toml"), "detect_s": mid - start,
            "calib_s": end - mid, "own": f"{error:.3f} (all cameras)",
            "frames": [len(r) for r in rows]}


def sleap_tables(root: Path, out: Path, skip_anipose: bool) -> str:
    board, cfg = sleap_board(root)
    start = time.perf_counter()
    dets = detect_all({c: root / c for c in SLEAP_CAMS}, board, jobs=0, progress=False)
    mid = time.perf_counter()
    result = calibrate(dets, board, cfg)
    res = {"posekit": {"group": result.group, "detect_s": mid - start,
                       "calib_s": time.perf_counter() - mid, "own": "see below",
                       "frames": [result.quality[c].bundle_views for c in SLEAP_CAMS]}}
    if not skip_anipose:
        res["aniposelib"] = aniposelib_charuco(root, board, out)
    rows = []
    for tool, r in res.items():
        group = r["group"].subset(list(SLEAP_CAMS))
        r["tri"] = triangulated_px(group, dets)
        d = board_distance_check(group, board, dets)
        rows.append([tool, f"{r['detect_s']:.1f}", f"{r['calib_s']:.1f}", r["own"],
                     f"{d['mean_mm']:+.3f} ± {d['sd_mm']:.3f}", f"{d['median_abs_mm']:.3f}",
                     f"{d['p95_abs_mm']:.3f}", d["pairs"]])
    summary = md_table(["tool", "detect s", "calibrate s", "own reprojection median px",
                        "board distance error mm (mean ± sd)", "median abs mm", "p95 abs mm",
                        "pairs"], rows)
    cam_rows = []
    for i, c in enumerate(SLEAP_CAMS):
        q, det = result.quality[c], dets[c]
        row = [c, f"{int((det.counts >= 6).sum())} / {det.n_frames}",
               f"{int(np.median(det.counts))} / {board.n_corners}", q.bundle_views, q.corners,
               f"{q.median_px:.3f}", f"{q.p95_px:.3f}"]
        row += [f"{r['tri'][i]:.3f}" for r in res.values()]
        for r in res.values():
            cam = r["group"][c]
            row.append(f"{cam.matrix[0, 0]:.1f}, {cam.matrix[1, 1]:.1f} / "
                       f"{cam.matrix[0, 2]:.1f}, {cam.matrix[1, 2]:.1f} / {cam.dist[0]:+.3f}")
        cam_rows.append(row)
    header = ["camera", "images with board", "median corners", "bundle views",
              "bundle corners", "reprojection median px", "p95 px"]
    header += [f"triangulated px {t}" for t in res] + [f"fx, fy / cx, cy / k1 {t}" for t in res]
    return ("### sleap-anipose-charuco: 4 cameras, 21 ChArUco images each\n\n"
            f"Board: {board.describe()}.\n\n{summary}\n\n{md_table(header, cam_rows)}\n")


# -- 2. checkerboard intrinsics vs Qualisys ------------------------------------------------
def detect_uncapped(name: str, folder: Path, board: Board) -> CameraDetections:
    """Classic checkerboard search at full resolution + ``cornerSubPix`` with posekit's
    window, no limit on the refinement shift."""
    files = image_files(folder)
    size = source_info(folder)[1]
    corners = np.full((len(files), board.n_corners, 2), np.nan)
    cols, rows = board.corner_grid
    for i, path in enumerate(files):
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        found, pts = cv2.findChessboardCorners(gray, board.corner_grid, flags=CB_FLAGS)
        if not found:
            continue
        grid = pts.reshape(rows, cols, 2)
        spacing = min(np.median(np.hypot(*np.diff(grid, axis=a).reshape(-1, 2).T))
                      for a in (0, 1))
        half = int(np.clip(0.3 * spacing, 2, 11))
        corners[i] = cv2.cornerSubPix(gray, pts, (half, half), (-1, -1), SUBPIX).reshape(-1, 2)
    return CameraDetections(name, folder, size, corners, np.zeros(len(files), np.int64))


def intrinsics_row(label: str, det: CameraDetections, board: Board, truth: Any) -> list[Any]:
    found = f"{int((det.counts == board.n_corners).sum())} / {det.n_frames}"
    try:
        intr = calibrate_intrinsics(board, det)
    except CalibrationError as exc:
        return [det.camera, label, found, f"failed: {str(exc).split('(')[-1].rstrip(')')}",
                *["–"] * 4]
    f_est = intr.camera.matrix[[0, 1], [0, 1]]
    f_true = truth.matrix[[0, 1], [0, 1]]
    pct = (f_est - f_true) / f_true * 100
    pp = np.hypot(*(intr.camera.matrix[:2, 2] - truth.matrix[:2, 2]))
    return [det.camera, label, found, f"{f_est[0]:.1f}, {f_est[1]:.1f}",
            f"{f_true[0]:.1f}, {f_true[1]:.1f}", f"{pct[0]:+.2f}, {pct[1]:+.2f}",
            f"{pp:.1f}", f"{intr.rms:.3f}"]


def pose2sim_tables(root: Path) -> str:
    calib = root / "calibration"
    qualisys = import_calibration(calib / "Calib.qca.txt")
    folders = {c: calib / "intrinsics" / f"int_{c}_img" for c in P2S_CAMS}
    rows = []
    for size in ((4, 7), (7, 4)):
        board = Board(kind="checkerboard", size=size, square_length=60.0)
        start = time.perf_counter()
        dets = detect_all(folders, board, jobs=0, progress=False)
        seconds = time.perf_counter() - start
        for c in P2S_CAMS:
            rows.append(intrinsics_row(f"posekit {size[0]}x{size[1]} ({seconds:.1f} s)",
                                       dets[c], board, qualisys[c]))
    board = Board(kind="checkerboard", size=(4, 7), square_length=60.0)
    for c in P2S_CAMS:
        rows.append(intrinsics_row("benchmark detector 4x7 (no shift limit)",
                                   detect_uncapped(c, folders[c], board), board, qualisys[c]))
    header = ["camera", "detection", "images with board", "fx, fy posekit",
              "fx, fy Qualisys", "difference %", "principal point diff px", "rms px"]
    return ("### pose2sim-demo: checkerboard intrinsics vs the lab's Qualisys calibration\n\n"
            "7 photos per camera (1088×1920), 4x7 inner corners, 60 mm squares; target: focal "
            "lengths within 1 % of Qualisys.\n\n" + md_table(header, rows) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path(os.environ.get("POSEKIT_DATA", "/work/shared/data")))
    parser.add_argument("--out", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument("--skip-anipose", action="store_true", help="posekit only")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="real_calibration-"))
    out.mkdir(parents=True, exist_ok=True)
    parts = ["## Calibration on real data", "",
             f"OpenCV {cv2.__version__}, numpy {np.__version__}, "
             f"{len(os.sched_getaffinity(0))} CPU cores", ""]
    parts.append(sleap_tables(args.data / "sleap-anipose-charuco", out, args.skip_anipose))
    parts.append(pose2sim_tables(args.data / "pose2sim-demo"))
    text = "\n".join(parts)
    print(text)
    write_text_atomic(out / "real_calibration.md", text)
    print(f"written to {out / 'real_calibration.md'}")


if __name__ == "__main__":
    main()
