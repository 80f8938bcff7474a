"""Benchmark: how far a camera's lens is off at the image edges when the board did not reach them.

For each camera of :func:`posekit.synthetic.rig.make_rig` (1080p and 720p, k1/k2 distortion)
the default board (5 x 7 squares, 0.12 m) is moved by
:func:`posekit.synthetic.charuco.board_trajectory` around a point straight ahead of the camera,
nearer (it fills the image) or farther (it stays in the middle); the true corners are projected
(noise 0.2 px, no rendering) and the intrinsics fitted by posekit's
:func:`~posekit.calibration.intrinsics.calibrate_intrinsics`, with the full lens model (the
default) and with k1 k2.

"Image reached" is what ``posekit calibrate`` reports and warns on: the share of the image's
8 x 6 cells that hold a corner. The lens error is measured on a 33 x 25 grid of pixels over the
whole image: each pixel's true ray is projected with the fitted lens, and the distortion
displacement (after the best pinhole on the reached cells, fitted separately for the truth and
the fit, since focal length and principal point trade off against the board's distance) is
compared with the true one. "Edge" is the outer tenth of the image on each side.

Run from the repository root::

    python benchmarks/calibration_coverage.py              # 2 seeds x 4 cameras x 5 distances
    python benchmarks/calibration_coverage.py --quick      # 1 seed, 2 distances

The Markdown tables go to stdout and to ``<out>/calibration_coverage.md``.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from posekit.calibration.board import Board
from posekit.calibration.detect import CameraDetections
from posekit.calibration.intrinsics import (
    GRID,
    calibrate_intrinsics,
    cell_index,
    covered_cells,
)
from posekit.calibration.step import MIN_IMAGE_COVERAGE
from posekit.camera.model import Camera
from posekit.synthetic.charuco import BoardSpec, board_trajectory, project_corners
from posekit.synthetic.rig import make_rig

MODELS = ("full", "k1k2")
BINS = ((0.0, 1 / 3), (1 / 3, MIN_IMAGE_COVERAGE), (MIN_IMAGE_COVERAGE, 2 / 3), (2 / 3, 1.01))


@dataclass
class Row:
    seed: int
    camera: str
    size: str
    distance: float
    frames: int
    reached: float
    errors: dict[str, tuple[float, float]] = field(default_factory=dict)  # model: median, p95


def _distortion(rays: np.ndarray, pixels: np.ndarray, fit_on: np.ndarray) -> np.ndarray:
    """Pixels minus the best pinhole (fx, fy, cx, cy) from ``rays``, fitted on ``fit_on``."""
    out = np.empty_like(pixels)
    for axis in (0, 1):
        slope, icept = np.polyfit(rays[fit_on, axis], pixels[fit_on, axis], 1)
        out[:, axis] = pixels[:, axis] - (slope * rays[:, axis] + icept)
    return out


def edge_error(truth: Camera, fitted: Camera, cells: tuple[int, ...]) -> tuple[float, float]:
    """Median and 95th percentile (px) of the fitted lens's distortion error at the edges."""
    w, h = truth.size
    gx, gy = np.meshgrid(np.linspace(0, w - 1, 33), np.linspace(0, h - 1, 25))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    rays = truth.undistort_points(grid)
    proj = cv2.projectPoints(np.c_[rays, np.ones(len(rays))], np.zeros(3), np.zeros(3),
                             fitted.matrix, fitted.dist)[0].reshape(-1, 2)
    reached = np.isin(cell_index(grid, truth.size), cells)
    err = np.linalg.norm(_distortion(rays, proj, reached) - _distortion(rays, grid, reached),
                         axis=1)
    edge = (np.abs(grid[:, 0] - w / 2) > 0.4 * w) | (np.abs(grid[:, 1] - h / 2) > 0.4 * h)
    return float(np.median(err[edge])), float(np.percentile(err[edge], 95))


def run(seeds: list[int], distances: list[float]) -> list[Row]:
    spec = BoardSpec()
    board = Board("charuco", (spec.squares_x, spec.squares_y), spec.square_length,
                  spec.marker_length, units="m")
    rows: list[Row] = []
    for seed in seeds:
        for cam in make_rig(4, seed=seed).cameras:
            for dist in distances:
                centre = cam.center + dist * cam.rotation.T[:, 2]
                rv, tv = board_trajectory(600, seed=seed, center=centre, reach=0.35 * dist,
                                          height_amplitude=0.2 * dist)
                pix = project_corners(cam, spec, rv, tv)
                pix = pix + np.random.default_rng(seed).normal(0, 0.2, pix.shape)
                det = CameraDetections(cam.name, Path(cam.name), cam.size, pix,
                                       np.zeros(len(pix), np.int64))
                frames = det.boards(6)
                if len(frames) < 5:
                    continue
                cells = covered_cells(det, frames)
                row = Row(seed, cam.name, f"{cam.size[0]}x{cam.size[1]}", dist, len(frames),
                          len(cells) / (GRID[0] * GRID[1]))
                for model in MODELS:
                    fitted = calibrate_intrinsics(board, det, model=model).camera
                    row.errors[model] = edge_error(cam, fitted, cells)
                rows.append(row)
                print(f"seed {seed} {cam.name} {dist:.1f} m: reached {100 * row.reached:.0f} %, "
                      f"edge p95 full {row.errors['full'][1]:.2f} px, "
                      f"k1k2 {row.errors['k1k2'][1]:.2f} px", flush=True)
    return rows


def tables(rows: list[Row]) -> str:
    out = ["| seed | camera | size | board distance m | frames | image reached | "
           "edge error, full model: median / p95 px | k1 k2: median / p95 px |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        (f50, f95), (k50, k95) = r.errors["full"], r.errors["k1k2"]
        out.append(f"| {r.seed} | {r.camera} | {r.size} | {r.distance:.1f} | {r.frames} | "
                   f"{100 * r.reached:.0f} % | {f50:.2f} / {f95:.2f} | {k50:.2f} / {k95:.2f} |")
    out += ["", "| image reached | cameras | full model: edge p95, median (range) px | "
            "k1 k2: edge p95, median (range) px |", "| --- | --- | --- | --- |"]
    for lo, hi in BINS:
        sel = [r for r in rows if lo <= r.reached < hi]
        if not sel:
            continue
        cells = []
        for model in MODELS:
            p95 = np.array([r.errors[model][1] for r in sel])
            cells.append(f"{np.median(p95):.2f} ({p95.min():.2f}–{p95.max():.2f})")
        label = f"{100 * lo:.0f}–{min(100, 100 * hi):.0f} %"
        out.append(f"| {label} | {len(sel)} | {cells[0]} | {cells[1]} |")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for the tables")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 distances")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    out = args.out or Path(tempfile.mkdtemp(prefix="posekit-coverage-"))
    out.mkdir(parents=True, exist_ok=True)
    seeds = [0] if args.quick else list(range(args.seeds))
    distances = [0.9, 2.6] if args.quick else [0.9, 1.3, 1.8, 2.6, 3.6]
    text = tables(run(seeds, distances))
    (out / "calibration_coverage.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
