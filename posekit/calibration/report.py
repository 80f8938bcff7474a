"""Calibration quality report: Markdown + JSON figures and a corner coverage plot."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from posekit.calibration.calibrate import Calibration
from posekit.calibration.detect import CameraDetections
from posekit.calibration.intrinsics import GRID, outside_cells
from posekit.camera.model import CameraGroup
from posekit.io.atomic import write_figure_atomic, write_text_atomic

FloatArray = NDArray[np.float64]
#: the report files ``posekit calibrate`` writes beside ``calibration.toml``
REPORT_FILES = ("calibration_report.json", "calibration_report.md", "calibration_coverage.png")


def report_figures(calib: Calibration, seconds: float | None = None,
                   warnings: Sequence[str] = ()) -> dict[str, object]:
    """Everything the report states, as plain data (the JSON report); ``warnings``: what
    ``posekit calibrate`` warned about (the trial reports show them)."""
    cams = {}
    for cam in calib.group:
        q = calib.quality[cam.name]
        k = cam.matrix
        cams[cam.name] = {
            "size": list(cam.size), "fx": k[0, 0], "fy": k[1, 1], "cx": k[0, 2], "cy": k[1, 2],
            "dist": cam.dist.tolist(), "center": cam.center.tolist(),
            "frames_with_board": q.frames_with_board, "intrinsics_frames": q.intrinsics_frames,
            "bundle_views": q.bundle_views, "corners": q.corners,
            "reprojection_median_px": q.median_px, "reprojection_p95_px": q.p95_px,
            "image_coverage": q.image_coverage, "image_cells": list(q.cells),
        }
    out: dict[str, object] = {
        "board": calib.board.describe(), "units": calib.board.units, "world": calib.world,
        "video_offsets": calib.offsets,
        "cameras": cams, "board_distance": calib.board_distance,
        "bundle": {"iterations": calib.bundle.iterations,
                   "rejected_corners": calib.bundle.rejected,
                   "views": len(calib.bundle.observations)},
    }
    if seconds is not None:
        out["seconds"] = round(seconds, 2)
    out["warnings"] = list(warnings)
    return out


def read_report(calibration: Path) -> tuple[dict[str, Any] | None, bool]:
    """The JSON report beside ``calibration`` (a ``calibration.toml``) and whether one was
    there but is older than the calibration (then it describes another one: an imported or
    hand-copied calibration, and None is returned). None too when there is no readable
    report."""
    path = calibration.with_name(REPORT_FILES[0])
    try:
        if path.stat().st_mtime < calibration.stat().st_mtime:
            return None, True
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, False
    return (report, False) if isinstance(report, dict) else (None, False)


def world_frame_text(world: str, first: str) -> str:
    """What the calibration's world frame is (``world`` as its report gives it, "" for an
    imported one; ``first``: its first camera), and how to get a floor frame instead."""
    if world.startswith("camera"):
        return (f"World frame: camera 1 ({first}) at the origin, its axes the world's (x to "
                "the right of its picture, y down, z along its view), as Anipose does. For a "
                "frame with z up and the floor at z = 0, lay the board flat on the floor at "
                "the start of the calibration recording and set [calibration] world_frame = "
                "\"board\".")
    if world.startswith("board"):
        return (f"World frame: the {world}; x runs along its columns, and z is up when the "
                "board lay face up on the floor.")
    return "World frame: as the imported calibration defines it."


def extrapolated_shares(calibration: Path, group: CameraGroup, xy: FloatArray,
                        seen: NDArray[np.bool_]) -> dict[str, float]:
    """Per camera of ``group``, the share of its keypoints ``xy`` (n_cams, ..., 2; those
    ``seen``, a mask of the same shape but the last axis) that lie in image cells the
    calibration board never reached, where the lens model is extrapolated. From the report
    beside ``calibration``; empty without one (an imported calibration), or when the
    report is older than the calibration (it describes another one)."""
    report, _ = read_report(calibration)
    if report is None:
        return {}
    try:
        reached = {c.name: tuple(int(i) for i in report["cameras"][c.name]["image_cells"])
                   for c in group}
    except (ValueError, KeyError, TypeError):
        return {}
    out = {}
    for i, cam in enumerate(group):
        if seen[i].any():
            outside = outside_cells(reached[cam.name], cam.size, xy[i][seen[i]])
            out[cam.name] = round(float(outside.mean()), 4)
    return out


def report_markdown(calib: Calibration, figures: Mapping[str, object]) -> str:
    u = calib.board.units
    listed = figures.get("warnings")
    warned = [str(w) for w in listed] if isinstance(listed, list) else []
    lines = [
        "# Calibration report", "",
        *(f"**Warning:** {w}" for w in warned), *([""] if warned else []),
        f"- Board: {calib.board.describe()}",
        f"- World frame: {calib.world}; lengths in {u}",
        f"- Bundle adjustment: {calib.bundle.iterations} iterations, "
        f"{len(calib.bundle.observations)} views, {calib.bundle.rejected} corners rejected",
        "", "| camera | size | fx | fy | cx | cy | frames with board | intrinsics frames | "
        "views used | image reached | reprojection median px | p95 px |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for cam in calib.group:
        q, k = calib.quality[cam.name], cam.matrix
        lines.append(f"| {cam.name} | {cam.size[0]}x{cam.size[1]} | {k[0, 0]:.1f} | "
                     f"{k[1, 1]:.1f} | {k[0, 2]:.1f} | {k[1, 2]:.1f} | {q.frames_with_board} | "
                     f"{q.intrinsics_frames} | {q.bundle_views} | "
                     f"{100 * q.image_coverage:.0f} % | {q.median_px:.3f} | "
                     f"{q.p95_px:.3f} |")
    bd = calib.board_distance
    lines += ["", "## Board-distance check", ""]
    if bd.get("pairs"):
        lines.append(
            f"Corners seen by two or more cameras were triangulated and the distances between "
            f"neighbouring corners ({int(bd['pairs'])} pairs) compared with the "
            f"{bd['square_mm']:.2f} mm square: mean error {bd['mean_mm']:+.3f} mm, SD "
            f"{bd['sd_mm']:.3f} mm, median |error| {bd['median_abs_mm']:.3f} mm, p95 "
            f"{bd['p95_abs_mm']:.3f} mm.")
    else:
        lines.append("No corner was seen by two cameras at once: no distance check.")
    lines += ["", "Coverage of the detected corners per camera: `calibration_coverage.png` "
              "(\"image reached\": the share of the image's 8 x 6 cells holding a corner; "
              "shaded cells hold none, and there the lens is extrapolated).", ""]
    lines += [f"- {note}" for note in calib.notes]
    return "\n".join(lines) + "\n"


def coverage_plot(calib: Calibration, detections: Mapping[str, CameraDetections], path: Path
                  ) -> Path:
    """One panel per camera: every detected corner (grey) and those used in the bundle
    adjustment (coloured by reprojection error), on the image frame."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    names = calib.group.names
    n = len(names)
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    scatter = None
    for ax, (ci, name) in zip(axes.ravel(), enumerate(names), strict=False):
        det = detections[name]
        pts = det.corners[np.isfinite(det.corners[..., 0])]
        ax.plot(pts[:, 0], pts[:, 1], ",", color="0.7")
        used = [(o.pixels, e) for o, e in zip(calib.bundle.observations, calib.bundle.errors,
                                               strict=True) if o.camera == ci]
        if used:
            px = np.concatenate([p for p, _ in used])
            err = np.concatenate([e for _, e in used])
            scatter = ax.scatter(px[:, 0], px[:, 1], c=err, s=1, linewidths=0, cmap="viridis",
                                 vmin=0, vmax=max(0.5, float(np.percentile(err, 99))))
        w, h = det.size
        q = calib.quality[name]
        cols, rows = GRID
        for cell in sorted(set(range(cols * rows)) - set(q.cells)):  # never reached: shaded
            ax.add_patch(Rectangle((cell % cols * w / cols, cell // cols * h / rows),
                                   w / cols, h / rows, color="tab:red", alpha=0.08, lw=0))
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
        ax.set_aspect("equal")
        ax.set_title(f"{name}: {q.bundle_views} views, median {q.median_px:.2f} px\n"
                     f"{100 * q.image_coverage:.0f} % of the image reached (shaded: not)",
                     fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    if scatter is not None:
        fig.colorbar(scatter, ax=axes.ravel().tolist(), shrink=0.8, label="reprojection error (px)")
    write_figure_atomic(fig, path, dpi=110)
    return path


def write_report(calib: Calibration, detections: Mapping[str, CameraDetections], folder: Path,
                 seconds: float | None = None, warnings: Sequence[str] = ()) -> list[Path]:
    """Write ``calibration_report.md``, ``calibration_report.json`` and
    ``calibration_coverage.png`` into ``folder``."""
    figures = report_figures(calib, seconds, warnings)
    as_json, as_markdown, coverage = (folder / name for name in REPORT_FILES)
    return [
        write_text_atomic(as_json, json.dumps(figures, indent=2, default=float) + "\n"),
        write_text_atomic(as_markdown, report_markdown(calib, figures)),
        coverage_plot(calib, detections, coverage),
    ]
